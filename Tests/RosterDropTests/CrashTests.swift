import Foundation
import GRDB
import Testing
@testable import RosterDrop
@testable import RosterDropSamples

/// The contract's safety promise, tried for real: the built binary is killed (SIGKILL) at
/// several points of a run; the portal must then hold the state before or after the delivery,
/// never a mix, and the next run must finish the job exactly once.
struct CrashTests {
    @Test(arguments: [0.3, 1.0, 1.7, 2.1])
    func aKilledRunLeavesBeforeOrAfterAndTheNextRunFinishes(_ delay: Double) throws {
        let binary = try Executable("rosterdrop")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try NationalSnapshot(users: 20_000, schools: 5, seed: 11, snapshot: 1).write(to: root)
        let units = try String(contentsOf: root.appendingPathComponent("config-units.txt"), encoding: .utf8)
            .split(separator: "\n").map { "\"\($0)\"" }.joined(separator: ", ")
        let config = root.appendingPathComponent("config.yaml").path
        try """
            database: portal.sqlite
            organisations:
              - id: riket
                school_units: [\(units)]
                drop: drop/riket
                mappings: \(TestDrop.skolonMapping)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let database = root.appendingPathComponent("portal.sqlite").path
        _ = try ProductCatalogue.importCSV(at: root.appendingPathComponent("products.csv").path,
                                           into: PortalDatabase(path: database))

        let process = Process()
        process.executableURL = binary.url
        let now = ["--now", "2026-12-01T06:00:00Z"]
        process.arguments = ["run", "--config", config, "--quiet"] + now
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        func counts() throws -> [Int] {
            try DatabaseQueue(path: database).read { db in
                try ["accounts", "groups", "memberships", "licenses"].map {
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \($0)") ?? 0
                }
            }
        }
        let afterKill = try counts()
        let finished = try binary.run(["run", "--config", config] + now)
        #expect(finished.status == 0, "\(finished.stderr)")
        let final = try counts()
        #expect(final.allSatisfy { $0 > 0 })
        #expect(afterKill == [0, 0, 0, 0] || afterKill == final, "killed after \(delay) s: \(afterKill) vs \(final)")
        let applied = try DatabaseQueue(path: database).read {
            try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM deliveries WHERE outcome = 'applied'") ?? 0
        }
        #expect(applied == 1, "applied exactly once")
        let outbox = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("drop/riket/outbox").path)
        #expect(outbox.contains("receipt_20261201T010000Z.csv"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("drop/riket/inbox").path).isEmpty)
    }
}
