import GRDB

extension Reconciliation {
    /// Writes the plan into the portal tables. The caller holds the transaction.
    ///
    /// Additions and changes come first, removals last: a license the snapshot moves from a
    /// person who leaves to one who stays (perhaps a new one) must be moved before its old
    /// holder is deleted, and nothing may point at an account or group when it goes.
    func apply(now: String) throws {
        let org = organisation
        // Groups and accounts; adopted accounts keep their id and data, become linked and
        // take Skolon's fields.
        try db.execute(sql: """
            INSERT INTO groups (organisation_id, external_id, name, type, school_unit_code, source, created_at, updated_at)
            SELECT ?, group_id, name, type, school_unit_code, 'skolon', ?, ? FROM plan_groups WHERE action = 'create'
            """, arguments: [org, now, now])
        try db.execute(sql: """
            UPDATE groups SET name = p.name, type = p.type, school_unit_code = p.school_unit_code, updated_at = ?
            FROM plan_groups p WHERE p.action = 'update' AND groups.id = p.group_ref
            """, arguments: [now])
        try db.execute(sql: """
            INSERT INTO accounts (organisation_id, person_id, email, given_name, family_name, role,
                                  school_unit_code, grade, eppn, identity_source, linked_at, created_at, updated_at)
            SELECT ?, person_id, email, given_name, family_name, role, school_unit_code, grade, eppn,
                   'skolon', ?, ?, ? FROM plan_users WHERE action = 'create'
            """, arguments: [org, now, now, now])
        try db.execute(sql: """
            UPDATE accounts SET person_id = p.person_id, email = p.email,
                given_name = p.given_name, family_name = p.family_name, role = p.role,
                school_unit_code = p.school_unit_code, grade = p.grade, eppn = p.eppn, identity_source = 'skolon',
                linked_at = CASE WHEN p.action = 'adopt' THEN ? ELSE accounts.linked_at END, updated_at = ?
            FROM plan_users p WHERE p.action IN ('update', 'adopt') AND accounts.id = p.account_id
            """, arguments: [now, now])

        // Licenses (a portal-era license whose order id Skolon now sends becomes Skolon's)
        // and memberships, resolved to the ids that now exist.
        try db.execute(sql: """
            UPDATE licenses SET account_id = a.id, product_id = p.product_id, license_type = p.license_type,
                valid_from = p.valid_from, valid_to = p.valid_to, source = 'skolon', updated_at = ?
            FROM plan_distribution_orders p JOIN accounts a ON a.person_id = p.person_id
            WHERE p.action = 'update' AND licenses.id = p.license_ref
            """, arguments: [now])
        try db.execute(sql: """
            INSERT INTO licenses (organisation_id, order_id, account_id, product_id, license_type, valid_from, valid_to,
                                  source, created_at, updated_at)
            SELECT ?, p.order_id, a.id, p.product_id, p.license_type, p.valid_from, p.valid_to, 'skolon', ?, ?
            FROM plan_distribution_orders p JOIN accounts a ON a.person_id = p.person_id
            WHERE p.action = 'create'
            """, arguments: [org, now, now])
        try db.execute(sql: """
            INSERT INTO memberships (group_id, account_id)
            SELECT g.id, a.id FROM plan_memberships p
            JOIN groups g ON g.organisation_id = ? AND g.source = 'skolon' AND g.external_id = p.group_id
            JOIN accounts a ON a.person_id = p.person_id
            WHERE p.action = 'create'
            """, arguments: [org])

        // Removals.
        try db.execute(sql: """
            DELETE FROM memberships WHERE (group_id, account_id) IN (
                SELECT g.id, a.id FROM plan_memberships p
                JOIN groups g ON g.organisation_id = ? AND g.source = 'skolon' AND g.external_id = p.group_id
                JOIN accounts a ON a.person_id = p.person_id
                WHERE p.action = 'remove')
            """, arguments: [org])
        try db.execute(sql: """
            DELETE FROM licenses WHERE id IN (SELECT license_ref FROM plan_distribution_orders WHERE action = 'remove')
            """)
        // Memberships in manual groups of people who leave (not Skolon's to count), then the
        // people and groups themselves.
        try db.execute(sql: """
            DELETE FROM memberships WHERE account_id IN (SELECT account_id FROM plan_users WHERE action = 'remove')
               OR group_id IN (SELECT group_ref FROM plan_groups WHERE action = 'remove')
            """)
        try db.execute(sql: "DELETE FROM accounts WHERE id IN (SELECT account_id FROM plan_users WHERE action = 'remove')")
        try db.execute(sql: "DELETE FROM groups WHERE id IN (SELECT group_ref FROM plan_groups WHERE action = 'remove')")
    }
}
