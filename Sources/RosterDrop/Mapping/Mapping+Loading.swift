import Crypto
import Foundation

extension Mapping {
    /// Reads a mapping folder: `delivery.yaml` plus one `<kind>.yaml` per file kind it maps.
    ///
    /// Decoding is strict: an unknown key, an unknown type, a bad pattern or a newer
    /// version is a `ConfigurationError` naming the file and line (the first of them; see
    /// `check` for all).
    public static func load(folder: URL) throws -> Mapping {
        let (mapping, errors) = read(folder: folder)
        if let first = errors.first { throw first }
        guard let mapping else { throw ConfigurationError(file: folder.path, line: nil, key: nil, message: "cannot be read") }
        return mapping
    }

    /// Every error in a mapping folder at once, each with its file, line and key
    /// (`rosterdrop mapping check`); empty when the folder is a valid mapping.
    public static func check(folder: URL) -> [ConfigurationError] {
        read(folder: folder).errors
    }

    private static func read(folder: URL) -> (Mapping?, errors: [ConfigurationError]) {
        var errors: [ConfigurationError] = []
        func collect<T>(_ body: () throws -> T) -> T? {
            do {
                return try body()
            } catch let error as ConfigurationError {
                errors.append(error)
            } catch {
                errors.append(ConfigurationError(file: folder.path, line: nil, key: nil, message: "\(error)"))
            }
            return nil
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return (nil, [ConfigurationError(file: folder.path, line: nil, key: nil, message: "is not a folder")])
        }
        let deliveryFile = folder.appendingPathComponent("delivery.yaml")
        let layout = collect { try loadLayout(deliveryFile) }
        var files: [EntityKind: FileMapping] = [:]
        for kind in EntityKind.allCases {
            let url = folder.appendingPathComponent("\(kind.rawValue).yaml")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            var fieldErrors: [ConfigurationError] = []
            files[kind] = collect { try loadFile(url, expecting: kind, errors: &fieldErrors) }
            errors += fieldErrors
        }
        // Every YAML file in the folder is part of the mapping: a misnamed one is an error,
        // not silently ignored.
        let known = Set(["delivery.yaml"] + EntityKind.allCases.map { "\($0.rawValue).yaml" })
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        for name in names where (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !known.contains(name) {
            errors.append(ConfigurationError(file: folder.appendingPathComponent(name).path, line: nil, key: nil, message: """
                is not a mapping file this version reads (delivery.yaml, \(EntityKind.allCases.map { "\($0.rawValue).yaml" }.joined(separator: ", ")))
                """))
        }
        // No two kinds (nor the manifest) may claim the same file.
        var claims: [(String, String)] = files.values.sorted { $0.kind < $1.kind }.map { ("\($0.kind.rawValue).yaml: file", $0.filePattern) }
        if let manifest = layout?.manifest { claims.insert(("delivery.yaml: manifest", manifest), at: 0) }
        for (index, (owner, pattern)) in claims.enumerated() {
            let probe = pattern.replacingOccurrences(of: "{ts}", with: "20261101T020000Z")
            for (other, otherPattern) in claims[(index + 1)...] where timestamp(in: probe, pattern: otherPattern) != nil {
                errors.append(ConfigurationError(file: folder.path, line: nil, key: nil, message: """
                    \(owner) '\(pattern)' and \(other) '\(otherPattern)' both match '\(probe)': each file must belong to one kind
                    """))
            }
        }
        for kind in layout?.required ?? [] where files[kind] == nil && !names.contains("\(kind.rawValue).yaml") {
            errors.append(ConfigurationError(file: deliveryFile.path, line: nil, key: "required",
                                             message: "names \(kind.rawValue), but the folder has no \(kind.rawValue).yaml"))
        }
        if names.contains("memberships.yaml"), !names.contains("users.yaml") || !names.contains("groups.yaml") {
            errors.append(ConfigurationError(file: folder.path, line: nil, key: nil,
                                             message: "memberships.yaml needs users.yaml and groups.yaml beside it"))
        }
        guard errors.isEmpty, let layout else { return (nil, errors) }
        var hasher = SHA256()
        for name in names where known.contains(name) {
            hasher.update(data: Data(name.utf8))
            hasher.update(data: (try? Data(contentsOf: folder.appendingPathComponent(name))) ?? Data())
        }
        return (Mapping(name: folder.lastPathComponent, digest: Digest.hex(hasher.finalize()), delivery: layout, files: files), [])
    }

    private static func read(_ url: URL) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: url.path, line: nil, key: nil, message: "cannot be read (\(error.localizedDescription))")
        }
    }

    private static func checkVersion(_ object: YAMLObject) throws {
        guard let version = try object.int("version") else { throw object.missing("version") }
        guard version >= 1, version <= supportedVersion else {
            throw object.error("version", "version \(version) is not supported by this build (it reads up to \(supportedVersion)); upgrade rosterdrop")
        }
    }

    static func loadLayout(_ url: URL) throws -> DeliveryLayout {
        let object = try YAMLObject.parse(read(url), file: url.path,
                                          allowed: ["version", "source", "ids", "ignore", "manifest", "stable_seconds", "required", "max_file_bytes",
                                                   "max_field_bytes", "max_record_bytes"])
        try checkVersion(object)
        let manifest = try object.string("manifest")
        let stable = try object.int("stable_seconds")
        if let manifest, !manifest.contains("{ts}") { throw object.error("manifest", "must contain {ts}") }
        if manifest != nil, stable != nil {
            throw object.error("stable_seconds", "give either manifest or stable_seconds, not both")
        }
        if manifest == nil, stable == nil {
            throw object.error("manifest", "give either manifest or stable_seconds, so that complete deliveries can be recognised")
        }
        let required = try (object.strings("required") ?? ["users", "distribution_orders"]).map { name in
            guard let kind = EntityKind(rawValue: name) else {
                throw object.error("required", "unknown file kind '\(name)' (known: \(EntityKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return kind
        }
        var limits = ReadLimits()
        let maxBytes = try object.int("max_file_bytes") ?? Int(limits.fileBytes)
        guard maxBytes > 0 else { throw object.error("max_file_bytes", "must be positive") }
        limits.fileBytes = Int64(maxBytes)
        if let field = try object.int("max_field_bytes") {
            guard field >= 16, field <= 16 << 20 else { throw object.error("max_field_bytes", "\(field) is outside 16…16777216") }
            limits.fieldBytes = field
        }
        if let record = try object.int("max_record_bytes") {
            guard record >= limits.fieldBytes, record <= 64 << 20 else {
                throw object.error("max_record_bytes", "\(record) is outside max_field_bytes…67108864")
            }
            limits.recordBytes = record
        } else {
            limits.recordBytes = max(limits.recordBytes, limits.fieldBytes)
        }
        let idsText = try object.string("ids") ?? "global"
        guard let personIDs = PersonIDScope(rawValue: idsText) else {
            throw object.error("ids", "expected global (ids unique across organisations, as Skolon's) or organisation, found '\(idsText)'")
        }
        return DeliveryLayout(manifest: manifest, stableSeconds: stable, required: required, limits: limits,
                              sourceName: try object.string("source"), personIDs: personIDs,
                              ignore: try object.strings("ignore") ?? [])
    }

    static let fieldKeys: Set<String> = [
        "column", "type", "required", "pattern", "min_length", "max_length", "unique", "references",
        "format", "min", "max", "values", "case_insensitive", "not_before", "allow_control_characters", "invalid",
        "constant", "transform", "default", "lookup",
    ]

    static func loadFile(_ url: URL, expecting kind: EntityKind) throws -> FileMapping {
        var errors: [ConfigurationError] = []
        let mapping = try loadFile(url, expecting: kind, errors: &errors)
        if let first = errors.first { throw first }
        return mapping
    }

    /// Reads one kind's file; a field's error is collected in `errors` and the next field
    /// read, so that one look shows them all. Throws what stops the file as a whole.
    static func loadFile(_ url: URL, expecting kind: EntityKind, errors: inout [ConfigurationError]) throws -> FileMapping {
        let object = try YAMLObject.parse(read(url), file: url.path,
                                          allowed: ["version", "kind", "file", "encoding", "delimiter", "fields", "drop", "select"])
        try checkVersion(object)
        let declared = try object.requiredString("kind")
        guard declared == kind.rawValue else {
            throw object.error("kind", "is '\(declared)' but the file is named \(kind.rawValue).yaml")
        }
        let pattern = try object.requiredString("file")
        guard pattern.contains("{ts}"), !pattern.contains("/") else {
            throw object.error("file", "must be a plain file name containing {ts}")
        }
        let encodingName = try object.string("encoding") ?? "utf-8"
        guard let encoding = TextEncoding(rawValue: encodingName.lowercased()) else {
            throw object.error("encoding", "unknown encoding '\(encodingName)' (known: utf-8, windows-1252)")
        }
        let delimiterText = try object.string("delimiter") ?? ","
        let delimiterBytes = Array((delimiterText == "\\t" ? "\t" : delimiterText).utf8)
        guard delimiterBytes.count == 1, delimiterBytes[0] != UInt8(ascii: "\""),
              delimiterBytes[0] != 10, delimiterBytes[0] != 13 else {
            throw object.error("delimiter", "must be a single character other than a quote or a line break")
        }
        guard let named = try object.namedObjects("fields", allowed: fieldKeys) else { throw object.missing("fields") }
        let portalFields = kind.fields
        var byTarget: [String: FieldMapping] = [:]
        for (target, spec) in named {
            guard let portal = portalFields.first(where: { $0.name == target }) else {
                errors.append(object.error("fields", "'\(target)' is not a portal field of \(kind.rawValue) (fields: \(portalFields.map(\.name).joined(separator: ", ")))"))
                continue
            }
            do {
                byTarget[target] = try loadField(spec, target: portal)
            } catch let error as ConfigurationError {
                errors.append(error)
            }
        }
        for field in portalFields where field.required && byTarget[field.name] == nil && !named.contains(where: { $0.0 == field.name }) {
            errors.append(object.error("fields", "must map the portal field '\(field.name)'"))
        }
        let dateTargets = Set(byTarget.values.filter { if case .date = $0.type { return true } else { return false } }.map(\.target))
        for field in byTarget.values {
            if let other = field.notBefore, !dateTargets.contains(other) || !dateTargets.contains(field.target) {
                errors.append(object.error("fields", "\(field.target).not_before must name another date field, found '\(other)'"))
            }
        }
        // Columns declared dropped (a personnummer, a password): never read into anything.
        let dropped = try object.strings("drop") ?? []
        for column in dropped where byTarget.values.contains(where: { $0.column == column }) {
            errors.append(object.error("drop", "'\(column)' is dropped but also read into a field; a dropped column's values reach nothing"))
        }
        var select: [String: Set<String>] = [:]
        if let selection = try object.object("select", allowed: Set(portalFields.map(\.name))) {
            for field in portalFields.map(\.name) {
                guard let values = try selection.strings(field) else { continue }
                if byTarget[field] == nil { errors.append(selection.error(field, "selects on a field the mapping does not read")) }
                select[field] = Set(values)
            }
        }
        return FileMapping(kind: kind, filePattern: pattern, gzip: pattern.hasSuffix(".gz"), encoding: encoding,
                           delimiter: delimiterBytes[0], fields: portalFields.compactMap { byTarget[$0.name] },
                           sourceFile: url.path, dropped: Set(dropped), select: select)
    }

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

    private static func loadField(_ spec: YAMLObject, target: PortalField) throws -> FieldMapping {
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
        var field = FieldMapping(target: target.name, column: constant == nil ? try spec.string("column") ?? target.name : "", type: type,
                            required: try spec.bool("required") ?? target.required, pattern: pattern,
                            minLength: minLength, maxLength: maxLength, unique: try spec.bool("unique") ?? false,
                            reference: reference, notBefore: try spec.string("not_before"),
                            allowsControlCharacters: try spec.bool("allow_control_characters") ?? false,
                            dropsInvalidValue: try invalidPolicy(spec, required: try spec.bool("required") ?? target.required))
        field.constant = constant
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
