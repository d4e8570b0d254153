import ArgumentParser
import Foundation
import Logging
import RosterDrop

@main
struct Rosterdrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosterdrop",
        abstract: "Keeps the portal's users, groups and licenses in step with Skolon drop folders.",
        subcommands: [Run.self, Products.self]
    )
}

/// Exit codes: 0 every delivery answered; 1 something could not be processed;
/// 2 the configuration is wrong; 64 bad usage (swift-argument-parser's own);
/// 75 another run holds the database.
enum ExitStatus {
    static let failed: Int32 = 1
    static let configuration: Int32 = 2
    static let busy: Int32 = 75

    /// Runs `body`, turning a failure into a one-line message on stderr and its exit code.
    static func reporting<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("rosterdrop: configuration error: \(error)\n".utf8))
            throw ExitCode(configuration)
        } catch let error as RunLockError {
            FileHandle.standardError.write(Data("rosterdrop: \(error)\n".utf8))
            throw ExitCode(busy)
        } catch {
            FileHandle.standardError.write(Data("rosterdrop: \(error)\n".utf8))
            throw ExitCode(failed)
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Process every configured organisation's inbox once.")

    @Option(name: .long, help: "The job's YAML config file.")
    var config: String

    @Flag(name: .long, help: "Validate, plan and write the same reports, but change nothing in the database and archive nothing.")
    var dryRun = false

    @Flag(name: .long, help: ArgumentHelp(
        "Compare every row with the portal, not only rows changed since the last delivery.",
        discussion: "Slower; puts back Skolon's values where they were edited in the portal."))
    var full = false

    @Flag(name: .long, help: "Print a machine-readable summary on stdout.")
    var json = false

    @Flag(name: .long, help: "Only warnings and errors on stderr.")
    var quiet = false

    func run() throws {
        let logLevel: Logger.Level = quiet ? .warning : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let summary = try ExitStatus.reporting {
            try SyncJob(configuration: JobConfiguration.load(path: config), dryRun: dryRun, full: full).run()
        }
        FileHandle.standardError.write(Data(SummaryText.render(summary).utf8))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(summary)
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
        if !summary.succeeded { throw ExitCode(ExitStatus.failed) }
    }
}

struct Products: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the portal's product catalogue.",
        subcommands: [Import.self]
    )

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load products from a CSV file with columns product_id,title.")

        @Option(name: .long, help: "The job's YAML config file (names the database).")
        var config: String

        @Argument(help: "The CSV file.")
        var file: String

        func run() throws {
            try ExitStatus.reporting {
                let configuration = try JobConfiguration.load(path: config)
                let lock = try RunLock(database: configuration.database)
                let count = try withExtendedLifetime(lock) {
                    try ProductCatalogue.importCSV(at: file, into: PortalDatabase(path: configuration.database))
                }
                FileHandle.standardError.write(Data("rosterdrop: \(count) products imported into \(configuration.database)\n".utf8))
            }
        }
    }
}
