import Foundation

/// Where an organisation's integration start stands.
public enum IntegrationState: Sendable, Equatable {
    /// No start configured or recorded: the organisation is live, with no start steps.
    case none
    /// A start day still to come: deliveries until then are taken in test mode.
    case planned(CalendarDay)
    /// Started on that day: the clean-up deadline runs from it.
    case started(CalendarDay, at: String)
}

extension IntegrationState {
    /// The day the start was performed, on `clock`'s calendar (the clean-up counts from it).
    func startedOn(clock: JobClock) -> CalendarDay? {
        guard case .started(let day, let at) = self else { return nil }
        return JobClock.parseISO(at).map(clock.day(of:)) ?? day
    }
}

/// A start that cannot be taken as configured.
public struct IntegrationError: Error, CustomStringConvertible {
    public var organisation: String
    public var message: String
    public var description: String { "organisation \(organisation): \(message)" }
}

/// The integration start, once per organisation (contract rule 5): the portal's own
/// licenses are written back to Skolon as distribution orders, the organisation's own
/// groups are deleted, and the accounts that exist then are noted for the clean-up that
/// deletes those Skolon has not licensed within `cleanup_days`.
///
/// The export is built first; then one transaction gives every exported license an order
/// id (so Skolon's order taking it over is recognised), deletes the groups, notes the
/// accounts, records the start and stores the export as the start's answer; the answer is
/// published after the commit. A second run, a second `integrate` or a crash anywhere never
/// exports or deletes twice.
public struct IntegrationStart {
    let context: OrganisationContext

    /// The state, checking the configured day against the recorded one: a start that has
    /// happened cannot move.
    static func state(_ db: any StoreSession, organisation: OrganisationConfiguration, clock: JobClock) throws -> IntegrationState {
        let row = try StoreRow.fetchOne(db, sql: "SELECT integration_start, integration_started_at FROM organisations WHERE id = ?",
                                        arguments: [organisation.id])
        let recorded = (row?["integration_start"] as String?).flatMap(CalendarDay.init(iso:))
        if let startedAt = row?["integration_started_at"] as String? {
            let day = recorded ?? JobClock.parseISO(startedAt).map(clock.day(of:)) ?? CalendarDay(ordinal: 0)
            if let configured = organisation.integration.start, configured != day {
                throw IntegrationError(organisation: organisation.id, message: """
                    integration_start is \(configured) in the config, but the integration started for \(day) (at \(startedAt)); \
                    a start happens once and cannot be moved — set integration_start back to \(day)
                    """)
            }
            return .started(day, at: startedAt)
        }
        if let configured = organisation.integration.start, let recorded, configured != recorded {
            throw IntegrationError(organisation: organisation.id, message: """
                integration_start is \(configured) in the config, but `rosterdrop integrate` recorded \(recorded); \
                keep one: remove integration_start, or set it to \(recorded)
                """)
        }
        if let day = organisation.integration.start ?? recorded { return .planned(day) }
        return .none
    }

    /// Records today as the start day (`rosterdrop integrate`); the next run performs it.
    public static func record(_ database: PortalDatabase, organisation: OrganisationConfiguration, clock: JobClock) throws -> CalendarDay {
        let today = clock.day(of: clock.now())
        return try database.writeHolding(organisation: organisation.id) { db in
            if let configured = organisation.integration.start {
                throw IntegrationError(organisation: organisation.id, message: """
                    the config sets integration_start: \(configured); change it there instead of running integrate
                    """)
            }
            switch try state(db, organisation: organisation, clock: clock) {
            case .started(let day, let at):
                throw IntegrationError(organisation: organisation.id, message: "the integration already started for \(day) (at \(at))")
            case .planned(let day):
                throw IntegrationError(organisation: organisation.id, message: "the integration start is already recorded for \(day); the next run performs it")
            case .none:
                try Ledger(db: db, organisation: organisation.id).registerOrganisation(schoolUnits: organisation.schoolUnits)
                try db.execute(sql: "UPDATE organisations SET integration_start = ? WHERE id = ?", arguments: [today.iso, organisation.id])
                return today
            }
        }
    }

    /// What a start did.
    struct Outcome {
        var exported: Int
        var unknownProducts: Int
        var groupsDeleted: Int
        var membershipsDeleted: Int
        var accountsNoted: Int
        var export: String?
    }

    /// Performs the start for `day`.
    func perform(day: CalendarDay) throws -> Outcome {
        let organisation = context.id
        let work = try context.workFolder("start")
        defer { try? FileManager.default.removeItem(at: work) }
        let stamp = JobClock.stamp(context.now)
        var outcome = Outcome(exported: 0, unknownProducts: 0, groupsDeleted: 0, membershipsDeleted: 0, accountsNoted: 0)
        var answerID: Int64?
        try context.database.write { db in
            let ledger = Ledger(db: db, organisation: organisation)
            try ledger.registerOrganisation(schoolUnits: context.organisation.schoolUnits)
            // Every license of the organisation's own gets an order id, so Skolon can send it
            // back as its order and the sync takes it over.
            try db.execute(sql: """
                UPDATE licenses SET order_id = 'portal-' || id
                WHERE organisation_id = ? AND source <> 'skolon' AND order_id IS NULL
                """, arguments: [organisation])
            let exportName = "distribution_orders_\(stamp).csv.gz"
            let export = work.appendingPathComponent("export.csv.gz")
            let rejects = work.appendingPathComponent("rejects.csv.gz")
            (outcome.exported, outcome.unknownProducts) = try IntegrationExport.write(db, organisation: organisation,
                                                                                      personIDs: context.organisation.mapping.delivery.personIDs,
                                                                                      exportName: exportName, to: export,
                                                                                      rejects: rejects)
            try db.execute(sql: """
                INSERT INTO integration_cohort (organisation_id, account_id)
                SELECT organisation_id, id FROM accounts WHERE organisation_id = ? AND identity_source <> 'skolon'
                ON CONFLICT DO NOTHING
                """, arguments: [organisation])
            outcome.accountsNoted = db.changesCount
            try ChangeLog.groupsDeleted(db, organisation: organisation, select: """
                SELECT id FROM groups WHERE organisation_id = ? AND source <> 'skolon'
                """, arguments: [organisation], at: context.stamp, reason: "integration_start")
            try db.execute(sql: """
                DELETE FROM memberships WHERE group_id IN (SELECT id FROM groups WHERE organisation_id = ? AND source <> 'skolon')
                """, arguments: [organisation])
            outcome.membershipsDeleted = db.changesCount
            try db.execute(sql: "DELETE FROM groups WHERE organisation_id = ? AND source <> 'skolon'", arguments: [organisation])
            outcome.groupsDeleted = db.changesCount
            try db.execute(sql: "UPDATE organisations SET integration_start = ?, integration_started_at = ? WHERE id = ?",
                           arguments: [day.iso, context.stamp, organisation])
            try db.execute(sql: """
                INSERT INTO calendar_events (run_id, organisation_id, kind, happened_at, accounts, groups, memberships, licenses)
                VALUES (?, ?, 'integration_start', ?, ?, ?, ?, ?)
                """, arguments: [context.runID, organisation, context.stamp, outcome.accountsNoted, outcome.groupsDeleted,
                                 outcome.membershipsDeleted, outcome.exported])
            var files = [(exportName, export)]
            if outcome.unknownProducts > 0 { files.append(("rejects_\(stamp).csv.gz", rejects)) }
            answerID = try context.answers.store(Answer(kind: "integration_start", deliveryID: nil, files: files), db: db,
                                                 at: context.stamp).id
            FaultPoint.hit("integration-start-commit")
        }
        FaultPoint.hit("integration-start-committed")
        if let answerID { outcome.export = try context.publishPending()[answerID]?.first }
        context.logger.info("integration started", metadata: [
            "organisation": "\(organisation)", "day": "\(day)", "licenses_exported": "\(outcome.exported)",
            "unknown_products": "\(outcome.unknownProducts)", "groups_deleted": "\(outcome.groupsDeleted)",
            "accounts_noted": "\(outcome.accountsNoted)",
        ])
        return outcome
    }
}
