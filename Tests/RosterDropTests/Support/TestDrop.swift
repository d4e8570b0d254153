import Foundation
import Testing
@testable import RosterDrop

/// A throwaway job setup: a temporary folder with a config, drop folders, a product
/// catalogue and a real portal database, plus helpers to deliver files and read results.
///
/// The database is a SQLite file, or with `ROSTERDROP_TEST_BACKEND=postgresql` (the second
/// pass of `make test`) a database of its own on the test process's PostgreSQL server; the
/// helpers read and write it through the job's own store.
final class TestDrop {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let skolonMapping = repository.appendingPathComponent("mappings/skolon-v1").path
    static let usersHeader = "person_id,role,given_name,family_name,email,school_unit_code,grade,eppn"
    static let groupsHeader = "group_id,name,type,school_unit_code"
    static let membershipsHeader = "group_id,person_id"
    static let ordersHeader = "order_id,person_id,product_id,license_type,valid_from,valid_to"
    static let productA = "9789140000001"
    static let productB = "9789140000002"
    /// Holds never triggered: for tests about other things that remove a lot.
    static let noHolds = "hold: {users: 100, groups: 100, memberships: 100, licenses: 100}"

    /// An organisation's `licenses:` granting product A, paid, for the school year to every
    /// user (of `schoolUnits` when given): for sources that send no orders.
    static func paidLicenses(schoolUnits: [String]? = nil) -> String {
        """
        licenses:
          - product: "\(productA)"
            type: paid
            from: 2026-08-01
            to: 2027-06-30
        """ + (schoolUnits.map { "\n    school_units: [\($0.map { "\"\($0)\"" }.joined(separator: ", "))]" } ?? "")
    }

    let root: URL
    let configPath: String
    /// The SQLite file (also named when the store is PostgreSQL, where it is unused).
    let databasePath: String
    let location: DatabaseLocation

    /// `remote` gives, per organisation, the YAML of its `drop:` (and `sftp:`) keys instead of
    /// the local folder; its files still live in `drop/<id>/` here, served by a test sshd.
    /// `reusing` takes over an earlier TestDrop's folder and database (with a new config).
    init(organisations: [(String, [String])] = [("org1", ["12345678", "23456789"])], mapping: String = TestDrop.skolonMapping,
         reusing: URL? = nil, remote: [String: (URL) -> String] = [:], settings: String = "",
         backend: DatabaseLocation? = nil) throws {
        root = reusing ?? FileManager.default.temporaryDirectory.appendingPathComponent("rosterdrop-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        databasePath = root.appendingPathComponent("portal.sqlite").path
        configPath = root.appendingPathComponent("config.yaml").path
        let reusedLocation = reusing.flatMap { try? String(contentsOf: $0.appendingPathComponent("location.txt"), encoding: .utf8) }?
            .split(separator: "\n").first.map(String.init)
        if let backend {
            // A SQLite backend is always this drop's own file.
            location = backend.sqlitePath == nil ? backend : .sqlite(path: databasePath)
        } else if let reusedLocation, reusedLocation.hasPrefix("postgresql://") {
            location = try DatabaseLocation.parse(reusedLocation, passwordEnv: nil, passwordFile: nil, base: root) { key, message in
                ConfigurationError(file: "location.txt", line: nil, key: key, message: message)
            }
        } else if reusing == nil, PostgresServer.isBackend {
            location = .postgres(try PostgresServer.shared.makeDatabase())
        } else {
            location = .sqlite(path: databasePath)
        }
        let databaseLine: String
        switch location {
        case .sqlite: databaseLine = "portal.sqlite"
        case .postgres(let server): databaseLine = "\(server.description)?sslmode=disable\nscratch: scratch"
        }
        try databaseLine.write(to: root.appendingPathComponent("location.txt"), atomically: true, encoding: .utf8)
        var config = "database: \(databaseLine)\norganisations:\n"
        for (id, units) in organisations {
            try FileManager.default.createDirectory(at: root.appendingPathComponent("drop/\(id)/inbox"), withIntermediateDirectories: true)
            config += "  - id: \(id)\n    school_units: [\(units.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
            if let remote = remote[id] {
                config += remote(root.appendingPathComponent("drop/\(id)")) + "\n    mappings: \(mapping)\n"
            } else {
                config += "    drop: drop/\(id)\n    mappings: \(mapping)\n"
            }
            // Extra organisation keys, one per line (`mode: test`, `hold: {…}`, …).
            for line in settings.split(separator: "\n") { config += "    \(line)\n" }
        }
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        if reusing != nil { return }
        let products = "product_id,title\n\(Self.productA),Matematik 5000+ 1a\n\(Self.productB),Svenska Direkt 7\n"
        let productsPath = root.appendingPathComponent("products.csv").path
        try products.write(toFile: productsPath, atomically: true, encoding: .utf8)
        _ = try ProductCatalogue.importCSV(at: productsPath, into: portal())
    }

    /// The portal store, opened as the job opens it.
    func portal() throws -> PortalDatabase { try PortalDatabase(location) }

    /// Cleared when another TestDrop takes the folder over.
    var removesRoot = true

    deinit { if removesRoot { try? FileManager.default.removeItem(at: root) } }

    /// Puts top-level keys (`retention: …`, `metrics_file: …`) at the head of the config.
    func prependConfig(_ lines: String) throws {
        let config = try String(contentsOfFile: configPath, encoding: .utf8)
        try (lines + "\n" + config).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func inbox(_ org: String = "org1") -> URL { root.appendingPathComponent("drop/\(org)/inbox") }
    func folder(_ org: String, _ area: String) -> URL { root.appendingPathComponent("drop/\(org)/\(area)") }

    /// Writes a delivery: each given file gzip'd under its canonical name (header added), and
    /// a manifest that agrees with them unless `manifest` is false.
    @discardableResult
    func deliver(_ ts: String, org: String = "org1", users: [String]? = nil, groups: [String]? = nil,
                 memberships: [String]? = nil, orders: [String]? = nil, manifest: Bool = true) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let parts: [(String, String, [String]?)] = [
            ("users", Self.usersHeader, users), ("groups", Self.groupsHeader, groups),
            ("memberships", Self.membershipsHeader, memberships), ("distribution_orders", Self.ordersHeader, orders),
        ]
        var manifestText = "file,rows,sha256\n"
        for (kind, header, rows) in parts {
            guard let rows else { continue }
            let name = "\(kind)_\(ts).csv.gz"
            let data = try Self.gzip(([header] + rows).joined(separator: "\n") + "\n")
            try data.write(to: inbox(org).appendingPathComponent(name))
            files[name] = data
            manifestText += "\(name),\(rows.count),\(Digest.sha256Hex(data))\n"
        }
        if manifest {
            try manifestText.write(to: inbox(org).appendingPathComponent("manifest_\(ts).csv"), atomically: true, encoding: .utf8)
        }
        return files
    }

    static func gzip(_ text: String) throws -> Data {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID().uuidString).gz").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try GzipWriter(path: path)
        try writer.write(text)
        try writer.close()
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func run(dryRun: Bool = false, full: Bool = false,
             at date: Date = Date(timeIntervalSince1970: 1_795_000_000)) throws -> RunSummary {
        let configuration = try JobConfiguration.load(path: configPath)
        return try SyncJob(configuration: configuration, dryRun: dryRun, full: full, now: { date }).run()
    }

    func rows(_ sql: String, _ arguments: StoreArguments = []) throws -> [StoreRow] {
        try portal().read { try StoreRow.fetchAll($0, sql: sql, arguments: arguments) }
    }

    func count(_ sql: String, _ arguments: StoreArguments = []) throws -> Int {
        try portal().read { try Int.fetchOne($0, sql: sql, arguments: arguments) ?? 0 }
    }

    func execute(_ sql: String, _ arguments: StoreArguments = []) throws {
        try portal().write { try $0.execute(sql: sql, arguments: arguments) }
    }

    var isPostgres: Bool { location.sqlitePath == nil }

    /// Everything the store keeps, as bytes: the SQLite file and its log, or a dump of the
    /// PostgreSQL database's rows.
    func storedBytes() throws -> Data {
        switch location {
        case .sqlite(let path):
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            if let wal = try? Data(contentsOf: URL(fileURLWithPath: path + "-wal")) { bytes.append(wal) }
            return bytes
        case .postgres(let server):
            return Data(try PostgresServer.shared.dump(server.database).utf8)
        }
    }

    var postgresName: String? {
        if case .postgres(let server) = location { return server.database }
        return nil
    }

    /// What keeps another run out, held as another process would: SQLite's run lock, or on
    /// PostgreSQL the organisations' claims on a connection of its own (another worker).
    final class HeldElsewhere {
        private var lock: RunLock?
        private var portal: PortalDatabase?
        private var claims: [OrganisationClaim] = []

        init(_ drop: TestDrop, organisations: [String]) throws {
            switch drop.location {
            case .sqlite:
                lock = try RunLock(database: drop.location)
            case .postgres:
                let other = try drop.portal()
                claims = try organisations.map { try #require(try other.claim(organisation: $0)) }
                portal = other
            }
        }

        func release() {
            lock = nil
            claims.forEach { $0.release() }
            claims = []
            portal?.close()
            portal = nil
        }
    }

    func holdElsewhere(organisations: [String] = ["org1"]) throws -> HeldElsewhere {
        try HeldElsewhere(self, organisations: organisations)
    }

    /// The names of the store's tables, sorted.
    func tables() throws -> [String] {
        let sql = switch location {
        case .sqlite: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        case .postgres: "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        }
        return try portal().read { try String.fetchAll($0, sql: sql) }
    }

    /// Every table's rows as text, to compare the whole database before and after.
    func snapshot(portalOnly: Bool = false) throws -> String {
        let ledger = portalOnly ? [] : ["runs", "deliveries", "findings"]
        return try portal().read { db in
            var text = ""
            for table in ["organisations", "school_units", "accounts", "groups", "memberships", "licenses"] + ledger {
                let rows = try StoreRow.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY 1, 2")
                text += "\(table): \(rows.map(\.text).joined(separator: "; "))\n"
            }
            return text
        }
    }

    func files(_ org: String = "org1", _ area: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder(org, area).path)) ?? []).sorted()
    }

    /// The rows of a CSV report in the outbox (gunzipped when it ends in .gz), header included.
    func report(_ name: String, org: String = "org1") throws -> [[String]] {
        try CSVReader.records(atPath: folder(org, "outbox").appendingPathComponent(name).path)
    }

    /// The rule ids in a reject report, in report order.
    func rejectRules(_ ts: String, org: String = "org1") throws -> [String] {
        try report("rejects_\(ts).csv.gz", org: org).dropFirst().map { $0[4] }
    }

    /// The receipt's rows keyed by entity.
    func receipt(_ ts: String, org: String = "org1", name: String? = nil) throws -> [String: [String]] {
        let rows = try report(name ?? "receipt_\(ts).csv", org: org).dropFirst()
        return Dictionary(uniqueKeysWithValues: rows.map { ($0[3], $0) })
    }
}

/// Row builders for the canonical Skolon files.
enum Fixture {
    static func user(_ id: String, role: String = "student", given: String = "Åsa", family: String = "Öberg",
                     email: String? = nil, unit: String = "12345678", grade: String = "7", eppn: String = "") -> String {
        [id, role, given, family, email ?? "\(id)@exempel.se", unit, role == "teacher" ? "" : grade, eppn].joined(separator: ",")
    }

    static func order(_ id: String, person: String, product: String = TestDrop.productA, type: String = "paid",
                      from: String = "2026-08-01", to: String = "2027-07-31") -> String {
        [id, person, product, type, from, to].joined(separator: ",")
    }

    static func group(_ id: String, name: String = "7A", type: String = "class", unit: String = "12345678") -> String {
        [id, name, type, unit].joined(separator: ",")
    }
}

extension StoreRow {
    /// `column:value` pairs, for comparing rows as text.
    var text: String {
        zip(columns, values).map { "\($0):\($1)" }.joined(separator: " ")
    }
}
