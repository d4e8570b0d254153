
/// What happened to each person's account, for `rosterdrop history`: written in the same
/// transaction as the change, from the plan tables and the removal steps.
///
/// It keeps ids and field names only: which account, which delivery, the event, the group's
/// or order's id and product, the names of changed fields — never a value. An account's
/// creation is not a row (the account, and its removal's record, keep the delivery that
/// created it), and what it had when it was created is not logged row by row (a first load would write every
/// membership twice): it is what it has now, plus what later events took away, less what
/// they added. So every change after creation is logged, removals included — an adopted
/// account's gains too, once per organisation, in the delivery after its integration start.
enum ChangeLog {
    /// The user fields a delivery can change, as the portal names them.
    static let userFields = ["role", "given_name", "family_name", "email", "school_unit_code", "grade", "eppn"]
    static let licenseFields = ["product_id", "license_type", "valid_from", "valid_to"]

    /// SQL naming, comma-separated, the fields where `old` and `new` differ (and `extra`'s,
    /// `(condition, name)`, when its condition holds).
    private static func changedFields(_ fields: [String], old: String, new: String,
                                      extra: (String, String)? = nil) -> String {
        var parts = fields.map { "CASE WHEN \(old).\($0) IS DISTINCT FROM \(new).\($0) THEN ',\($0)' ELSE '' END" }
        if let (condition, name) = extra { parts.append("CASE WHEN \(condition) THEN ',\(name)' ELSE '' END") }
        return "substr(\(parts.joined(separator: " || ")), 2)"
    }

    /// The first account id the plan creates: accounts below it were there before.
    private static func firstNewAccount(_ db: any StoreSession) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT MIN(account_id) FROM plan_users WHERE action = 'create'") ?? Int64.max
    }

    private static let insert = """
        INSERT INTO change_log (organisation_id, account_id, delivery_id, happened_at, event, ref, detail, reason)
        """

    /// Before the plan is applied: the field names a delivery changes (the old values are
    /// still there to compare), and what leaves people who stay.
    static func beforeApply(_ db: any StoreSession, organisation: String, deliveryID: Int64?, at now: String,
                            reason: RemovalReason) throws {
        let context: StoreArguments = [organisation, deliveryID, now]
        try db.execute(sql: """
            \(insert)
            SELECT ?1, p.account_id, ?2, ?3, CASE p.action WHEN 'adopt' THEN 'adopted' ELSE 'updated' END, NULL,
                   \(changedFields(userFields, old: "a", new: "s")), NULL
            FROM plan_users p JOIN stage_users s ON s.line = p.line JOIN accounts a ON a.id = p.account_id
            WHERE p.action IN ('update', 'adopt')
            """, arguments: context)
        // Memberships and licenses that go, or move away; a leaver's go with their account.
        func leaving(_ account: String) -> String {
            "EXISTS (SELECT 1 FROM plan_users u WHERE u.account_id = \(account) AND u.action <> 'create' AND u.action = 'remove')"
        }
        try db.execute(sql: """
            \(insert)
            SELECT ?1, m.account_id, ?2, ?3, 'group_left', g.external_id, NULL,
                   CASE WHEN \(leaving("m.account_id")) THEN 'account_removed'
                        WHEN EXISTS (SELECT 1 FROM plan_groups pg WHERE pg.action = 'remove' AND pg.group_ref = m.group_ref)
                        THEN 'group_removed' ELSE ?4 END
            FROM plan_memberships m JOIN groups g ON g.id = m.group_ref
            WHERE m.action = 'remove'
            """, arguments: context + [reason.rawValue])
        try db.execute(sql: """
            \(insert)
            SELECT ?1, l.account_id, ?2, ?3, 'license_lost', l.order_id, l.product_id,
                   CASE WHEN p.action = 'update' THEN 'moved'
                        WHEN \(leaving("l.account_id")) THEN 'account_removed' ELSE ?4 END
            FROM plan_distribution_orders p JOIN licenses l ON l.id = p.license_ref
            WHERE p.action = 'remove' OR (p.action = 'update' AND l.account_id IS DISTINCT FROM p.account_id)
            """, arguments: context + [reason.rawValue])
        // What a kept license changes.
        // A license moved to someone already there is gained by them; one taken over from
        // the portal (its own license, now Skolon's) changes its source.
        try db.execute(sql: """
            \(insert)
            SELECT ?1, p.account_id, ?2, ?3, 'license_gained', l.order_id, s.product_id, NULL
            FROM plan_distribution_orders p JOIN licenses l ON l.id = p.license_ref
            JOIN stage_distribution_orders s ON s.line = p.line
            WHERE p.action = 'update' AND l.account_id IS DISTINCT FROM p.account_id AND p.account_id < ?4
            """, arguments: context + [try firstNewAccount(db)])
        try db.execute(sql: """
            \(insert)
            SELECT ?1, l.account_id, ?2, ?3, 'license_changed', l.order_id,
                   \(changedFields(licenseFields, old: "l", new: "s", extra: ("l.source <> 'skolon'", "source"))), NULL
            FROM plan_distribution_orders p JOIN licenses l ON l.id = p.license_ref
            JOIN stage_distribution_orders s ON s.line = p.line
            WHERE p.action = 'update' AND l.account_id IS NOT DISTINCT FROM p.account_id
            """, arguments: context)
    }

    /// After the plan is applied: what people who were already there gain. (A new account's
    /// creation is its `created_by_delivery`, not a row here.)
    static func afterApply(_ db: any StoreSession, organisation: String, deliveryID: Int64?, at now: String) throws {
        let context: StoreArguments = [organisation, deliveryID, now]
        // New accounts' groups and licenses are what they were created with (not logged).
        let firstNew = try firstNewAccount(db)
        try db.execute(sql: """
            \(insert)
            SELECT ?1, m.account_id, ?2, ?3, 'group_joined', g.external_id, NULL, NULL
            FROM plan_memberships m JOIN groups g ON g.id = m.group_ref
            WHERE m.action = 'create' AND m.account_id < ?4
            """, arguments: context + [firstNew])
        try db.execute(sql: """
            \(insert)
            SELECT ?1, p.account_id, ?2, ?3, 'license_gained', s.order_id, s.product_id, NULL
            FROM plan_distribution_orders p JOIN stage_distribution_orders s ON s.line = p.line
            WHERE p.action = 'create' AND p.account_id < ?4
            """, arguments: context + [firstNew])
    }

    /// Everything the accounts in the temporary table `removing_accounts` hold, as lost with them.
    static func removing(_ db: any StoreSession, organisation: String, deliveryID: Int64?, at now: String, reason: String) throws {
        let context: StoreArguments = [organisation, deliveryID, now, reason]
        try db.execute(sql: """
            \(insert)
            SELECT ?1, m.account_id, ?2, ?3, 'group_left', COALESCE(g.external_id, 'portal:' || g.id), NULL, ?4
            FROM removing_accounts r JOIN memberships m ON m.account_id = r.id JOIN groups g ON g.id = m.group_id
            """, arguments: context)
        try db.execute(sql: """
            \(insert)
            SELECT ?1, l.account_id, ?2, ?3, 'license_lost', l.order_id, l.product_id, ?4
            FROM removing_accounts r JOIN licenses l ON l.account_id = r.id
            """, arguments: context)
    }

    /// The memberships of the groups `select` yields (ids), left as the groups are deleted.
    static func groupsDeleted(_ db: any StoreSession, organisation: String, select: String, arguments: StoreArguments,
                              at now: String, reason: String) throws {
        try db.execute(sql: """
            \(insert)
            SELECT ?, m.account_id, NULL, ?, 'group_left', COALESCE(g.external_id, 'portal:' || g.id), NULL, ?
            FROM groups g JOIN memberships m ON m.group_id = g.id WHERE g.id IN (\(select))
            """, arguments: [organisation, now, reason] + arguments)
    }

    /// Licenses `select` yields (ids), lost by holders who keep their account.
    static func licensesLost(_ db: any StoreSession, organisation: String, select: String, arguments: StoreArguments,
                             at now: String, reason: String) throws {
        try db.execute(sql: """
            \(insert)
            SELECT ?, l.account_id, NULL, ?, 'license_lost', l.order_id, l.product_id, ?
            FROM licenses l WHERE l.id IN (\(select))
            """, arguments: [organisation, now, reason] + arguments)
    }
}
