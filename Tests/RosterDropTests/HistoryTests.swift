import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// `rosterdrop history`: a person's story from the change log, told to a support person.
struct HistoryTests {
    static let settings = "integration_start: 2026-11-01\n" + TestDrop.noHolds
    static let anna = Fixture.user("p1", email: "anna.lind@exempel.se", grade: "7")
    static let others = (2...6).map { Fixture.user("p\($0)") }
    static let othersOrders = (2...6).map { Fixture.order("o\($0)", person: "p\($0)") }

    /// Anna is adopted at the integration start, moves class (a row naming her rejected on
    /// the way), loses a license that ends, and is removed when the snapshot drops her.
    static func story() throws -> TestDrop {
        let drop = try TestDrop(settings: settings)
        try PortalBefore.write(into: drop)
        let groups = [Fixture.group("g7a", name: "7A"), Fixture.group("g8a", name: "8A")]
        try drop.deliver("20261101T020000Z", users: [anna] + others, groups: groups,
                         memberships: ["g7a,p1", "g7a,p2"],
                         orders: [Fixture.order("o1", person: "p1"),
                                  Fixture.order("o9", person: "p1", product: TestDrop.productB, to: "2026-11-15")] + othersOrders)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        try drop.deliver("20261102T020000Z", users: [Fixture.user("p1", email: "anna.lind@exempel.se", grade: "8")] + others,
                         groups: groups, memberships: ["g8a,p1", "g9x,p1", "g7a,p2"],
                         orders: [Fixture.order("o1", person: "p1"),
                                  Fixture.order("o9", person: "p1", product: TestDrop.productB, to: "2026-11-15")] + othersOrders)
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        _ = try drop.run(at: instant("2026-11-16T05:00:00Z"))
        try drop.deliver("20261120T020000Z", users: others, groups: groups, memberships: ["g7a,p2"], orders: othersOrders)
        _ = try drop.run(at: instant("2026-11-20T05:00:00Z"))
        return drop
    }

    @Test func aPersonsHistoryReadsAsAStory() throws {
        let drop = try Self.story()
        let result = try Executable("rosterdrop").run(["history", "--config", drop.configPath, "org1", "--person", "p1"])
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        let expected = [
            "2026-11-01T05:00:00Z  calendar",
            "account 1000 was in the portal before the change log began; it had groups portal:700",
            "left group portal:700: the portal's own groups were deleted at the integration start",
            "2026-11-01T05:00:00Z  delivery 20261101T020000Z",
            "adopted the portal's own account 1000 (matched by e-mail), which became Skolon's; Skolon's values taken for given_name, family_name, email, grade",
            "joined group 7A (g7a)",
            "gained license Matematik 5000+ 1a (\(TestDrop.productA)) (order o1)",
            "2026-11-02T05:00:00Z  delivery 20261102T020000Z",
            "changed: grade",
            "left group 7A (g7a): the snapshot no longer held the membership",
            "joined group 8A (g8a)",
            "row rejected: memberships_20261102T020000Z.csv.gz line 3, column group_id, rule reference.group",
            "2026-11-16T05:00:00Z  calendar",
            "lost license Svenska Direkt 7 (\(TestDrop.productB)) (order o9): its end date passed",
            "2026-11-20T05:00:00Z  delivery 20261120T020000Z",
            "left group 8A (g8a): with the account's removal",
            "lost license Matematik 5000+ 1a (\(TestDrop.productA)) (order o1): with the account's removal",
            "account 1000 removed: the delivered snapshot no longer held them with a license (contract rules 1 and 3)",
        ]
        var rest = Substring(text)
        for line in expected {
            guard let found = rest.range(of: line) else {
                Issue.record("missing, or out of order: \(line)\n--- history ---\n\(text)")
                return
            }
            rest = rest[found.upperBound...]
        }
        // The e-mail finds her only while she has an account; the log holds no value.
        let byEmail = try Executable("rosterdrop").run(["history", "--config", drop.configPath, "org1", "--email", "anna.lind@exempel.se"])
        #expect(byEmail.status == 1 && byEmail.stderr.contains("ask by person id"))
        let logged = try drop.rows("SELECT ref, detail FROM change_log").flatMap { [$0["ref"] as String?, $0["detail"] as String?] }
        #expect(!logged.contains { $0?.contains("@") == true || $0 == "8" || $0 == "Anna" })
    }

    /// A created account's starting groups and licenses are told from what it has now: a
    /// first load logs no row per membership.
    @Test func aCreatedAccountStartsWithWhatItHasLessLaterGains() throws {
        let drop = try Self.story()
        let result = try Executable("rosterdrop").run(["history", "--config", drop.configPath, "org1", "--person", "p2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.range(of: #"2026-11-01T05:00:00Z  delivery 20261101T020000Z\n  - account [0-9]+ created from the delivery, "#
                                    + #"with groups 7A \(g7a\); licenses Matematik 5000\+ 1a \(9789140000001\) \(order o2\)"#,
                                    options: .regularExpression) != nil, "\(result.stdout)")
        #expect(try drop.count("SELECT COUNT(*) FROM change_log WHERE account_id = (SELECT id FROM accounts WHERE person_id = 'p2')") == 0,
                "nothing logged for an account that only was created")
    }

    @Test func theChangeLogGoesWithTheRemovalLogsRetention() throws {
        let drop = try Self.story()
        #expect(try drop.count("SELECT COUNT(*) FROM change_log WHERE account_id = 1000") > 5)
        #expect(try drop.count("SELECT COUNT(*) FROM findings WHERE person_id = 'p1'") == 1)
        _ = try drop.run(at: instant("2027-06-01T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM change_log WHERE account_id = 1000") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM findings WHERE person_id IS NOT NULL") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM findings") > 0, "the findings stay, without the person")
        let result = try Executable("rosterdrop").run(["history", "--config", drop.configPath, "org1", "--person", "p1"])
        #expect(result.status == 1)
    }
}
