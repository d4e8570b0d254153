import Foundation
import Testing
@testable import RosterDrop

/// `rosterdrop status`: each feed at a glance, and an exit code a monitoring check can use.
struct StatusTests {
    func status(_ drop: TestDrop, at now: String) throws -> (code: Int32, statuses: [OrganisationStatus], text: String) {
        let binary = try Executable("rosterdrop")
        let json = try binary.run(["status", "--config", drop.configPath, "--json", "--now", now])
        let text = try binary.run(["status", "--config", drop.configPath, "--now", now])
        #expect(json.status == text.status)
        return (json.status, try JSONDecoder().decode([OrganisationStatus].self, from: Data(json.stdout.utf8)), text.stdout)
    }

    @Test func aLiveFeedIsOkThenFlaggedWhenSilentFailedOrHeld() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-11-01")
        try PortalBefore.write(into: drop)
        let people = HoldTests.people(1...20)
        try drop.deliver("20261101T020000Z", users: people.users, orders: people.orders)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))

        let fresh = try status(drop, at: "2026-11-02T05:00:00Z")
        #expect(fresh.code == 0, "\(fresh.text)")
        let org = try #require(fresh.statuses.first)
        #expect(org.flags.isEmpty && org.mode == "live" && org.integration == "started")
        #expect(org.lastDelivery == .init(timestamp: "20261101T020000Z", outcome: "applied", answeredAt: "2026-11-01T05:00:00Z",
                                          ageHours: 24))
        #expect(org.lastRun?.ok == true && org.lastRun?.at == "2026-11-01T05:00:00Z")
        #expect(org.lastSuccessAt == "2026-11-01T05:00:00Z")
        #expect(org.accountsAtRisk == 3, "Anna, Bo and Cecilia: none licensed through Skolon")
        #expect(org.nextDeadline == .init(day: "2026-12-01", what: "integration clean-up"))
        #expect(fresh.text.contains("org1  ok  mode live, integration started"))

        // Three days without a delivery (the default): flagged, exit 3.
        let silent = try status(drop, at: "2026-11-04T06:00:00Z")
        #expect(silent.code == 3)
        #expect(silent.statuses[0].flags == ["silent: no delivery for 3 days (flagged after 3)"])
        #expect(silent.text.contains("org1  FLAGGED") && silent.text.contains("! silent"))

        // A run that fails (the drop folder is gone) is flagged; the last success stays.
        let inbox = drop.inbox()
        try FileManager.default.moveItem(at: drop.folder("org1", ""), to: drop.root.appendingPathComponent("moved"))
        let failed = try drop.run(at: instant("2026-11-02T06:00:00Z"))
        #expect(failed.organisations[0].error != nil)
        let afterFailure = try status(drop, at: "2026-11-02T07:00:00Z")
        #expect(afterFailure.code == 3)
        #expect(afterFailure.statuses[0].lastRun?.ok == false)
        #expect(afterFailure.statuses[0].lastSuccessAt == "2026-11-01T05:00:00Z")
        #expect(afterFailure.statuses[0].flags.contains { $0.hasPrefix("failed: the last run failed") })

        // Back, and a delivery that would remove too much: held, flagged until decided.
        try FileManager.default.moveItem(at: drop.root.appendingPathComponent("moved"), to: drop.folder("org1", ""))
        #expect(FileManager.default.fileExists(atPath: inbox.path))
        let few = HoldTests.people(1...2)
        try drop.deliver("20261102T080000Z", users: few.users, orders: few.orders)
        _ = try drop.run(at: instant("2026-11-02T09:00:00Z"))
        let held = try status(drop, at: "2026-11-02T10:00:00Z")
        #expect(held.code == 3)
        #expect(held.statuses[0].held == ["20261102T080000Z"])
        #expect(held.statuses[0].flags == ["held: 1 delivery waits for an operator"])
    }

    @Test func silenceIsFlaggedAfterTheConfiguredDaysAndANewFeedIsFlaggedUntilItDelivers() throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["23456789"])], settings: "silent_after_days: 10")
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let result = try status(drop, at: "2026-11-09T05:00:00Z")
        #expect(result.code == 3)
        #expect(result.statuses.map(\.id) == ["org1", "org2"])
        #expect(result.statuses[0].flags.isEmpty, "8 days of silence is within 10")
        #expect(result.statuses[1].flags == ["silent: no delivery yet"])
        // Asked at an instant before the last answer: the clocks disagree, and that is flagged.
        let early = try status(drop, at: "2026-10-01T05:00:00Z")
        #expect(early.statuses[0].flags == ["clock: the last delivery was answered at 2026-11-01T05:00:00Z, after now"])
        #expect(result.statuses[0].nextDeadline == .init(day: "2027-08-01", what: "license expiry: the first licenses end 2027-07-31 and go the day after"))
    }
}
