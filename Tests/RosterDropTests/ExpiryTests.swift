import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Contract rule 7: a license grants access from `valid_from` to `valid_to`; after that it
/// is removed, on a day with no delivery too, and so is an account it leaves with none.
struct ExpiryTests {
    @Test func anEndedTrialGoesOnTheFirstRunAfterItsLastDayWithoutADelivery() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T020000Z",
                         users: [Fixture.user("p1"), Fixture.user("p2")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1", "g1,p2"],
                         orders: [Fixture.order("t1", person: "p1", type: "trial", from: "2026-11-01", to: "2026-11-30"),
                                  Fixture.order("t2", person: "p2", type: "trial", from: "2026-11-01", to: "2026-11-30"),
                                  Fixture.order("o2", person: "p2")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM licenses") == 3)
        // Its last day: still granted (Swedish days: 23:30 UTC on the 30th is 00:30 on 1 Dec in
        // Stockholm, so a run then is already after it).
        let lastDay = try drop.run(at: instant("2026-11-30T12:00:00Z"))
        #expect(lastDay.organisations[0].calendar?.expiredLicenses == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM licenses") == 3)
        let after = try drop.run(at: instant("2026-11-30T23:30:00Z"))
        #expect(after.organisations[0].calendar?.expiredLicenses == 2)
        #expect(after.organisations[0].calendar?.expiredAccounts == 1)
        // p1 had only the trial: gone with their membership; p2 keeps the paid license.
        #expect(try drop.rows("SELECT person_id FROM accounts").map { $0["person_id"] as String } == ["p2"])
        #expect(try drop.rows("SELECT order_id FROM licenses").map { $0["order_id"] as String } == ["o2"])
        #expect(try drop.count("SELECT COUNT(*) FROM memberships") == 1)
        #expect(try drop.rows("SELECT person_id, reason FROM removal_log").map { [$0["person_id"] as String, $0["reason"] as String] }
                == [["p1", "license_expired"]])
        // Idempotent: nothing more on the next run.
        let again = try drop.run(at: instant("2026-12-01T05:00:00Z"))
        #expect(again.organisations[0].calendar?.expiredLicenses == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM calendar_events WHERE kind = 'license_expiry'") == 1)
    }

    @Test func aDeliveredOrderAlreadyPastItsEndGrantsNothing() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         orders: [Fixture.order("t1", person: "p1", type: "trial", from: "2026-10-01", to: "2026-11-15"),
                                  Fixture.order("o2", person: "p2")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 2)
        // Skolon still sends the ended trial after its end: it licenses no one, and the
        // license it made is removed — the delivery says so, it is not an error.
        try drop.deliver("20261120T020000Z", users: [Fixture.user("p1"), Fixture.user("p2", given: "Britt")],
                         orders: [Fixture.order("t1", person: "p1", type: "trial", from: "2026-10-01", to: "2026-11-15"),
                                  Fixture.order("o2", person: "p2")])
        let summary = try drop.run(at: instant("2026-11-20T05:00:00Z"))
        let delivery = try #require(summary.organisations[0].deliveries.first)
        #expect(delivery.outcome == .applied)
        #expect(delivery.findings == 0)
        #expect(try drop.rows("SELECT person_id FROM accounts").map { $0["person_id"] as String } == ["p2"])
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 't1'") == 0)
        // The calendar removed it first (before the delivery), so the delivery found it gone.
        #expect(summary.organisations[0].calendar?.expiredLicenses == 1)
        // A delivery arriving with an already ended order for a new person creates nobody.
        try drop.deliver("20261121T020000Z", users: [Fixture.user("p2"), Fixture.user("p3")],
                         orders: [Fixture.order("o2", person: "p2"),
                                  Fixture.order("t3", person: "p3", type: "trial", from: "2026-10-01", to: "2026-11-20")])
        let third = try drop.run(at: instant("2026-11-21T05:00:00Z"))
        #expect(third.organisations[0].deliveries.first?.expiredOrders == 1)
        #expect(third.organisations[0].deliveries.first?.unlicensedUsers == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p3'") == 0)
    }

    /// A license that starts later makes its holder an account now, so a school can set up
    /// next term's classes; the portal grants access only from `valid_from`.
    @Test func aLicenseStartingLaterIsKeptAndItsHolderCreated() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1")],
                         orders: [Fixture.order("f1", person: "p1", from: "2027-01-10", to: "2027-06-30")])
        let summary = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(summary.organisations[0].deliveries.first?.outcome == .applied)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p1'") == 1)
        let license = try #require(try drop.rows("SELECT valid_from, valid_to FROM licenses WHERE order_id = 'f1'").first)
        #expect(license["valid_from"] as String == "2027-01-10" && license["valid_to"] as String == "2027-06-30")
        _ = try drop.run(at: instant("2027-01-11T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 'f1'") == 1)
        _ = try drop.run(at: instant("2027-07-01T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 0)
    }

    /// A repeated order id rejects every row carrying it, an ended first row too: the
    /// receipt and the reject report agree.
    @Test func aRepeatedOrderIdWhoseFirstRowHasEndedRejectsBoth() throws {
        let drop = try TestDrop()
        let ts = "20261101T020000Z"
        try drop.deliver(ts, users: [Fixture.user("p1"), Fixture.user("p2")],
                         orders: [Fixture.order("o1", person: "p1", from: "2026-08-01", to: "2026-10-15"),
                                  Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        let summary = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(summary.organisations[0].deliveries.first?.expiredOrders == 0)
        let lines = try drop.report("rejects_\(ts).csv.gz").dropFirst().filter { $0[0].hasPrefix("distribution_orders_") }.map { $0[1] }
        #expect(lines == ["2", "3"])
        #expect(try drop.receipt(ts)["distribution_orders"]?[4...6] == ["3", "1", "2"])
    }

    /// A license renewed in the first delivery after its old end keeps its account: the
    /// holder goes only if the day's deliveries leave them without a license.
    @Test func aLicenseRenewedInTheSameRunsDeliveryKeepsItsAccount() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         orders: [Fixture.order("t1", person: "p1", type: "trial", from: "2026-11-01", to: "2026-11-30"),
                                  Fixture.order("o2", person: "p2")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let before = try drop.rows("SELECT id FROM accounts WHERE person_id = 'p1'").first?["id"] as Int64?
        try drop.deliver("20261201T020000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         orders: [Fixture.order("t1", person: "p1", type: "paid", from: "2026-11-01", to: "2027-06-30"),
                                  Fixture.order("o2", person: "p2")])
        #expect(try drop.run(at: instant("2026-12-01T05:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.rows("SELECT id FROM accounts WHERE person_id = 'p1'").first?["id"] as Int64? == before)
        #expect(try drop.count("SELECT COUNT(*) FROM removal_log") == 0)
        #expect(try drop.rows("SELECT valid_to FROM licenses WHERE order_id = 't1'").first?["valid_to"] as String? == "2027-06-30")
    }

    /// Trials ending together are no broken export: their removals never count toward a hold.
    @Test func manyTrialsEndingOnOneDayAreNotHeld() throws {
        let drop = try TestDrop()
        let users = (1...12).map { Fixture.user("p\($0)") }
        let orders = (1...12).map { index in
            index <= 8 ? Fixture.order("t\(index)", person: "p\(index)", type: "trial", from: "2026-11-01", to: "2026-11-30")
                : Fixture.order("o\(index)", person: "p\(index)")
        }
        try drop.deliver("20261101T020000Z", users: users, orders: orders)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        try drop.deliver("20261201T020000Z", users: users.dropLast() + [Fixture.user("p12", given: "Ny")], orders: orders)
        let summary = try drop.run(at: instant("2026-12-01T05:00:00Z"))
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 4)
        #expect(try drop.count("SELECT COUNT(*) FROM removal_log WHERE reason = 'license_expired'") == 8)
    }
}
