import Foundation
import Testing
@testable import RosterDrop

/// Progress while files are read: a status line per file on a terminal, log lines otherwise.
struct ProgressTests {
    @Test func onARealTerminalEachFileGetsAStatusLineWithRowsRateAndPercent() throws {
        let drop = try TestDrop()
        let users = (1...300).map { Fixture.user("p\($0)") }
        let orders = (1...300).map { Fixture.order("o\($0)", person: "p\($0)") }
        try drop.deliver("20261101T020000Z", users: users, orders: orders)
        let binary = try Executable("rosterdrop")
        // `script` gives the job a real pseudo-terminal as its stderr.
        let command = "'\(binary.url.path)' run --config '\(drop.configPath)' --now 2026-11-01T05:00:00Z"
        let terminal = try Executable(url: URL(fileURLWithPath: "/usr/bin/script")).run(["-qec", command, "/dev/null"])
        #expect(terminal.status == 0, "\(terminal.stdout)")
        let lines = terminal.stdout.components(separatedBy: "\n")
        let usersLine = try #require(lines.first { $0.contains("org1  users_20261101T020000Z.csv.gz") })
        #expect(usersLine.contains("\r\u{1B}[K"), "redrawn in place")
        #expect(usersLine.range(of: #"300 rows  [0-9 ]+ rows/s  100 %"#, options: .regularExpression) != nil, "\(usersLine)")
        #expect(lines.contains { $0.contains("org1  distribution_orders_20261101T020000Z.csv.gz") && $0.contains("100 %") })

        // Without a terminal (cron, a pipe): no status line, one log line per file.
        try drop.deliver("20261102T020000Z", users: users, orders: orders)
        let piped = try binary.run(["run", "--config", drop.configPath, "--now", "2026-11-02T05:00:00Z"])
        #expect(piped.status == 0)
        #expect(!piped.stderr.contains("rows/s") && !piped.stderr.contains("\u{1B}"))
        #expect(piped.stderr.contains("file=users_20261102T020000Z.csv.gz") && piped.stderr.contains("file read"))
    }

    @Test func theLineIsRedrawnAtMostFiveTimesASecondAndEndsAtTheWholeFile() {
        final class Screen: @unchecked Sendable {
            var text: [String] = []
            var now = ContinuousClock.now
        }
        let screen = Screen()
        let start = screen.now
        let progress = TerminalProgress(write: { screen.text.append($0) }, now: { screen.now })
        let meter = progress.begin(organisation: "org1", file: "users.csv.gz", bytes: 1000)
        screen.now = start + .seconds(1)
        meter.update(rows: 5000, bytesRead: 250)
        screen.now = start + .milliseconds(1100)
        meter.update(rows: 5500, bytesRead: 300)
        screen.now = start + .seconds(2)
        meter.update(rows: 12_000, bytesRead: 600)
        screen.now = start + .seconds(4)
        meter.end(rows: 20_000)
        #expect(screen.text == [
            "\r\u{1B}[Korg1  users.csv.gz  5 000 rows  5 000 rows/s  25 %",
            "\r\u{1B}[Korg1  users.csv.gz  12 000 rows  6 000 rows/s  60 %",
            "\r\u{1B}[Korg1  users.csv.gz  20 000 rows  5 000 rows/s  100 %\n",
        ])
    }
}
