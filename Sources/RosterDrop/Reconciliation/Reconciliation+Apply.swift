
/// The plan could not be applied because the portal changed under it.
struct PortalChangedError: Error, CustomStringConvertible {
    var what: String
    var description: String {
        "the portal changed while the delivery was read (\(what)); it is left in the inbox and taken again on the next run"
    }
}

extension Reconciliation {
    /// Refuses a plan that names a record the portal no longer has: one deleted by another
    /// writer between reading what the job last wrote and planning.
    func checkResolved() throws {
        for (table, what) in [("plan_memberships", "a membership's account"), ("plan_distribution_orders", "a license holder")] {
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(table) WHERE action = 'create' AND account_id IS NULL)") == true {
                throw PortalChangedError(what: what)
            }
        }
    }

    /// Writes the plan into the portal tables. The caller holds the transaction.
    ///
    /// Additions and changes come first, removals last: a license the snapshot moves from a
    /// person who leaves to one who stays (perhaps a new one) must be moved before its old
    /// holder is deleted, and nothing may point at an account or group when it goes. Every
    /// record written from a row takes the row's hash, so the next delivery can tell it
    /// unchanged.
    func apply(now: String, deliveryID: Int64? = nil, reason: RemovalReason = .snapshot) throws {
        let org = organisation
        try ChangeLog.beforeApply(db, organisation: org, deliveryID: deliveryID, at: now, reason: reason)
        // Groups and accounts; adopted accounts keep their id and data, become linked and
        // take Skolon's fields.
        try db.execute(sql: """
            INSERT INTO groups (id, organisation_id, external_id, name, type, school_unit_code, source, created_at, updated_at)
            SELECT p.group_ref, ?, s.group_id, s.name, s.type, s.school_unit_code, 'skolon', ?, ?
            FROM plan_groups p JOIN stage_groups s ON s.line = p.line WHERE p.action = 'create'
            ORDER BY p.seq
            """, arguments: [org, now, now])
        try db.execute(sql: """
            UPDATE groups SET name = s.name, type = s.type, school_unit_code = s.school_unit_code, updated_at = ?
            FROM plan_groups p JOIN stage_groups s ON s.line = p.line
            WHERE p.action = 'update' AND groups.id = p.group_ref
            """, arguments: [now])
        try db.execute(sql: """
            INSERT INTO accounts (id, organisation_id, person_id, email, given_name, family_name, role, school_unit_code,
                                  grade, eppn, identity_source, linked_at, created_at, updated_at, source_hash, created_by_delivery)
            SELECT p.account_id, ?, s.person_id, s.email, s.given_name, s.family_name, s.role, s.school_unit_code,
                   s.grade, s.eppn, 'skolon', ?, ?, ?, s.row_hash, ?
            FROM plan_users p JOIN stage_users s ON s.line = p.line WHERE p.action = 'create'
            ORDER BY p.seq
            """, arguments: [org, now, now, now, deliveryID])
        try db.execute(sql: """
            UPDATE accounts SET person_id = s.person_id, email = s.email,
                given_name = s.given_name, family_name = s.family_name, role = s.role,
                school_unit_code = s.school_unit_code, grade = s.grade, eppn = s.eppn, identity_source = 'skolon',
                linked_at = CASE WHEN p.action = 'adopt' THEN ? ELSE accounts.linked_at END, updated_at = ?,
                source_hash = s.row_hash
            FROM plan_users p JOIN stage_users s ON s.line = p.line
            WHERE p.action IN ('update', 'adopt') AND accounts.id = p.account_id
            """, arguments: [now, now])
        try db.execute(sql: """
            UPDATE accounts SET source_hash = p.row_hash FROM plan_users p
            WHERE p.action = 'keep' AND accounts.id = p.account_id AND accounts.source_hash IS DISTINCT FROM p.row_hash
            """)

        // Licenses (a portal-era license whose order id Skolon now sends becomes Skolon's)
        // and memberships.
        try db.execute(sql: """
            UPDATE licenses SET account_id = p.account_id, product_id = s.product_id, license_type = s.license_type,
                valid_from = s.valid_from, valid_to = s.valid_to, source = 'skolon', updated_at = ?, source_hash = s.row_hash
            FROM plan_distribution_orders p JOIN stage_distribution_orders s ON s.line = p.line
            WHERE p.action = 'update' AND licenses.id = p.license_ref
            """, arguments: [now])
        try db.execute(sql: """
            UPDATE licenses SET source_hash = p.row_hash FROM plan_distribution_orders p
            WHERE p.action = 'keep' AND licenses.id = p.license_ref AND licenses.source_hash IS DISTINCT FROM p.row_hash
            """)
        try db.execute(sql: """
            INSERT INTO licenses (organisation_id, order_id, account_id, product_id, license_type, valid_from, valid_to,
                                  source, created_at, updated_at, source_hash)
            SELECT ?, s.order_id, p.account_id, s.product_id, s.license_type, s.valid_from, s.valid_to, 'skolon', ?, ?,
                   s.row_hash
            FROM plan_distribution_orders p JOIN stage_distribution_orders s ON s.line = p.line
            WHERE p.action = 'create'
            """, arguments: [org, now, now])
        try db.execute(sql: """
            INSERT INTO memberships (group_id, account_id, source_hash)
            SELECT group_ref, account_id, row_hash FROM plan_memberships WHERE action = 'create'
            """)
        try db.execute(sql: """
            UPDATE memberships SET source_hash = p.row_hash FROM plan_memberships p
            WHERE p.action = 'keep' AND memberships.group_id = p.group_ref AND memberships.account_id = p.account_id
              AND memberships.source_hash IS DISTINCT FROM p.row_hash
            """)

        // Removals.
        try db.execute(sql: """
            DELETE FROM memberships WHERE (group_id, account_id) IN (
                SELECT group_ref, account_id FROM plan_memberships WHERE action = 'remove')
            """)
        try db.execute(sql: """
            DELETE FROM licenses WHERE id IN (SELECT license_ref FROM plan_distribution_orders WHERE action = 'remove')
            """)
        // The people who leave, with what is left pointing at them (memberships in manual
        // groups: not Skolon's to count), logged; then the groups.
        try AccountRemoval.remove(db, organisation: org, select: "SELECT account_id FROM plan_users WHERE action = 'remove'",
                                  reason: reason, deliveryID: deliveryID, at: now)
        try db.execute(sql: "DELETE FROM memberships WHERE group_id IN (SELECT group_ref FROM plan_groups WHERE action = 'remove')")
        try db.execute(sql: "DELETE FROM groups WHERE id IN (SELECT group_ref FROM plan_groups WHERE action = 'remove')")
        try ChangeLog.afterApply(db, organisation: org, deliveryID: deliveryID, at: now)
    }
}
