import Foundation
import Logging

/// How a run treats an organisation's deliveries.
enum RunMode: Sendable {
    /// Applied to the portal.
    case live
    /// Test mode (`mode: test`, or before the integration start): read, planned, answered
    /// `test` and recorded so they are not taken again; the portal is not changed.
    case test
    /// `run --dry-run`: like test mode, but nothing is recorded and nothing is archived.
    case dry
}

/// Everything one organisation's part of a run works with, passed in: its configuration,
/// the store, its drop folder, the clock and the logger.
struct OrganisationContext {
    var organisation: OrganisationConfiguration
    var database: PortalDatabase
    var folder: any DropFolder
    var clock: JobClock
    /// The run's instant: one per run, so that every step agrees on the day.
    var now: Date
    /// The run's ledger id; nil in a dry run, which records nothing.
    var runID: Int64?
    var mode: RunMode
    /// Compare every row, not only those changed since the job last wrote.
    var full: Bool
    var scratch: URL
    var logger: Logger
    /// Where reading progress is shown (a terminal), if anywhere.
    var progress: (any ReadProgress)?

    var id: String { organisation.id }
    var today: CalendarDay { clock.day(of: now) }
    var stamp: String { JobClock.iso(now) }
    var answers: AnswerOffice { AnswerOffice(organisation: organisation.id, folder: folder, logger: logger) }

    /// Publishes every answer still waiting: committed by this run or by one that stopped
    /// before publishing it.
    @discardableResult
    func publishPending() throws -> [Int64: [String]] {
        let clock = self.clock
        return try answers.publishPending(database, scratch: scratch.appendingPathComponent("answers-\(id)")) {
            JobClock.iso(clock.now())
        }
    }

    /// A private folder under the scratch area, deleted by the caller.
    func workFolder(_ label: String) throws -> URL {
        let work = scratch.appendingPathComponent("\(id)-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        return work
    }
}
