import ArgumentParser
import Foundation
import RosterDropSamples

/// `rosterdrop-samples national`: one national-scale snapshot for load tests.
struct NationalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "national",
        abstract: "Write a national-scale snapshot (organisation 'riket') and config-units.txt.")

    @Option(name: .long, help: "Directory to write into (created if missing).")
    var out: String

    @Option(name: .long, help: "1 for the first snapshot, 2 for the next day's (≈1 % of users changed).")
    var snapshot: Int

    @Option(name: .long, help: "Users in snapshot 1.")
    var users: Int = 1_750_000

    @Option(name: .long, help: "School units.")
    var schools: Int = 400

    @Option(name: .long, help: "Seed; the same seed gives byte-identical files.")
    var seed: UInt64 = 7

    func validate() throws {
        guard snapshot == 1 || snapshot == 2 else { throw ValidationError("--snapshot must be 1 or 2") }
        guard users > 0 else { throw ValidationError("--users must be positive") }
        guard (1...60_000).contains(schools) else { throw ValidationError("--schools must be 1 to 60000") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let generator = NationalSnapshot(users: users, schools: schools, seed: seed, snapshot: snapshot)
        let summary = try generator.write(to: URL(fileURLWithPath: out, isDirectory: true))
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var lines = ["national snapshot \(snapshot) (seed \(seed)) → \(summary.inbox.path)"]
        for entry in summary.files { lines.append("  \(entry.file): \(entry.rows) rows") }
        if snapshot == 2 {
            let changes = summary.changes
            lines.append("  vs snapshot 1: \(changes.removed) users removed, \(changes.appended) added, "
                + "\(changes.renamed) renamed, \(changes.newEmail) new e-mail, \(changes.renamedGroups) groups renamed")
        }
        lines.append(String(format: "  %d rows in %.1f s", summary.totalRows, seconds))
        printError(lines.joined(separator: "\n"))
    }
}
