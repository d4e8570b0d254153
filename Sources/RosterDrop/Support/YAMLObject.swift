import Foundation
import Yams

/// A problem in a configuration or mapping file, located by file, line and key.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String

    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let key { return "\(location): \(key): \(message)" }
        return "\(location): \(message)"
    }
}

/// A YAML mapping read strictly: every key must be known, every value of the expected shape.
///
/// Errors name the file, the line and the dotted key path, so that a person editing a
/// mapping or a config can find the mistake without reading Swift.
struct YAMLObject {
    let file: String
    let path: String
    let mapping: Node.Mapping
    let line: Int?

    /// Parses `text` and returns its top-level mapping, refusing keys outside `allowed`.
    static func parse(_ text: String, file: String, allowed: Set<String>) throws -> YAMLObject {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(file: file, line: Self.line(of: error), key: nil, message: "not valid YAML: \(Self.problem(of: error))")
        }
        guard let node else {
            throw ConfigurationError(file: file, line: 1, key: nil, message: "the file is empty")
        }
        return try YAMLObject(node: node, file: file, path: "", allowed: allowed)
    }

    init(node: Node, file: String, path: String, allowed: Set<String>) throws {
        guard case .mapping(let mapping) = node else {
            throw ConfigurationError(file: file, line: node.mark?.line, key: path.isEmpty ? nil : path, message: "expected a mapping of keys to values")
        }
        self.file = file
        self.path = path
        self.mapping = mapping
        self.line = node.mark?.line
        for (key, _) in mapping {
            guard let name = key.string else {
                throw ConfigurationError(file: file, line: key.mark?.line, key: path.isEmpty ? nil : path, message: "keys must be plain strings")
            }
            if !allowed.contains(name) {
                let known = allowed.sorted().joined(separator: ", ")
                throw ConfigurationError(file: file, line: key.mark?.line, key: qualified(name), message: "unknown key (known keys here: \(known))")
            }
        }
    }

    var keys: [String] { mapping.compactMap { $0.key.string } }

    func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func node(_ key: String) -> Node? { mapping[key] }

    /// An error located at `key`'s own line (where a person looks for it), or at this mapping.
    func error(_ key: String, _ message: String) -> ConfigurationError {
        let keyLine = mapping.first { $0.key.string == key }?.key.mark?.line
        return ConfigurationError(file: file, line: keyLine ?? line, key: qualified(key), message: message)
    }

    func missing(_ key: String) -> ConfigurationError {
        ConfigurationError(file: file, line: line, key: qualified(key), message: "is required")
    }

    func string(_ key: String) throws -> String? {
        guard let node = mapping[key] else { return nil }
        guard case .scalar(let scalar) = node else { throw error(key, "expected a single value") }
        return scalar.string
    }

    func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw missing(key) }
        return value
    }

    func int(_ key: String) throws -> Int? {
        guard let text = try string(key) else { return nil }
        guard let value = Int(text) else { throw error(key, "expected a whole number, found '\(text)'") }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard let text = try string(key) else { return nil }
        switch text.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw error(key, "expected true or false, found '\(text)'")
        }
    }

    func strings(_ key: String) throws -> [String]? {
        guard let node = mapping[key] else { return nil }
        if case .scalar(let scalar) = node { return [scalar.string] }
        guard case .sequence(let sequence) = node else { throw error(key, "expected a list of values") }
        return try sequence.map { item in
            guard case .scalar(let scalar) = item else { throw error(key, "expected a list of plain values") }
            return scalar.string
        }
    }

    /// Returns the string-to-string pairs of a nested mapping, in file order.
    func pairs(_ key: String) throws -> [(String, String)]? {
        guard let node = mapping[key] else { return nil }
        guard case .mapping(let nested) = node else { throw error(key, "expected a mapping of values") }
        return try nested.map { pair in
            guard let from = pair.key.string, case .scalar(let to) = pair.value else {
                throw error(key, "expected plain values on both sides")
            }
            return (from, to.string)
        }
    }

    func object(_ key: String, allowed: Set<String>) throws -> YAMLObject? {
        guard let node = mapping[key] else { return nil }
        return try YAMLObject(node: node, file: file, path: qualified(key), allowed: allowed)
    }

    /// Returns the nested mappings of a mapping-valued key, each with its own key name.
    func namedObjects(_ key: String, allowed: Set<String>) throws -> [(String, YAMLObject)]? {
        guard let node = mapping[key] else { return nil }
        guard case .mapping(let nested) = node else { throw error(key, "expected a mapping") }
        return try nested.map { pair in
            guard let name = pair.key.string else { throw error(key, "keys must be plain strings") }
            return (name, try YAMLObject(node: pair.value, file: file, path: qualified(key) + "." + name, allowed: allowed))
        }
    }

    func objects(_ key: String, allowed: Set<String>) throws -> [YAMLObject]? {
        guard let node = mapping[key] else { return nil }
        guard case .sequence(let sequence) = node else { throw error(key, "expected a list") }
        return try sequence.enumerated().map { index, item in
            try YAMLObject(node: item, file: file, path: "\(qualified(key))[\(index)]", allowed: allowed)
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _): return problem
        default: return String(describing: error)
        }
    }
}
