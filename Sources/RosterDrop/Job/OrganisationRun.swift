import Foundation
import Logging

/// What one run did about an organisation's calendar.
public struct CalendarSummary: Sendable, Codable, Equatable {
    /// `none`, `planned`, `started`.
    public var integration: String
    /// The start day, when there is one.
    public var startDay: String?
    /// The day the start was performed (the clean-up deadline counts from it).
    public var startedOn: String?
    /// Set on the run that performed the start: the export's name in the outbox.
    public var startExport: String?
    public var startLicensesExported: Int?
    public var startGroupsDeleted: Int?
    /// The clean-up deadline, once started and until it is done.
    public var cleanupDeadline: String?
    /// Accounts at risk of the clean-up, in its warning period.
    public var accountsAtRisk: Int?
    public var atRiskList: String?
    /// Old accounts the clean-up deleted on this run.
    public var cleanupDeleted: Int?
    /// The deadline has passed, but a held delivery (which may license old accounts) waits
    /// for an operator: the clean-up waits with it.
    public var cleanupWaitsForHold: Bool?
    public var expiredLicenses: Int = 0
    public var expiredAccounts: Int = 0
    public var purgedFiles: Int = 0
}

/// One organisation's part of a run: answers a stopped run left, the calendar's work
/// before deliveries (integration start, expiry), the deliveries oldest first (or waiting
/// behind a hold), then the clean-up and the retention purge.
///
/// Time-driven steps run on every run, delivery or not, and are idempotent: each checks the
/// ledger before it acts and records itself in the transaction that acts.
struct OrganisationRun {
    var context: OrganisationContext
    let retention: RetentionPolicy

    func run() -> OrganisationSummary {
        let started = ContinuousClock.now
        var summary = process()
        if context.mode != .dry {
            do {
                try record(summary, seconds: (ContinuousClock.now - started).inSeconds)
            } catch {
                summary.error = summary.error ?? "the run could not be recorded: \(error)"
            }
        }
        return summary
    }

    /// Notes the organisation's run for `rosterdrop status` and the metrics.
    private func record(_ summary: OrganisationSummary, seconds: Double) throws {
        let now = JobClock.iso(context.clock.now())
        try context.database.write { db in
            try db.execute(sql: """
                INSERT INTO organisation_runs (organisation_id, last_run_at, last_run_ok, last_error, last_success_at,
                                               last_duration_seconds)
                VALUES (?1, ?2, ?3, ?4, CASE WHEN ?3 = 1 THEN ?2 END, ?5)
                ON CONFLICT (organisation_id) DO UPDATE SET last_run_at = excluded.last_run_at,
                    last_run_ok = excluded.last_run_ok, last_error = excluded.last_error,
                    last_success_at = COALESCE(excluded.last_success_at, organisation_runs.last_success_at),
                    last_duration_seconds = excluded.last_duration_seconds
                """, arguments: [context.id, now, summary.error == nil, summary.error, seconds])
        }
    }

    private func process() -> OrganisationSummary {
        var summary = OrganisationSummary(id: context.id, deliveries: [], waiting: [], unrecognised: 0, error: nil)
        var context = self.context
        do {
            if context.mode != .dry {
                // Answers a stopped run committed and never published.
                let published = try context.publishPending()
                try context.database.read { db in
                    for (id, names) in published.sorted(by: { $0.key < $1.key }) {
                        guard let deliveryID = try Int64.fetchOne(db, sql: "SELECT delivery_id FROM answers WHERE id = ?", arguments: [id]),
                              let recalled = try DeliveryProcessor.recalled(deliveryID: deliveryID, names: names, db) else { continue }
                        summary.deliveries.append(recalled)
                    }
                }
            }
            let state = try context.database.read { db in
                try IntegrationStart.state(db, organisation: context.organisation, clock: context.clock)
            }
            var calendar = CalendarSummary(integration: "none")
            var startedOn: CalendarDay?
            if context.mode == .live, context.organisation.mode == .test { context.mode = .test }
            switch state {
            case .none:
                break
            case .planned(let day):
                calendar.integration = "planned"
                calendar.startDay = day.iso
                if context.today < day {
                    // Before the start nothing is applied live: deliveries are test-runs.
                    if context.mode == .live { context.mode = .test }
                } else if context.mode == .live {
                    let outcome = try IntegrationStart(context: context).perform(day: day)
                    calendar.integration = "started"
                    calendar.startExport = outcome.export
                    calendar.startLicensesExported = outcome.exported
                    calendar.startGroupsDeleted = outcome.groupsDeleted
                    startedOn = context.today
                }
            case .started(let day, _):
                calendar.integration = "started"
                calendar.startDay = day.iso
                startedOn = state.startedOn(clock: context.clock)
            }
            calendar.startedOn = startedOn?.iso
            summary.mode = "\(context.mode)"
            let expiry = LicenseExpiry(context: context)
            if context.mode == .live { calendar.expiredLicenses = try expiry.expire() }
            let cleanup = startedOn.map { IntegrationCleanup(context: context, startedOn: $0) }
            var plannedStart: CalendarDay?
            if case .planned(let day) = state, startedOn == nil { plannedStart = day }
            try processDeliveries(context, cleanup: context.mode == .live ? cleanup : nil, plannedStart: plannedStart,
                                  summary: &summary)
            if context.mode == .live {
                let settled = try expiry.settle(holdOpen: !summary.holds.isEmpty)
                calendar.expiredAccounts = settled.accounts
            }
            if context.mode == .live, let cleanup, !summary.holds.isEmpty, cleanup.isDue {
                // A held snapshot may license old accounts: the clean-up waits for its decision.
                calendar.cleanupDeadline = cleanup.deadline.iso
                calendar.cleanupWaitsForHold = true
            } else if context.mode == .live, let cleanup {
                let outcome = try cleanup.run()
                calendar.cleanupDeleted = outcome.deleted?.accounts
                calendar.accountsAtRisk = outcome.atRisk
                calendar.atRiskList = outcome.notice
                if try !context.database.read({ db in try IntegrationCleanup.isDone(db, organisation: context.id) }) {
                    calendar.cleanupDeadline = cleanup.deadline.iso
                }
            }
            if context.mode != .dry {
                let purge = try Retention.purge(context, policy: retention)
                calendar.purgedFiles = purge.archived + purge.reports
            }
            summary.calendar = calendar
        } catch {
            // Only this organisation stops; the error text names ids and paths, never row values.
            summary.error = String(describing: error)
            context.logger.error("organisation failed", metadata: ["organisation": "\(context.id)", "error": "\(error)"])
        }
        return summary
    }

    /// The inbox's complete deliveries, oldest first. While a delivery is held, it and
    /// every other delivery of the organisation wait: nothing applies over a held snapshot.
    private func processDeliveries(_ context: OrganisationContext, cleanup: IntegrationCleanup?, plannedStart: CalendarDay?,
                                   summary: inout OrganisationSummary) throws {
        let files = try context.folder.list(.inbox)
        let mapping = context.organisation.mapping
        let stableSince = mapping.delivery.manifest == nil
            ? try context.database.observe(files, organisation: context.id, now: context.now, record: context.mode != .dry) : nil
        let scan = mapping.scan(files, now: context.now, stableSince: stableSince)
        summary.waiting = scan.waiting.map(\.timestamp)
        summary.unrecognised = scan.unrecognised.count
        summary.unrecognisedNames = scan.unrecognised
        if !scan.ready.isEmpty || !scan.waiting.isEmpty {
            context.logger.info("inbox scanned", metadata: ["organisation": "\(context.id)", "ready": "\(scan.ready.count)",
                                                            "waiting": "\(scan.waiting.count)",
                                                            "unrecognised": "\(scan.unrecognised.count)"])
        }
        let processor = DeliveryProcessor(context: context) { db in
            if let cleanup { return try cleanup.facts(db) }
            if let day = plannedStart { return IntegrationFacts(startDay: day.iso, started: false) }
            return nil
        }
        var holds = try context.database.read { db in try Ledger(db: db, organisation: context.id).openHolds() }
        if context.mode != .dry {
            for hold in holds where hold.state == .discarded {
                let names = scan.ready.first { $0.timestamp == hold.timestamp }?.allFiles.map(\.name) ?? []
                summary.deliveries.append(try processor.discard(hold, files: names))
            }
        }
        let discarded = Set(holds.filter { $0.state == .discarded }.map(\.timestamp))
        holds.removeAll { $0.state == .discarded }
        let ready = Set(scan.ready.map(\.timestamp))
        var blocked = holds.contains { $0.state == .held || !ready.contains($0.timestamp) }
        for delivery in scan.ready where !discarded.contains(delivery.timestamp) {
            if blocked {
                summary.heldBack.append(delivery.timestamp)
                continue
            }
            let approval = holds.first { $0.timestamp == delivery.timestamp && $0.state == .approved }
            let result = try processor.process(delivery, approval: approval)
            summary.deliveries.append(result)
            if result.outcome == .held { blocked = true }
        }
        summary.heldBack.removeAll { timestamp in holds.contains { $0.timestamp == timestamp } }
        if !scan.unrecognised.isEmpty, !summary.deliveries.isEmpty, context.mode != .dry {
            // A delivery's manifest may have claimed some (archived with it): report the rest.
            let left = Set(try context.folder.list(.inbox).map(\.name))
            summary.unrecognisedNames = scan.unrecognised.filter(left.contains)
            summary.unrecognised = summary.unrecognisedNames.count
        }
        summary.holds = try context.database.read { db in
            try Ledger(db: db, organisation: context.id).openHolds().map(\.timestamp)
        }
    }
}
