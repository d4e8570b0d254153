import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// The contract's Safety: a delivery that would remove too much is held for an operator,
/// nothing newer applies over it, and its files are never lost.
struct HoldTests {
    static func people(_ range: ClosedRange<Int>) -> (users: [String], orders: [String]) {
        (range.map { Fixture.user("p\($0)") }, range.map { Fixture.order("o\($0)", person: "p\($0)") })
    }

    /// Twenty licensed people, then a near-empty export that would remove eighteen of them.
    static func heldSetup(settings: String = "") throws -> TestDrop {
        let drop = try TestDrop(settings: settings)
        let all = people(1...20)
        try drop.deliver("20261101T020000Z", users: all.users, orders: all.orders)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let few = people(1...2)
        try drop.deliver("20261102T020000Z", users: few.users, orders: few.orders)
        return drop
    }

    @Test func aNearEmptyDeliveryIsHeldAndNothingNewerAppliesOverIt() throws {
        let drop = try Self.heldSetup()
        let before = try drop.snapshot(portalOnly: true)
        let held = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        let delivery = try #require(held.organisations[0].deliveries.first)
        #expect(delivery.outcome == .held)
        let users = try #require(delivery.hold?.first { $0.entity == "users" })
        #expect(users.removing == 18 && users.current == 20 && users.limitPercent == 10)
        #expect(try drop.receipt("20261102T020000Z")["users"] == ["20261102T020000Z", "org1", "held", "users", "2", "2", "0", "0", "0", "18"])
        #expect(try drop.snapshot(portalOnly: true) == before, "nothing applied")
        #expect(drop.files("org1", "inbox").count == 3, "the held delivery's files stay")
        #expect(held.organisations[0].holds == ["20261102T020000Z"])

        // A newer delivery waits behind it, unanswered, its files kept.
        let all = Self.people(1...20)
        try drop.deliver("20261103T020000Z", users: all.users, orders: all.orders)
        let waiting = try drop.run(at: instant("2026-11-03T05:00:00Z"))
        #expect(waiting.organisations[0].deliveries.isEmpty)
        #expect(waiting.organisations[0].heldBack == ["20261103T020000Z"])
        #expect(!drop.files("org1", "outbox").contains("receipt_20261103T020000Z.csv"))
        #expect(drop.files("org1", "inbox").count == 6)

        // The operator sees what it would do, and discards it.
        let desk = HoldDesk(database: try drop.portal())
        let listed = try desk.list()
        #expect(listed.map(\.timestamp) == ["20261102T020000Z"])
        #expect(listed[0].counts["users"]?.removed == 18)
        _ = try desk.decide(organisation: "org1", timestamp: "20261102T020000Z", approve: false, at: instant("2026-11-03T08:00:00Z"))
        #expect(throws: HoldDeskError.self) {
            _ = try desk.decide(organisation: "org1", timestamp: "20261102T020000Z", approve: false, at: instant("2026-11-03T08:00:00Z"))
        }
        let next = try drop.run(at: instant("2026-11-04T05:00:00Z"))
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.discarded, .duplicate], "\(next)")
        #expect(try drop.receipt("20261102T020000Z", name: "receipt_20261102T020000Z-2.csv")["users"]?[2] == "discarded")
        #expect(drop.files("org1", "inbox").isEmpty)
        #expect(drop.files("org1", "archive").contains("users_20261102T020000Z.csv.gz"))
        #expect(try drop.snapshot(portalOnly: true) == before)
        #expect(try desk.list().isEmpty)
        // Sent again, the discarded snapshot is a duplicate, not a new chance to apply.
        let few = Self.people(1...2)
        try drop.deliver("20261102T020000Z", users: few.users, orders: few.orders)
        #expect(try drop.run(at: instant("2026-11-05T05:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.duplicate])
        #expect(try drop.snapshot(portalOnly: true) == before)
    }

    /// An approved hold whose files went missing blocks nothing for good: the operator can
    /// still discard it, and the deliveries after it go ahead.
    @Test func anApprovedHoldWhoseFilesWentMissingCanStillBeDiscarded() throws {
        let drop = try Self.heldSetup()
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        let desk = HoldDesk(database: try drop.portal())
        _ = try desk.decide(organisation: "org1", timestamp: "20261102T020000Z", approve: true, at: instant("2026-11-02T09:00:00Z"))
        try FileManager.default.removeItem(at: drop.inbox().appendingPathComponent("manifest_20261102T020000Z.csv"))
        let all = Self.people(1...20)
        try drop.deliver("20261103T020000Z", users: all.users, orders: all.orders)
        let waiting = try drop.run(at: instant("2026-11-03T05:00:00Z"))
        #expect(waiting.organisations[0].heldBack == ["20261103T020000Z"])
        #expect(throws: HoldDeskError.self) {
            _ = try desk.decide(organisation: "org1", timestamp: "20261102T020000Z", approve: true, at: instant("2026-11-03T08:00:00Z"))
        }
        _ = try desk.decide(organisation: "org1", timestamp: "20261102T020000Z", approve: false, at: instant("2026-11-03T08:00:00Z"))
        let next = try drop.run(at: instant("2026-11-04T05:00:00Z"))
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.discarded, .duplicate])
        #expect(next.organisations[0].heldBack.isEmpty)
    }

    /// An approval is for what the operator saw: other content under the held timestamp is
    /// held again, even if it removes no more.
    @Test func anApprovalDoesNotApplyOtherContentUnderTheHeldTimestamp() throws {
        let drop = try Self.heldSetup()
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        _ = try HoldDesk(database: drop.portal())
            .decide(organisation: "org1", timestamp: "20261102T020000Z", approve: true, at: instant("2026-11-02T09:00:00Z"))
        let others = Self.people(19...20)
        try drop.deliver("20261102T020000Z", users: others.users, orders: others.orders)
        let next = try drop.run(at: instant("2026-11-03T05:00:00Z"))
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.held])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 20)
    }

    @Test func anApprovedHoldIsAppliedByTheNextRun() throws {
        let drop = try Self.heldSetup()
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        let desk = HoldDesk(database: try drop.portal())
        _ = try desk.decide(organisation: "org1", timestamp: "20261102T020000Z", approve: true, at: instant("2026-11-02T09:00:00Z"))
        let next = try drop.run(at: instant("2026-11-03T05:00:00Z"))
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.receipt("20261102T020000Z", name: "receipt_20261102T020000Z-2.csv")["users"]?[2...9] ==
                ["applied", "users", "2", "2", "0", "0", "0", "18"])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 2)
        #expect(try drop.count("SELECT COUNT(*) FROM removal_log WHERE reason = 'snapshot_approved'") == 18)
        #expect(drop.files("org1", "inbox").isEmpty)
        #expect(try desk.list().isEmpty)
    }

    @Test func anApprovedHoldThatWouldNowRemoveMoreIsHeldAgain() throws {
        let drop = try Self.heldSetup()
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        let desk = HoldDesk(database: try drop.portal())
        _ = try desk.decide(organisation: "org1", timestamp: "20261102T020000Z", approve: true, at: instant("2026-11-02T09:00:00Z"))
        // Someone else linked one more account meanwhile: the re-plan removes 19, not the 18 approved.
        try drop.execute("""
            INSERT INTO accounts (id, organisation_id, person_id, identity_source, created_at, updated_at)
            VALUES (9000, 'org1', 'p99', 'skolon', '2026-11-02', '2026-11-02');
            INSERT INTO licenses (organisation_id, order_id, account_id, product_id, license_type, valid_from, valid_to, source, created_at, updated_at)
            VALUES ('org1', 'o99', 9000, '\(TestDrop.productA)', 'paid', '2026-08-01', '2027-07-31', 'skolon', '2026-11-02', '2026-11-02');
            """)
        let next = try drop.run(at: instant("2026-11-03T05:00:00Z"))
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.held])
        #expect(next.organisations[0].deliveries.first?.hold?.first { $0.entity == "users" }?.removing == 19)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 21)
        #expect(try desk.list().map(\.state) == [.held])
    }

    @Test func smallChurnAndTheFirstDeliveryAfterTheStartAreNotHeld() throws {
        // Three of four people leaving is 75 %, but under the minimum of five removals.
        let small = try TestDrop()
        let four = Self.people(1...4)
        try small.deliver("20261101T020000Z", users: four.users, orders: four.orders)
        _ = try small.run(at: instant("2026-11-01T05:00:00Z"))
        let one = Self.people(1...1)
        try small.deliver("20261102T020000Z", users: one.users, orders: one.orders)
        #expect(try small.run(at: instant("2026-11-02T05:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.applied])

        // An organisation synced before its start: the first delivery after it replaces
        // what was there, so it is not held however much it removes.
        let drop = try Self.heldSetup()
        try FileManager.default.removeItem(at: drop.inbox().appendingPathComponent("manifest_20261102T020000Z.csv"))
        let config = try String(contentsOfFile: drop.configPath, encoding: .utf8)
        try (config + "    integration_start: 2026-11-02\n").write(toFile: drop.configPath, atomically: true, encoding: .utf8)
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        try drop.deliver("20261102T020000Z", users: Self.people(1...2).users, orders: Self.people(1...2).orders)
        let exempt = try drop.run(at: instant("2026-11-02T06:00:00Z"))
        #expect(exempt.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 2)
        // The next one is guarded again.
        try drop.deliver("20261103T020000Z", users: [], orders: [])
        #expect(try drop.run(at: instant("2026-11-03T05:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.applied],
                "two removals are under the minimum")
    }

    @Test func limitsComeFromTheConfig() throws {
        let drop = try Self.heldSetup(settings: "hold: {users: 95, licenses: 95, minimum: 1}")
        #expect(try drop.run(at: instant("2026-11-02T05:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.applied])
        let strict = try TestDrop(settings: "hold: {users: 0%, minimum: 1}")
        let two = Self.people(1...2)
        try strict.deliver("20261101T020000Z", users: two.users, orders: two.orders)
        _ = try strict.run(at: instant("2026-11-01T05:00:00Z"))
        try strict.deliver("20261102T020000Z", users: Self.people(1...1).users, orders: Self.people(1...1).orders)
        #expect(try strict.run(at: instant("2026-11-02T05:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.held])
    }
}

/// The operator's commands, through the built binary.
struct HoldCommandTests {
    @Test func holdsApproveAndDiscardFromTheCommandLine() throws {
        let binary = try Executable("rosterdrop")
        let drop = try HoldTests.heldSetup()
        let config = ["--config", drop.configPath]
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        let none = try binary.run(["approve"] + config + ["org1", "20261101T020000Z"])
        #expect(none.status == 1 && none.stderr.contains("no open hold for delivery 20261101T020000Z"), "\(none.stderr)")
        let listed = try binary.run(["holds"] + config)
        #expect(listed.status == 0)
        #expect(listed.stdout.contains("org1  20261102T020000Z  held"))
        #expect(listed.stdout.contains("would remove 18 of 20 (90.0 %, limit 10 %)  <- over the limit"))
        #expect(listed.stdout.contains("rosterdrop approve --config \(drop.configPath) org1 20261102T020000Z"))
        let json = try binary.run(["holds"] + config + ["org1", "--json"])
        let holds = try JSONDecoder().decode([HeldDelivery].self, from: Data(json.stdout.utf8))
        #expect(holds.map(\.timestamp) == ["20261102T020000Z"] && holds[0].figures.count == 4)
        let approved = try binary.run(["approve"] + config + ["org1", "20261102T020000Z"])
        #expect(approved.status == 0 && approved.stderr.contains("approved; the next run applies it"))
        let twice = try binary.run(["approve"] + config + ["org1", "20261102T020000Z"])
        #expect(twice.status == 1 && twice.stderr.contains("already approved"))
        let unknown = try binary.run(["holds"] + config + ["nobody"])
        #expect(unknown.status == 2)
        #expect(try drop.run(at: instant("2026-11-03T05:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try binary.run(["holds"] + config).stdout == "no held deliveries\n")
    }
}
