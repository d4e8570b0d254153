import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Contract rule 5, the integration start: the portal's own licenses go to Skolon as
/// distribution orders, its old groups go, and it all happens exactly once.
struct IntegrationStartTests {
    static let users = [Fixture.user("p1", email: "anna.lind@exempel.se"), Fixture.user("p2")]
    static let orders = [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")]

    @Test func theStartExportsTheLicensesDeletesTheOldGroupsAndHappensOnce() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-11-10")
        try PortalBefore.write(into: drop)
        let summary = try drop.run(at: instant("2026-11-10T05:00:00Z"))
        #expect(summary.succeeded, "\(summary)")
        #expect(summary.organisations[0].calendar?.integration == "started")
        let export = "distribution_orders_20261110T050000Z.csv.gz"
        #expect(summary.organisations[0].calendar?.startExport == export)
        let rows = try drop.report(export)
        #expect(rows.first == IntegrationExport.header)
        // Every license of the portal's own with a catalogue product, with what Skolon needs
        // to find its holder; each got an order id the sync recognises when Skolon sends it back.
        #expect(Array(rows.dropFirst()) == [
            ["portal-5000", "", TestDrop.productA, "paid", "2026-07-01", "2027-06-30", "Anna.Lind@Exempel.se", "12345678", "student", "1000"],
            ["portal-5001", "", TestDrop.productB, "trial", "2026-08-01", "2026-12-31", "Bo.Ek@Exempel.se", "23456789", "teacher", "1001"],
        ])
        #expect(try drop.rows("SELECT order_id FROM licenses ORDER BY id").map { $0["order_id"] as String } ==
                ["portal-5000", "portal-5001", "portal-5002"])
        // The license whose product the catalogue lacks is reported, not silently dropped.
        let rejects = try drop.report("rejects_20261110T050000Z.csv.gz")
        #expect(rejects.dropFirst().map { [$0[0], $0[2], $0[3], $0[4]] } ==
                [[export, "product_id", PortalBefore.unknownProduct, "export.unknown_product"]])
        #expect(rejects[1][5].contains("produktkatalog") && rejects[1][6].contains("catalogue"))
        // The old groups went, with their memberships; the accounts stay until the clean-up.
        #expect(try drop.count("SELECT COUNT(*) FROM groups") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM memberships") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 3)
        #expect(try drop.count("SELECT COUNT(*) FROM integration_cohort") == 3)
        #expect(try drop.rows("SELECT integration_start FROM organisations").first?["integration_start"] as String? == "2026-11-10")

        // Later runs never export or delete again; a group made in the portal after the start is kept.
        try drop.execute("""
            INSERT INTO groups (id, organisation_id, name, type, source, created_at, updated_at)
            VALUES (800, 'org1', 'Läsklubben', 'teaching_group', 'manual', '2026-11-11', '2026-11-11');
            INSERT INTO memberships (group_id, account_id) VALUES (800, 1000);
            """)
        try drop.deliver("20261111T020000Z", users: Self.users, orders: Self.orders)
        let next = try drop.run(at: instant("2026-11-11T05:00:00Z"))
        #expect(next.organisations[0].calendar?.startExport == nil)
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.applied])
        _ = try drop.run(at: instant("2026-11-12T05:00:00Z"))
        #expect(drop.files("org1", "outbox").filter { $0.hasPrefix("distribution_orders_") } == [export])
        #expect(try drop.count("SELECT COUNT(*) FROM calendar_events WHERE kind = 'integration_start'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM groups WHERE id = 800") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM memberships WHERE group_id = 800") == 1)
        // Anna was adopted by e-mail and keeps her account and portal license.
        #expect(try drop.rows("SELECT person_id FROM accounts WHERE id = 1000").first?["person_id"] as String? == "p1")
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE id = 5000") == 1)
    }

    @Test func skolonTakesAnExportedLicenseOverByItsOrderId() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-11-10")
        try PortalBefore.write(into: drop)
        _ = try drop.run(at: instant("2026-11-10T05:00:00Z"))
        try drop.deliver("20261111T020000Z", users: [Fixture.user("p1", email: "anna.lind@exempel.se")],
                         orders: [Fixture.order("portal-5000", person: "p1")])
        _ = try drop.run(at: instant("2026-11-11T05:00:00Z"))
        let license = try #require(try drop.rows("SELECT * FROM licenses WHERE id = 5000").first)
        #expect(license["source"] as String == "skolon")
        #expect(license["account_id"] as Int == 1000)
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE account_id = 1000") == 1)
    }

    @Test func deliveriesBeforeTheStartAreTestRunsAndNothingHappensYet() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-12-01")
        try PortalBefore.write(into: drop)
        let before = try drop.snapshot(portalOnly: true)
        try drop.deliver("20261118T020000Z", users: Self.users, orders: Self.orders)
        let summary = try drop.run(at: instant("2026-11-18T05:00:00Z"))
        #expect(summary.organisations[0].mode == "test")
        #expect(summary.organisations[0].calendar?.integration == "planned")
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.test])
        #expect(try drop.receipt("20261118T020000Z")["users"]?[2...9] == ["test", "users", "2", "2", "0", "1", "1", "0"])
        #expect(try drop.snapshot(portalOnly: true) == before, "the portal is unchanged before the start")
        #expect(!drop.files("org1", "outbox").contains { $0.hasPrefix("distribution_orders_") })
        // Taken once: the next run does not answer it again.
        _ = try drop.run(at: instant("2026-11-19T05:00:00Z"))
        #expect(drop.files("org1", "outbox").filter { $0.hasPrefix("receipt_") }.count == 1)
        #expect(drop.files("org1", "inbox").isEmpty)
        // On the day, the start happens and the next delivery is applied.
        try drop.deliver("20261201T020000Z", users: Self.users, orders: Self.orders)
        let live = try drop.run(at: instant("2026-12-01T05:00:00Z"))
        #expect(live.organisations[0].calendar?.startExport == "distribution_orders_20261201T050000Z.csv.gz")
        #expect(live.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE identity_source = 'skolon'") == 2)
    }

    @Test func aStartedIntegrationCannotBeMoved() throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["45678901"])],
                                settings: "integration_start: 2026-11-10")
        _ = try drop.run(at: instant("2026-11-10T05:00:00Z"))
        let config = try String(contentsOfFile: drop.configPath, encoding: .utf8)
        let first = try #require(config.range(of: "integration_start: 2026-11-10"))
        let moved = config.replacingCharacters(in: first, with: "integration_start: 2026-11-20")
        try moved.write(toFile: drop.configPath, atomically: true, encoding: .utf8)
        try drop.deliver("20261111T020000Z", org: "org2", users: [Fixture.user("p9", unit: "45678901")],
                         orders: [Fixture.order("o9", person: "p9")])
        let summary = try drop.run(at: instant("2026-11-21T05:00:00Z"))
        let error = try #require(summary.organisations[0].error)
        #expect(error.contains("cannot be moved") && error.contains("2026-11-10") && error.contains("2026-11-20"))
        // The other organisation is not held up by it.
        #expect(summary.organisations[1].error == nil)
        #expect(summary.organisations[1].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM calendar_events WHERE kind = 'integration_start'") == 2)
    }

    @Test func integrateRecordsTodayOnceAndTheNextRunStarts() throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop()
        try PortalBefore.write(into: drop)
        let now = ["--now", "2026-11-20T09:00:00Z"]
        let first = try binary.run(["integrate", "--config", drop.configPath, "org1"] + now)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("starts 2026-11-20"))
        #expect(try drop.rows("SELECT integration_start FROM organisations WHERE id = 'org1'").first?["integration_start"]
                as String? == "2026-11-20")
        let again = try binary.run(["integrate", "--config", drop.configPath, "org1"] + now)
        #expect(again.status == 2 && again.stderr.contains("already recorded for 2026-11-20"))
        let run = try binary.run(["run", "--config", drop.configPath] + now)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(drop.files("org1", "outbox").contains("distribution_orders_20261120T090000Z.csv.gz"))
        let third = try binary.run(["integrate", "--config", drop.configPath, "org1"] + now)
        #expect(third.status == 2 && third.stderr.contains("already started for 2026-11-20"))
        let unknown = try binary.run(["integrate", "--config", drop.configPath, "nobody"] + now)
        #expect(unknown.status == 2 && unknown.stderr.contains("no organisation 'nobody'"))
    }

    /// Killed inside the start's transaction, or after its commit before the export is out:
    /// the next run exports exactly once and deletes exactly once.
    @Test(arguments: ["integration-start-commit", "integration-start-committed", "answer-published"])
    func aStartStoppedAnywhereHappensExactlyOnce(_ fault: String) throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop(settings: "integration_start: 2026-11-10")
        try PortalBefore.write(into: drop)
        let arguments = ["run", "--config", drop.configPath, "--now", "2026-11-10T05:00:00Z"]
        let stopped = try binary.run(arguments, environment: ["ROSTERDROP_FAULT": fault])
        #expect(stopped.status == 86)
        let started = try drop.count("SELECT COUNT(*) FROM calendar_events WHERE kind = 'integration_start'")
        #expect(started == (fault == "integration-start-commit" ? 0 : 1))
        #expect(try drop.count("SELECT COUNT(*) FROM groups") == (started == 0 ? 1 : 0), "all or nothing")
        let next = try binary.run(arguments)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(drop.files("org1", "outbox").filter { $0.hasPrefix("distribution_orders_") } ==
                ["distribution_orders_20261110T050000Z.csv.gz"])
        #expect(drop.files("org1", "outbox").filter { $0.hasPrefix("rejects_") } == ["rejects_20261110T050000Z.csv.gz"])
        #expect(try drop.report("distribution_orders_20261110T050000Z.csv.gz").count == 3)
        #expect(try drop.count("SELECT COUNT(*) FROM calendar_events WHERE kind = 'integration_start'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM answers WHERE published_at IS NULL") == 0)
    }

    @Test func aConfiguredStartThatDisagreesWithIntegrateIsAnError() throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop()
        let recorded = try binary.run(["integrate", "--config", drop.configPath, "org1", "--now", "2026-11-20T09:00:00Z"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let config = try String(contentsOfFile: drop.configPath, encoding: .utf8)
        try (config + "    integration_start: 2026-11-25\n").write(toFile: drop.configPath, atomically: true, encoding: .utf8)
        let summary = try drop.run(at: instant("2026-11-21T05:00:00Z"))
        let error = try #require(summary.organisations[0].error)
        #expect(error.contains("2026-11-25") && error.contains("recorded 2026-11-20"))
    }
}
