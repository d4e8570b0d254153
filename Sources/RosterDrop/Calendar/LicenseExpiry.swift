
/// Removes what ran out (contract rule 7): a Skolon license grants access on the days from
/// `valid_from` to `valid_to`, so on the first run after `valid_to` it is removed, and an
/// account it leaves with no Skolon license is removed like any unlicensed user — whether
/// or not a delivery arrives that day.
///
/// Two steps around the day's deliveries. Before them, ended licenses go (so they never count
/// toward a mass-removal hold) and their holders are noted (`expiry_pending`). After them, a
/// noted holder still without a license from Skolon goes — not one the day's delivery renewed,
/// and no one while a held delivery (which may renew them) waits for an operator.
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

    /// Before the deliveries: removes ended licenses and notes their holders.
    func expire() throws -> Int {
        let organisation = context.id
        let today = context.today.iso
        let due = try context.database.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM licenses WHERE organisation_id = ? AND source = 'skolon' AND valid_to < ?)
                """, arguments: [organisation, today]) ?? false
        }
        guard due else { return 0 }
        var removed = 0
        try context.database.write { db in
            try db.execute(sql: """
                INSERT INTO expiry_pending (organisation_id, account_id)
                SELECT DISTINCT organisation_id, account_id FROM licenses
                WHERE organisation_id = ? AND source = 'skolon' AND valid_to < ?
                ON CONFLICT DO NOTHING
                """, arguments: [organisation, today])
            let ended = "SELECT id FROM licenses WHERE organisation_id = ? AND source = 'skolon' AND valid_to < ?"
            try ChangeLog.licensesLost(db, organisation: organisation, select: ended, arguments: [organisation, today],
                                       at: context.stamp, reason: RemovalReason.licenseExpired.rawValue)
            try db.execute(sql: "DELETE FROM licenses WHERE id IN (\(ended))", arguments: [organisation, today])
            removed = db.changesCount
            try db.execute(sql: """
                INSERT INTO calendar_events (run_id, organisation_id, kind, happened_at, licenses)
                VALUES (?, ?, 'license_expiry', ?, ?)
                """, arguments: [context.runID, organisation, context.stamp, removed])
        }
        context.logger.info("expired licenses removed", metadata: ["organisation": "\(organisation)", "licenses": "\(removed)"])
        return removed
    }

    /// After the deliveries: removes the noted holders left without a license from Skolon,
    /// unless a held delivery waits (it may renew them: they stay noted until it is decided).
    func settle(holdOpen: Bool) throws -> Outcome {
        guard !holdOpen else { return Outcome() }
        let organisation = context.id
        let noted = try context.database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM expiry_pending WHERE organisation_id = ?", arguments: [organisation]) ?? 0
        }
        guard noted > 0 else { return Outcome() }
        var outcome = Outcome()
        try context.database.write { db in
            let removed = try AccountRemoval.remove(db, organisation: organisation, select: """
                SELECT a.id FROM expiry_pending e JOIN accounts a ON a.id = e.account_id
                WHERE e.organisation_id = ? AND a.identity_source = 'skolon'
                  AND NOT EXISTS (SELECT 1 FROM licenses l WHERE l.account_id = a.id AND l.source = 'skolon')
                """, arguments: [organisation], reason: .licenseExpired, deliveryID: nil, at: context.stamp)
            try db.execute(sql: "DELETE FROM expiry_pending WHERE organisation_id = ?", arguments: [organisation])
            outcome = Outcome(licenses: removed.licenses, accounts: removed.accounts, memberships: removed.memberships)
            if removed.accounts > 0 {
                try db.execute(sql: """
                    INSERT INTO calendar_events (run_id, organisation_id, kind, happened_at, accounts, memberships, licenses)
                    VALUES (?, ?, 'license_expiry_accounts', ?, ?, ?, ?)
                    """, arguments: [context.runID, organisation, context.stamp, removed.accounts, removed.memberships,
                                     removed.licenses])
            }
        }
        if outcome.accounts > 0 {
            context.logger.info("accounts left without a license removed", metadata: [
                "organisation": "\(organisation)", "accounts": "\(outcome.accounts)",
            ])
        }
        return outcome
    }
}
