import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// The built `rosterdrop` binary on a local drop folder: files in, database and reports out.
struct EndToEndTests {
    let binary: Executable

    init() throws {
        binary = try Executable("rosterdrop")
    }

    func run(_ drop: TestDrop, _ extra: [String] = []) throws -> Executable.Result {
        try binary.run(["run", "--config", drop.configPath, "--json", "--now", "2026-11-03T02:00:00Z"] + extra)
    }

    @Test func aFirstDeliveryThenASecondWithEveryKindOfChange() throws {
        let drop = try TestDrop()
        try drop.execute("INSERT INTO organisations (id) VALUES ('org1')")
        try drop.execute("""
            INSERT INTO accounts (id, organisation_id, email, given_name, identity_source, created_at, updated_at)
            VALUES (1000, 'org1', 'Karin.Ek@Exempel.se', 'Karin', 'portal', '2025-01-01', '2025-01-01')
            """)
        try drop.execute("""
            INSERT INTO groups (id, organisation_id, name, type, source, created_at, updated_at)
            VALUES (500, 'org1', 'Läsklubben', 'class', 'manual', '2025-01-01', '2025-01-01');
            INSERT INTO memberships (group_id, account_id) VALUES (500, 1000);
            """)
        try drop.deliver("20261101T020000Z",
                         users: [Fixture.user("p1", given: "Märta"), Fixture.user("p2", email: "karin.ek@exempel.se"),
                                 Fixture.user("p3", role: "teacher", family: "Sjöberg"), Fixture.user("p4"),
                                 Fixture.user("p5", email: "=HYPERLINK(\"\"http://x\"\",\"\"klick\"\")".quotedCSV)],
                         groups: [Fixture.group("g1"), Fixture.group("g2", name: "\"Ma, 8A\"", type: "teaching_group")],
                         memberships: ["g1,p1", "g1,p2", "g2,p3", "g2,p4"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2"),
                                  Fixture.order("o3", person: "p3", type: "trial", to: "2026-12-01"),
                                  Fixture.order("o4", person: "p4"), Fixture.order("o5", person: "p5")])
        let first = try run(drop)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("receipt: outbox/receipt_20261101T020000Z.csv"))
        #expect(!first.stderr.contains("Märta") && !first.stderr.contains("exempel.se"), "no personal data in logs")
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(first.stdout.utf8))
        #expect(summary.organisations[0].deliveries.first?.outcome == .appliedWithRejects)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE identity_source = 'skolon'") == 4)
        #expect(try drop.rows("SELECT person_id FROM accounts WHERE id = 1000").first?["person_id"] as String? == "p2")
        #expect(try drop.rows("SELECT name FROM groups WHERE external_id = 'g2'").first?["name"] as String? == "Ma, 8A")
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz")
        #expect(rejects[0] == ["file", "line", "column", "value", "rule", "message_sv", "message_en"])
        let email = try #require(rejects.first { $0[4] == "field.email" })
        #expect(email[0] == "users_20261101T020000Z.csv.gz" && email[1] == "6" && email[2] == "email")
        #expect(email[3] == "'=HYPERLINK(\"http://x\",\"klick\")", "the formula is neutralised")
        #expect(email[5].contains("E-postadressen") && email[6].contains("e-mail address"))
        #expect(rejects.contains { $0[4] == "reference.person_rejected" && $0[0].hasPrefix("distribution_orders_") && $0[1] == "6" })

        // Next day: p1 renamed, p2's e-mail changed, p4 gone, p6 new, g2 renamed, g1 gone.
        try drop.deliver("20261102T020000Z",
                         users: [Fixture.user("p1", given: "Märta-Li"), Fixture.user("p2", email: "karin.ny@exempel.se"),
                                 Fixture.user("p3", role: "teacher", family: "Sjöberg"), Fixture.user("p6", family: "Ängström")],
                         groups: [Fixture.group("g2", name: "Ma 8A", type: "teaching_group")],
                         memberships: ["g2,p3", "g2,p6", "g2,p1"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2"),
                                  Fixture.order("o3", person: "p3", type: "trial", to: "2026-12-01"),
                                  Fixture.order("o6", person: "p6", product: TestDrop.productB)])
        let second = try run(drop)
        #expect(second.status == 0, "\(second.stderr)")
        let accounts = try drop.rows("SELECT id, person_id, given_name, email FROM accounts ORDER BY person_id")
        #expect(accounts.map { $0["person_id"] as String } == ["p1", "p2", "p3", "p6"])
        #expect(accounts[0]["given_name"] as String == "Märta-Li")
        #expect(accounts[1]["id"] as Int == 1000 && accounts[1]["email"] as String == "karin.ny@exempel.se")
        #expect(try drop.rows("SELECT name FROM groups WHERE source = 'skolon'").map { $0["name"] as String } == ["Ma 8A"])
        #expect(try drop.count("SELECT COUNT(*) FROM memberships WHERE group_id = 500 AND account_id = 1000") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 'o4'") == 0)
        let receipt = try drop.receipt("20261102T020000Z")
        #expect(receipt["users"] == ["20261102T020000Z", "org1", "applied", "users", "4", "4", "0", "1", "2", "1"])
        #expect(receipt["groups"] == ["20261102T020000Z", "org1", "applied", "groups", "1", "1", "0", "0", "1", "1"])
        #expect(receipt["memberships"] == ["20261102T020000Z", "org1", "applied", "memberships", "3", "3", "0", "2", "0", "3"])
        #expect(receipt["distribution_orders"] == ["20261102T020000Z", "org1", "applied", "distribution_orders", "4", "4", "0", "1", "0", "1"])
        #expect(drop.files("org1", "archive").count == 10)

        // A replay of the second delivery changes nothing.
        let before = try drop.snapshot(portalOnly: true)
        for name in drop.files("org1", "archive") where name.contains("20261102") {
            try FileManager.default.copyItem(at: drop.folder("org1", "archive").appendingPathComponent(name),
                                             to: drop.inbox().appendingPathComponent(name))
        }
        let replay = try run(drop)
        #expect(replay.status == 0)
        #expect(try drop.snapshot(portalOnly: true) == before)
        #expect(try drop.receipt("", name: "receipt_20261102T020000Z-2.csv")["users"]?[2] == "duplicate")

        // A bad file is answered with a report and leaves the database as it was.
        try drop.deliver("20261103T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        try Data("not gzip".utf8).write(to: drop.inbox().appendingPathComponent("users_20261103T020000Z.csv.gz"))
        let bad = try run(drop)
        #expect(bad.status == 0)
        #expect(try drop.snapshot(portalOnly: true) == before)
        #expect(try drop.rejectRules("20261103T020000Z") == ["manifest.checksum"])
        #expect(try drop.receipt("20261103T020000Z")["users"]?[2] == "refused")
    }

    @Test func exitCodesSayWhatHappened() throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["45678901"])])
        try FileManager.default.removeItem(at: drop.root.appendingPathComponent("drop/org1"))
        try drop.deliver("20261101T000000Z", org: "org2", users: [Fixture.user("p1", unit: "45678901")],
                         orders: [Fixture.order("o1", person: "p1")])
        let partial = try run(drop)
        #expect(partial.status == 1)
        #expect(partial.stderr.contains("org1: FAILED"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE organisation_id = 'org2'") == 1)

        let lock = try drop.holdElsewhere(organisations: ["org1", "org2"])
        let busy = try run(drop)
        withExtendedLifetime(lock) {}
        if drop.isPostgres {
            #expect(busy.status == 0)
            #expect(busy.stderr.contains("org1: taken by another worker") && busy.stderr.contains("org2: taken by another worker"))
        } else {
            #expect(busy.status == 75)
            #expect(busy.stderr.contains("another rosterdrop run is in progress"))
        }

        try "database: x\norganisations:\n  - id: Bad Id\n".write(toFile: drop.configPath, atomically: true, encoding: .utf8)
        let config = try run(drop)
        #expect(config.status == 2)
        #expect(config.stderr.contains("config.yaml:3: organisations[0].id"))
    }
}

extension String {
    /// The string as one quoted CSV cell (the caller has doubled inner quotes already).
    var quotedCSV: String { "\"\(self)\"" }
}
