import Crypto
import Foundation

extension Mapping {
    /// Reads a mapping folder: `delivery.yaml` plus one `<kind>.yaml` per portal kind it makes.
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
        let head = collect { try loadHead(deliveryFile) }
        let version = head?.version ?? supportedVersion
        var sources = head?.sources ?? []
        var feeds: [Feed] = []
        for kind in EntityKind.allCases {
            let url = folder.appendingPathComponent("\(kind.rawValue).yaml")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            var fieldErrors: [ConfigurationError] = []
            if let made = collect({ try loadKind(url, expecting: kind, version: version, sources: head?.sources ?? [],
                                                 errors: &fieldErrors) }) {
                feeds += made
                // A version-1 kind file declares its own file, named after the kind.
                if version == 1, let source = made.first?.source { sources.append(source) }
            }
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
        errors += checkFiles(sources, feeds: feeds, head: head, folder: folder, names: names)
        guard errors.isEmpty, let layout = head?.layout else { return (nil, errors) }
        var hasher = SHA256()
        for name in names where known.contains(name) {
            hasher.update(data: Data(name.utf8))
            hasher.update(data: (try? Data(contentsOf: folder.appendingPathComponent(name))) ?? Data())
        }
        return (Mapping(name: folder.lastPathComponent, digest: Digest.hex(hasher.finalize()), delivery: layout,
                        sources: sources, feeds: feeds), [])
    }

    /// What must hold between the files and the kinds: every file claimed by one name only,
    /// required files declared, each declared file read, memberships beside what they name.
    private static func checkFiles(_ sources: [SourceFile], feeds: [Feed], head: Head?, folder: URL,
                                   names: [String]) -> [ConfigurationError] {
        var errors: [ConfigurationError] = []
        let deliveryFile = folder.appendingPathComponent("delivery.yaml").path
        // No two files (nor the manifest) may claim the same name.
        var claims: [(String, String)] = sources.map { source in
            (head?.version == 1 ? "\(source.name).yaml: file" : "delivery.yaml: files.\(source.name)", source.pattern)
        }
        if let manifest = head?.layout.manifest { claims.insert(("delivery.yaml: manifest", manifest), at: 0) }
        for (index, (owner, pattern)) in claims.enumerated() {
            let probe = pattern.replacingOccurrences(of: "{ts}", with: "20261101T020000Z")
            for (other, otherPattern) in claims[(index + 1)...]
            where otherPattern == probe || timestamp(in: probe, pattern: otherPattern) != nil {
                errors.append(ConfigurationError(file: folder.path, line: nil, key: nil, message: """
                    \(owner) '\(pattern)' and \(other) '\(otherPattern)' both match '\(probe)': each file must belong to one kind
                    """))
            }
        }
        let fixed = sources.filter(\.isFixed)
        if !fixed.isEmpty, fixed.count < sources.count {
            errors.append(ConfigurationError(file: deliveryFile, line: nil, key: "files", message: """
                mixes fixed file names (\(fixed.map(\.pattern).joined(separator: ", "))) with {ts} names: a delivery is either dated by its names or by its files
                """))
        }
        if !fixed.isEmpty, head?.layout.manifest != nil {
            errors.append(ConfigurationError(file: deliveryFile, line: nil, key: "manifest", message: """
                a manifest names one delivery by {ts}; files with fixed names are complete by stable_seconds instead
                """))
        }
        for name in head?.layout.required ?? [] where !sources.contains(where: { $0.name == name }) {
            let message = head?.version == 1 && EntityKind(rawValue: name) != nil
                ? "names \(name), but the folder has no \(name).yaml"
                : "names '\(name)', which is not a declared file (files: \(sources.map(\.name).joined(separator: ", ")))"
            if head?.version == 1 && EntityKind(rawValue: name) != nil && names.contains("\(name).yaml") { continue }
            errors.append(ConfigurationError(file: deliveryFile, line: nil, key: "required", message: message))
        }
        if head?.version == 2 {
            let read = Set(feeds.flatMap { $0.files.map(\.name) })
            for source in sources where !read.contains(source.name) {
                errors.append(ConfigurationError(file: deliveryFile, line: nil, key: "files.\(source.name)", message: """
                    is declared but no kind reads it (list files that are not data under ignore:)
                    """))
            }
        }
        if names.contains("memberships.yaml"), !names.contains("users.yaml") || !names.contains("groups.yaml") {
            errors.append(ConfigurationError(file: folder.path, line: nil, key: nil,
                                             message: "memberships.yaml needs users.yaml and groups.yaml beside it"))
        }
        return errors
    }

    static func read(_ url: URL) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: url.path, line: nil, key: nil, message: "cannot be read (\(error.localizedDescription))")
        }
    }

    @discardableResult
    static func checkVersion(_ object: YAMLObject) throws -> Int {
        guard let version = try object.int("version") else { throw object.missing("version") }
        guard version >= 1, version <= supportedVersion else {
            throw object.error("version", "version \(version) is not supported by this build (it reads up to \(supportedVersion)); upgrade rosterdrop")
        }
        return version
    }

    /// What `delivery.yaml` says: its version, the layout, and (version 2) the files.
    struct Head {
        var version: Int
        var layout: DeliveryLayout
        var sources: [SourceFile]
    }

    static func loadHead(_ url: URL) throws -> Head {
        let object = try YAMLObject.parse(read(url), file: url.path,
                                          allowed: ["version", "source", "ids", "ignore", "manifest", "stable_seconds", "required", "max_file_bytes",
                                                   "max_field_bytes", "max_record_bytes", "max_join_bytes", "files"])
        let version = try checkVersion(object)
        let manifest = try object.string("manifest")
        let stable = try object.int("stable_seconds")
        if let manifest, !manifest.contains("{ts}") { throw object.error("manifest", "must contain {ts}") }
        if manifest != nil, stable != nil {
            throw object.error("stable_seconds", "give either manifest or stable_seconds, not both")
        }
        if manifest == nil, stable == nil {
            throw object.error("manifest", "give either manifest or stable_seconds, so that complete deliveries can be recognised")
        }
        if let stable, stable < 0 { throw object.error("stable_seconds", "must not be negative") }
        var sources: [SourceFile] = []
        if version == 1 {
            if object.node("files") != nil { throw object.error("files", "declares files from version 2 on; write version: 2") }
        } else {
            guard let files = try object.namedObjects("files", allowed: SourceFile.keys), !files.isEmpty else {
                throw object.error("files", "must declare the files a delivery holds (version 2)")
            }
            sources = try files.map { name, spec in try SourceFile(name: name, spec: spec, declaredIn: url.path, timestamped: false) }
        }
        let required = try object.strings("required") ?? (version == 1 ? ["users", "distribution_orders"] : sources.map(\.name))
        if version == 1 {
            for name in required where EntityKind(rawValue: name) == nil {
                throw object.error("required", "unknown file kind '\(name)' (known: \(EntityKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
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
        if let join = try object.int("max_join_bytes") {
            guard join > 0, join <= 8 << 30 else { throw object.error("max_join_bytes", "\(join) is outside 1…8589934592") }
            limits.joinBytes = Int64(join)
        }
        let idsText = try object.string("ids") ?? "global"
        guard let personIDs = PersonIDScope(rawValue: idsText) else {
            throw object.error("ids", "expected global (ids unique across organisations, as Skolon's) or organisation, found '\(idsText)'")
        }
        let layout = DeliveryLayout(manifest: manifest, stableSeconds: stable, required: required, limits: limits,
                                    sourceName: try object.string("source"), personIDs: personIDs,
                                    ignore: try object.strings("ignore") ?? [])
        return Head(version: version, layout: layout, sources: sources)
    }

    static let fieldKeys: Set<String> = [
        "column", "type", "required", "pattern", "min_length", "max_length", "unique", "references",
        "format", "min", "max", "values", "case_insensitive", "not_before", "allow_control_characters", "invalid",
        "constant", "transform", "default", "lookup", "derive",
    ]

    /// Reads one kind's file into its feeds (one per file it is made `from`); a field's error
    /// is collected in `errors` and the next field read, so that one look shows them all.
    /// Throws what stops the file as a whole.
    static func loadKind(_ url: URL, expecting kind: EntityKind, version: Int, sources: [SourceFile],
                         errors: inout [ConfigurationError]) throws -> [Feed] {
        let allowed: Set<String> = version == 1
            ? ["version", "kind", "file", "encoding", "delimiter", "fields", "drop", "select"]
            : ["version", "kind", "from", "join", "split", "distinct", "fields", "select"]
        let object = try YAMLObject.parse(read(url), file: url.path, allowed: allowed)
        let fileVersion = try checkVersion(object)
        guard fileVersion == version else {
            throw object.error("version", "is \(fileVersion) but delivery.yaml's is \(version): a mapping folder has one version")
        }
        let declared = try object.requiredString("kind")
        guard declared == kind.rawValue else {
            throw object.error("kind", "is '\(declared)' but the file is named \(kind.rawValue).yaml")
        }
        var froms: [SourceFile]
        var joins: [Join] = []
        var split: Split?
        if version == 1 {
            froms = [try SourceFile(name: kind.rawValue, spec: object, declaredIn: url.path, timestamped: true)]
        } else {
            func declared(_ name: String, key: String) throws -> SourceFile {
                guard let source = sources.first(where: { $0.name == name }) else {
                    throw object.error(key, "'\(name)' is not a file declared in delivery.yaml (files: \(sources.map(\.name).joined(separator: ", ")))")
                }
                return source
            }
            guard let names = try object.strings("from"), !names.isEmpty else { throw object.missing("from") }
            froms = try names.map { try declared($0, key: "from") }
            for spec in try object.objects("join", allowed: ["file", "on"]) ?? [] {
                let partner = try declared(try spec.requiredString("file"), key: "join")
                if froms.contains(partner) { throw spec.error("file", "'\(partner.name)' cannot be joined to itself") }
                guard let on = try spec.pairs("on"), on.count == 1 else {
                    throw spec.error("on", "expected one pair, this file's column: \(partner.name)'s column")
                }
                joins.append(Join(source: partner, column: on[0].0, partnerColumn: on[0].1))
            }
            if let spec = try object.object("split", allowed: ["column", "separator"]) {
                let separator = try spec.string("separator")
                if let separator, separator.isEmpty || separator.contains("\n") {
                    throw spec.error("separator", "must be one or more characters other than a line break")
                }
                split = Split(column: try spec.requiredString("column"), separator: separator)
            }
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
        for source in froms + joins.map(\.source) {
            let prefix = froms.contains(source) ? "" : source.name + "."
            for column in source.dropped.sorted() {
                let read = byTarget.values.contains { ($0.derive ?? [$0.column]).contains(prefix + column) }
                    || split?.column == prefix + column || joins.contains { $0.column == prefix + column }
                if read {
                    errors.append(object.error(version == 1 ? "drop" : "fields", """
                        '\(prefix + column)' is dropped but also read (file \(source.name)); a dropped column's values reach nothing
                        """))
                }
            }
        }
        var select: [String: Set<String>] = [:]
        if let selection = try object.object("select", allowed: Set(portalFields.map(\.name))) {
            for field in portalFields.map(\.name) {
                guard let values = try selection.strings(field) else { continue }
                if byTarget[field] == nil { errors.append(selection.error(field, "selects on a field the mapping does not read")) }
                select[field] = Set(values)
            }
        }
        let fields = portalFields.compactMap { byTarget[$0.name] }
        let distinct = version == 2 ? try object.bool("distinct") ?? false : false
        return froms.map { source in
            var feed = Feed(kind: kind, source: source, fields: fields, sourceFile: url.path, select: select)
            feed.joins = joins
            feed.split = split
            feed.distinct = distinct
            return feed
        }
    }
}

extension SourceFile {
    static let keys: Set<String> = ["file", "encoding", "delimiter", "drop", "add"]

    /// A file as `delivery.yaml` declares it (version 2), or as a version-1 kind file does
    /// (`timestamped`: its name must contain `{ts}`).
    init(name: String, spec: YAMLObject, declaredIn path: String, timestamped: Bool) throws {
        let pattern = try spec.requiredString("file")
        guard !pattern.isEmpty, !pattern.contains("/") else { throw spec.error("file", "must be a plain file name") }
        if timestamped, !pattern.contains("{ts}") {
            throw spec.error("file", "must be a plain file name containing {ts}")
        }
        let encodingName = try spec.string("encoding") ?? "utf-8"
        guard let encoding = TextEncoding(rawValue: encodingName.lowercased()) else {
            throw spec.error("encoding", "unknown encoding '\(encodingName)' (known: utf-8, windows-1252)")
        }
        let delimiterText = try spec.string("delimiter") ?? ","
        let delimiterBytes = Array((delimiterText == "\\t" ? "\t" : delimiterText).utf8)
        guard delimiterBytes.count == 1, delimiterBytes[0] != UInt8(ascii: "\""),
              delimiterBytes[0] != 10, delimiterBytes[0] != 13 else {
            throw spec.error("delimiter", "must be a single character other than a quote or a line break")
        }
        self.init(name: name, pattern: pattern, gzip: pattern.hasSuffix(".gz"), encoding: encoding, delimiter: delimiterBytes[0],
                  dropped: Set(try spec.strings("drop") ?? []), mappingFile: path)
        let added = spec.node("add") == nil ? [] : try spec.pairs("add") ?? []
        for (column, value) in added where value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw spec.error("add", "'\(column)' has a control character in its value")
        }
        self.added = added.map { (column: $0.0, value: $0.1) }
    }
}
