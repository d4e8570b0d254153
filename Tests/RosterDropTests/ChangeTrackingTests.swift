import Foundation
import GRDB
import Testing
@testable import RosterDrop
@testable import RosterDropSamples

/// A run looks only at rows that changed since what the job last wrote (`DeliveryIndex`,
/// `source_hash`). These tests hold it to the same result as comparing every row.
@Suite struct ChangeTrackingTests {
    /// Seeded random deliveries — people coming and going, edits, orders moving between
    /// people, bad rows, duplicates, dangling references, a file left out — applied to two
    /// portals: one run by change, one with `--full`. After every delivery both portals,
    /// receipts and reject reports must be the same.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func runsByChangeMatchFullRuns(seed: UInt64) throws {
        let byChange = try TestDrop(settings: TestDrop.noHolds)
        let full = try TestDrop(settings: TestDrop.noHolds)
        for drop in [byChange, full] { try Self.preIntegration(drop) }
        var random = SplitMix64(seed: seed)
        for day in 1...7 {
            let ts = String(format: "202611%02dT000000Z", day)
            let delivery = Self.randomDelivery(&random, day: day)
            for drop in [byChange, full] {
                try drop.deliver(ts, users: delivery.users, groups: delivery.groups, memberships: delivery.memberships,
                                 orders: delivery.orders)
            }
            let changed = try byChange.run()
            let compared = try full.run(full: true)
            #expect(changed.organisations[0].deliveries.map(\.outcome) == compared.organisations[0].deliveries.map(\.outcome))
            let receipts = (try byChange.receipt(ts), try full.receipt(ts))
            #expect(receipts.0 == receipts.1, "seed \(seed) day \(day): receipts differ")
            let rejects = "rejects_\(ts).csv.gz"
            if byChange.files("org1", "outbox").contains(rejects) || full.files("org1", "outbox").contains(rejects) {
                #expect(try byChange.report(rejects) == full.report(rejects), "seed \(seed) day \(day): reject reports differ")
            }
            let portals = (try Self.portal(byChange), try Self.portal(full))
            #expect(portals.0 == portals.1, "seed \(seed) day \(day): portals differ by \(portals.0.difference(from: portals.1))")
        }
        // The change-tracked portal really did skip work: after a day with few changes, most
        // records still carry the hash they were written with.
        #expect(try byChange.count("SELECT COUNT(*) FROM accounts WHERE identity_source = 'skolon' AND source_hash IS NULL") == 0)
    }

    @Test func aRepeatOfAnUnchangedRowRejectsBothAndRemovesNothing() throws {
        let drop = try TestDrop()
        let users = [Fixture.user("p1"), Fixture.user("p2")]
        let orders = [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")]
        try drop.deliver("20261101T000000Z", users: users, orders: orders)
        _ = try drop.run()
        // p1's row and o2's row are unchanged, so neither is staged — until a repeat shows up.
        try drop.deliver("20261102T000000Z", users: users + [Fixture.user("p1")],
                         orders: orders + [Fixture.order("o2", person: "p2", product: TestDrop.productB)])
        _ = try drop.run()
        let rules = try drop.rejectRules("20261102T000000Z")
        // p1 twice, o1 (its person is rejected now), o2 twice.
        #expect(rules == ["unique.duplicate", "unique.duplicate", "reference.person_rejected", "unique.duplicate",
                          "unique.duplicate"])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id IN ('p1', 'p2')") == 2)
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id IN ('o1', 'o2')") == 2)
        let receipt = try drop.receipt("20261102T000000Z")
        #expect(receipt["users"]?[5...9] == ["1", "2", "0", "0", "0"])
        #expect(receipt["distribution_orders"]?[5...9] == ["0", "3", "0", "0", "0"])
    }

    @Test func aPersonWhoseUnchangedRowOutlivesTheirLastOrderIsRemoved() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1", "g1,p2"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        // Every row unchanged except that o2 is gone: p2 is unlicensed, so leaves with their membership.
        try drop.deliver("20261102T000000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1", "g1,p2"],
                         orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run()
        #expect(try drop.rows("SELECT person_id FROM accounts ORDER BY person_id").map { $0["person_id"] as String } == ["p1"])
        #expect(try drop.count("SELECT COUNT(*) FROM memberships") == 1)
        let receipt = try drop.receipt("20261102T000000Z")
        #expect(receipt["users"]?[9] == "1")
        #expect(receipt["memberships"]?[9] == "1")
        #expect(receipt["distribution_orders"]?[9] == "1")
    }

    /// Records written before hashes were kept (or whose hash was lost) are compared field by
    /// field once and get their hash; nothing is created twice or removed by mistake.
    @Test func recordsWithoutAHashAreComparedAndHashed() throws {
        let drop = try TestDrop()
        let users = [Fixture.user("p1"), Fixture.user("p2")]
        try drop.deliver("20261101T000000Z", users: users, groups: [Fixture.group("g1")], memberships: ["g1,p1"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        try drop.execute("UPDATE accounts SET source_hash = NULL")
        try drop.execute("UPDATE licenses SET source_hash = NULL")
        try drop.execute("UPDATE memberships SET source_hash = NULL")
        try drop.deliver("20261102T000000Z", users: [Fixture.user("p1"), Fixture.user("p2", given: "Bo")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run()
        let receipt = try drop.receipt("20261102T000000Z")
        #expect(receipt["users"]?[7...9] == ["0", "1", "0"])
        #expect(receipt["memberships"]?[7...9] == ["0", "0", "0"])
        #expect(receipt["distribution_orders"]?[7...9] == ["0", "0", "0"])
        for table in ["accounts", "licenses", "memberships"] {
            #expect(try drop.count("SELECT COUNT(*) FROM \(table) WHERE source_hash IS NULL") == 0, "\(table)")
        }
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 2)
    }

    /// A Skolon record deleted in the portal comes back with the next delivery, even though
    /// its row did not change: what was last written is read from the portal itself.
    @Test func aRecordDeletedInThePortalIsWrittenAgain() throws {
        let drop = try TestDrop()
        let orders = [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p1", product: TestDrop.productB)]
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1")], orders: orders)
        _ = try drop.run()
        try drop.execute("DELETE FROM licenses WHERE order_id = 'o2'")
        try drop.deliver("20261102T000000Z", users: [Fixture.user("p1", given: "Bo")], orders: orders)
        _ = try drop.run()
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 'o2'") == 1)
        #expect(try drop.receipt("20261102T000000Z")["distribution_orders"]?[7] == "1")
    }

    // MARK: - Helpers

    private struct RandomDelivery {
        var users: [String]
        var groups: [String]?
        var memberships: [String]?
        var orders: [String]
    }

    private static func preIntegration(_ drop: TestDrop) throws {
        try drop.execute("INSERT INTO organisations (id) VALUES ('org1')")
        try drop.execute("""
            INSERT INTO accounts (id, organisation_id, email, given_name, identity_source, created_at, updated_at)
            VALUES (500, 'org1', 'P3@Exempel.se', 'Tre', 'portal', '2025-01-01', '2025-01-01'),
                   (501, 'org1', 'p4@exempel.se', 'Fyra', 'portal', '2025-01-01', '2025-01-01'),
                   (502, 'org1', 'ingen@exempel.se', 'Ingen', 'portal', '2025-01-01', '2025-01-01')
            """)
        try drop.execute("""
            INSERT INTO groups (id, organisation_id, external_id, name, type, source, created_at, updated_at)
            VALUES (900, 'org1', 'g1', 'Läxhjälp', 'teaching_group', 'manual', '2025-01-01', '2025-01-01')
            """)
        try drop.execute("INSERT INTO memberships (group_id, account_id) VALUES (900, 500), (900, 502)")
    }

    private static func randomDelivery(_ random: inout SplitMix64, day: Int) -> RandomDelivery {
        let names = ["Åsa", "Björn", "Märta", "Olle", "Saga"]
        var users: [String] = []
        for person in 0..<24 where random.chance(perMille: 850) {
            let id = "p\(person)"
            var email = "\(id)@exempel.se"
            if random.chance(perMille: 100) { email = email.uppercased() }
            if random.chance(perMille: 40) { email = "inte-en-adress" }
            let unit = random.chance(perMille: 40) ? "99999999" : (random.chance(perMille: 500) ? "12345678" : "23456789")
            let row = Fixture.user(id, role: random.chance(perMille: 200) ? "teacher" : "student", given: names[random.below(5)],
                                   email: email, unit: unit, grade: String(7 + random.below(3)))
            users.append(row)
            if random.chance(perMille: 50) { users.append(row) }
        }
        var groups: [String] = []
        for group in 0..<5 where random.chance(perMille: 900) {
            groups.append(Fixture.group("g\(group)", name: "\(7 + random.below(3))\(["A", "B"][random.below(2)])",
                                        type: random.chance(perMille: 500) ? "class" : "teaching_group"))
            if random.chance(perMille: 40) { groups.append(groups[groups.count - 1]) }
        }
        var memberships: [String] = []
        for _ in 0..<30 {
            let row = "g\(random.below(6)),p\(random.below(26))"
            memberships.append(row)
        }
        var orders: [String] = []
        for order in 0..<30 where random.chance(perMille: 800) {
            let person = "p\(random.below(26))"
            let product = random.chance(perMille: 700) ? TestDrop.productA : TestDrop.productB
            let row = Fixture.order("o\(order)", person: person, product: product,
                                    type: random.chance(perMille: 200) ? "trial" : "paid", to: random.chance(perMille: 900) ? "2027-07-31" : "2027-06-30")
            orders.append(row)
            if random.chance(perMille: 40) { orders.append(row) }
        }
        return RandomDelivery(users: random.shuffled(users), groups: day % 5 == 3 ? nil : random.shuffled(groups),
                              memberships: day % 5 == 3 ? nil : random.shuffled(memberships), orders: random.shuffled(orders))
    }

    /// The portal by natural keys (ids differ between the two ways of running).
    private static func portal(_ drop: TestDrop) throws -> [String] {
        let queries = [
            """
            SELECT COALESCE(person_id, '-'), email, given_name, family_name, role, school_unit_code, grade, eppn,
                   identity_source, organisation_id, linked_at IS NOT NULL FROM accounts ORDER BY 1, 2
            """,
            "SELECT source, external_id, name, type, school_unit_code FROM groups ORDER BY 1, 2",
            """
            SELECT g.source, g.external_id, COALESCE(a.person_id, a.email) FROM memberships m
            JOIN groups g ON g.id = m.group_id JOIN accounts a ON a.id = m.account_id ORDER BY 1, 2, 3
            """,
            """
            SELECT COALESCE(l.order_id, '-'), a.person_id, l.product_id, l.license_type, l.valid_from, l.valid_to, l.source
            FROM licenses l JOIN accounts a ON a.id = l.account_id ORDER BY 1, 2, 3
            """,
        ]
        return try queries.flatMap { sql in try drop.rows(sql).map(\.text) }
    }
}
