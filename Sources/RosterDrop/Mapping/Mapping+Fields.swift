import Foundation

extension Mapping {
    /// What is wrong with a value the mapping supplies (a constant, a default, a lookup
    /// result) by the field's own rules, or nil; references are checked per delivery.
    static func staticProblem(_ value: String, field: FieldMapping) -> String? {
        if value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "a control character" }
        if let pattern = field.pattern, !pattern.matches(value) { return "it does not match the pattern" }
        if let maxLength = field.maxLength, value.count > maxLength { return "longer than \(maxLength)" }
        if let minLength = field.minLength, value.count < minLength { return "shorter than \(minLength)" }
        switch field.type {
        case .text: return nil
        case .integer(let min, let max):
            guard let number = Int(value) else { return "not a whole number" }
            if let min, number < min { return "below \(min)" }
            if let max, number > max { return "above \(max)" }
            return nil
        case .date(let format): return format.isoDate(value) == nil ? "not a date in \(format.text)" : nil
        case .email: return EmailAddress.isValid(value) ? nil : "not an e-mail address"
        case .enumeration(let map, let caseInsensitive):
            return map[caseInsensitive ? value.lowercased() : value] == nil ? "not one of \(map.keys.sorted().joined(separator: ", "))" : nil
        }
    }

    /// `invalid: reject` (default) or `drop_value`, which only an optional field may have.
    private static func invalidPolicy(_ spec: YAMLObject, required: Bool) throws -> Bool {
        switch try spec.string("invalid") ?? "reject" {
        case "reject": return false
        case "drop_value":
            if required { throw spec.error("invalid", "drop_value is for optional fields; a required value cannot be left out") }
            return true
        case let other: throw spec.error("invalid", "expected reject or drop_value, found '\(other)'")
        }
    }

    static func loadField(_ spec: YAMLObject, target: PortalField) throws -> FieldMapping {
        let typeName = try spec.string("type") ?? "text"
        let type: FieldType
        switch typeName {
        case "text": type = .text
        case "email": type = .email
        case "integer": type = .integer(min: try spec.int("min"), max: try spec.int("max"))
        case "date":
            let format = try spec.string("format") ?? "yyyy-MM-dd"
            guard let parsed = DateFormat(format) else {
                throw spec.error("format", "'\(format)' is not a date format (use yyyy, MM or M, dd or d and separators)")
            }
            type = .date(parsed)
        case "enum":
            guard let pairs = try spec.pairs("values"), !pairs.isEmpty else { throw spec.missing("values") }
            let caseInsensitive = try spec.bool("case_insensitive") ?? false
            var values: [String: String] = [:]
            for (from, to) in pairs {
                if let domain = target.domain, !domain.contains(to) {
                    throw spec.error("values", "maps '\(from)' to '\(to)', which is not a portal value of \(target.name) (allowed: \(domain.joined(separator: ", ")))")
                }
                values[caseInsensitive ? from.lowercased() : from] = to
            }
            type = .enumeration(values: values, caseInsensitive: caseInsensitive)
        default:
            throw spec.error("type", "unknown type '\(typeName)' (known: text, integer, date, email, enum)")
        }
        if target.domain != nil, case .enumeration = type {} else if let domain = target.domain {
            throw spec.error("type", "\(target.name) must be an enum mapping to \(domain.joined(separator: ", "))")
        }
        for key in ["format"] where spec.node(key) != nil && typeName != "date" {
            throw spec.error(key, "applies only to type date")
        }
        for key in ["min", "max"] where spec.node(key) != nil && typeName != "integer" {
            throw spec.error(key, "applies only to type integer")
        }
        for key in ["values", "case_insensitive"] where spec.node(key) != nil && typeName != "enum" {
            throw spec.error(key, "applies only to type enum")
        }
        var pattern: Pattern?
        if let source = try spec.string("pattern") {
            do {
                pattern = try Pattern(source)
            } catch {
                throw spec.error("pattern", "'\(source)' is not a valid regular expression")
            }
        }
        var reference: Reference?
        if let name = try spec.string("references") {
            guard let parsed = Reference(rawValue: name) else {
                throw spec.error("references", "unknown reference '\(name)' (known: \(Reference.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            reference = parsed
        }
        let minLength = try spec.int("min_length")
        let maxLength = try spec.int("max_length")
        if let minLength, let maxLength, minLength > maxLength {
            throw spec.error("min_length", "is larger than max_length")
        }
        let constant = try spec.string("constant")
        if constant != nil, spec.node("column") != nil {
            throw spec.error("constant", "a field is either read from a column or a constant, not both")
        }
        let transforms = try (spec.strings("transform") ?? []).map { name in
            guard let transform = ValueTransform(rawValue: name) else {
                throw spec.error("transform", "unknown transform '\(name)' (known: lower, upper)")
            }
            return transform
        }
        var lookup: [String: String]?
        if spec.node("lookup") != nil {
            guard let pairs = try spec.pairs("lookup"), !pairs.isEmpty else { throw spec.error("lookup", "expected a table of source values") }
            lookup = Dictionary(pairs, uniquingKeysWith: { first, _ in first })
        }
        let derive = try spec.strings("derive")
        if let derive {
            if constant != nil || spec.node("column") != nil {
                throw spec.error("derive", "a field is read from a column, a constant or derived, only one of them")
            }
            if derive.isEmpty { throw spec.error("derive", "names the columns the value is made from") }
        }
        let named = try spec.string("column")
        let column = derive.map { $0.joined(separator: "+") } ?? (constant == nil ? named ?? target.name : "")
        var field = FieldMapping(target: target.name, column: column, type: type,
                            required: try spec.bool("required") ?? target.required, pattern: pattern,
                            minLength: minLength, maxLength: maxLength, unique: try spec.bool("unique") ?? false,
                            reference: reference, notBefore: try spec.string("not_before"),
                            allowsControlCharacters: try spec.bool("allow_control_characters") ?? false,
                            dropsInvalidValue: try invalidPolicy(spec, required: try spec.bool("required") ?? target.required))
        field.constant = constant
        field.derive = derive
        field.transforms = transforms
        field.defaultValue = try spec.string("default")
        field.lookup = lookup
        // Values the mapping supplies itself must pass the field's own checks: else every
        // row would be rejected, found only when a delivery comes.
        for (source, value) in (lookup ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let problem = staticProblem(value, field: field) {
                throw spec.error("lookup", "'\(source)' gives '\(value)', which fails the field's own rules (\(problem))")
            }
        }
        for (key, value) in [("constant", constant), ("default", field.defaultValue)] {
            guard let value else { continue }
            let given = transforms.reduce(value) { $1.apply($0) }
            if let lookup {
                if lookup[given] == nil { throw spec.error(key, "'\(value)' is not in the field's lookup table") }
            } else if let problem = staticProblem(given, field: field) {
                throw spec.error(key, "'\(value)' fails the field's own rules (\(problem))")
            }
        }
        return field
    }
}
