import ArgumentParser
import Foundation
import Logging
import RosterDrop

@main
struct Rosterdrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosterdrop",
        abstract: "Keeps the portal's users, groups and licenses in step with Skolon drop folders.",
        subcommands: [Run.self, Products.self, Fetch.self]
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

    @Option(name: .long, help: ArgumentHelp(
        "Run as if it were this instant (ISO 8601 UTC, e.g. 2026-12-01T02:00:00Z).",
        discussion: "For demos, tests and replays: deadlines, expiry and purges follow this clock."))
    var now: String?

    func run() throws {
        let logLevel: Logger.Level = quiet ? .warning : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let clock = try Clock.parse(now)
        let summary = try ExitStatus.reporting {
            try SyncJob(configuration: JobConfiguration.load(path: config), dryRun: dryRun, full: full, now: clock).run()
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

/// Downloads an organisation's inbox as the job would (over SFTP: host key checked, sizes
/// compared), without processing or moving anything: for support, and for the benchmark.
struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download the files waiting in an organisation's inbox into a local folder; changes nothing.")

    @Option(name: .long, help: "The job's YAML config file.")
    var config: String

    @Option(name: .long, help: "The organisation's id in the config.")
    var organisation: String

    @Option(name: .long, help: "The local folder to download into (created if missing).")
    var out: String

    func run() throws {
        try ExitStatus.reporting {
            let configuration = try JobConfiguration.load(path: config)
            guard let entry = configuration.organisations.first(where: { $0.id == organisation }) else {
                throw ConfigurationError(file: config, line: nil, key: "organisations",
                                         message: "no organisation '\(organisation)'")
            }
            let folder = URL(fileURLWithPath: out, isDirectory: true)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let drop = entry.drop.open()
            let started = Date()
            var bytes: Int64 = 0
            let files = try drop.list(.inbox)
            for file in files {
                let local = try drop.fetch(file.name, scratch: folder)
                if local.deletingLastPathComponent().standardizedFileURL != folder.standardizedFileURL {
                    // A local drop folder hands out its own path: copy it over.
                    let target = folder.appendingPathComponent(file.name)
                    try? FileManager.default.removeItem(at: target)
                    try FileManager.default.copyItem(at: local, to: target)
                }
                bytes += file.size
            }
            let seconds = Date().timeIntervalSince(started)
            print(String(format: "%d files, %lld bytes in %.2f s (%.1f MB/s) from %@", files.count, bytes, seconds,
                         Double(bytes) / 1e6 / max(seconds, 0.001), drop.location))
        }
    }
}

/// The `--now` option: a fixed instant, or the system clock.
enum Clock {
    static func parse(_ text: String?) throws -> @Sendable () -> Date {
        guard let text else { return Date.init }
        guard let instant = JobClock.parseISO(text) else {
            throw ValidationError("--now must look like 2026-12-01T02:00:00Z, not '\(text)'")
        }
        return { instant }
    }
}
