import Foundation
import Testing
@testable import RosterDrop

/// An organisation's life over a real OpenSSH server: the integration start's export, a
/// held near-empty delivery and its discard, the at-risk list, the clean-up and the purge.
@Suite struct SFTPLifecycleTests {
    @Test func startHoldCleanUpAndPurgeOverSFTP() throws {
        let server = try SSHServer()
        let drop = try TestDrop(remote: ["org1": { server.dropConfig(folder: $0.path) }],
                                settings: "integration_start: 2026-11-01")
        try PortalBefore.write(into: drop)
        let people = (1...20).map { Fixture.user("p\($0)", email: $0 == 1 ? "anna.lind@exempel.se" : nil) }
        let orders = (1...20).map { Fixture.order("o\($0)", person: "p\($0)") }

        // The start, and the first delivery (Anna adopted).
        try drop.deliver("20261101T020000Z", users: people, orders: orders)
        let start = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(start.organisations[0].error == nil, "\(start)")
        #expect(start.organisations[0].calendar?.startExport == "distribution_orders_20261101T050000Z.csv.gz")
        #expect(try drop.report("distribution_orders_20261101T050000Z.csv.gz").count == 3)
        #expect(start.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM groups") == 0)

        // A near-empty export is held; its files stay on the server; it is discarded.
        try drop.deliver("20261102T020000Z", users: Array(people.prefix(1)), orders: Array(orders.prefix(1)))
        let held = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        #expect(held.organisations[0].deliveries.map(\.outcome) == [.held])
        #expect(try drop.receipt("20261102T020000Z")["users"]?[2] == "held")
        #expect(drop.files("org1", "inbox").count == 3)
        let desk = HoldDesk(database: try drop.portal())
        _ = try desk.decide(organisation: "org1", timestamp: "20261102T020000Z", approve: false, at: instant("2026-11-02T08:00:00Z"))
        let discarded = try drop.run(at: instant("2026-11-03T05:00:00Z"))
        #expect(discarded.organisations[0].deliveries.map(\.outcome) == [.discarded])
        #expect(drop.files("org1", "inbox").isEmpty)
        #expect(drop.files("org1", "archive").contains("users_20261102T020000Z.csv.gz"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE identity_source = 'skolon'") == 20)

        // The week before the deadline: who is still at risk.
        let warned = try drop.run(at: instant("2026-11-25T05:00:00Z"))
        #expect(warned.organisations[0].calendar?.accountsAtRisk == 2)
        #expect(try drop.report("accounts_at_risk_20261125T050000Z.csv").dropFirst().map { $0[0] } == ["1001", "1002"])

        // The deadline: Bo and Cecilia go; and 30 days after the first files were archived
        // they are purged from the server, with the old reports.
        let cleaned = try drop.run(at: instant("2026-12-01T05:00:01Z"))
        #expect(cleaned.organisations[0].calendar?.cleanupDeleted == 2)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE id IN (1001, 1002)") == 0)
        #expect(cleaned.organisations[0].calendar?.purgedFiles == 7)
        #expect(!drop.files("org1", "archive").contains("users_20261101T020000Z.csv.gz"))
        #expect(!drop.files("org1", "outbox").contains("distribution_orders_20261101T050000Z.csv.gz"))
        #expect(drop.files("org1", "outbox").contains("accounts_at_risk_20261125T050000Z.csv"))
    }
}
