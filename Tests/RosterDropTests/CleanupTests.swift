import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Contract rule 5's clean-up: accounts from before the start that Skolon has not licensed
/// within 30 days are deleted then, and listed in the outbox in the week before.
struct CleanupTests {
    static let anna = Fixture.user("p1", email: "anna.lind@exempel.se")
    static let bo = Fixture.user("p2", role: "teacher", email: "bo.ek@exempel.se", unit: "23456789")

    @Test func oldAccountsSkolonNeverLicensedAreListedThenDeletedOnce() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-11-01")
        try PortalBefore.write(into: drop)
        // Day 0: the start, and Anna adopted by e-mail.
        try drop.deliver("20261101T020000Z", users: [Self.anna], orders: [Fixture.order("o1", person: "p1")])
        let start = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(start.organisations[0].calendar?.cleanupDeadline == "2026-12-01")
        // An account made in the portal after the start is not the clean-up's business.
        try drop.execute("""
            INSERT INTO accounts (id, organisation_id, email, given_name, identity_source, created_at, updated_at)
            VALUES (1003, 'org1', 'Dan.Berg@Exempel.se', 'Dan', 'portal', '2026-11-02', '2026-11-02')
            """)
        // Before the warning week nothing is listed.
        let quiet = try drop.run(at: instant("2026-11-20T05:00:00Z"))
        #expect(quiet.organisations[0].calendar?.accountsAtRisk == nil)
        #expect(!drop.files("org1", "outbox").contains { $0.hasPrefix("accounts_at_risk_") })
        // From 7 days before the deadline, each day: who is at risk and until when.
        let warned = try drop.run(at: instant("2026-11-24T05:00:00Z"))
        #expect(warned.organisations[0].calendar?.accountsAtRisk == 2)
        let list = try drop.report("accounts_at_risk_20261124T050000Z.csv")
        #expect(list == [["account_id", "email", "school_unit_code", "role", "deadline"],
                         ["1001", "Bo.Ek@Exempel.se", "23456789", "teacher", "2026-12-01"],
                         ["1002", "Cecilia.Ros@Exempel.se", "12345678", "student", "2026-12-01"]])
        _ = try drop.run(at: instant("2026-11-24T09:00:00Z"))
        #expect(drop.files("org1", "outbox").filter { $0.hasPrefix("accounts_at_risk_") }.count == 1, "once a day")
        // Bo is licensed through Skolon (adopted by his e-mail): the receipt counts who is
        // still at risk, and the list is written again at once.
        try drop.deliver("20261125T020000Z", users: [Self.anna, Self.bo],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        let adopted = try drop.run(at: instant("2026-11-25T05:00:00Z"))
        #expect(adopted.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.receipt("20261125T020000Z")["accounts_at_risk"]?[4] == "1")
        #expect(try drop.report("accounts_at_risk_20261125T050000Z.csv").dropFirst().map { $0[0] } == ["1002"])
        // The deadline: Cecilia's account goes with its license and memberships; nothing else.
        try drop.execute("INSERT INTO groups (id, organisation_id, name, type, source, created_at, updated_at) VALUES (900, 'org1', 'Bokcirkel', 'teaching_group', 'manual', '2026-11-02', '2026-11-02')")
        try drop.execute("INSERT INTO memberships (group_id, account_id) VALUES (900, 1002), (900, 1003)")
        let deadline = try drop.run(at: instant("2026-12-01T05:00:00Z"))
        #expect(deadline.organisations[0].calendar?.cleanupDeleted == 1)
        #expect(try drop.rows("SELECT id FROM accounts ORDER BY id").map { $0["id"] as Int } == [1000, 1001, 1003])
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE account_id = 1002") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM memberships WHERE account_id = 1002") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM memberships WHERE account_id = 1003") == 1)
        let logged = try drop.rows("SELECT account_id, person_id, reason FROM removal_log")
        #expect(logged.map { $0["account_id"] as Int64 } == [1002])
        #expect(logged.first?["reason"] as String? == "integration_deadline")
        // Deleted, not flagged: her e-mail is nowhere in the portal's tables any more.
        #expect(try drop.snapshot().contains("Cecilia") == false)
        // Once: later runs delete nothing more and list nothing.
        _ = try drop.run(at: instant("2026-12-02T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 3)
        #expect(try drop.count("SELECT COUNT(*) FROM calendar_events WHERE kind = 'integration_cleanup'") == 1)
        #expect(drop.files("org1", "outbox").filter { $0.hasPrefix("accounts_at_risk_") }.count == 2)
    }

    @Test func theDeadlineFollowsTheConfiguredNumberOfDays() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-11-01\ncleanup_days: 10\ncleanup_warning_days: 2")
        try PortalBefore.write(into: drop)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let early = try drop.run(at: instant("2026-11-08T05:00:00Z"))
        #expect(early.organisations[0].calendar?.accountsAtRisk == nil)
        let warned = try drop.run(at: instant("2026-11-09T05:00:00Z"))
        #expect(warned.organisations[0].calendar?.accountsAtRisk == 3)
        let done = try drop.run(at: instant("2026-11-11T05:00:00Z"))
        #expect(done.organisations[0].calendar?.cleanupDeleted == 3)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 0)
    }
}
