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
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("privacy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let demo = try DemoSamples.write(to: root)
        let config = try String(contentsOf: TestDrop.repository.appendingPathComponent("samples/config.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "../mappings/", with: TestDrop.repository.path + "/mappings/")
            // An organisation whose drop folder is missing: its error message is searched too.
            + "  - id: saknas\n    school_units: [\"99999998\"]\n    drop: drop/saknas\n    mappings: \(TestDrop.skolonMapping)\n"
        try config.write(to: root.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let configPath = root.appendingPathComponent("config.yaml").path
        let database = root.appendingPathComponent("portal.sqlite").path
        _ = try ProductCatalogue.importCSV(at: demo.productsFile.path, into: PortalDatabase(path: database))
        let before = try String(contentsOf: demo.portalBeforeFile, encoding: .utf8)
        try DatabaseQueue(path: database).write { try $0.execute(sql: before) }

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
            let run = try binary.run(["run", "--config", configPath, "--now", now, "--json"])
            #expect(run.status == 1, "the missing folder fails its organisation only")
            #expect(run.stderr.contains("organisation failed"))
            logs += run.stderr + run.stdout
        }
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
        #expect(removed.count == 2)
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
