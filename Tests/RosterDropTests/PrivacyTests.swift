import Foundation
import GRDB
import Testing
@testable import RosterDrop
@testable import RosterDropSamples

/// Contract rule 9 over the whole sample story — integration start, daily deliveries with bad
/// rows, a test-mode organisation, expiry and the 30-day clean-up — run by the built binary:
/// no log line and no error message names a person, and the people removed are gone from the
/// database file itself.
struct PrivacyTests {
    @Test func noSampleNameOrEmailReachesALogLineAndRemovedPeopleLeaveNoTrace() throws {
        let binary = try Executable("rosterdrop")
        // An organisation whose drop folder is missing: its error message is searched too.
        let run = try DemoRun(extraConfig: "  - id: saknas\n    school_units: [\"99999998\"]\n    drop: drop/saknas\n"
                                  + "    mappings: \(TestDrop.skolonMapping)\n")
        defer { withExtendedLifetime(run) {} }
        let demo = run.demo
        let configPath = run.configPath
        let database = run.database

        // Every name and e-mail the samples hold: the deliveries' people and the old accounts.
        var secrets = Set<String>()
        for delivery in demo.deliveries {
            guard let users = delivery.file("users_") else { continue }
            for row in try CSVReader.records(atPath: users.path).dropFirst() where row.count >= 5 { secrets.formUnion(row[2...4].filter { $0.count >= 3 }) }
        }
        let oldAccounts = try DatabaseQueue(path: database).read { db in
            try GRDB.Row.fetchAll(db, sql: "SELECT id, email, given_name, family_name FROM accounts")
        }
        for account in oldAccounts {
            secrets.formUnion([account["email"], account["given_name"], account["family_name"]].compactMap { $0 as String? })
        }
        #expect(secrets.count > 200)

        var logs = ""
        for now in ["2026-11-24T06:00:00Z", "2026-12-17T06:00:00Z", "2026-12-24T06:00:00Z"] {
            if now.hasPrefix("2026-12-17") { try run.deliverLater() }
            let result = try binary.run(["run", "--config", configPath, "--now", now, "--json"])
            #expect(result.status == 1, "the missing folder fails its organisation only")
            #expect(result.stderr.contains("organisation failed"))
            logs += result.stderr + result.stdout
        }
        // What support reads besides the reports: a person's history and every feed's status.
        let history = try binary.run(["history", "--config", configPath, "exempel-kommun", "--person", try run.storyPerson])
        #expect(history.status == 0 && history.stdout.contains("removed"))
        let status = try binary.run(["status", "--config", configPath, "--now", "2026-12-24T07:00:00Z"])
        #expect(status.status == 3 && status.stdout.contains("saknas  FLAGGED"))
        logs += history.stdout + history.stderr + status.stdout + status.stderr
        #expect(logs.contains("integration started") && logs.contains("integration clean-up"))
        // Names as whole words ("Liv" is in "delivery"), e-mails anywhere.
        let words = Set(logs.lowercased().split { !($0.isLetter || $0.isNumber || "@.-_".contains($0)) }.map(String.init))
        let leaked = secrets.filter { secret in
            secret.contains("@") ? logs.lowercased().contains(secret.lowercased())
                : secret.lowercased().split(separator: " ").allSatisfy { words.contains(String($0)) }
        }
        #expect(leaked.isEmpty, "personal data in logs or errors: \(leaked.count) value(s)")

        // The clean-up deleted the old accounts nobody licensed: their names and e-mails are
        // not in the database file, not even in free pages or the write-ahead log.
        let removed = oldAccounts.filter { account in
            (try? DatabaseQueue(path: database).read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM accounts WHERE id = ?", arguments: [account["id"] as Int64])
            }) == 0
        }
        #expect(removed.count == 3, "two at the clean-up deadline, the story's person by the later delivery")
        var file = try Data(contentsOf: URL(fileURLWithPath: database))
        if let wal = try? Data(contentsOf: URL(fileURLWithPath: database + "-wal")) { file.append(wal) }
        for account in removed {
            // The e-mail is theirs alone (other people share family names).
            for value in [account["email"]].compactMap({ $0 as String? }) {
                #expect(file.range(of: Data(value.utf8)) == nil, "a removed person's data is still in the database file")
            }
        }
        let log = try DatabaseQueue(path: database).read { db in
            try GRDB.Row.fetchAll(db, sql: "SELECT * FROM removal_log WHERE reason = 'integration_deadline'")
        }
        #expect(log.count == 2 && log.allSatisfy { $0["person_id"] as String? == nil })
    }
}
