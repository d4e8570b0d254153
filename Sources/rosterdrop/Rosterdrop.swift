import ArgumentParser
import Foundation
import Logging
import RosterDrop

@main
struct Rosterdrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosterdrop",
        abstract: "Keeps the portal's users, groups and licenses in step with Skolon drop folders.",
        subcommands: [Run.self, Status.self, History.self, Integrate.self, Holds.self, Approve.self, Discard.self, Reprocess.self, Products.self,
                      MappingCommand.self, Validate.self, Fetch.self]
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
        } catch let error as IntegrationError {
            FileHandle.standardError.write(Data("rosterdrop: \(error)\n".utf8))
            throw ExitCode(configuration)
        } catch let error as StoreConnectionError {
            FileHandle.standardError.write(Data("rosterdrop: \(error)\n".utf8))
            throw ExitCode(error.isConfiguration ? configuration : failed)
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

    @Flag(name: .long, help: "Only warnings and errors on stderr, and the summary only when the run did something.")
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
            var job = try SyncJob(configuration: JobConfiguration.load(path: config), dryRun: dryRun, full: full, now: clock)
            // On a terminal, a status line per file while it is read; in cron or a pipe, the log only.
            if !quiet, TerminalProgress.isTerminal { job.progress = TerminalProgress() }
            return try job.run()
        }
        // A scheduled run (--quiet) with nothing to report prints nothing: cron mails output.
        if !quiet || !summary.isIdle { FileHandle.standardError.write(Data(SummaryText.render(summary).utf8)) }
        if json {
            try printJSON(summary)
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
                    try ProductCatalogue.importCSV(at: file, into: PortalDatabase(configuration.database))
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
            let entry = try findOrganisation(organisation, in: configuration)
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

/// Prints `value` on stdout as sorted, indented JSON (`--json`).
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
}

/// Loads the config and finds one organisation in it.
func findOrganisation(_ id: String, in configuration: JobConfiguration) throws -> OrganisationConfiguration {
    guard let entry = configuration.organisations.first(where: { $0.id == id }) else {
        throw ConfigurationError(file: configuration.file, line: nil, key: "organisations",
                                 message: "no organisation '\(id)' (known: \(configuration.organisations.map(\.id).joined(separator: ", ")))")
    }
    return entry
}

/// `rosterdrop integrate`: records today as an organisation's integration start.
struct Integrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an organisation's integration today: the next run exports its licenses, deletes its old groups and starts the clean-up deadline.",
        discussion: "Or set integration_start: YYYY-MM-DD on the organisation in the config. A start happens once.")

    @Option(name: .long, help: "The job's YAML config file.")
    var config: String

    @Argument(help: "The organisation's id in the config.")
    var organisationID: String

    @Option(name: .long, help: ArgumentHelp("Take this instant as now (ISO 8601 UTC).", visibility: .hidden))
    var now: String?

    func run() throws {
        let clock = try Clock.parse(now)
        try ExitStatus.reporting {
            let configuration = try JobConfiguration.load(path: config)
            let entry = try findOrganisation(organisationID, in: configuration)
            let database = try PortalDatabase(configuration.database)
            let day = try IntegrationStart.record(database, organisation: entry,
                                                  clock: JobClock(now: clock, timeZone: configuration.timeZone))
            FileHandle.standardError.write(Data("""
                rosterdrop: the integration of \(entry.id) starts \(day): the next run exports its licenses to outbox/, \
                deletes its old groups, and deletes old accounts without a Skolon license after \(entry.integration.cleanupDays) days

                """.utf8))
        }
    }
}

/// `rosterdrop holds`: the held deliveries and what they would do.
struct Holds: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List deliveries held because they would remove too much.")

    @Option(name: .long, help: "The job's YAML config file.")
    var config: String

    @Argument(help: "Only this organisation.")
    var organisationID: String?

    @Flag(name: .long, help: "Print JSON on stdout.")
    var json = false

    func run() throws {
        let holds = try ExitStatus.reporting {
            let configuration = try JobConfiguration.load(path: config)
            if let organisationID { _ = try findOrganisation(organisationID, in: configuration) }
            return try HoldDesk(database: PortalDatabase(configuration.database)).list(organisation: organisationID)
        }
        if json {
            try printJSON(holds)
            return
        }
        var text = holds.isEmpty ? "no held deliveries\n" : ""
        for hold in holds {
            text += "\(hold.organisation)  \(hold.timestamp)  \(hold.state.rawValue) (held \(hold.heldAt)"
            text += hold.decidedAt.map { ", decided \($0)" } ?? ""
            text += ")\n"
            for figure in hold.figures {
                let mark = figure.removing > 0 && figure.percent > figure.limitPercent ? "  <- over the limit" : ""
                text += String(format: "    %-12@ would remove %d of %d (%.1f %%, limit %.0f %%)%@\n", figure.entity, figure.removing,
                               figure.current, figure.percent, figure.limitPercent, mark)
            }
            for (entity, counts) in hold.counts.sorted(by: { $0.key < $1.key }) {
                text += "    \(entity): received \(counts.received), created \(counts.created), updated \(counts.updated), removed \(counts.removed)\n"
            }
            if hold.state == .held {
                text += "    approve: rosterdrop approve --config \(config) \(hold.organisation) \(hold.timestamp)\n"
                text += "    discard: rosterdrop discard --config \(config) \(hold.organisation) \(hold.timestamp)\n"
            }
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// The shared body of `approve` and `discard`.
struct HoldDecision: ParsableArguments {
    @Option(name: .long, help: "The job's YAML config file.")
    var config: String

    @Argument(help: "The organisation's id in the config.")
    var organisationID: String

    @Argument(help: "The delivery's timestamp (YYYYMMDDTHHMMSSZ).")
    var timestamp: String

    @Option(name: .long, help: ArgumentHelp("Take this instant as now (ISO 8601 UTC).", visibility: .hidden))
    var now: String?

    func decide(approve: Bool) throws {
        let clock = try Clock.parse(now)
        try ExitStatus.reporting {
            let configuration = try JobConfiguration.load(path: config)
            _ = try findOrganisation(organisationID, in: configuration)
            let hold = try HoldDesk(database: PortalDatabase(configuration.database))
                .decide(organisation: organisationID, timestamp: timestamp, approve: approve, at: clock())
            let next = approve
                ? "the next run applies it (and holds it again if it would now remove more than shown)"
                : "the next run answers it as discarded and archives its files"
            FileHandle.standardError.write(Data("rosterdrop: \(hold.organisation) \(hold.timestamp) \(hold.state.rawValue); \(next)\n".utf8))
        }
    }
}

struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Approve a held delivery: the next run applies it.")
    @OptionGroup var decision: HoldDecision
    func run() throws { try decision.decide(approve: true) }
}

struct Discard: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Discard a held delivery: the next run answers it and archives its files.")
    @OptionGroup var decision: HoldDecision
    func run() throws { try decision.decide(approve: false) }
}

/// `rosterdrop reprocess`: take a delivery again, as new (after a mapping fix).
struct Reprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Have the next run take a delivery again, as new, once its files are in the inbox (again).",
        discussion: "For a delivery answered before a mapping was fixed. Recorded in the ledger; an older delivery than the last applied stays stale.")

    @OptionGroup var delivery: HoldDecision

    func run() throws {
        let clock = try Clock.parse(delivery.now)
        try ExitStatus.reporting {
            let configuration = try JobConfiguration.load(path: delivery.config)
            _ = try findOrganisation(delivery.organisationID, in: configuration)
            try ReprocessDesk(database: PortalDatabase(configuration.database))
                .request(organisation: delivery.organisationID, timestamp: delivery.timestamp, at: clock())
            FileHandle.standardError.write(Data("""
                rosterdrop: \(delivery.organisationID) \(delivery.timestamp) will be taken again by the next run that finds \
                its files in inbox/ (put them back from archive/ if they are there)

                """.utf8))
        }
    }
}

/// `rosterdrop mapping check DIR`: every error in a mapping folder at once.
struct MappingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mapping", abstract: "Work with mapping folders.",
                                                    subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a mapping folder and report every error in it, each with its file, line and key.")

        @Argument(help: "The mapping folder (delivery.yaml and one file per kind).")
        var folder: String

        func run() throws {
            let url = URL(fileURLWithPath: folder, isDirectory: true)
            let errors = RosterDrop.Mapping.check(folder: url)
            if errors.isEmpty {
                let mapping = try ExitStatus.reporting { try RosterDrop.Mapping.load(folder: url) }
                print("\(folder): a valid mapping (\(mapping.kinds.map(\.rawValue).joined(separator: ", ")) from \(mapping.sources.map(\.pattern).joined(separator: ", ")))")
                return
            }
            for error in errors { print(error) }
            FileHandle.standardError.write(Data("rosterdrop: \(errors.count) error(s) in \(folder)\n".utf8))
            throw ExitCode(ExitStatus.configuration)
        }
    }
}

/// `rosterdrop validate`: check files a school mailed in, with no database or drop folder.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check files a school mailed in against a mapping, as a run would, and write the same reject report.",
        discussion: "FILE is a path, or NAME=path when its name does not say which of the mapping's files it is (NAME: the mapping's name for the file; in a version-1 mapping, its kind: users, groups, memberships, distribution_orders).")

    @Option(name: .long, help: "The mapping folder.")
    var mappings: String

    @Option(name: .long, help: "Comma-separated skolenhetskoder rows may name (default: not checked).")
    var schoolUnits: String?

    @Option(name: .long, help: "A product_id,title catalogue (default: products not checked).")
    var products: String?

    @Option(name: .long, help: "Where to write the reject report (default: beside the first file).")
    var out: String?

    @Flag(name: .long, help: "Print the summary as JSON on stdout.")
    var json = false

    @Argument(help: "The files.")
    var files: [String]

    func run() throws {
        let inputs = files.map { argument -> (String?, URL) in
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return (nil, URL(fileURLWithPath: argument)) }
            return (parts[0], URL(fileURLWithPath: parts[1]))
        }
        let validation = OfflineValidation(
            mappings: URL(fileURLWithPath: mappings, isDirectory: true), files: inputs.map { (name: $0.0, url: $0.1) },
            schoolUnits: schoolUnits?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? [],
            products: products, out: out.map { URL(fileURLWithPath: $0, isDirectory: true) })
        let result = try ExitStatus.reporting { try validation.run() }
        if json {
            try printJSON(result)
            return
        }
        var text = ""
        for kind in EntityKind.allCases {
            guard let counts = result.rows[kind.rawValue] else { continue }
            text += "\(kind.rawValue): \(counts.received) rows, \(counts.accepted) accepted, \(counts.rejected) rejected\n"
        }
        if result.outcome == .refused { text += "the files would be refused whole (see the report)\n" }
        if result.findings.isEmpty { text += "no findings\n" }
        for (rule, count) in result.findings.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) {
            let message = Rule(rawValue: rule)?.english("", source: result.source) ?? ""
            text += "  \(count)× \(rule): \((result.examples[rule] ?? []).joined(separator: ", "))\(count > 3 ? ", …" : "")\n"
            text += "      \(message.prefix(110))\n"
        }
        if let report = result.report { text += "reject report: \(report)\n" }
        print(text, terminator: "")
    }
}
