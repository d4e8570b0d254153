import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Deliveries as wholes: completeness, the manifest, replays, refusals, dry runs, ordering.
struct DeliveryTests {
    static let users = [Fixture.user("p1"), Fixture.user("p2", role: "teacher")]
    static let orders = [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2", type: "trial")]

    @Test func aReplayedDeliveryChangesNothing() throws {
        let drop = try TestDrop()
        let files = try drop.deliver("20261101T000000Z", users: Self.users, orders: Self.orders)
        _ = try drop.run()
        let before = try drop.snapshot(portalOnly: true)
        let ledger = try drop.count("SELECT COUNT(*) FROM deliveries")
        // The same files dropped again under the same timestamp...
        for (name, data) in files { try data.write(to: drop.inbox().appendingPathComponent(name)) }
        try drop.deliver("20261101T000000Z", users: Self.users, orders: Self.orders)
        let again = try drop.run()
        #expect(again.organisations[0].deliveries.map(\.outcome) == [.duplicate])
        // ...and identical content under a new timestamp.
        try drop.deliver("20261102T000000Z", users: Self.users, orders: Self.orders)
        let third = try drop.run()
        #expect(third.organisations[0].deliveries.map(\.outcome) == [.duplicate])
        #expect(try drop.snapshot(portalOnly: true) == before)
        // The ledger records the two answers, and nothing as applied.
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries") == ledger + 2)
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries WHERE outcome LIKE 'applied%'") == ledger)
        #expect(try drop.receipt("20261101T000000Z", name: "receipt_20261101T000000Z-2.csv")["users"]?[2] == "duplicate")
        #expect(drop.files("org1", "archive").contains("users_20261101T000000Z-2.csv.gz"))
        #expect(drop.files("org1", "inbox").isEmpty)
    }

    @Test func aDeliveryWithoutManifestWaits() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: Self.users, orders: Self.orders, manifest: false)
        let summary = try drop.run()
        #expect(summary.organisations[0].deliveries.isEmpty)
        #expect(summary.organisations[0].waiting == ["20261101T000000Z"])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 0)
        #expect(drop.files("org1", "inbox").count == 2)
    }

    /// Every file-level problem refuses the whole delivery, leaves the database as it was,
    /// and is explained in the reject report.
    @Test(arguments: ["checksum", "rows", "missing", "unlisted", "truncated", "notgzip", "column", "required", "bomb", "manifest"])
    func aBrokenDeliveryIsRefusedWhole(_ fault: String) throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run()
        let before = try drop.snapshot(portalOnly: true)
        let ts = "20261102T000000Z"
        let usersName = "users_\(ts).csv.gz"
        try drop.deliver(ts, users: Self.users, orders: Self.orders)
        let usersURL = drop.inbox().appendingPathComponent(usersName)
        let manifestURL = drop.inbox().appendingPathComponent("manifest_\(ts).csv")
        var manifest = try String(contentsOf: manifestURL, encoding: .utf8)
        let expectedRule: String
        switch fault {
        case "checksum":
            let good = try Data(contentsOf: usersURL)
            let other = try TestDrop.gzip(TestDrop.usersHeader + "\n" + Fixture.user("p1") + "\n" + Fixture.user("p3") + "\n")
            try other.write(to: usersURL)
            #expect(good != other)
            expectedRule = "manifest.checksum"
        case "rows":
            manifest = manifest.replacingOccurrences(of: "\(usersName),2,", with: "\(usersName),3,")
            expectedRule = "manifest.rows"
        case "missing":
            try FileManager.default.removeItem(at: usersURL)
            expectedRule = "manifest.missing_file"
        case "unlisted":
            manifest = manifest.split(separator: "\n").filter { !$0.hasPrefix("users_") }.joined(separator: "\n") + "\n"
            expectedRule = "manifest.unlisted_file"
        case "truncated", "notgzip":
            let data = try Data(contentsOf: usersURL)
            let broken = fault == "truncated" ? data.prefix(data.count - 12) : Data("person_id\n".utf8)
            try broken.write(to: usersURL)
            manifest = manifest.replacingOccurrences(of: Digest.sha256Hex(data), with: Digest.sha256Hex(broken))
            expectedRule = "file.unreadable"
        case "column":
            let data = try TestDrop.gzip("person_id,role\np1,student\n")
            try data.write(to: usersURL)
            manifest = manifest.replacingOccurrences(of: try #require(manifest.split(separator: "\n").first { $0.hasPrefix("users_") }),
                                                     with: "\(usersName),1,\(Digest.sha256Hex(data))")
            expectedRule = "file.missing_column"
        case "required":
            try FileManager.default.removeItem(at: drop.inbox().appendingPathComponent("distribution_orders_\(ts).csv.gz"))
            manifest = manifest.split(separator: "\n").filter { !$0.hasPrefix("distribution_orders_") }.joined(separator: "\n") + "\n"
            expectedRule = "delivery.missing_file"
        case "bomb":
            let data = try TestDrop.gzip(TestDrop.usersHeader + "\n" + String(repeating: " ", count: 20_000_000))
            try data.write(to: usersURL)
            manifest = manifest.replacingOccurrences(of: try #require(manifest.split(separator: "\n").first { $0.hasPrefix("users_") }),
                                                     with: "\(usersName),1,\(Digest.sha256Hex(data))")
            expectedRule = "file.too_large"
            try Self.lowerLimit(drop, to: 1_000_000)
        default:
            manifest = "file;rows\n"
            expectedRule = "manifest.invalid"
        }
        try manifest.write(to: manifestURL, atomically: true, encoding: .utf8)
        let summary = try drop.run()
        #expect(summary.succeeded)
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.refused])
        #expect(try drop.snapshot(portalOnly: true) == before)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p2'") == 0)
        #expect(try drop.rejectRules(ts).contains(expectedRule))
        #expect(try drop.receipt(ts)["users"]?[2] == "refused")
        if fault == "checksum" || fault == "rows" {
            // Read whole before the manifest refused it: the receipt still says how many rows.
            #expect(try drop.receipt(ts)["users"]?[4...9] == ["2", "0", "0", "0", "0", "0"])
        }
        // The refused files are archived, so the same mistake is not answered every night.
        #expect(drop.files("org1", "inbox").isEmpty)
    }

    /// Copies the Skolon mapping with a smaller decompressed-size limit.
    static func lowerLimit(_ drop: TestDrop, to bytes: Int) throws {
        let copy = drop.root.appendingPathComponent("mapping-small")
        try FileManager.default.copyItem(atPath: TestDrop.skolonMapping, toPath: copy.path)
        let layout = copy.appendingPathComponent("delivery.yaml")
        let text = try String(contentsOf: layout, encoding: .utf8)
            .replacingOccurrences(of: "max_file_bytes: 4294967296", with: "max_file_bytes: \(bytes)")
        try text.write(to: layout, atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: drop.configPath, encoding: .utf8)
            .replacingOccurrences(of: TestDrop.skolonMapping, with: copy.path)
        try config.write(toFile: drop.configPath, atomically: true, encoding: .utf8)
    }

    @Test func deliveriesAreAppliedOldestFirstAndAStaleOneIsRefused() throws {
        let drop = try TestDrop()
        try drop.deliver("20261102T000000Z", users: [Fixture.user("p1", given: "Ny")], orders: [Fixture.order("o1", person: "p1")])
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1", given: "Gammal")], orders: [Fixture.order("o1", person: "p1")])
        let summary = try drop.run()
        #expect(summary.organisations[0].deliveries.map(\.timestamp) == ["20261101T000000Z", "20261102T000000Z"])
        #expect(try drop.rows("SELECT given_name FROM accounts").first?["given_name"] as String? == "Ny")
        try drop.deliver("20261031T000000Z", users: [Fixture.user("p1", given: "Äldst")], orders: [Fixture.order("o1", person: "p1")])
        let stale = try drop.run()
        #expect(stale.organisations[0].deliveries.map(\.outcome) == [.refused])
        #expect(try drop.rejectRules("20261031T000000Z") == ["delivery.stale"])
        #expect(try drop.rows("SELECT given_name FROM accounts").first?["given_name"] as String? == "Ny")
        // An older delivery that was applied before is a duplicate, not stale.
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1", given: "Gammal")], orders: [Fixture.order("o1", person: "p1")])
        #expect(try drop.run().organisations[0].deliveries.map(\.outcome) == [.duplicate])
        #expect(try drop.rows("SELECT given_name FROM accounts").first?["given_name"] as String? == "Ny")
    }

    @Test func aDryRunPlansAndReportsButChangesNothing() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: Self.users + [Fixture.user("p3", email: "fel")], orders: Self.orders)
        let before = try drop.snapshot()
        let summary = try drop.run(dryRun: true)
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.test])
        #expect(try drop.snapshot() == before)
        #expect(try drop.receipt("20261101T000000Z")["users"]?[7] == "2")
        #expect(try drop.rejectRules("20261101T000000Z") == ["field.email"])
        #expect(drop.files("org1", "inbox").count == 3)
        let real = try drop.run()
        #expect(real.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 2)
        #expect(drop.files("org1", "outbox").contains("receipt_20261101T000000Z-2.csv"))
    }

    @Test func oneOrganisationsFailureDoesNotStopAnother() throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["45678901"])])
        try FileManager.default.removeItem(at: drop.root.appendingPathComponent("drop/org1"))
        try drop.deliver("20261101T000000Z", org: "org2", users: [Fixture.user("p1", unit: "45678901")],
                         orders: [Fixture.order("o1", person: "p1")])
        let summary = try drop.run()
        #expect(!summary.succeeded)
        #expect(summary.organisations[0].error != nil)
        #expect(summary.organisations[1].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE organisation_id = 'org2'") == 1)
    }

    /// On SQLite a second run is refused; on PostgreSQL a second worker leaves the
    /// organisation another holds to it, at once.
    @Test func aSecondRunOnTheSameDatabaseIsRefusedAtOnce() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        let lock = try drop.holdElsewhere()
        if drop.isPostgres {
            let summary = try drop.run()
            #expect(summary.organisations.map(\.takenByAnotherWorker) == [true])
            #expect(summary.organisations[0].deliveries.isEmpty)
            #expect(drop.files("org1", "inbox").count == 3)
        } else {
            #expect(throws: RunLockError.self) { _ = try drop.run() }
        }
        withExtendedLifetime(lock) {}
    }
}

/// A run that stops between the commit and its answer, or while answering: the built binary
/// is stopped dead at a fault point, and the next run must answer the delivery exactly once,
/// with its real outcome and its values, and change nothing more.
struct InterruptedAnswerTests {
    @Test(arguments: ["delivery-committed", "answer-published"])
    func aDeliveryIsAnsweredExactlyOnce(_ fault: String) throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop()
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1"), Fixture.user("p2", email: "fel")],
                         orders: [Fixture.order("o1", person: "p1")])
        let arguments = ["run", "--config", drop.configPath, "--now", "2026-11-02T02:00:00Z"]
        let stopped = try binary.run(arguments, environment: ["ROSTERDROP_FAULT": fault])
        #expect(stopped.status == 86, "\(stopped.stderr)")
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries WHERE outcome = 'applied_with_rejects'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries WHERE answered_at IS NULL") == 1)
        #expect(!drop.files("org1", "inbox").isEmpty, "nothing archived before the answer is recorded")
        #expect(drop.files("org1", "outbox").contains("receipt_20261101T000000Z.csv") == (fault == "answer-published"))
        let before = try drop.snapshot(portalOnly: true)
        let next = try binary.run(arguments + ["--json"])
        #expect(next.status == 0, "\(next.stderr)")
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(next.stdout.utf8))
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        #expect(try drop.snapshot(portalOnly: true) == before)
        #expect(drop.files("org1", "outbox") == ["receipt_20261101T000000Z.csv", "rejects_20261101T000000Z.csv.gz",
                                                 "report_20261101T000000Z.html"],
                "one receipt, no -2 copy")
        #expect(try drop.receipt("20261101T000000Z")["users"]?[4...9] == ["2", "1", "1", "1", "0", "0"])
        let rejects = try drop.report("rejects_20261101T000000Z.csv.gz")
        #expect(rejects.dropFirst().map { [$0[1], $0[2], $0[3], $0[4]] } == [["3", "email", "fel", "field.email"]],
                "the answer keeps its values")
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries WHERE answered_at IS NULL") == 0)
        #expect(drop.files("org1", "inbox").isEmpty)
        #expect(try drop.count("SELECT COUNT(*) FROM answer_files") == 0, "answer files leave the database once published")
        // Once answered, the same files are a plain duplicate.
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        #expect(try drop.run().organisations[0].deliveries.map(\.outcome) == [.duplicate])
    }

    /// A dry run between a stopped run and the run that publishes its answer must not take
    /// the names that answer reserved: else the real receipt (`applied`, with its counts)
    /// would be taken for already published, and lost.
    @Test func aDryRunNeverTakesTheNameOfAWaitingAnswer() throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop()
        let ts = "20261101T020000Z"
        try drop.deliver(ts, users: [Fixture.user("p1"), Fixture.user("p2")],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        let stopped = try binary.run(["run", "--config", drop.configPath, "--now", "2026-11-01T05:00:00Z", "--quiet"],
                                     environment: ["ROSTERDROP_FAULT": "delivery-committed"])
        #expect(stopped.status == 86)
        let dry = try drop.run(dryRun: true, at: instant("2026-11-01T06:00:00Z"))
        #expect(dry.organisations[0].deliveries.first?.receipt == "receipt_\(ts)-2.csv")
        let next = try drop.run(at: instant("2026-11-01T07:00:00Z"))
        #expect(next.succeeded, "\(next)")
        #expect(try drop.receipt(ts)["users"]?[2] == "applied")
        #expect(try drop.receipt(ts, name: "receipt_\(ts)-2.csv")["users"]?[2] == "duplicate")
    }
}
