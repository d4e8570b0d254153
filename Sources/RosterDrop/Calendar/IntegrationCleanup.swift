import Crypto
import Foundation

/// The clean-up after an integration start (contract rule 5): accounts that existed at the
/// start and have no license through Skolon `cleanup_days` after it are deleted, with their
/// personal data, on the first run on or after that deadline. From `cleanup_warning_days`
/// before it, the accounts still at risk are listed in the outbox
/// (`accounts_at_risk_<ts>.csv`: what the school needs to license them in Skolon or fix an
/// e-mail so they are adopted) — once a day, and again whenever the list changes.
struct IntegrationCleanup {
    let context: OrganisationContext
    let startedOn: CalendarDay

    var policy: IntegrationPolicy { context.organisation.integration }
    var deadline: CalendarDay { Self.deadline(startedOn: startedOn, policy: policy) }
    var isDue: Bool { context.today >= deadline }
    var isWarning: Bool { !isDue && context.today >= deadline.adding(days: -policy.warningDays) }

    /// Accounts noted at the start that hold no Skolon license now.
    static let atRiskSQL = """
        SELECT a.id, a.email, a.school_unit_code, a.role FROM integration_cohort c JOIN accounts a ON a.id = c.account_id
        WHERE c.organisation_id = ?1 AND a.organisation_id = ?1
          AND NOT EXISTS (SELECT 1 FROM licenses l WHERE l.account_id = a.id AND l.source = 'skolon')
        ORDER BY a.id
        """

    /// Where the integration stands: the start's export, the deadline while the clean-up is
    /// to come, and in its warning period the accounts at risk.
    func facts(_ db: any StoreSession) throws -> IntegrationFacts {
        let done = try isDone(db)
        var facts = IntegrationFacts(startDay: startedOn.iso, started: true)
        facts.deadline = done ? nil : deadline.iso
        if let start = try StoreRow.fetchOne(db, sql: """
            SELECT happened_at, licenses FROM calendar_events WHERE organisation_id = ? AND kind = 'integration_start'
            ORDER BY id LIMIT 1
            """, arguments: [context.id]), let instant = JobClock.parseISO(start["happened_at"]) {
            facts.export = ("distribution_orders_\(JobClock.stamp(instant)).csv.gz", start["licenses"])
        }
        if isWarning, !done {
            facts.atRisk = try StoreRow.fetchAll(db, sql: Self.atRiskSQL, arguments: [context.id]).map { row in
                IntegrationFacts.AtRisk(accountID: row["id"], email: row["email"] ?? "", schoolUnit: row["school_unit_code"] ?? "",
                                        role: row["role"] ?? "")
            }
        }
        return facts
    }

    private func isDone(_ db: any StoreSession) throws -> Bool {
        try Self.isDone(db, organisation: context.id)
    }

    /// The clean-up's day for a start performed on `startedOn`.
    static func deadline(startedOn: CalendarDay, policy: IntegrationPolicy) -> CalendarDay {
        startedOn.adding(days: policy.cleanupDays)
    }

    /// Whether `organisation`'s clean-up has been done.
    static func isDone(_ db: any StoreSession, organisation: String) throws -> Bool {
        try String.fetchOne(db, sql: "SELECT cleanup_done_at FROM organisations WHERE id = ?", arguments: [organisation]) != nil
    }

    struct Outcome {
        var deleted: (accounts: Int, licenses: Int, memberships: Int)?
        var atRisk: Int?
        var notice: String?
    }

    func run() throws -> Outcome {
        var outcome = Outcome()
        if isDue {
            try context.database.write { db in
                guard try !isDone(db) else { return }
                let removed = try AccountRemoval.remove(db, organisation: context.id, select: """
                    SELECT id FROM (\(Self.atRiskSQL)) at_risk
                    """, arguments: [context.id], reason: .integrationDeadline, deliveryID: nil, at: context.stamp)
                try db.execute(sql: "DELETE FROM integration_cohort WHERE organisation_id = ?", arguments: [context.id])
                try db.execute(sql: "UPDATE organisations SET cleanup_done_at = ? WHERE id = ?", arguments: [context.stamp, context.id])
                try db.execute(sql: """
                    INSERT INTO calendar_events (run_id, organisation_id, kind, happened_at, accounts, memberships, licenses)
                    VALUES (?, ?, 'integration_cleanup', ?, ?, ?, ?)
                    """, arguments: [context.runID, context.id, context.stamp, removed.accounts, removed.memberships, removed.licenses])
                outcome.deleted = removed
                FaultPoint.hit("cleanup-commit")
            }
            if let deleted = outcome.deleted {
                context.logger.info("integration clean-up: old accounts without a Skolon license deleted", metadata: [
                    "organisation": "\(context.id)", "accounts": "\(deleted.accounts)", "licenses": "\(deleted.licenses)",
                ])
            }
            return outcome
        }
        guard isWarning else { return outcome }
        let work = try context.workFolder("at-risk")
        defer { try? FileManager.default.removeItem(at: work) }
        var answerID: Int64?
        try context.database.write { db in
            guard try !isDone(db) else { return }
            let rows = try StoreRow.fetchAll(db, sql: Self.atRiskSQL, arguments: [context.id])
            outcome.atRisk = rows.count
            var text = CSVWriter.line(["account_id", "email", "school_unit_code", "role", "deadline"])
            for row in rows {
                let cells: [String?] = [String(row["id"] as Int64), row["email"], row["school_unit_code"], row["role"], deadline.iso]
                text += CSVWriter.line(cells.map { SpreadsheetSafety.neutralise($0 ?? "") })
            }
            // Once a day, and again when the list changed (an adoption, a fixed e-mail).
            let digest = Digest.sha256Hex(Data(text.utf8))
            let last = try StoreRow.fetchOne(db, sql: """
                SELECT day, digest, count FROM notices WHERE organisation_id = ? AND kind = 'accounts_at_risk'
                """, arguments: [context.id])
            if let last, last["day"] as String == context.today.iso, last["digest"] as String == digest { return }
            // An empty list is written once, to say nobody is at risk any more; never daily.
            if rows.isEmpty, last == nil || last?["count"] as Int? == 0 { return }
            try db.execute(sql: """
                INSERT INTO notices (organisation_id, kind, day, digest, count) VALUES (?, 'accounts_at_risk', ?, ?, ?)
                ON CONFLICT (organisation_id, kind) DO UPDATE SET day = excluded.day, digest = excluded.digest,
                    count = excluded.count
                """, arguments: [context.id, context.today.iso, digest, rows.count])
            let local = work.appendingPathComponent("at-risk.csv")
            try ReportWriter.writeLocal(text, to: local)
            let name = "accounts_at_risk_\(JobClock.stamp(context.now)).csv"
            answerID = try context.answers.store(Answer(kind: "accounts_at_risk", deliveryID: nil, files: [(name, local)]),
                                                 db: db, at: context.stamp).id
        }
        if let answerID {
            outcome.notice = try context.publishPending()[answerID]?.first
            context.logger.info("accounts at risk listed", metadata: [
                "organisation": "\(context.id)", "accounts": "\(outcome.atRisk ?? 0)", "deadline": "\(deadline)",
            ])
        }
        return outcome
    }
}
