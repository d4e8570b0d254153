import ArgumentParser
import Foundation
import RosterDropSamples

/// `rosterdrop-samples`: writes seeded, reproducible sample deliveries for demos and load tests.
struct SamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosterdrop-samples",
        abstract: "Write seeded, byte-reproducible Skolon sample deliveries.",
        subcommands: [DemoCommand.self, NationalCommand.self])
}

/// Writes a line to standard error, where progress and summaries go (stdout stays free).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
