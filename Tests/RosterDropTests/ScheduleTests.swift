import Foundation
import Testing
@testable import RosterDrop

/// The shipped schedule: the systemd unit's and the cron line's command lines run the job
/// as written, and an overlapping run exits with the status the unit treats as success.
struct ScheduleTests {
    static let deploy = TestDrop.repository.appendingPathComponent("deploy")

    /// The words of a shipped command line, with the installed paths swapped for the test's.
    static func command(_ line: Substring, binary: Executable, config: String) -> [String] {
        line.split(separator: " " as Character).map(String.init).drop { $0 != "/usr/local/bin/rosterdrop" }.dropFirst()
            .map { $0 == "/etc/rosterdrop/config.yaml" ? config : $0 }
    }

    @Test func theShippedCommandLinesRunTheJob() throws {
        let binary = try Executable("rosterdrop")
        let unit = try String(contentsOf: Self.deploy.appendingPathComponent("systemd/rosterdrop.service"), encoding: .utf8)
        let execStart = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let cron = try String(contentsOf: Self.deploy.appendingPathComponent("cron/rosterdrop"), encoding: .utf8)
        let cronLine = try #require(cron.split(separator: "\n").first { !$0.hasPrefix("#") && $0.contains("rosterdrop run") })
        #expect(unit.contains("SuccessExitStatus=75"))
        for line in [execStart.dropFirst("ExecStart=".count), cronLine] {
            let drop = try TestDrop()
            try drop.deliver("20261101T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
            let arguments = Self.command(line, binary: binary, config: drop.configPath)
            #expect(arguments.first == "run")
            let result = try binary.run(arguments + ["--now", "2026-11-01T05:00:00Z"])
            #expect(result.status == 0, "\(line): \(result.stderr)")
            #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 1)
            #expect(!result.stderr.contains(" info "), "--quiet keeps a scheduled run's log to warnings")
        }
        for timer in ["rosterdrop.timer", "rosterdrop-frequent.timer"] {
            let text = try String(contentsOf: Self.deploy.appendingPathComponent("systemd/\(timer)"), encoding: .utf8)
            #expect(text.contains("Unit=rosterdrop.service") && text.contains("OnCalendar="))
        }
    }

    @Test func anOverlappingRunExitsWithTheBusyStatus() throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop()
        let lock = try drop.holdElsewhere()
        let result = try binary.run(["run", "--config", drop.configPath])
        if drop.isPostgres {
            #expect(result.status == 0)
            #expect(result.stderr.contains("org1: taken by another worker"))
        } else {
            #expect(result.status == 75)
            #expect(result.stderr.contains("another rosterdrop run is in progress"))
        }
        withExtendedLifetime(lock) {}
    }
}
