import GRDB

/// Removes what ran out (contract rule 7): a Skolon license grants access on the days from
/// `valid_from` to `valid_to`, so on the first run after `valid_to` it is removed, and an
/// account it leaves with no Skolon license is removed like any unlicensed user — whether
/// or not a delivery arrives that day.
///
/// A license whose `valid_from` is still to come is kept and makes its holder an account now
/// (so that a school can prepare next term's classes); the portal grants access only from
/// that day. Licenses the portal had before the integration are the portal's, not touched.
struct LicenseExpiry {
    let context: OrganisationContext

    struct Outcome: Equatable {
        var licenses = 0
        var accounts = 0
        var memberships = 0
    }

    func run() throws -> Outcome {
        let organisation = context.id
        let today = context.today.iso
        let due = try context.database.writer.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM licenses WHERE organisation_id = ? AND source = 'skolon' AND valid_to < ?)
                """, arguments: [organisation, today]) ?? false
        }
        guard due else { return Outcome() }
        var outcome = Outcome()
        try context.database.writer.write { db in
            try db.execute(sql: "DROP TABLE IF EXISTS temp.expired_holders")
            try db.execute(sql: """
                CREATE TEMP TABLE expired_holders AS
                SELECT DISTINCT account_id AS id FROM licenses WHERE organisation_id = ? AND source = 'skolon' AND valid_to < ?
                """, arguments: [organisation, today])
            try db.execute(sql: "DELETE FROM licenses WHERE organisation_id = ? AND source = 'skolon' AND valid_to < ?",
                           arguments: [organisation, today])
            outcome.licenses = db.changesCount
            let removed = try AccountRemoval.remove(db, organisation: organisation, select: """
                SELECT a.id FROM expired_holders e JOIN accounts a ON a.id = e.id
                WHERE a.identity_source = 'skolon'
                  AND NOT EXISTS (SELECT 1 FROM licenses l WHERE l.account_id = a.id AND l.source = 'skolon')
                """, reason: .licenseExpired, deliveryID: nil, at: context.stamp)
            outcome.accounts = removed.accounts
            outcome.memberships = removed.memberships
            outcome.licenses += removed.licenses
            try db.execute(sql: "DROP TABLE temp.expired_holders")
            try db.execute(sql: """
                INSERT INTO calendar_events (run_id, organisation_id, kind, happened_at, accounts, memberships, licenses)
                VALUES (?, ?, 'license_expiry', ?, ?, ?, ?)
                """, arguments: [context.runID, organisation, context.stamp, outcome.accounts, outcome.memberships, outcome.licenses])
        }
        context.logger.info("expired licenses removed", metadata: [
            "organisation": "\(organisation)", "licenses": "\(outcome.licenses)", "accounts": "\(outcome.accounts)",
        ])
        return outcome
    }
}
