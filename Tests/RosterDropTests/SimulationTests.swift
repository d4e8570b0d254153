import Foundation
import GRDB
import Testing
@testable import RosterDrop
@testable import RosterDropSamples

/// Five weeks of an organisation's life, seeded: the integration start, daily deliveries
/// (none at weekends) with people joining and leaving, e-mail changes, old accounts adopted
/// by e-mail, trials running out, one near-empty broken export held and discarded, and the
/// 30-day deadline passing. The portal must end exactly as the contract says — computed
/// here from the deliveries alone — and again when every run is killed at a random point
/// and run again.
@Suite struct SimulationTests {
    static let startDay = CalendarDay(year: 2026, month: 11, day: 2)!
    static let days = 36
    static let brokenDay = 9

    /// A person as Skolon has them.
    struct Person {
        var id: String
        var email: String
        var group: String
        var orders: [(id: String, product: String, type: String, from: String, to: String)]
    }

    /// The seeded story: each day's snapshot (nil: no delivery that day).
    struct Story {
        var snapshots: [[Person]?] = []
        /// Old accounts (id, e-mail as the portal has it).
        var old: [(Int, String)] = []

        init(seed: UInt64) {
            var random = SplitMix64(seed: seed)
            var next = 1
            func person(email: String? = nil, trialEnds: CalendarDay? = nil) -> Person {
                defer { next += 1 }
                var orders = [(id: "o\(next)", product: TestDrop.productA, type: "paid", from: "2026-08-01", to: "2027-07-31")]
                if let trialEnds {
                    orders.append((id: "t\(next)", product: TestDrop.productB, type: "trial", from: "2026-10-01", to: trialEnds.iso))
                }
                return Person(id: "p\(next)", email: email ?? "p\(next)@exempel.se", group: "g\(random.int(in: 1...4))",
                              orders: orders)
            }
            var people = (0..<30).map { _ in person() }
            // Trials ending inside the story; some people hold only a trial.
            for index in random.distinctIndices(6, of: people.count) {
                let ends = SimulationTests.startDay.adding(days: random.int(in: 3...25))
                people[index].orders.append((id: "t-\(people[index].id)", product: TestDrop.productB, type: "trial",
                                             from: "2026-10-01", to: ends.iso))
                if random.chance(perMille: 500) { people[index].orders.removeFirst() }
            }
            // Old accounts: three match people now (letter case differs), one matches a person
            // who joins on day 16, two never match.
            old = [(100, people[0].email.uppercased()), (101, people[1].email.capitalized),
                   (102, people[2].email.uppercased()), (103, "Late.Joiner@Exempel.se"),
                   (104, "gone.before@exempel.se"), (105, "never.licensed@exempel.se")]
            for day in 0..<SimulationTests.days {
                let weekday = (SimulationTests.startDay.ordinal + day + 3) % 7  // 0 = Monday
                if day > 0 && weekday >= 5 {
                    snapshots.append(nil)
                    continue
                }
                if day > 0 {
                    for _ in 0..<random.int(in: 0...2) where people.count > 20 {
                        people.remove(at: 3 + random.below(people.count - 3))
                    }
                    for _ in 0..<random.int(in: 0...2) { people.append(person()) }
                    if random.chance(perMille: 400) {
                        let index = 3 + random.below(people.count - 3)
                        people[index].email = "ny.\(people[index].id)@exempel.se"
                    }
                }
                if day == 16 { people.append(person(email: "late.joiner@exempel.se")) }
                if day == SimulationTests.brokenDay {
                    snapshots.append(Array(people.prefix(1)))  // the broken export
                    continue
                }
                snapshots.append(people)
            }
        }

        /// The delivery files of one snapshot.
        static func files(_ people: [Person]) -> (users: [String], groups: [String], memberships: [String], orders: [String]) {
            let groups = Set(people.map(\.group)).sorted().map { Fixture.group($0, name: "Klass \($0)") }
            return (people.map { Fixture.user($0.id, email: $0.email) }, groups, people.map { "\($0.group),\($0.id)" },
                    people.flatMap { person in
                        person.orders.map { Fixture.order($0.id, person: person.id, product: $0.product, type: $0.type,
                                                          from: $0.from, to: $0.to) }
                    })
        }
    }

    /// What the contract says the portal holds at the end, from the story alone.
    static func expected(_ story: Story) -> String {
        let last = SimulationTests.startDay.adding(days: days - 1).iso
        var adopted: [String: Int] = [:]  // person → old account
        var linked = Set<String>()
        var gone = Set<Int>()
        var deadlinePassed = false
        for (day, snapshot) in story.snapshots.enumerated() {
            let today = SimulationTests.startDay.adding(days: day).iso
            if day == 30 { deadlinePassed = true }
            guard let people = snapshot, day != brokenDay else { continue }
            // Licensed: an order not ended. Unlinked licensed rows adopt an unlinked old
            // account of the same e-mail, ignoring case, first in file order.
            let licensed = people.filter { $0.orders.contains { $0.to >= today } }
            for person in licensed where !linked.contains(person.id) {
                if let (id, _) = story.old.first(where: { old in
                    old.1.lowercased() == person.email.lowercased() && !adopted.values.contains(old.0) && !gone.contains(old.0)
                }), !deadlinePassed {
                    adopted[person.id] = id
                }
                linked.insert(person.id)
            }
            // Whoever is not licensed any more leaves, their adopted account with them.
            for (person, id) in adopted where !licensed.contains(where: { $0.id == person }) {
                gone.insert(id)
                adopted[person] = nil
            }
            linked = linked.intersection(licensed.map(\.id))
        }
        let final = story.snapshots.compactMap { $0 }.last { $0.count > 1 } ?? []
        let present = final.filter { $0.orders.contains { $0.to >= last } }
        let oldKept = Set(adopted.values)
        var text = "accounts: " + present.map { "\($0.id)=\(adopted[$0.id].map(String.init) ?? "new")" }.sorted().joined(separator: " ")
        text += "\nold accounts kept: " + oldKept.sorted().map(String.init).joined(separator: " ")
        text += "\nlicenses: " + (present.flatMap { person in person.orders.filter { $0.to >= last }.map { "\($0.id)>\(person.id)" } }
            + oldKept.sorted().map { "portal-\($0 + 4000)" }).sorted().joined(separator: " ")
        text += "\ngroups: " + Set(final.map(\.group)).sorted().joined(separator: " ")
        text += "\nmemberships: " + present.map { "\($0.group)/\($0.id)" }.sorted().joined(separator: " ")
        return text
    }

    /// The portal as the test compares it: Skolon ids and the old accounts' ids.
    static func portal(_ drop: TestDrop, old: Set<Int> = Set(100...105)) throws -> String {
        let accounts = try drop.rows("SELECT id, person_id, identity_source FROM accounts")
        let skolon = accounts.filter { ($0["person_id"] as String?) != nil }
        var text = "accounts: " + skolon.map { row in
            let id: Int = row["id"]
            return "\(row["person_id"] as String)=\(old.contains(id) ? String(id) : "new")"
        }.sorted().joined(separator: " ")
        text += "\nold accounts kept: " + accounts.compactMap { old.contains($0["id"] as Int) ? String($0["id"] as Int) : nil }
            .sorted().joined(separator: " ")
        text += "\nlicenses: " + (try drop.rows("""
            SELECT COALESCE(l.order_id, '') AS o, a.person_id AS p, l.source AS s FROM licenses l JOIN accounts a ON a.id = l.account_id
            """).map { row in (row["s"] as String) == "skolon" ? "\(row["o"] as String)>\(row["p"] as String)" : row["o"] as String })
            .sorted().joined(separator: " ")
        text += "\ngroups: " + (try drop.rows("SELECT external_id FROM groups").map { $0["external_id"] as String? ?? "manual" })
            .sorted().joined(separator: " ")
        text += "\nmemberships: " + (try drop.rows("""
            SELECT g.external_id AS g, a.person_id AS p FROM memberships m JOIN groups g ON g.id = m.group_id
            JOIN accounts a ON a.id = m.account_id
            """).map { "\($0["g"] as String? ?? "manual")/\($0["p"] as String? ?? "old")" }).sorted().joined(separator: " ")
        return text
    }

    static func prepare(_ story: Story) throws -> TestDrop {
        let drop = try TestDrop(settings: "integration_start: \(startDay.iso)")
        try drop.execute("INSERT INTO organisations (id) VALUES ('org1')")
        for (id, email) in story.old {
            try drop.execute("""
                INSERT INTO accounts (id, organisation_id, email, given_name, identity_source, created_at, updated_at)
                VALUES (?, 'org1', ?, 'Gammal', 'portal', '2025-01-01', '2025-01-01');
                INSERT INTO licenses (id, organisation_id, account_id, product_id, license_type, valid_from, valid_to, source,
                                      created_at, updated_at)
                VALUES (? + 4000, 'org1', ?, ?, 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-01-01', '2025-01-01')
                """, [id, email, id, id, TestDrop.productA])
        }
        try drop.execute("""
            INSERT INTO groups (id, organisation_id, name, type, source, created_at, updated_at)
            VALUES (900, 'org1', 'Gammal klass', 'class', 'manual', '2025-01-01', '2025-01-01');
            INSERT INTO memberships (group_id, account_id) VALUES (900, 100), (900, 105);
            """)
        return drop
    }

    static func deliver(_ story: Story, day: Int, to drop: TestDrop) throws -> String {
        let date = startDay.adding(days: day)
        let stamp = date.iso.replacingOccurrences(of: "-", with: "")
        if let people = story.snapshots[day] {
            let files = Story.files(people)
            try drop.deliver("\(stamp)T020000Z", users: files.users, groups: files.groups, memberships: files.memberships,
                             orders: files.orders)
        }
        return "\(date.iso)T05:00:00Z"
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func fiveWeeksEndAsTheContractSays(seed: UInt64) throws {
        let story = Story(seed: seed)
        let drop = try Self.prepare(story)
        for day in 0..<Self.days {
            let now = try Self.deliver(story, day: day, to: drop)
            let summary = try drop.run(at: instant(now))
            #expect(summary.succeeded, "day \(day): \(summary)")
            if day == Self.brokenDay {
                #expect(summary.organisations[0].deliveries.map(\.outcome) == [.held], "day \(day)")
                _ = try HoldDesk(database: drop.portal())
                    .decide(organisation: "org1", timestamp: summary.organisations[0].holds[0], approve: false, at: instant(now))
            }
            if day == Self.brokenDay + 1 {
                #expect(summary.organisations[0].deliveries.first?.outcome == .discarded)
            }
        }
        #expect(try Self.portal(drop) == Self.expected(story))
        #expect(drop.files("org1", "inbox").isEmpty)
        #expect(try drop.count("SELECT COUNT(*) FROM calendar_events WHERE kind = 'integration_start'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM calendar_events WHERE kind = 'integration_cleanup'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM removal_log WHERE reason = 'integration_deadline'") >= 1)
        #expect(try drop.count("SELECT COUNT(*) FROM answers WHERE published_at IS NULL") == 0)
    }

    /// The same weeks run by the built binary, each day's run killed at a random point — in
    /// or after a commit, while answering, during the start or the clean-up — and run again.
    @Test(arguments: [4, 5] as [UInt64])
    func killedAtRandomPointsAndRerunItEndsTheSame(seed: UInt64) throws {
        let binary = try Executable("rosterdrop")
        let story = Story(seed: seed)
        let killed = try Self.prepare(story)
        let calm = try Self.prepare(story)
        var random = SplitMix64(seed: seed, stream: 77, index: 0)
        let points = ["delivery-commit", "delivery-committed", "answer-published", "integration-start-commit",
                      "integration-start-committed", "cleanup-commit"]
        var kills = 0
        for day in 0..<Self.days {
            let now = try Self.deliver(story, day: day, to: killed)
            _ = try Self.deliver(story, day: day, to: calm)
            let arguments = ["run", "--config", killed.configPath, "--now", now, "--quiet"]
            let fault = "\(random.pick(points)):\(random.int(in: 1...2))"
            let first = try binary.run(arguments, environment: ["ROSTERDROP_FAULT": fault])
            if first.status == 86 { kills += 1 }
            let rerun = try binary.run(arguments + ["--json"])
            #expect(rerun.status == 0, "day \(day) after \(fault): \(rerun.stderr)")
            _ = try calm.run(at: instant(now))
            for drop in [killed, calm] {
                let desk = HoldDesk(database: try drop.portal())
                for hold in try desk.list() where hold.state == .held {
                    _ = try desk.decide(organisation: "org1", timestamp: hold.timestamp, approve: false, at: instant(now))
                }
            }
        }
        #expect(kills >= 5, "the faults were hit")
        #expect(try Self.portal(killed) == Self.expected(story))
        #expect(try Self.portal(killed) == Self.portal(calm))
        // Answered exactly once each: the same reports as the calm run (the held delivery's
        // second answer, its discard, is its only -2), none answered twice by a rerun.
        #expect(killed.files("org1", "outbox").filter { !$0.hasPrefix("accounts_at_risk_") }
                == calm.files("org1", "outbox").filter { !$0.hasPrefix("accounts_at_risk_") })
        #expect(killed.files("org1", "outbox").filter { $0.contains("-2.") }.map { $0.prefix(while: { $0 != "_" }) }
                == ["receipt", "report"])
        #expect(killed.files("org1", "inbox").isEmpty)
    }
}
