import Foundation
import Testing
@testable import RosterDrop

/// Issue 8 part 4: licenses granted by rule for a source that sends no distribution orders;
/// the rest of the pipeline works on them as on delivered ones.
struct LicenseRuleTests {
    static let rules = """
        licenses:
          - product: "\(TestDrop.productA)"
            type: paid
            from: 2026-08-01
            to: 2027-06-30
            school_units: ["12345678"]
            roles: [student]
          - product: "\(TestDrop.productB)"
            type: trial
            from: 2026-11-01
            to: 2026-11-30
            groups: [g1]
        """

    @Test func licensesByRuleLicenseUsersAndGoWithThem() throws {
        let drop = try TestDrop(settings: Self.rules + "\n" + TestDrop.noHolds)
        // The source sends users, groups and memberships, no orders.
        let mapping = drop.root.appendingPathComponent("no-orders")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: TestDrop.skolonMapping), to: mapping)
        try FileManager.default.removeItem(at: mapping.appendingPathComponent("distribution_orders.yaml"))
        let delivery = mapping.appendingPathComponent("delivery.yaml")
        try String(contentsOf: delivery, encoding: .utf8).replacingOccurrences(of: "required: [users, distribution_orders]", with: "required: [users]")
            .write(to: delivery, atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: drop.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: TestDrop.skolonMapping, with: mapping.path).write(toFile: drop.configPath, atomically: true, encoding: .utf8)

        let users = [Fixture.user("p1"), Fixture.user("p2", unit: "23456789"), Fixture.user("t1", role: "teacher"),
                     Fixture.user("p3", unit: "23456789")]
        try drop.deliver("20261101T020000Z", users: users, groups: [Fixture.group("g1")], memberships: ["g1,t1", "g1,p3"])
        let first = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(first.organisations[0].deliveries.map(\.outcome) == [.applied], "\(first)")
        #expect(try drop.rows("SELECT person_id FROM accounts ORDER BY person_id").map { $0["person_id"] as String } == ["p1", "p3", "t1"])
        #expect(try drop.rows("SELECT l.order_id, a.person_id, l.product_id, l.license_type FROM licenses l JOIN accounts a ON a.id = l.account_id ORDER BY l.order_id")
            .map { "\($0["order_id"] as String) \($0["person_id"] as String) \($0["product_id"] as String) \($0["license_type"] as String)" }
            == ["rule1-p1 p1 \(TestDrop.productA) paid", "rule2-p3 p3 \(TestDrop.productB) trial", "rule2-t1 t1 \(TestDrop.productB) trial"])
        #expect(try drop.receipt("20261101T020000Z")["distribution_orders"]?[4...7] == ["3", "3", "0", "3"])

        // The next day t1 leaves g1: their license by rule goes, and they with it.
        try drop.deliver("20261102T020000Z", users: users, groups: [Fixture.group("g1")], memberships: ["g1,p3"])
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        #expect(try drop.rows("SELECT person_id FROM accounts ORDER BY person_id").map { $0["person_id"] as String } == ["p1", "p3"])
        // The group trial ends like a delivered one.
        _ = try drop.run(at: instant("2026-12-01T05:00:00Z"))
        #expect(try drop.rows("SELECT person_id FROM accounts ORDER BY person_id").map { $0["person_id"] as String } == ["p1"])

        // A mapping that reads orders cannot also have rules.
        try config.write(toFile: drop.configPath, atomically: true, encoding: .utf8)
        #expect { _ = try JobConfiguration.load(path: drop.configPath) } throws: { "\($0)".contains("licenses by rule are for sources that send none") }
    }
}
