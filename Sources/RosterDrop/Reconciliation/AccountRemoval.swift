
/// Why a person's account left the portal, as the removal log keeps it.
enum RemovalReason: String, Sendable {
    /// The snapshot no longer holds them with a license (contract rules 1 and 3).
    case snapshot
    /// The same, applied by an operator's approval of a held delivery.
    case approvedHold = "snapshot_approved"
    /// Their last license passed its `valid_to` (rule 7).
    case licenseExpired = "license_expired"
    /// An account from before the integration that Skolon never licensed in time (rule 5).
    case integrationDeadline = "integration_deadline"
}

/// Deletes accounts with everything that points at them, and logs each removal.
///
/// The account row goes with its personal fields — nothing is flagged or kept. What stays
/// is one removal-log row of ids (account id, `person_id`), when and why, itself purged on
/// the retention schedule.
enum AccountRemoval {
    /// Deletes the accounts whose ids `select` yields (with `arguments`); returns how many
    /// accounts, licenses and memberships went.
    @discardableResult
    static func remove(_ db: any StoreSession, organisation: String, select: String, arguments: StoreArguments = [],
                       reason: RemovalReason, deliveryID: Int64?, at now: String) throws -> (accounts: Int, licenses: Int, memberships: Int) {
        try db.dropTemporaryTable("removing_accounts")
        try db.execute(sql: "CREATE TEMP TABLE removing_accounts (id INTEGER PRIMARY KEY)")
        // `WHERE true`: SQLite's parser needs it before an upsert clause on INSERT … SELECT.
        try db.execute(sql: "INSERT INTO removing_accounts (id) SELECT * FROM (\(select)) s WHERE true ON CONFLICT DO NOTHING",
                       arguments: arguments)
        // Someone whose last license ended leaves because of that, whichever step removes them.
        try db.execute(sql: """
            INSERT INTO removal_log (organisation_id, account_id, person_id, removed_at, reason, delivery_id, created_by_delivery)
            SELECT ?, a.id, a.person_id, ?,
                   CASE WHEN EXISTS (SELECT 1 FROM expiry_pending e WHERE e.account_id = a.id) THEN ? ELSE ? END, ?,
                   a.created_by_delivery
            FROM accounts a JOIN removing_accounts r ON r.id = a.id
            """, arguments: [organisation, now, RemovalReason.licenseExpired.rawValue, reason.rawValue, deliveryID])
        try ChangeLog.removing(db, organisation: organisation, deliveryID: deliveryID, at: now, reason: "account_removed")
        try db.execute(sql: "DELETE FROM memberships WHERE account_id IN (SELECT id FROM removing_accounts)")
        let memberships = db.changesCount
        try db.execute(sql: "DELETE FROM licenses WHERE account_id IN (SELECT id FROM removing_accounts)")
        let licenses = db.changesCount
        try db.execute(sql: "DELETE FROM integration_cohort WHERE account_id IN (SELECT id FROM removing_accounts)")
        try db.execute(sql: "DELETE FROM expiry_pending WHERE account_id IN (SELECT id FROM removing_accounts)")
        try db.execute(sql: "DELETE FROM accounts WHERE id IN (SELECT id FROM removing_accounts)")
        let accounts = db.changesCount
        try db.dropTemporaryTable("removing_accounts")
        return (accounts, licenses, memberships)
    }
}
