import ArgumentParser
import Foundation
import RosterDropSamples

/// `rosterdrop-samples demo`: the small demo with two organisations and deliberate bad rows.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Write the demo: products.csv, portal-before.sql and three deliveries under drop/.")

    @Option(name: .long, help: "Directory to write into (created if missing).")
    var out: String

    @Option(name: .long, help: "Seed; the same seed gives byte-identical files.")
    var seed: UInt64 = DemoSamples.defaultSeed

    func run() throws {
        let summary = try DemoSamples.write(to: URL(fileURLWithPath: out, isDirectory: true), seed: seed)
        var lines = ["demo (seed \(seed)) written to \(out):"]
        for delivery in summary.deliveries {
            let rows = delivery.files.map { entry in
                "\(entry.file.components(separatedBy: "_\(delivery.timestamp)").first ?? entry.file) \(entry.rows)"
            }
            lines.append("  \(delivery.organisation) \(delivery.timestamp): " + rows.joined(separator: ", "))
        }
        lines.append("  exempel-kommun first delivery: \(summary.licensedUsersFirstDelivery) licensed users, "
            + "\(summary.unlicensedUsersFirstDelivery) without orders")
        lines.append("  portal-before.sql: \(summary.preIntegrationAccounts) pre-integration accounts")
        lines.append("  \(summary.filesWritten.count) files")
        printError(lines.joined(separator: "\n"))
    }
}
