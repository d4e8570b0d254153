import Foundation

/// What the job keeps, and for how long (contract rule 9): inbound files in `archive/` and
/// the job's own reports in `outbox/` are deleted after their number of days, counted from
/// when the job put them there (by its own clock, recorded in `drop_placements`; a file the
/// job has no record of counts from its mtime); the removal log's rows of ids after theirs.
enum Retention {
    /// The names of the job's own files in `outbox/`; nothing else there is touched.
    static let reportPrefixes = ["receipt_", "rejects_", "report_", "distribution_orders_", "accounts_at_risk_"]

    /// Notes that the job placed `names` in `area` at `now`.
    static func placed(organisation: String, area: DropArea, names: [String], at now: String, _ db: any StoreSession) throws {
        for name in names {
            try db.execute(sql: """
                INSERT INTO drop_placements (organisation_id, area, name, placed_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (organisation_id, area, name) DO UPDATE SET placed_at = excluded.placed_at
                """, arguments: [organisation, area.rawValue, name, now])
        }
    }

    struct Outcome: Equatable {
        var archived = 0
        var reports = 0
        var removalLog = 0
        var changeLog = 0
    }

    /// Purges what is past its time for one organisation.
    static func purge(_ context: OrganisationContext, policy: RetentionPolicy) throws -> Outcome {
        var outcome = Outcome()
        outcome.archived = try purge(context, area: .archive, days: policy.archiveDays) { _ in true }
        outcome.reports = try purge(context, area: .outbox, days: policy.reportDays) { name in
            reportPrefixes.contains { name.hasPrefix($0) }
        }
        let cutoff = JobClock.iso(context.now.addingTimeInterval(-Double(policy.removalLogDays) * 86_400))
        let reports = JobClock.iso(context.now.addingTimeInterval(-Double(policy.reportDays) * 86_400))
        try context.database.write { db in
            try db.execute(sql: "DELETE FROM removal_log WHERE organisation_id = ? AND removed_at < ?",
                           arguments: [context.id, cutoff])
            outcome.removalLog = db.changesCount
            // What happened to people, and which rejected rows named them: as long as the
            // record of a removal, no longer.
            try db.execute(sql: "DELETE FROM change_log WHERE organisation_id = ? AND happened_at < ?",
                           arguments: [context.id, cutoff])
            outcome.changeLog = db.changesCount
            try db.execute(sql: """
                UPDATE findings SET person_id = NULL WHERE person_id IS NOT NULL AND delivery_id IN (
                    SELECT id FROM deliveries WHERE organisation_id = ? AND received_at < ?)
                """, arguments: [context.id, cutoff])
            // Published answers keep only their names; they go with the reports.
            try db.execute(sql: """
                DELETE FROM answers WHERE organisation_id = ? AND published_at < ?
                  AND NOT EXISTS (SELECT 1 FROM answer_files f WHERE f.answer_id = answers.id)
                """, arguments: [context.id, reports])
        }
        if outcome != Outcome() {
            context.logger.info("retention purge", metadata: [
                "organisation": "\(context.id)", "archived_files": "\(outcome.archived)", "reports": "\(outcome.reports)",
                "removal_log_rows": "\(outcome.removalLog)", "change_log_rows": "\(outcome.changeLog)",
            ])
        }
        return outcome
    }

    private static func purge(_ context: OrganisationContext, area: DropArea, days: Int,
                              isOurs: (String) -> Bool) throws -> Int {
        let cutoff = context.now.addingTimeInterval(-Double(days) * 86_400)
        let files = try context.folder.list(area).filter { isOurs($0.name) }
        let placed = try context.database.read { db in
            try Dictionary(StoreRow.fetchAll(db, sql: "SELECT name, placed_at FROM drop_placements WHERE organisation_id = ? AND area = ?",
                                             arguments: [context.id, area.rawValue]).map { ($0["name"] as String, $0["placed_at"] as String) },
                           uniquingKeysWith: { first, _ in first })
        }
        var purged: [String] = []
        for file in files {
            let since = placed[file.name].flatMap(JobClock.parseISO) ?? file.modified
            guard since < cutoff else { continue }
            try context.folder.remove(file.name, from: area)
            purged.append(file.name)
        }
        let present = Set(files.map(\.name))
        let forget = purged + placed.keys.filter { !present.contains($0) }
        if !forget.isEmpty {
            try context.database.write { db in
                for name in forget {
                    try db.execute(sql: "DELETE FROM drop_placements WHERE organisation_id = ? AND area = ? AND name = ?",
                                   arguments: [context.id, area.rawValue, name])
                }
            }
        }
        return purged.count
    }
}
