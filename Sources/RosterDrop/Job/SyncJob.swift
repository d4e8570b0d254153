import Foundation
import GRDB
import Logging

/// The summary of one run, printed for people on stderr and for machines with `--json`.
public struct RunSummary: Sendable, Codable {
    public var dryRun: Bool
    public var organisations: [OrganisationSummary]

    /// Whether every complete delivery got a receipt and no organisation failed.
    public var succeeded: Bool { organisations.allSatisfy { $0.error == nil } }
}

/// What one run did for one organisation.
public struct OrganisationSummary: Sendable, Codable {
    public var id: String
    public var deliveries: [DeliverySummary]
    /// Deliveries left in the inbox because they are not complete yet.
    public var waiting: [String]
    /// Inbox names that belong to no delivery.
    public var unrecognised: Int
    /// Why the organisation could not be processed (the others still were).
    public var error: String?
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
    public var now: @Sendable () -> Date
    public var logger: Logger

    public init(configuration: JobConfiguration, dryRun: Bool = false, full: Bool = false,
                now: @escaping @Sendable () -> Date = Date.init, logger: Logger = Logger(label: "rosterdrop")) {
        self.configuration = configuration
        self.dryRun = dryRun
        self.full = full
        self.now = now
        self.logger = logger
    }

    public func run() throws -> RunSummary {
        let lock = try RunLock(database: configuration.database)
        defer { withExtendedLifetime(lock) {} }
        let database = try PortalDatabase(path: configuration.database)
        let scratch = URL(fileURLWithPath: configuration.scratch, isDirectory: true)
        try? FileManager.default.removeItem(at: scratch)
        let started = now()
        var runID: Int64?
        if !dryRun {
            runID = try database.writer.write { db in
                try db.execute(sql: "INSERT INTO runs (started_at, dry_run) VALUES (?, 0)", arguments: [DeliveryProcessor.iso(started)])
                return db.lastInsertedRowID
            }
        }
        var summaries: [OrganisationSummary] = []
        for organisation in configuration.organisations {
            summaries.append(process(organisation, database: database, runID: runID, scratch: scratch))
        }
        let summary = RunSummary(dryRun: dryRun, organisations: summaries)
        if let runID {
            try database.writer.write { db in
                try db.execute(sql: "UPDATE runs SET finished_at = ?, outcome = ? WHERE id = ?",
                               arguments: [DeliveryProcessor.iso(now()), summary.succeeded ? "ok" : "failed", runID])
            }
        }
        try? FileManager.default.removeItem(at: scratch)
        return summary
    }

    private func process(_ organisation: OrganisationConfiguration, database: PortalDatabase, runID: Int64?,
                         scratch: URL) -> OrganisationSummary {
        var summary = OrganisationSummary(id: organisation.id, deliveries: [], waiting: [], unrecognised: 0, error: nil)
        let folder = organisation.drop.open()
        do {
            let files = try folder.list(.inbox)
            let stableSince = organisation.mapping.delivery.manifest == nil
                ? try database.observe(files, organisation: organisation.id, now: now(), record: !dryRun) : nil
            let scan = organisation.mapping.scan(files, now: now(), stableSince: stableSince)
            summary.waiting = scan.waiting.map(\.timestamp)
            summary.unrecognised = scan.unrecognised.count
            logger.info("inbox scanned", metadata: ["organisation": "\(organisation.id)", "ready": "\(scan.ready.count)",
                                                    "waiting": "\(scan.waiting.count)", "unrecognised": "\(scan.unrecognised.count)"])
            let processor = DeliveryProcessor(database: database, organisation: organisation, folder: folder, runID: runID,
                                              dryRun: dryRun, full: full, now: now(), scratch: scratch, logger: logger)
            for delivery in scan.ready {
                summary.deliveries.append(try processor.process(delivery))
            }
        } catch {
            // Only this organisation stops; the error text names ids and paths, never row values.
            summary.error = String(describing: error)
            logger.error("organisation failed", metadata: ["organisation": "\(organisation.id)", "error": "\(error)"])
        }
        return summary
    }
}
