import ArgumentParser
import Foundation
import RosterDrop

/// `rosterdrop status`: every organisation's feed at a glance, for people and monitoring.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every organisation's feed: mode, integration, last delivery, holds, runs, next deadline.",
        discussion: """
            Exits 3 when any organisation is flagged (no delivery for silent_after_days, default 3; the last run \
            failed; a delivery held for an operator; the last delivery refused; a last answer after now), so a \
            monitoring check can call it.
            """)

    static let flagged: Int32 = 3

    @Option(name: .long, help: "The job's YAML config file.")
    var config: String

    @Flag(name: .long, help: "Print JSON on stdout.")
    var json = false

    @Option(name: .long, help: ArgumentHelp(
        "Judge ages as at this instant (ISO 8601 UTC), e.g. after `run --now` in a demo or a replay."))
    var now: String?

    func run() throws {
        let clock = try Clock.parse(now)
        let statuses = try ExitStatus.reporting {
            let configuration = try JobConfiguration.load(path: config)
            return try StatusBoard(configuration: configuration, database: PortalDatabase(configuration.database))
                .statuses(now: clock())
        }
        if json {
            try printJSON(statuses)
        } else {
            FileHandle.standardOutput.write(Data(statuses.map(Self.text).joined(separator: "\n").utf8))
        }
        if statuses.contains(where: { !$0.flags.isEmpty }) { throw ExitCode(Self.flagged) }
    }

    static func text(_ status: OrganisationStatus) -> String {
        var text = "\(status.id)  \(status.flags.isEmpty ? "ok" : "FLAGGED")  mode \(status.mode), integration \(status.integration)\n"
        if let delivery = status.lastDelivery {
            let age = delivery.ageHours >= 48 ? String(format: "%.1f days", delivery.ageHours / 24)
                : String(format: "%.1f hours", delivery.ageHours)
            text += "  last delivery  \(delivery.timestamp) \(delivery.outcome), answered \(delivery.answeredAt) (\(age) ago)\n"
        } else {
            text += "  last delivery  none\n"
        }
        if !status.held.isEmpty { text += "  held           \(status.held.joined(separator: ", "))\n" }
        if let atRisk = status.accountsAtRisk { text += "  at risk        \(atRisk) accounts from before the integration\n" }
        if let run = status.lastRun {
            text += "  last run       \(run.at) \(run.ok ? "ok" : "failed") in \(String(format: "%.1f", run.seconds)) s\n"
        }
        text += "  last success   \(status.lastSuccessAt ?? "never")\n"
        if let deadline = status.nextDeadline { text += "  next deadline  \(deadline.day) \(deadline.what)\n" }
        for flag in status.flags { text += "  ! \(flag)\n" }
        return text
    }
}
