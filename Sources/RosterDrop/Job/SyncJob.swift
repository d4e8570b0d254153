import Foundation
import Logging

/// The summary of one run, printed for people on stderr and for machines with `--json`.
public struct RunSummary: Sendable, Codable {
    public var dryRun: Bool
    public var organisations: [OrganisationSummary]

    /// Whether every complete delivery got a receipt and no organisation failed.
    public var succeeded: Bool { organisations.allSatisfy { $0.error == nil } }

    /// Whether the run found nothing to do: no delivery answered, nothing held, failed or
    /// waiting, and no calendar step acted.
    public var isIdle: Bool {
        organisations.allSatisfy { organisation in
            let calendar = organisation.calendar
            return organisation.error == nil && organisation.deliveries.isEmpty && organisation.holds.isEmpty
                && organisation.heldBack.isEmpty && organisation.waiting.isEmpty
                && calendar?.startExport == nil && calendar?.cleanupDeleted == nil && calendar?.atRiskList == nil
                && (calendar?.expiredLicenses ?? 0) == 0 && (calendar?.purgedFiles ?? 0) == 0
        }
    }
}

/// What one run did for one organisation.
public struct OrganisationSummary: Sendable, Codable {
    public var id: String
    /// How its deliveries were taken: `live`, `test` (test mode or before the integration
    /// start) or `dry`.
    public var mode: String = "live"
    public var deliveries: [DeliverySummary]
    /// Deliveries left in the inbox because they are not complete yet.
    public var waiting: [String]
    /// Complete deliveries left in the inbox because an earlier one is held.
    public var heldBack: [String] = []
    /// Held deliveries waiting for an operator (`rosterdrop holds`).
    public var holds: [String] = []
    /// Inbox names that belong to no delivery (and that the mapping does not ignore).
    public var unrecognised: Int
    /// Those names, so that they are reported, not left unseen.
    public var unrecognisedNames: [String] = []
    public var calendar: CalendarSummary?
    /// Why the organisation could not be processed (the others still were).
    public var error: String?
    /// Another worker sharing the database had it: this run left it alone.
    public var takenByAnotherWorker = false

    public init(id: String, deliveries: [DeliverySummary], waiting: [String], unrecognised: Int, error: String?) {
        self.id = id
        self.deliveries = deliveries
        self.waiting = waiting
        self.unrecognised = unrecognised
        self.error = error
    }
}

/// One run of the job over every configured organisation.
///
/// Organisations are independent: a failure in one (an unreachable drop folder, an
/// unexpected error) is recorded in its summary and the run goes on with the next.
public struct SyncJob {
    public var configuration: JobConfiguration
    public var dryRun: Bool
    /// Compare every row with the portal, not only those changed since what the job last
    /// wrote: puts back Skolon's values where someone edited them in the portal.
    public var full: Bool
    public var clock: JobClock
    public var logger: Logger
    /// Where each file's reading progress is shown (`TerminalProgress` on a terminal).
    public var progress: (any ReadProgress)?

    public init(configuration: JobConfiguration, dryRun: Bool = false, full: Bool = false,
                now: @escaping @Sendable () -> Date = Date.init, logger: Logger = Logger(label: "rosterdrop")) {
        self.configuration = configuration
        self.dryRun = dryRun
        self.full = full
        self.clock = JobClock(now: now, timeZone: configuration.timeZone)
        self.logger = logger
    }

    public func run() throws -> RunSummary {
        let lock = try RunLock(database: configuration.database)
        defer { withExtendedLifetime(lock) {} }
        let database = try PortalDatabase(configuration.database)
        defer { database.close() }
        let scratch = try Self.workerScratch(URL(fileURLWithPath: configuration.scratch, isDirectory: true),
                                             shared: configuration.database.sqlitePath == nil)
        try? FileManager.default.removeItem(at: scratch)
        let started = clock.now()
        var runID: Int64?
        if !dryRun {
            runID = try database.write { db in
                try db.insertReturningID(sql: "INSERT INTO runs (started_at, dry_run) VALUES (?, 0) RETURNING id",
                                         arguments: [JobClock.iso(started)])
            }
        }
        var summaries: [OrganisationSummary] = []
        for organisation in configuration.organisations {
            // Another worker has it now: it is theirs this time, and nobody waits.
            guard let claim = try database.claim(organisation: organisation.id) else {
                var busy = OrganisationSummary(id: organisation.id, deliveries: [], waiting: [], unrecognised: 0, error: nil)
                busy.takenByAnotherWorker = true
                summaries.append(busy)
                continue
            }
            defer { claim.release() }
            let context = OrganisationContext(organisation: organisation, database: database, folder: organisation.drop.open(),
                                              clock: clock, now: started, runID: runID, mode: dryRun ? .dry : .live,
                                              full: full, scratch: scratch, logger: logger, progress: progress)
            summaries.append(OrganisationRun(context: context, retention: configuration.retention).run())
        }
        let summary = RunSummary(dryRun: dryRun, organisations: summaries)
        if let runID {
            let forgotten = JobClock.iso(started.addingTimeInterval(-Double(configuration.retention.removalLogDays) * 86_400))
            try database.write { db in
                try db.execute(sql: "UPDATE runs SET finished_at = ?, outcome = ? WHERE id = ?",
                               arguments: [JobClock.iso(clock.now()), summary.succeeded ? "ok" : "failed", runID])
                // A run every five minutes is 100,000 rows a year: those that did nothing go.
                try db.execute(sql: """
                    DELETE FROM runs WHERE started_at < ? AND outcome = 'ok'
                      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = runs.id)
                      AND NOT EXISTS (SELECT 1 FROM calendar_events e WHERE e.run_id = runs.id)
                    """, arguments: [forgotten])
            }
        }
        if let metrics = configuration.metricsFile, !dryRun {
            do {
                try MetricsFile.write(database, organisations: configuration.organisations.map(\.id), to: metrics)
            } catch {
                // The deliveries are answered; a missing file shows as stale in node_exporter.
                logger.error("metrics not written", metadata: ["file": "\(metrics)", "error": "\(error)"])
            }
        }
        try? database.checkpoint()
        try? FileManager.default.removeItem(at: scratch)
        return summary
    }

    /// The scratch folder of this process. Workers sharing a PostgreSQL database may share a
    /// config, a host, even a scratch folder on shared storage: each has its own folder
    /// (`worker-<host>-<pid>`), clears those of this host's workers that ended, and keeps
    /// delivery files (personal data) from other users of the machine.
    static func workerScratch(_ scratch: URL, shared: Bool) throws -> URL {
        guard shared else { return scratch }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var status = stat()
        guard stat(scratch.path, &status) == 0, status.st_uid == getuid(), status.st_mode & 0o077 == 0 else {
            throw ScratchError(path: scratch.path)
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let prefix = "worker-\(host)-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: scratch.path)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(at: scratch.appendingPathComponent(name))
            }
        }
        return scratch.appendingPathComponent(prefix + "\(getpid())", isDirectory: true)
    }
}

/// A shared scratch folder that others could read or that another user made.
struct ScratchError: Error, CustomStringConvertible {
    var path: String
    var description: String {
        "scratch folder \(path) must belong to this user and be private (chmod 700): it holds delivery files (check `scratch` in the config)"
    }
}
