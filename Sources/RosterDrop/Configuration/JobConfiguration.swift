import Foundation

/// The job's configuration: the portal database and the organisations to serve.
///
/// Relative paths are resolved against the config file's folder, so a config and its
/// drop folders can be moved together.
public struct JobConfiguration: Sendable {
    public var file: String
    public var database: DatabaseLocation
    /// Where deliveries are fetched and reports are built before publishing.
    public var scratch: String
    /// The zone whose calendar days license dates, starts and deadlines are (`time_zone`).
    public var timeZone: TimeZone
    public var retention: RetentionPolicy
    public var organisations: [OrganisationConfiguration]
    /// Where every run writes its metrics in Prometheus' text format (`metrics_file`), for
    /// node_exporter's textfile collector; nil writes none.
    public var metricsFile: String?

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
        let object = try YAMLObject.parse(text, file: path, allowed: ["database", "database_password_env",
                                                                     "database_password_file", "scratch", "time_zone",
                                                                     "retention", "organisations", "metrics_file"])
        let database = try DatabaseLocation.parse(try object.requiredString("database"),
                                                  passwordEnv: try object.string("database_password_env"),
                                                  passwordFile: try object.string("database_password_file"),
                                                  base: base, error: object.error)
        // Beside a SQLite file by default; a PostgreSQL job's in the system's temporary folder,
        // one of the user's own (made private when the job first uses it).
        let defaultScratch = database.sqlitePath.map { $0 + ".scratch" }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("rosterdrop-\(getuid())-scratch").path
        let scratch = resolve(try object.string("scratch") ?? defaultScratch, base: base)
        var timeZone = JobClock.defaultTimeZone
        if let name = try object.string("time_zone") {
            guard let zone = TimeZone(identifier: name) else {
                throw object.error("time_zone", "'\(name)' is not a time zone name (e.g. Europe/Stockholm, UTC)")
            }
            timeZone = zone
        }
        let retention = try RetentionPolicy(object.object("retention", allowed: RetentionPolicy.keys))
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
        var configuration = JobConfiguration(file: path, database: database, scratch: scratch, timeZone: timeZone,
                                             retention: retention, organisations: organisations)
        if let metrics = try object.string("metrics_file") {
            guard metrics.hasSuffix(".prom") else {
                throw object.error("metrics_file", "'\(metrics)' must end in .prom (node_exporter's textfile collector reads only those)")
            }
            configuration.metricsFile = resolve(metrics, base: base)
        }
        return configuration
    }

    static func resolve(_ path: String, base: URL) -> String {
        path.hasPrefix("/") ? path : base.appendingPathComponent(path).standardizedFileURL.path
    }
}

/// One organisation (huvudman): its school units, drop folder and source format.
public struct OrganisationConfiguration: Sendable {
    static let keys: Set<String> = ["id", "school_units", "drop", "sftp", "mappings", "mode", "integration_start",
                                    "cleanup_days", "cleanup_warning_days", "hold", "licenses", "silent_after_days"]

    public var id: String
    public var schoolUnits: [String]
    public var drop: DropLocation
    public var mapping: Mapping
    public var mode: OrganisationMode
    public var integration: IntegrationPolicy
    public var hold: HoldPolicy
    /// Licenses granted by rule, for a source that sends no distribution orders.
    public var licenseRules: [LicenseRule] = []
    /// Days without any delivery after which `rosterdrop status` flags the feed.
    public var silentAfterDays = 3
    /// Whether rows' school units and products are checked; only offline validation
    /// (`rosterdrop validate` without them) turns these off.
    var checksSchoolUnits = true
    var checksProducts = true

    /// An organisation built in code (offline validation), not read from a config.
    init(id: String, schoolUnits: [String], drop: DropLocation, mapping: Mapping) {
        self.id = id
        self.schoolUnits = schoolUnits
        self.drop = drop
        self.mapping = mapping
        mode = .test
        integration = IntegrationPolicy()
        hold = HoldPolicy()
    }

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
        let sftp = try object.object("sftp", allowed: SFTPSettings.keys)
        if drop.contains("://") {
            guard let endpoint = SFTPEndpoint(url: drop) else {
                throw object.error("drop", "'\(drop)' is not sftp://user@host[:port]/path (the only remote kind)")
            }
            guard let sftp else {
                throw object.error("sftp", "an sftp:// drop folder needs identity_file and known_hosts under 'sftp'")
            }
            self.drop = .sftp(endpoint, try SFTPSettings(sftp, base: base))
        } else {
            if sftp != nil { throw object.error("sftp", "only for an sftp:// drop folder") }
            self.drop = .local(JobConfiguration.resolve(drop, base: base))
        }
        let mappings = JobConfiguration.resolve(try object.requiredString("mappings"), base: base)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mappings, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw object.error("mappings", "'\(mappings)' is not a folder")
        }
        mapping = try Mapping.load(folder: URL(fileURLWithPath: mappings, isDirectory: true))
        let modeText = try object.string("mode") ?? "live"
        guard let mode = OrganisationMode(rawValue: modeText) else {
            throw object.error("mode", "expected live or test, found '\(modeText)'")
        }
        self.mode = mode
        var integration = IntegrationPolicy()
        if let start = try object.string("integration_start") {
            guard let day = CalendarDay(iso: start) else {
                throw object.error("integration_start", "'\(start)' is not a date (YYYY-MM-DD)")
            }
            integration.start = day
        }
        if let days = try object.int("cleanup_days") {
            guard days >= 1, days <= 365 else { throw object.error("cleanup_days", "\(days) is outside 1…365") }
            integration.cleanupDays = days
        }
        if let days = try object.int("cleanup_warning_days") {
            guard days >= 0, days <= 365 else { throw object.error("cleanup_warning_days", "\(days) is outside 0…365") }
            integration.warningDays = days
        }
        self.integration = integration
        hold = try HoldPolicy(object.object("hold", allowed: HoldPolicy.keys))
        if let days = try object.int("silent_after_days") {
            guard days >= 1, days <= 365 else { throw object.error("silent_after_days", "\(days) is outside 1…365") }
            silentAfterDays = days
        }
        if let rules = try object.objects("licenses", allowed: LicenseRule.keys) {
            if !mapping.feeds(.distributionOrders).isEmpty {
                throw object.error("licenses", "the mapping '\(mapping.name)' reads distribution orders; licenses by rule are for sources that send none")
            }
            licenseRules = try rules.map(LicenseRule.init)
        }
    }
}

/// Where an organisation's drop folder lives.
public enum DropLocation: Sendable, Equatable {
    case local(String)
    case sftp(SFTPEndpoint, SFTPSettings)

    /// Opens the drop folder (an SFTP one connects on first use).
    public func open() -> any DropFolder {
        switch self {
        case .local(let path): return LocalDropFolder(root: URL(fileURLWithPath: path, isDirectory: true))
        case let .sftp(endpoint, settings): return SFTPDropFolder(endpoint: endpoint, settings: settings)
        }
    }
}

/// How to reach and trust an SFTP drop folder (`sftp:` under an organisation).
///
///     sftp:
///       identity_file: keys/exempel-kommun_ed25519   # ed25519 private key
///       known_hosts: keys/known_hosts                 # always checked; no option turns it off
///       passphrase_env: EXEMPEL_KEY_PASSPHRASE        # or passphrase_file; never the config
///       connect_timeout: 10                           # seconds
///       timeout: 60                                   # seconds any one operation may wait
///       keepalive: 15                                 # seconds between keepalives while idle
///       retries: 3                                    # reconnects after a transient failure
public struct SFTPSettings: Sendable, Equatable {
    static let keys: Set<String> = ["identity_file", "known_hosts", "passphrase_env", "passphrase_file",
                                    "connect_timeout", "timeout", "keepalive", "retries"]

    public var identityFile: String
    public var knownHosts: String
    /// Where the key's passphrase comes from, if it has one; read when connecting.
    public var passphraseEnv: String?
    public var passphraseFile: String?
    public var connectTimeout: Int
    public var timeout: Int
    public var keepalive: Int
    public var retries: Int

    public init(identityFile: String, knownHosts: String, passphraseEnv: String? = nil, passphraseFile: String? = nil,
                connectTimeout: Int = 10, timeout: Int = 60, keepalive: Int = 15, retries: Int = 3) {
        self.identityFile = identityFile
        self.knownHosts = knownHosts
        self.passphraseEnv = passphraseEnv
        self.passphraseFile = passphraseFile
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.keepalive = keepalive
        self.retries = retries
    }

    init(_ object: YAMLObject, base: URL) throws {
        func file(_ key: String) throws -> String {
            let path = JobConfiguration.resolve(try object.requiredString(key), base: base)
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw object.error(key, "'\(path)' does not exist or cannot be read")
            }
            return path
        }
        func seconds(_ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            guard let number = try object.int(key) else { return value }
            guard range.contains(number) else {
                throw object.error(key, "\(number) is outside \(range.lowerBound)…\(range.upperBound)")
            }
            return number
        }
        self.init(identityFile: try file("identity_file"), knownHosts: try file("known_hosts"),
                  passphraseEnv: try object.string("passphrase_env"),
                  passphraseFile: try object.string("passphrase_file").map { JobConfiguration.resolve($0, base: base) },
                  connectTimeout: try seconds("connect_timeout", default: 10, range: 1...300),
                  timeout: try seconds("timeout", default: 60, range: 1...3600),
                  keepalive: try seconds("keepalive", default: 15, range: 1...600),
                  retries: try seconds("retries", default: 3, range: 0...10))
        if passphraseEnv != nil && passphraseFile != nil {
            throw object.error("passphrase_file", "give passphrase_env or passphrase_file, not both")
        }
        if let passphraseFile, !FileManager.default.isReadableFile(atPath: passphraseFile) {
            throw object.error("passphrase_file", "'\(passphraseFile)' does not exist or cannot be read")
        }
    }

    /// The identity's passphrase, if one is configured.
    func passphrase() throws -> String? {
        if let passphraseEnv {
            guard let value = ProcessInfo.processInfo.environment[passphraseEnv] else {
                throw SFTPFailure(reason: "the passphrase variable \(passphraseEnv) is not set", transient: false)
            }
            return value
        }
        if let passphraseFile {
            guard let text = try? String(contentsOfFile: passphraseFile, encoding: .utf8) else {
                throw SFTPFailure(reason: "the passphrase file cannot be read", transient: false)
            }
            return text.trimmingCharacters(in: .newlines)
        }
        return nil
    }
}
