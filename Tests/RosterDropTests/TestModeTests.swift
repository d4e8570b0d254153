import Foundation
import Testing
@testable import RosterDrop

/// Contract rule 8: a school test-runs before going live. In test mode every delivery is
/// read, planned and answered as a live run would, and the portal stays exactly as it was.
struct TestModeTests {
    /// Every table the portal has, row by row.
    static func portal(_ drop: TestDrop) throws -> String {
        let ledger: Set = ["runs", "deliveries", "delivery_files", "delivery_counts", "findings", "answers", "answer_files",
                           "drop_placements", "grdb_migrations", "rosterdrop_migrations", "organisation_runs"]
        let tables = try drop.tables().filter { !ledger.contains($0) }
        #expect(tables.contains("accounts") && tables.contains("integration_cohort"))
        return try tables.map { table in
            "\(table): " + (try drop.rows("SELECT * FROM \(table) ORDER BY 1, 2").map(\.text).joined(separator: "; "))
        }.joined(separator: "\n")
    }

    @Test func testModeAnswersLikeLiveAndChangesNoPortalTable() throws {
        let live = try TestDrop()
        let test = try TestDrop(settings: "mode: test")
        for drop in [live, test] {
            try PortalBefore.write(into: drop)
            try drop.deliver("20261101T020000Z",
                             users: [Fixture.user("p1", email: "anna.lind@exempel.se"), Fixture.user("p2", email: "fel")],
                             groups: [Fixture.group("g1")], memberships: ["g1,p1"],
                             orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p9")])
        }
        let before = try Self.portal(test)
        let applied = try live.run(at: instant("2026-11-01T05:00:00Z"))
        let tested = try test.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(applied.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        #expect(tested.organisations[0].deliveries.map(\.outcome) == [.test])
        #expect(tested.organisations[0].mode == "test")
        #expect(try Self.portal(test) == before, "no portal table changed")
        // The same answer, but for the outcome.
        let liveReceipt = try live.receipt("20261101T020000Z").mapValues { Array($0[3...]) }
        let testReceipt = try test.receipt("20261101T020000Z")
        #expect(testReceipt.values.allSatisfy { $0[2] == "test" })
        #expect(testReceipt.mapValues { Array($0[3...]) } == liveReceipt)
        #expect(try test.report("rejects_20261101T020000Z.csv.gz") == live.report("rejects_20261101T020000Z.csv.gz"))
        // Recorded, so not taken again; its files archived.
        #expect(test.files("org1", "inbox").isEmpty)
        _ = try test.run(at: instant("2026-11-02T05:00:00Z"))
        #expect(test.files("org1", "outbox").filter { $0.hasPrefix("receipt_") } == ["receipt_20261101T020000Z.csv"])
        #expect(try Self.portal(test) == before)

        // Going live: the next delivery is applied for real.
        let config = try String(contentsOfFile: test.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "mode: test", with: "mode: live").write(toFile: test.configPath, atomically: true,
                                                                                   encoding: .utf8)
        try test.deliver("20261102T020000Z", users: [Fixture.user("p1", email: "anna.lind@exempel.se")],
                         orders: [Fixture.order("o1", person: "p1")])
        let goneLive = try test.run(at: instant("2026-11-02T06:00:00Z"))
        #expect(goneLive.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try test.rows("SELECT person_id FROM accounts WHERE id = 1000").first?["person_id"] as String? == "p1")
    }

    @Test func aDryRunRecordsNothingForAWholeRun() throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["45678901"])], settings: "integration_start: 2026-11-01")
        try PortalBefore.write(into: drop)
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        let before = try drop.snapshot()
        let dry = try drop.run(dryRun: true, at: instant("2026-11-01T05:00:00Z"))
        #expect(dry.organisations.map(\.mode) == ["dry", "dry"])
        #expect(dry.organisations[0].deliveries.map(\.outcome) == [.test])
        #expect(try drop.snapshot() == before, "no start, no ledger, no portal change")
        #expect(!drop.files("org1", "outbox").contains { $0.hasPrefix("distribution_orders_") })
        #expect(drop.files("org1", "inbox").count == 3)
        // A real run afterwards does it all.
        let real = try drop.run(at: instant("2026-11-01T06:00:00Z"))
        #expect(real.organisations[0].calendar?.startExport != nil)
        #expect(real.organisations[0].deliveries.map(\.outcome) == [.applied])
    }
}
