import Foundation

/// Counts of what a delivery does to one entity.
public struct EntityCounts: Sendable, Equatable, Codable {
    public var received = 0
    public var accepted = 0
    public var rejected = 0
    public var created = 0
    public var updated = 0
    public var removed = 0

    public init() {}
}

/// The changes one delivery makes to the portal, computed before anything is written.
///
/// Planning fills temporary `plan_*` tables from the staging tables and the portal's current
/// state; applying turns them into inserts, updates and deletes inside one transaction. A
/// dry run or a hold simply plans without applying. Plan rows point at staged rows by line
/// and at portal records by id; records to be created get their ids here, so the apply
/// joins on integers only.
///
/// Only rows that differ from what the job last wrote are staged (`DeliveryIndex`), and only
/// records the delivery did not match (`vanished_*`, plus any without a hash) are looked at
/// for removal, so a delivery's cost follows its changes.
///
/// Rules (CONTRACT.md 1–4, 6):
/// - a user is in the portal only while an accepted order of theirs exists;
/// - a user is matched by `person_id`, else by e-mail (ignoring case) to an unlinked account
///   of this organisation that predates the integration, which is adopted;
/// - whatever the organisation has in the portal from Skolon and the snapshot lacks is
///   removed — except what a rejected row names (protected) and, for a file with rows whose
///   key could not be read, anything of that kind (removals suspended);
/// - manual groups and accounts that were never linked are not touched.
struct Reconciliation {
    let db: any StoreSession
    let organisation: String
    /// Kinds whose file is part of this delivery; absent kinds are left as they are.
    let present: Set<EntityKind>
    /// Kinds whose removals are suspended because some rows could not be keyed.
    let suspended: Set<EntityKind>
    /// Every record of the organisation is a removal candidate, matched or not.
    let full: Bool

    /// Fills the plan tables and returns the resulting counts per entity; refuses a plan
    /// that names a record another writer has deleted meanwhile (`checkResolved`).
    func plan() throws -> [EntityKind: EntityCounts] {
        try Self.discardPlan(db)
        let usersKnown = present.contains(.users) && present.contains(.distributionOrders)
        let keepUsers = !usersKnown || suspended.contains(.users) || suspended.contains(.distributionOrders)
        let lastAccount = try planUsers(removals: !keepUsers, known: usersKnown)
        let lastGroup = try planGroups(known: present.contains(.groups), removals: !suspended.contains(.groups))
        try planMemberships(known: present.contains(.memberships) && usersKnown,
                            removals: !suspended.contains(.memberships) && !suspended.contains(.groups) && !keepUsers,
                            lastAccount: lastAccount, lastGroup: lastGroup)
        try planLicenses(known: usersKnown, removals: !keepUsers)
        try checkResolved()
        var counts: [EntityKind: EntityCounts] = [:]
        for kind in EntityKind.allCases {
            var entity = EntityCounts()
            for row in try StoreRow.fetchAll(db, sql: "SELECT action, COUNT(*) AS n FROM plan_\(kind.rawValue) GROUP BY action") {
                let action: String = row["action"]
                let number: Int = row["n"]
                switch action {
                case "create": entity.created += number
                case "update", "adopt": entity.updated += number
                case "remove": entity.removed += number
                default: break
                }
            }
            counts[kind] = entity
        }
        return counts
    }

    /// Drops the plan tables of an earlier delivery on this connection.
    static func discardPlan(_ db: any StoreSession) throws {
        for kind in EntityKind.allCases {
            try db.dropTemporaryTable("plan_\(kind.rawValue)")
        }
    }

    /// SQL selecting the ids of `kind`'s records of this organisation that the delivery did
    /// not match as they were last written (parameter 1 is the organisation): their hash is
    /// among the vanished ones, or they have none (written before hashes were kept). In a
    /// full run, all of them. Memberships yield `(group_id, account_id)`.
    private func unmatched(_ kind: EntityKind) -> String {
        let (from, select, scope): (String, String, String) = switch kind {
        case .users:
            ("accounts r", "r.id", "r.organisation_id = ?1 AND r.identity_source = 'skolon'")
        case .distributionOrders:
            ("licenses r", "r.id", "r.organisation_id = ?1 AND r.source = 'skolon'")
        default:
            ("groups g JOIN memberships r ON r.group_id = g.id", "r.group_id, r.account_id",
             "g.organisation_id = ?1 AND g.source = 'skolon'")
        }
        if full { return "SELECT \(select) FROM \(from) WHERE \(scope)" }
        // One scan of the organisation's records, probing the (small) vanished table.
        return """
            SELECT \(select) FROM \(from) WHERE \(scope)
              AND (r.source_hash IS NULL OR r.source_hash IN (SELECT hash FROM vanished_\(kind.rawValue)))
            """
    }

    /// SQL that is true when the account `alias` must stay untouched: a rejected row names
    /// its person, or names a license it holds.
    static func protectedAccount(_ alias: String) -> String {
        """
        (EXISTS (SELECT 1 FROM rejected_people r WHERE r.person_id = \(alias).person_id)
         OR EXISTS (SELECT 1 FROM licenses pl JOIN rejected_orders ro ON ro.order_id = pl.order_id
                    WHERE pl.account_id = \(alias).id))
        """
    }

    /// Returns the highest id an account had before the plan: new ones come after it.
    private func planUsers(removals: Bool, known: Bool) throws -> Int64 {
        try db.execute(sql: """
            CREATE TEMP TABLE plan_users (seq INTEGER PRIMARY KEY, action TEXT NOT NULL, line INTEGER, account_id INTEGER,
                                          email_key TEXT, row_hash INTEGER)
            """)
        guard known else { return Int64.max }
        // Staged (new or changed) users the portal keeps: accepted and licensed.
        try db.execute(sql: """
            INSERT INTO plan_users (action, line, account_id, row_hash)
            SELECT 'create', s.line, a.id, s.row_hash
            FROM stage_users s JOIN present_users p ON p.line = s.line LEFT JOIN accounts a ON a.person_id = s.person_id
            WHERE s.rejected = 0
            ORDER BY s.line
            """)
        try db.execute(sql: "CREATE UNIQUE INDEX plan_users_by_line ON plan_users(line)")
        // Adoption: an unlinked account of this organisation with the same e-mail, ignoring
        // case (Unicode, not just A–Z); when several accepted, licensed rows share it, the
        // first of them in the file adopts and the others are created. The portal's own
        // accounts carry only `email`, so the organisation's unlinked ones — few, and fewer
        // after every adoption — are case-folded into a temporary table first.
        try db.dropTemporaryTable("unlinked_accounts")
        try db.execute(sql: """
            CREATE TEMP TABLE unlinked_accounts AS
            SELECT a.id AS id, rosterdrop_email_key(a.email) AS email_key FROM accounts a
            WHERE a.person_id IS NULL AND a.organisation_id = ? AND a.email IS NOT NULL
            """, arguments: [organisation])
        try db.execute(sql: "CREATE INDEX unlinked_accounts_by_email ON unlinked_accounts(email_key)")
        if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM unlinked_accounts)") == true {
            try db.execute(sql: """
                UPDATE plan_users SET email_key = (
                    SELECT rosterdrop_email_key(s.email) FROM stage_users s WHERE s.line = plan_users.line)
                WHERE account_id IS NULL
                """)
        }
        try db.execute(sql: """
            UPDATE plan_users SET action = 'adopt', account_id = (
                SELECT MIN(u.id) FROM unlinked_accounts u WHERE u.email_key = plan_users.email_key)
            WHERE account_id IS NULL AND EXISTS (SELECT 1 FROM unlinked_accounts u WHERE u.email_key = plan_users.email_key)
            """)
        try db.execute(sql: """
            UPDATE plan_users SET action = 'create', account_id = NULL
            WHERE action = 'adopt' AND line > (
                SELECT MIN(p.line) FROM plan_users p WHERE p.action = 'adopt' AND p.account_id = plan_users.account_id)
            """)
        try db.execute(sql: """
            UPDATE plan_users SET action = CASE WHEN EXISTS (
                SELECT 1 FROM accounts a JOIN stage_users s ON s.line = plan_users.line
                WHERE a.id = plan_users.account_id AND (
                    a.role IS DISTINCT FROM s.role OR a.given_name IS DISTINCT FROM s.given_name
                    OR a.family_name IS DISTINCT FROM s.family_name OR a.email IS DISTINCT FROM s.email
                    OR a.school_unit_code IS DISTINCT FROM s.school_unit_code
                    OR a.grade IS DISTINCT FROM s.grade OR a.eppn IS DISTINCT FROM s.eppn))
                THEN 'update' ELSE 'keep' END
            WHERE action = 'create' AND account_id IS NOT NULL
            """)
        // New accounts get their ids now, the store's own, after every existing one.
        let lastAccount = try db.assignNewIDs(table: "accounts", plan: "plan_users", column: "account_id")
        try db.execute(sql: "CREATE INDEX plan_users_existing ON plan_users(account_id) WHERE action <> 'create'")
        guard removals else { return lastAccount }
        try db.execute(sql: """
            INSERT INTO plan_users (action, account_id)
            SELECT 'remove', a.id FROM accounts a
            WHERE a.id IN (\(unmatched(.users)))
              AND NOT EXISTS (SELECT 1 FROM plan_users p WHERE p.account_id = a.id AND p.action <> 'create')
              AND NOT \(Self.protectedAccount("a"))
            """, arguments: [organisation])
        return lastAccount
    }

    /// Returns the highest id a group had before the plan: new ones come after it.
    private func planGroups(known: Bool, removals: Bool) throws -> Int64 {
        try db.execute(sql: """
            CREATE TEMP TABLE plan_groups (seq INTEGER PRIMARY KEY, action TEXT NOT NULL, group_ref INTEGER, line INTEGER)
            """)
        guard known else { return Int64.max }
        try db.execute(sql: """
            INSERT INTO plan_groups (action, group_ref, line)
            SELECT CASE WHEN g.id IS NULL THEN 'create'
                        WHEN g.name IS DISTINCT FROM s.name OR g.type IS DISTINCT FROM s.type
                             OR g.school_unit_code IS DISTINCT FROM s.school_unit_code THEN 'update'
                        ELSE 'keep' END,
                   g.id, s.line
            FROM stage_groups s
            LEFT JOIN groups g ON g.organisation_id = ? AND g.source = 'skolon' AND g.external_id = s.group_id
            WHERE s.rejected = 0
            ORDER BY s.line
            """, arguments: [organisation])
        let lastGroup = try db.assignNewIDs(table: "groups", plan: "plan_groups", column: "group_ref")
        try db.execute(sql: "CREATE UNIQUE INDEX plan_groups_by_line ON plan_groups(line)")
        guard removals else { return lastGroup }
        // Every group row is staged, rejected ones too: a group named by any row stays.
        try db.execute(sql: """
            INSERT INTO plan_groups (action, group_ref)
            SELECT 'remove', g.id FROM groups g
            WHERE g.organisation_id = ? AND g.source = 'skolon'
              AND NOT EXISTS (SELECT 1 FROM stage_groups s WHERE s.group_id = g.external_id)
            """, arguments: [organisation])
        try db.execute(sql: "CREATE INDEX plan_groups_removed ON plan_groups(group_ref) WHERE action = 'remove'")
        return lastGroup
    }

    private func planMemberships(known: Bool, removals: Bool, lastAccount: Int64, lastGroup: Int64) throws {
        try db.execute(sql: """
            CREATE TEMP TABLE plan_memberships (action TEXT NOT NULL, group_ref INTEGER, account_id INTEGER, line INTEGER,
                                                row_hash INTEGER)
            """)
        if known { try planSnapshotMemberships(removals: removals, lastAccount: lastAccount, lastGroup: lastGroup) }
        try planLeavingMemberships()
    }

    /// Staged (new or changed) membership rows of users the portal keeps are created;
    /// unmatched memberships the snapshot no longer holds are removed.
    private func planSnapshotMemberships(removals: Bool, lastAccount: Int64, lastGroup: Int64) throws {
        try db.execute(sql: """
            INSERT INTO plan_memberships (action, group_ref, account_id, line, row_hash)
            SELECT 'create', pg.group_ref,
                   COALESCE(pu.account_id, (SELECT a.id FROM accounts a WHERE a.person_id = s.person_id)), s.line, s.row_hash
            FROM stage_memberships s
            JOIN present_users p ON p.line = s.user_line
            JOIN plan_groups pg ON pg.line = s.group_line
            LEFT JOIN plan_users pu ON pu.line = s.user_line
            WHERE s.rejected = 0
            """)
        // A pair already in the portal (written before hashes were kept, or a full run)
        // stays, and only gets its hash. New accounts and groups cannot have one.
        try db.execute(sql: """
            UPDATE plan_memberships SET action = 'keep'
            WHERE account_id <= ? AND group_ref <= ? AND EXISTS (
                SELECT 1 FROM memberships m WHERE m.group_id = plan_memberships.group_ref
                AND m.account_id = plan_memberships.account_id)
            """, arguments: [lastAccount, lastGroup])
        guard removals else { return }
        try db.execute(sql: "CREATE INDEX plan_memberships_kept ON plan_memberships(group_ref, account_id) WHERE action = 'keep'")
        // A pair goes when the snapshot lacks it, unless a rejected row names the pair, its
        // group or its person, or the person's account is kept by a rejected row: the
        // rejected row may have been the one that kept it.
        try db.execute(sql: """
            INSERT INTO plan_memberships (action, group_ref, account_id)
            SELECT 'remove', c.group_id, c.account_id FROM (\(unmatched(.memberships))) c
            JOIN groups g ON g.id = c.group_id JOIN accounts a ON a.id = c.account_id
            WHERE NOT EXISTS (SELECT 1 FROM plan_memberships p WHERE p.action = 'keep'
                                AND p.group_ref = c.group_id AND p.account_id = c.account_id)
              AND NOT EXISTS (SELECT 1 FROM rejected_pairs r WHERE r.group_id = g.external_id AND r.person_id = a.person_id)
              AND NOT EXISTS (SELECT 1 FROM stage_groups s WHERE s.rejected = 1 AND s.group_id = g.external_id)
              AND NOT \(Self.protectedAccount("a"))
            """, arguments: [organisation])
    }

    /// Memberships that go because their person or group goes, whatever the memberships file
    /// says: counted here so the receipt tells what the apply really removes.
    private func planLeavingMemberships() throws {
        // Driven from the few leaving people and groups through the portal's own indexes,
        // so the cost follows the change, not the organisation's size (`CROSS JOIN` keeps
        // SQLite from starting at the memberships table instead).
        try db.execute(sql: "CREATE INDEX plan_memberships_removed ON plan_memberships(group_ref, account_id) WHERE action = 'remove'")
        try db.execute(sql: """
            INSERT INTO plan_memberships (action, group_ref, account_id)
            SELECT 'remove', d.group_id, d.account_id FROM (
                SELECT m.group_id, m.account_id FROM plan_users p
                CROSS JOIN memberships m CROSS JOIN groups g
                WHERE p.action = 'remove' AND m.account_id = p.account_id
                  AND g.id = m.group_id AND g.organisation_id = ? AND g.source = 'skolon'
                UNION
                SELECT m.group_id, m.account_id FROM plan_groups pg CROSS JOIN memberships m
                WHERE pg.action = 'remove' AND m.group_id = pg.group_ref) d
            WHERE NOT EXISTS (SELECT 1 FROM plan_memberships r WHERE r.action = 'remove'
                                AND r.group_ref = d.group_id AND r.account_id = d.account_id)
            """, arguments: [organisation])
    }

    private func planLicenses(known: Bool, removals: Bool) throws {
        try db.execute(sql: """
            CREATE TEMP TABLE plan_distribution_orders (action TEXT NOT NULL, license_ref INTEGER, line INTEGER,
                                                        account_id INTEGER, row_hash INTEGER)
            """)
        guard known else { return }
        // Every accepted order's holder is kept in the portal: staged users through the
        // plan, unchanged ones through their account.
        try db.execute(sql: """
            INSERT INTO plan_distribution_orders (action, license_ref, line, account_id, row_hash)
            SELECT CASE WHEN l.id IS NULL THEN 'create'
                        WHEN l.source <> 'skolon' OR l.account_id IS DISTINCT FROM o.holder
                             OR l.product_id IS DISTINCT FROM o.product_id OR l.license_type IS DISTINCT FROM o.license_type
                             OR l.valid_from IS DISTINCT FROM o.valid_from OR l.valid_to IS DISTINCT FROM o.valid_to
                             THEN 'update'
                        ELSE 'keep' END,
                   l.id, o.line, o.holder, o.row_hash
            FROM (SELECT s.*, COALESCE(pu.account_id, (SELECT a.id FROM accounts a WHERE a.person_id = s.person_id)) AS holder
                  FROM stage_distribution_orders s LEFT JOIN plan_users pu ON pu.line = s.user_line
                  WHERE s.rejected = 0) o
            LEFT JOIN licenses l ON l.organisation_id = ? AND l.order_id = o.order_id
            """, arguments: [organisation])
        try db.execute(sql: """
            CREATE INDEX plan_orders_by_license ON plan_distribution_orders(license_ref) WHERE license_ref IS NOT NULL
            """)
        guard removals else { return }
        try db.execute(sql: """
            INSERT INTO plan_distribution_orders (action, license_ref)
            SELECT 'remove', l.id FROM licenses l JOIN accounts a ON a.id = l.account_id
            WHERE l.id IN (\(unmatched(.distributionOrders)))
              AND NOT EXISTS (SELECT 1 FROM plan_distribution_orders p WHERE p.license_ref = l.id)
              AND NOT EXISTS (SELECT 1 FROM rejected_orders r WHERE r.order_id = l.order_id)
              AND NOT \(Self.protectedAccount("a"))
            """, arguments: [organisation])
        // Whatever else a leaving person holds (portal-era licenses too) goes with them,
        // unless the snapshot moves it to someone who stays.
        try db.execute(sql: """
            INSERT INTO plan_distribution_orders (action, license_ref)
            SELECT 'remove', l.id FROM plan_users p JOIN licenses l ON l.account_id = p.account_id
            WHERE p.action = 'remove' AND NOT EXISTS (SELECT 1 FROM plan_distribution_orders o WHERE o.license_ref = l.id)
            """)
    }
}
