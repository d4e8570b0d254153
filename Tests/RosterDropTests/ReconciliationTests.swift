import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Each contract rule on small deliveries, run through the whole job against a real SQLite file.
struct ReconciliationTests {
    @Test func onlyLicensedUsersAreCreated() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z",
                         users: [Fixture.user("p1"), Fixture.user("p2"), Fixture.user("p3", role: "teacher")],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o3", person: "p3")])
        let summary = try drop.run()
        #expect(summary.succeeded)
        #expect(try drop.rows("SELECT person_id FROM accounts ORDER BY person_id").map { $0["person_id"] as String } == ["p1", "p3"])
        let receipt = try drop.receipt("20261101T000000Z")
        #expect(receipt["users"]?[2] == "applied")
        #expect(summary.organisations[0].deliveries.first?.unlicensedUsers == 1)
        #expect(receipt["users"]?[4...9] == ["3", "3", "0", "2", "0", "0"])
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE source = 'skolon'") == 2)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE identity_source = 'skolon'") == 2)
    }

    @Test func matchesByPersonIdAndKeepsTheAccountAcrossAnEmailChange() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1", email: "old@exempel.se")],
                         orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run()
        let id = try drop.count("SELECT id FROM accounts WHERE person_id = 'p1'")
        try drop.deliver("20261102T000000Z", users: [Fixture.user("p1", given: "Åsa-Lena", email: "NEW@exempel.se")],
                         orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run()
        let row = try #require(try drop.rows("SELECT * FROM accounts WHERE person_id = 'p1'").first)
        #expect(row["id"] as Int == id)
        #expect(row["email"] as String == "NEW@exempel.se")
        #expect(row["given_name"] as String == "Åsa-Lena")
        #expect(try drop.receipt("20261102T000000Z")["users"]?[8] == "1")
    }

    @Test func adoptsAPreIntegrationAccountByEmailIgnoringCase() throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["45678901"])])
        try drop.execute("INSERT INTO organisations (id) VALUES ('org1'), ('org2')")
        try drop.execute("""
            INSERT INTO accounts (id, organisation_id, email, given_name, identity_source, created_at, updated_at)
            VALUES (1000, 'org1', 'Anna.Lind@Exempel.se', 'Anna', 'portal', '2025-01-01', '2025-01-01'),
                   (1001, 'org2', 'Bo@Exempel.se', 'Bo', 'portal', '2025-01-01', '2025-01-01')
            """)
        try drop.execute("""
            INSERT INTO licenses (organisation_id, account_id, product_id, license_type, source, created_at, updated_at)
            VALUES ('org1', 1000, '\(TestDrop.productB)', 'paid', 'portal', '2025-01-01', '2025-01-01')
            """)
        try drop.deliver("20261101T000000Z",
                         users: [Fixture.user("p1", email: "anna.lind@EXEMPEL.se"), Fixture.user("p2", email: "bo@exempel.se")],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        let adopted = try #require(try drop.rows("SELECT * FROM accounts WHERE id = 1000").first)
        #expect(adopted["person_id"] as String? == "p1")
        #expect(adopted["identity_source"] as String == "skolon")
        #expect(adopted["linked_at"] as String? != nil)
        #expect(adopted["email"] as String == "anna.lind@EXEMPEL.se")
        // Data the account had before the integration is still its own.
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE account_id = 1000") == 2)
        // An account of another organisation with the same e-mail is never taken over.
        let other = try #require(try drop.rows("SELECT * FROM accounts WHERE id = 1001").first)
        #expect(other["person_id"] as String? == nil)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p2' AND id <> 1001") == 1)
        let receipt = try drop.receipt("20261101T000000Z")
        #expect(receipt["users"]?[7...8] == ["1", "1"])
    }

    @Test func removesWhatTheSnapshotNoLongerHasButNeverManualGroups() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z",
                         users: [Fixture.user("p1"), Fixture.user("p2")],
                         groups: [Fixture.group("g1"), Fixture.group("g2", name: "Ma 8A", type: "teaching_group")],
                         memberships: ["g1,p1", "g1,p2", "g2,p2"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        try drop.execute("""
            INSERT INTO groups (id, organisation_id, name, type, source, created_at, updated_at)
            VALUES (500, 'org1', 'Läsklubben', 'class', 'manual', '2025-01-01', '2025-01-01')
            """)
        try drop.execute("INSERT INTO memberships (group_id, account_id) SELECT 500, id FROM accounts")
        try drop.deliver("20261102T000000Z",
                         users: [Fixture.user("p1"), Fixture.user("p2")],
                         groups: [Fixture.group("g1", name: "7B")],
                         memberships: ["g1,p1"],
                         orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run()
        // p2 lost their only order: no longer licensed, so removed with everything of theirs.
        #expect(try drop.rows("SELECT person_id FROM accounts").map { $0["person_id"] as String? } == ["p1"])
        #expect(try drop.rows("SELECT external_id, name FROM groups WHERE source = 'skolon'").map { $0["name"] as String } == ["7B"])
        #expect(try drop.count("SELECT COUNT(*) FROM groups WHERE id = 500 AND source = 'manual'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM memberships WHERE group_id = 500") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM licenses") == 1)
        let receipt = try drop.receipt("20261102T000000Z")
        #expect(receipt["users"]?[9] == "1")
        #expect(receipt["groups"]?[7...9] == ["0", "1", "1"])
        #expect(receipt["memberships"]?[9] == "2")
        #expect(receipt["distribution_orders"]?[9] == "1")
    }

    @Test func rejectsRowsOutsideTheOrganisationAndNeverTouchesAnotherOrganisation() throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["45678901"])])
        try drop.deliver("20261101T000000Z", org: "org2", users: [Fixture.user("p9", unit: "45678901")],
                         orders: [Fixture.order("o9", person: "p9")])
        _ = try drop.run()
        let before = try drop.rows("SELECT * FROM accounts WHERE person_id = 'p9'").first?.text
        try drop.deliver("20261102T000000Z", org: "org1",
                         users: [Fixture.user("p1"), Fixture.user("p8", unit: "45678901"), Fixture.user("p9", given: "Kapad")],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o8", person: "p8"), Fixture.order("o9b", person: "p9")])
        _ = try drop.run()
        #expect(try drop.rows("SELECT * FROM accounts WHERE person_id = 'p9'").first?.text == before)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE organisation_id = 'org1'") == 1)
        let rules = try drop.rejectRules("20261102T000000Z")
        #expect(rules.contains("scope.school_unit"))
        #expect(rules.contains("scope.other_organisation"))
        #expect(rules.filter { $0 == "reference.person_rejected" }.count == 2)
    }

    @Test func aRejectedRowNeverCausesARemoval() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1", "g1,p2"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        let before = try drop.snapshot()
        // p2's row now has a broken e-mail: p2, their order and membership stay as they were.
        try drop.deliver("20261102T000000Z", users: [Fixture.user("p1"), Fixture.user("p2", email: "not-an-address")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1", "g1,p2"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p2'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 'o2'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE a.person_id = 'p2'") == 1)
        #expect(try drop.receipt("20261102T000000Z")["users"]?[9] == "0")
        #expect(try drop.rejectRules("20261102T000000Z").first == "field.email")
        // An order row rejected on its own also protects its person and license.
        try drop.deliver("20261103T000000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1", "g1,p2"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2", to: "2020-01-01")])
        _ = try drop.run()
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 'o2'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p2'") == 1)
        // A clean absence removes.
        try drop.deliver("20261104T000000Z", users: [Fixture.user("p1")], groups: [Fixture.group("g1")],
                         memberships: ["g1,p1"], orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run()
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p2'") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 'o2'") == 0)
        _ = before
    }

    @Test func anUnreadableRowSuspendsRemovalsForItsFile() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        // p2's row lost a cell: its key cannot be trusted, so nobody is removed this time.
        try drop.deliver("20261102T000000Z", users: [Fixture.user("p1"), "p2,student,Åsa,Öberg,p2@exempel.se,12345678"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p2'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 'o2'") == 1)
        let rules = try drop.rejectRules("20261102T000000Z")
        #expect(rules.contains("csv.cell_count"))
        #expect(rules.contains("delivery.removals_suspended"))
    }

    @Test func duplicatesAreRejectedAndReported() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z",
                         users: [Fixture.user("p1"), Fixture.user("p1", given: "Annan"), Fixture.user("p2")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p2", "g1,p2"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p1'") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM memberships") == 1)
        let report = try drop.report("rejects_20261101T000000Z.csv.gz").dropFirst()
        let duplicates = report.filter { $0[4] == "unique.duplicate" }
        #expect(duplicates.map { $0[1] } == ["2", "3", "3"])
        #expect(duplicates.first?[6].contains("lines 2, 3") == true)
    }
}
