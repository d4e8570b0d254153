import Foundation

/// The job's configuration: the portal database and the organisations to serve.
///
/// Relative paths are resolved against the config file's folder, so a config and its
/// drop folders can be moved together.
public struct JobConfiguration: Sendable {
    public var file: String
    public var database: String
    /// Where deliveries are fetched and reports are built before publishing.
    public var scratch: String
    public var organisations: [OrganisationConfiguration]

    /// Reads and checks a config file; every problem names the key and line.
    public static func load(path: String) throws -> JobConfiguration {
        let url = URL(fileURLWithPath: path)
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, line: nil, key: nil, message: "cannot be read")
        }
        let base = url.deletingLastPathComponent()
        let object = try YAMLObject.parse(text, file: path, allowed: ["database", "scratch", "organisations"])
        let database = resolve(try object.requiredString("database"), base: base)
        let scratch = resolve(try object.string("scratch") ?? (database + ".scratch"), base: base)
        guard let entries = try object.objects("organisations", allowed: OrganisationConfiguration.keys), !entries.isEmpty else {
            throw object.missing("organisations")
        }
        var organisations: [OrganisationConfiguration] = []
        var unitOwners: [String: String] = [:]
        for entry in entries {
            let organisation = try OrganisationConfiguration(entry, base: base)
            if organisations.contains(where: { $0.id == organisation.id }) {
                throw entry.error("id", "organisation '\(organisation.id)' is configured twice")
            }
            for unit in organisation.schoolUnits {
                if let owner = unitOwners[unit] {
                    throw entry.error("school_units", "school unit \(unit) already belongs to organisation '\(owner)'")
                }
                unitOwners[unit] = organisation.id
            }
            organisations.append(organisation)
        }
        return JobConfiguration(file: path, database: database, scratch: scratch, organisations: organisations)
    }

    static func resolve(_ path: String, base: URL) -> String {
        path.hasPrefix("/") ? path : base.appendingPathComponent(path).standardizedFileURL.path
    }
}

/// One organisation (huvudman): its school units, drop folder and source format.
public struct OrganisationConfiguration: Sendable {
    static let keys: Set<String> = ["id", "school_units", "drop", "mappings"]

    public var id: String
    public var schoolUnits: [String]
    public var drop: DropLocation
    public var mapping: Mapping

    init(_ object: YAMLObject, base: URL) throws {
        id = try object.requiredString("id")
        guard !id.isEmpty, id.utf8.count <= 64,
              id.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else {
            throw object.error("id", "must be lowercase letters, digits, - or _ (at most 64)")
        }
        guard let units = try object.strings("school_units"), !units.isEmpty else { throw object.missing("school_units") }
        for unit in units where !(unit.utf8.count == 8 && unit.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }) {
            throw object.error("school_units", "'\(unit)' is not a skolenhetskod (8 digits)")
        }
        schoolUnits = units
        let drop = try object.requiredString("drop")
        if drop.contains("://") {
            throw object.error("drop", "'\(drop)': only local folders are supported by this build (SFTP drop folders come next)")
        }
        self.drop = .local(JobConfiguration.resolve(drop, base: base))
        let mappings = JobConfiguration.resolve(try object.requiredString("mappings"), base: base)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mappings, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw object.error("mappings", "'\(mappings)' is not a folder")
        }
        mapping = try Mapping.load(folder: URL(fileURLWithPath: mappings, isDirectory: true))
    }
}

/// Where an organisation's drop folder lives.
public enum DropLocation: Sendable, Equatable {
    case local(String)

    /// Opens the drop folder.
    public func open() -> any DropFolder {
        switch self {
        case .local(let path): return LocalDropFolder(root: URL(fileURLWithPath: path, isDirectory: true))
        }
    }
}
