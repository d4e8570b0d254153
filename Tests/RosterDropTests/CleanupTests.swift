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

    /// A held snapshot may license old accounts: a due clean-up waits for its decision.
    @Test func theCleanUpWaitsForAHeldDelivery() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-11-01\ncleanup_days: 10")
        try PortalBefore.write(into: drop)
        let many = (1...20).map { Fixture.user("p\($0)") }
        let orders = (1...20).map { Fixture.order("o\($0)", person: "p\($0)") }
        try drop.deliver("20261101T020000Z", users: many, orders: orders)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        // Nearly everyone leaves — and Bo would be adopted: held.
        let bo = Fixture.user("p50", role: "teacher", email: "bo.ek@exempel.se", unit: "23456789")
        try drop.deliver("20261110T020000Z", users: [Fixture.user("p1"), bo],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o50", person: "p50")])
        let held = try drop.run(at: instant("2026-11-10T05:00:00Z"))
        #expect(held.organisations[0].deliveries.map(\.outcome) == [.held])
        let waiting = try drop.run(at: instant("2026-11-11T05:00:00Z"))
        #expect(waiting.organisations[0].calendar?.cleanupWaitsForHold == true)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE id IN (1000, 1001, 1002)") == 3)
        _ = try HoldDesk(database: drop.portal())
            .decide(organisation: "org1", timestamp: "20261110T020000Z", approve: true, at: instant("2026-11-11T08:00:00Z"))
        let approved = try drop.run(at: instant("2026-11-12T05:00:00Z"))
        #expect(approved.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(approved.organisations[0].calendar?.cleanupDeleted == 2)
        #expect(try drop.rows("SELECT id FROM accounts WHERE id IN (1000, 1001, 1002) ORDER BY id").map { $0["id"] as Int } == [1001])
    }

    @Test func anEmptyAtRiskListIsWrittenOnceNotDaily() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-11-01\ncleanup_days: 10")
        try drop.execute("INSERT INTO organisations (id) VALUES ('org1')")
        try drop.execute("""
            INSERT INTO accounts (id, organisation_id, email, identity_source, created_at, updated_at)
            VALUES (1000, 'org1', 'anna.lind@exempel.se', 'portal', '2025-01-01', '2025-01-01')
            """)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        _ = try drop.run(at: instant("2026-11-05T05:00:00Z"))
        #expect(drop.files("org1", "outbox").filter { $0.hasPrefix("accounts_at_risk_") }.count == 1)
        try drop.deliver("20261105T060000Z", users: [Self.anna], orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(at: instant("2026-11-05T07:00:00Z"))
        let lists = drop.files("org1", "outbox").filter { $0.hasPrefix("accounts_at_risk_") }
        #expect(lists.count == 2)
        #expect(try drop.report(lists[1]).count == 1, "nobody at risk any more, said once")
        _ = try drop.run(at: instant("2026-11-06T05:00:00Z"))
        _ = try drop.run(at: instant("2026-11-07T05:00:00Z"))
        #expect(drop.files("org1", "outbox").filter { $0.hasPrefix("accounts_at_risk_") }.count == 2)
    }
}
