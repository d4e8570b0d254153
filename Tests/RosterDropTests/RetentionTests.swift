import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Contract rule 9: archived inbound files and the job's own reports are purged after their
/// days, and the record that someone was removed after its own; time is moved, not waited.
struct RetentionTests {
    @Test func oldFilesAndRemovalRecordsArePurgedOnSchedule() throws {
        let drop = try TestDrop(settings: TestDrop.noHolds)
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        try drop.deliver("20261110T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(at: instant("2026-11-10T05:00:00Z"))
        // Something that is not the job's stays in the outbox whatever its age.
        try Data("notes".utf8).write(to: drop.folder("org1", "outbox").appendingPathComponent("README.txt"))
        #expect(drop.files("org1", "archive").count == 6)
        #expect(try drop.count("SELECT COUNT(*) FROM removal_log") == 1)

        // 30 days after the first delivery was archived: its files and receipt go; the second's stay.
        let first = try drop.run(at: instant("2026-12-01T05:00:01Z"))
        #expect(first.organisations[0].calendar?.purgedFiles == 5)
        #expect(drop.files("org1", "archive") == ["distribution_orders_20261110T020000Z.csv.gz", "manifest_20261110T020000Z.csv",
                                                  "users_20261110T020000Z.csv.gz"])
        #expect(drop.files("org1", "outbox") == ["README.txt", "receipt_20261110T020000Z.csv", "report_20261110T020000Z.html"])
        _ = try drop.run(at: instant("2026-12-10T05:00:01Z"))
        #expect(drop.files("org1", "archive").isEmpty)
        #expect(drop.files("org1", "outbox") == ["README.txt"])
        // The record that p2 was removed (ids, when, why) lasts 180 days.
        _ = try drop.run(at: instant("2027-05-08T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM removal_log") == 1)
        _ = try drop.run(at: instant("2027-05-09T05:00:01Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM removal_log") == 0)
        // The ledger's leftovers: published answers after the reports, idle runs after 180 days.
        #expect(try drop.count("SELECT COUNT(*) FROM answers") == 0)
        _ = try drop.run(at: instant("2027-06-10T05:00:00Z"))
        #expect(try drop.rows("SELECT started_at FROM runs ORDER BY id").map { $0["started_at"] as String } ==
                ["2026-11-01T05:00:00Z", "2026-11-10T05:00:00Z", "2027-05-08T05:00:00Z", "2027-05-09T05:00:01Z",
                 "2027-06-10T05:00:00Z"])
    }

    @Test func retentionDaysComeFromTheConfig() throws {
        let drop = try TestDrop()
        try drop.prependConfig("retention: {archive_days: 2, report_days: 5}")
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        _ = try drop.run(at: instant("2026-11-03T05:00:01Z"))
        #expect(drop.files("org1", "archive").isEmpty)
        #expect(drop.files("org1", "outbox") == ["receipt_20261101T020000Z.csv", "report_20261101T020000Z.html"])
        _ = try drop.run(at: instant("2026-11-06T05:00:01Z"))
        #expect(drop.files("org1", "outbox").isEmpty)
    }
}
