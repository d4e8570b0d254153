import Foundation
import Testing
@testable import RosterDrop

/// The portal on PostgreSQL, on a real server the test process starts: the config's
/// `database:` URL, several workers sharing the organisations, a worker killed mid-delivery,
/// and the same deliveries ending the same on PostgreSQL and on SQLite.
@Suite(.timeLimit(.minutes(5))) struct PostgresTests {
    let binary: Executable
    let server: PostgresServer

    init() throws {
        binary = try Executable("rosterdrop")
        server = try PostgresServer.shared
    }

    // MARK: configuration

    static func load(_ database: String, extra: String = "") throws -> JobConfiguration {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pgconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("config.yaml").path
        try """
            database: \(database)
            \(extra)
            organisations:
              - id: org1
                school_units: ["12345678"]
                drop: drop/org1
                mappings: \(TestDrop.skolonMapping)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return try JobConfiguration.load(path: path)
    }

    @Test func theDatabaseKeyTakesAURLAndNeverAPassword() throws {
        let parsed = try Self.load("postgresql://portal@db.example.se:6543/skola?sslmode=verify-full",
                                   extra: "database_password_env: PORTAL_DB_PASSWORD")
        var expected = PostgresLocation(host: "db.example.se", port: 6543, user: "portal", database: "skola", sslMode: .verifyFull)
        expected.password = .environment("PORTAL_DB_PASSWORD")
        #expect(parsed.database == .postgres(expected))
        #expect(try Self.load("postgresql://portal@db/skola").database == .postgres(PostgresLocation(host: "db", user: "portal",
                                                                                                      database: "skola")))
        #expect(try Self.load("sqlite:portal.sqlite").database.sqlitePath?.hasSuffix("/portal.sqlite") == true)
        #expect(try Self.load("portal.sqlite").database.sqlitePath?.hasSuffix("/portal.sqlite") == true)

        func refusal(_ database: String, extra: String = "") -> String {
            do {
                _ = try Self.load(database, extra: extra)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let withPassword = refusal("postgresql://portal:hemligt@db/skola")
        #expect(withPassword.contains("database") && withPassword.contains("database_password_env"))
        #expect(!withPassword.contains("hemligt"))
        #expect(refusal("postgresql://portal@db/skola?password=hemligt").contains("never in the config"))
        #expect(refusal("postgresql://portal@db/skola?sslmode=sometimes").contains("sslmode 'sometimes'"))
        #expect(refusal("postgresql://portal@db/skola?application=x").contains("'application'"))
        #expect(refusal("postgresql://db/skola").contains("names no user"))
        #expect(refusal("postgresql://portal@db/").contains("names no database"))
        let mistyped = refusal("mysql://portal:hemligt@db/skola")
        #expect(mistyped.contains("neither a file path nor a postgresql:// URL") && !mistyped.contains("hemligt"))
        #expect(try Self.load("PostgreSQL://portal@db/skola").database == .postgres(PostgresLocation(host: "db", user: "portal",
                                                                                                     database: "skola")))
        #expect(refusal("postgresql://portal@10.0.0.5/skola?sslmode=verify-full").contains("is an address"))
        var rooted = PostgresLocation(host: "db", user: "portal", database: "skola", sslMode: .verifyCA)
        rooted.sslRootCertificate = "/etc/rosterdrop/ca.pem"
        #expect(try Self.load("postgresql://portal@db/skola?sslmode=verify-ca&sslrootcert=/etc/rosterdrop/ca.pem").database
            == .postgres(rooted))
        #expect(refusal("portal.sqlite", extra: "database_password_file: pw").contains("for a postgresql:// database only"))
        #expect(refusal("postgresql://portal@db/skola", extra: "database_password_env: A\ndatabase_password_file: pw")
            .contains("not both"))
    }

    @Test func aRefusedLoginOrAnUnreachableServerIsAClearErrorNamingTheKey() throws {
        let drop = try TestDrop(backend: .postgres(try server.makeDatabase()))
        let config = try String(contentsOfFile: drop.configPath, encoding: .utf8)
        func run(database: String, extra: String = "", environment: [String: String] = [:]) throws -> Executable.Result {
            let edited = config.replacingOccurrences(of: #"database: [^\n]*"#, with: "database: \(database)\n\(extra)",
                                                     options: .regularExpression)
            try edited.write(toFile: drop.configPath, atomically: true, encoding: .utf8)
            return try binary.run(["run", "--config", drop.configPath], environment: environment)
        }
        let unknownUser = try run(database: "postgresql://nobody@127.0.0.1:\(server.port)/postgres?sslmode=disable")
        #expect(unknownUser.status == 2)
        #expect(unknownUser.stderr.contains("login refused") && unknownUser.stderr.contains("check `database`"))

        let unset = try run(database: "postgresql://rosterdrop@127.0.0.1:\(server.port)/postgres?sslmode=disable",
                            extra: "database_password_env: ROSTERDROP_TEST_NO_SUCH_VARIABLE")
        #expect(unset.status == 2)
        #expect(unset.stderr.contains("ROSTERDROP_TEST_NO_SUCH_VARIABLE is not set")
            && unset.stderr.contains("check `database_password_env`"))

        let missingFile = try run(database: "postgresql://rosterdrop@127.0.0.1:\(server.port)/postgres?sslmode=disable",
                                  extra: "database_password_file: /nonexistent/pw")
        #expect(missingFile.status == 2)
        #expect(missingFile.stderr.contains("check `database_password_file`"))

        let nobodyListens = try SSHServer.freePort()
        let unreachable = try run(database: "postgresql://rosterdrop@127.0.0.1:\(nobodyListens)/x?sslmode=disable")
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("cannot be reached") && unreachable.stderr.contains("check `database`"))

        // A role that must give its password: from the environment, from a file (with a
        // Windows line end), and a wrong one, refused and never printed.
        let owned = try server.makeDatabase(owner: PostgresServer.passwordRole)
        let url = "\(owned.description)?sslmode=disable"
        let fromEnvironment = try run(database: url, extra: "database_password_env: ROSTERDROP_TEST_DB_PASSWORD",
                                      environment: ["ROSTERDROP_TEST_DB_PASSWORD": PostgresServer.password])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        #expect(!fromEnvironment.stderr.contains(PostgresServer.password))
        let file = drop.root.appendingPathComponent("db-password")
        try (PostgresServer.password + "\r\n").write(to: file, atomically: true, encoding: .utf8)
        let fromFile = try run(database: url, extra: "database_password_file: \(file.path)")
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        let wrong = try run(database: url, extra: "database_password_env: ROSTERDROP_TEST_DB_PASSWORD",
                            environment: ["ROSTERDROP_TEST_DB_PASSWORD": "fel-lösenord"])
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("login refused") && wrong.stderr.contains("check `database_password_env`"))
        #expect(!wrong.stderr.contains("fel-lösenord"))
        let none = try run(database: url)
        #expect(none.status == 2 && none.stderr.contains("check `database`"), "\(none.stderr)")
    }

    // MARK: several workers

    /// Twenty organisations, two deliveries each, and two workers started together, twice:
    /// every delivery is applied exactly once, by one of them, and each organisation's second
    /// delivery comes after its first.
    @Test func twoWorkersOnTwentyOrganisationsApplyEachDeliveryOnce() throws {
        let organisations = (1...20).map { ("org\($0)", [String(format: "%08d", 10_000_000 + $0)]) }
        let drop = try TestDrop(organisations: organisations, backend: .postgres(try server.makeDatabase()))
        for (index, (id, units)) in organisations.enumerated() {
            let users = (0..<40).map { Fixture.user("\(id)-p\($0)", unit: units[0]) }
            let orders = (0..<40).map { Fixture.order("\(id)-o\($0)", person: "\(id)-p\($0)") }
            try drop.deliver("20261101T020000Z", org: id, users: users, orders: orders)
            try drop.deliver("20261102T020000Z", org: id, users: Array(users.dropLast(index % 3)),
                             orders: Array(orders.dropLast(index % 3)))
        }
        var summaries: [RunSummary] = []
        for _ in 0..<2 {
            let workers = try (0..<2).map { _ in
                try Child(binary.url.path, ["run", "--config", drop.configPath, "--json", "--quiet", "--now", "2026-11-03T02:00:00Z"])
            }
            for worker in workers {
                let result = worker.wait()
                #expect(result.status == 0, "\(result.stderr)")
                summaries.append(try Self.summary(result))
            }
        }
        let applied = try drop.rows("""
            SELECT organisation_id, timestamp, COUNT(*) AS n FROM deliveries GROUP BY organisation_id, timestamp
            """)
        #expect(applied.count == 40)
        #expect(applied.allSatisfy { ($0["n"] as Int) == 1 })
        for (index, (id, _)) in organisations.enumerated() {
            #expect(drop.files(id, "inbox").isEmpty)
            #expect(drop.files(id, "outbox").filter { $0.hasPrefix("receipt_") }.count == 2)
            #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE organisation_id = ?", [id]) == 40 - index % 3)
            // Each delivery answered in one worker's summary, never in two.
            let answered = summaries.flatMap { $0.organisations.filter { $0.id == id }.flatMap(\.deliveries) }
            #expect(answered.map(\.timestamp).sorted() == ["20261101T020000Z", "20261102T020000Z"])
        }
        // Nobody waited for anybody: each worker either had an organisation or saw it taken.
        for summary in summaries {
            #expect(summary.organisations.count == 20 && summary.succeeded)
        }
    }

    /// org1 and org2 on a database of their own, each with one delivery of `peopleEach`
    /// licensed people.
    func twoOrganisations(peopleEach: Int) throws -> TestDrop {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["23456789"])],
                                backend: .postgres(try server.makeDatabase()))
        for (id, unit) in [("org1", "12345678"), ("org2", "23456789")] {
            try drop.deliver("20261101T020000Z", org: id, users: (0..<peopleEach).map { Fixture.user("\(id)-p\($0)", unit: unit) },
                             orders: (0..<peopleEach).map { Fixture.order("\(id)-o\($0)", person: "\(id)-p\($0)") })
        }
        return drop
    }

    /// The run summary a `--json` run printed.
    static func summary(_ result: Executable.Result) throws -> RunSummary {
        try JSONDecoder().decode(RunSummary.self, from: Data(result.stdout.utf8))
    }

    /// A worker killed inside a delivery's transaction leaves nothing of it, and its
    /// organisation goes to the next worker, which applies the delivery once.
    @Test func aWorkerKilledMidDeliveryLeavesItsOrganisationToTheOther() throws {
        let drop = try twoOrganisations(peopleEach: 30)
        let arguments = ["run", "--config", drop.configPath, "--quiet", "--now", "2026-11-03T02:00:00Z"]
        // Killed at the end of org1's delivery, before its commit; its connection goes with it.
        let killed = try Child(binary.url.path, arguments, environment: ["ROSTERDROP_FAULT": "delivery-commit"]).wait()
        #expect(killed.status == 86)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries") == 0)
        #expect(drop.files("org1", "inbox").count == 3)
        // Nothing is left locked: the other worker takes both organisations at once.
        let other = try Child(binary.url.path, arguments + ["--json"]).wait()
        #expect(other.status == 0, "\(other.stderr)")
        let summary = try Self.summary(other)
        #expect(summary.organisations.map(\.takenByAnotherWorker) == [false, false])
        #expect(summary.organisations.map { $0.deliveries.map(\.outcome) } == [[.applied], [.applied]])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 60)
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries WHERE outcome = 'applied'") == 2)
    }

    /// Two real workers at once: the first is stopped inside org1's delivery, holding it; the
    /// second, started then, leaves org1 to it at once and does org2; the first, let go on,
    /// finishes org1 and finds org2 done. Each delivery is applied once, by one of them.
    @Test func whileOneWorkerIsInsideAnOrganisationTheOtherTakesTheNext() throws {
        let drop = try twoOrganisations(peopleEach: 10)
        let arguments = ["run", "--config", drop.configPath, "--quiet", "--json", "--now", "2026-11-03T02:00:00Z"]
        let first = try Child(binary.url.path, arguments, environment: ["ROSTERDROP_FAULT": "delivery-commit:1:stop"])
        try #require(first.waitUntilStopped())
        let second = try Child(binary.url.path, arguments).wait()
        #expect(second.status == 0, "\(second.stderr)")
        let other = try Self.summary(second)
        #expect(other.organisations.map(\.takenByAnotherWorker) == [true, false])
        #expect(other.organisations[1].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE organisation_id = 'org1'") == 0)
        first.resume()
        let finished = first.wait()
        #expect(finished.status == 0, "\(finished.stderr)")
        let own = try Self.summary(finished)
        #expect(own.organisations.map { $0.deliveries.map(\.outcome) } == [[.applied], []])
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries WHERE outcome = 'applied'") == 2)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 20)
    }

    /// An organisation another worker holds is skipped at once, not waited for, and the
    /// others are processed; the held one is answered by whoever takes it next.
    @Test func anOrganisationAnotherWorkerHoldsIsSkippedNotWaitedFor() throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["23456789"])],
                                backend: .postgres(try server.makeDatabase()))
        try drop.deliver("20261101T020000Z", org: "org1", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        try drop.deliver("20261101T020000Z", org: "org2", users: [Fixture.user("p2", unit: "23456789")],
                         orders: [Fixture.order("o2", person: "p2")])
        let held = try drop.holdElsewhere(organisations: ["org1"])
        let first = try drop.run()
        #expect(first.organisations.map(\.takenByAnotherWorker) == [true, false])
        #expect(first.organisations[1].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p1'") == 0)
        // An operator's command for that organisation does not interleave with the worker.
        #expect(throws: RunLockError.self) {
            try ReprocessDesk(database: drop.portal()).request(organisation: "org1", timestamp: "20261101T020000Z", at: Date())
        }
        held.release()
        let second = try drop.run()
        #expect(second.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p1'") == 1)
    }

    // MARK: the same on both

    /// One organisation's life — a portal before the integration, its start, deliveries with
    /// rejects, adoption, changes and removals, a broken file — on SQLite and on PostgreSQL:
    /// the portal's contents, receipts, reject reports and HTML reports come out the same.
    @Test func postgresAndSQLiteEndWithTheSamePortalAndAnswers() throws {
        let settings = "integration_start: 2026-11-01\n" + TestDrop.noHolds
        let sqlite = try TestDrop(settings: settings, backend: .sqlite(path: ""))
        let postgres = try TestDrop(settings: settings, backend: .postgres(try server.makeDatabase()))
        let days: [(String, (TestDrop) throws -> Void)] = [
            ("2026-11-02T05:00:00Z", { drop in
                try drop.deliver("20261102T020000Z",
                                 users: [Fixture.user("p1", email: "anna.lind@EXEMPEL.se"), Fixture.user("p2", given: "Märta"),
                                         Fixture.user("p3", role: "teacher", email: "bo.ek@exempel.se"), Fixture.user("p4", email: "fel"),
                                         Fixture.user("p5", unit: "99999999"), Fixture.user("p6", family: "Ångström")],
                                 groups: [Fixture.group("g1"), Fixture.group("g2", name: "Ma 8A", type: "teaching_group")],
                                 memberships: ["g1,p1", "g1,p2", "g2,p3", "g2,p9", "g1,p6"],
                                 orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2"),
                                          Fixture.order("o3", person: "p3", type: "trial", to: "2026-12-01"),
                                          Fixture.order("o4", person: "p4"), Fixture.order("o6", person: "p6"),
                                          Fixture.order("o9", person: "p9", product: "0000000000000")])
            }),
            ("2026-11-03T05:00:00Z", { drop in
                try drop.deliver("20261103T020000Z",
                                 users: [Fixture.user("p1", email: "anna.lind@EXEMPEL.se", grade: "8"), Fixture.user("p3", role: "teacher",
                                         email: "bo.ek@exempel.se"), Fixture.user("p6", family: "Ångström"), Fixture.user("p7")],
                                 groups: [Fixture.group("g1", name: "7A ny"), Fixture.group("g3", name: "Sv 7")],
                                 memberships: ["g1,p1", "g3,p7", "g3,p6"],
                                 orders: [Fixture.order("o1", person: "p1", to: "2027-06-30"), Fixture.order("o3", person: "p3"),
                                          Fixture.order("o6", person: "p6", product: TestDrop.productB), Fixture.order("o7", person: "p7")])
            }),
            ("2026-11-04T05:00:00Z", { drop in
                try drop.deliver("20261104T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
                let broken = drop.inbox().appendingPathComponent("users_20261104T020000Z.csv.gz")
                try Data("not gzip at all".utf8).write(to: broken)
            }),
            ("2026-12-10T05:00:00Z", { _ in }),
        ]
        // Every answer as it was published (the last day's retention purges the outbox), and
        // every run's summary.
        var answers: [[String: String]] = [[:], [:]]
        var summaries: [[String]] = [[], []]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for (index, drop) in [sqlite, postgres].enumerated() {
            try PortalBefore.write(into: drop)
            for (day, deliver) in days {
                try deliver(drop)
                let summary = try drop.run(at: instant(day))
                #expect(summary.organisations.allSatisfy { $0.error == nil }, "\(summary)")
                summaries[index].append(String(decoding: try encoder.encode(summary), as: UTF8.self))
                for name in drop.files("org1", "outbox") where answers[index][name] == nil {
                    answers[index][name] = name.hasSuffix(".csv") || name.hasSuffix(".csv.gz")
                        ? try drop.report(name).map { $0.joined(separator: ",") }.joined(separator: "\n")
                        : try String(contentsOf: drop.folder("org1", "outbox").appendingPathComponent(name), encoding: .utf8)
                }
            }
        }
        #expect(try Self.contents(postgres) == Self.contents(sqlite))
        #expect(try Self.contents(sqlite).contains("p1|anna.lind@EXEMPEL.se"))
        #expect(summaries[1] == summaries[0])
        #expect(answers[0].keys.filter { $0.hasPrefix("receipt_") }.count == 3)
        #expect(answers[0].keys.contains("distribution_orders_20261102T050000Z.csv.gz"))
        #expect(answers[1].keys.sorted() == answers[0].keys.sorted())
        for (name, content) in answers[0] {
            #expect(answers[1][name] == content, "\(name)")
        }
        #expect(try Self.ledger(postgres) == Self.ledger(sqlite))
    }

    /// The portal by its natural keys (the stores number their rows each their own way).
    static func contents(_ drop: TestDrop) throws -> String {
        let queries = [
            "accounts": """
                SELECT COALESCE(person_id, '-') || '|' || COALESCE(email, '') || '|' || COALESCE(given_name, '') || '|'
                    || COALESCE(family_name, '') || '|' || COALESCE(role, '') || '|' || COALESCE(school_unit_code, '') || '|'
                    || COALESCE(grade, '') || '|' || identity_source || '|' || COALESCE(linked_at, '') || '|' || updated_at
                FROM accounts ORDER BY 1
                """,
            "groups": """
                SELECT COALESCE(external_id, name) || '|' || name || '|' || type || '|' || source || '|' || updated_at
                FROM groups ORDER BY 1
                """,
            "memberships": """
                SELECT COALESCE(g.external_id, g.name) || '|' || COALESCE(a.person_id, a.email)
                FROM memberships m JOIN groups g ON g.id = m.group_id JOIN accounts a ON a.id = m.account_id ORDER BY 1
                """,
            "licenses": """
                SELECT COALESCE(l.order_id, '-') || '|' || COALESCE(a.person_id, a.email) || '|' || l.product_id || '|'
                    || l.license_type || '|' || COALESCE(l.valid_to, '') || '|' || l.source
                FROM licenses l JOIN accounts a ON a.id = l.account_id ORDER BY 1
                """,
        ]
        return try queries.keys.sorted().map { table in
            "\(table): " + (try drop.rows(queries[table]!).map { $0[0] as String }.joined(separator: "\n  "))
        }.joined(separator: "\n")
    }

    /// What the ledger says of each delivery and the calendar, without ids.
    static func ledger(_ drop: TestDrop) throws -> [String] {
        try drop.rows("""
            SELECT d.timestamp || ' ' || d.outcome || ' ' || COALESCE(c.entity, '') || ' ' || COALESCE(c.received, 0) || '/'
                || COALESCE(c.accepted, 0) || '/' || COALESCE(c.rejected, 0) || '/' || COALESCE(c.created, 0) || '/'
                || COALESCE(c.updated, 0) || '/' || COALESCE(c.removed, 0)
            FROM deliveries d LEFT JOIN delivery_counts c ON c.delivery_id = d.id ORDER BY 1
            """).map { $0[0] as String }
            + drop.rows("SELECT kind || ' ' || accounts || ' ' || groups || ' ' || licenses FROM calendar_events ORDER BY 1")
            .map { $0[0] as String }
            + drop.rows("SELECT file || ':' || line || ':' || column_name || ':' || rule FROM findings ORDER BY 1").map { $0[0] as String }
    }
}
