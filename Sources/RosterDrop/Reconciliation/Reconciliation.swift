import Foundation
import GRDB

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
/// dry run or a hold simply plans without applying.
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
    let db: Database
    let organisation: String
    /// Kinds whose file is part of this delivery; absent kinds are left as they are.
    let present: Set<EntityKind>
    /// Kinds whose removals are suspended because some rows could not be keyed.
    let suspended: Set<EntityKind>

    /// Fills the plan tables and returns the resulting counts per entity.
    func plan() throws -> [EntityKind: EntityCounts] {
        try Self.discardPlan(db)
        let usersKnown = present.contains(.users) && present.contains(.distributionOrders)
        let keepUsers = !usersKnown || suspended.contains(.users) || suspended.contains(.distributionOrders)
        try planUsers(removals: !keepUsers, known: usersKnown)
        try planGroups(known: present.contains(.groups), removals: !suspended.contains(.groups))
        try planMemberships(known: present.contains(.memberships) && usersKnown,
                            removals: !suspended.contains(.memberships) && !suspended.contains(.groups) && !keepUsers)
        try planLicenses(known: usersKnown, removals: !keepUsers)
        var counts: [EntityKind: EntityCounts] = [:]
        for kind in EntityKind.allCases {
            var entity = EntityCounts()
            let table = "plan_\(kind.rawValue)"
            entity.created = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE action = 'create'") ?? 0
            entity.updated = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE action IN ('update', 'adopt')") ?? 0
            entity.removed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE action = 'remove'") ?? 0
            counts[kind] = entity
        }
        return counts
    }

    /// Drops the plan tables of an earlier delivery on this connection.
    static func discardPlan(_ db: Database) throws {
        for kind in EntityKind.allCases {
            try db.execute(sql: "DROP TABLE IF EXISTS temp.plan_\(kind.rawValue)")
        }
    }

    /// SQL that is true when a rejected users or order row names `personColumn`'s person.
    static func protectedPerson(_ personColumn: String) -> String {
        """
        (EXISTS (SELECT 1 FROM stage_users s WHERE s.rejected = 1 AND s.person_id = \(personColumn))
         OR EXISTS (SELECT 1 FROM stage_distribution_orders o WHERE o.rejected = 1 AND o.person_id = \(personColumn)))
        """
    }

    /// SQL that is true when the account `alias` must stay untouched: a rejected row names
    /// its person, or names a license it holds.
    static func protectedAccount(_ alias: String) -> String {
        """
        (\(protectedPerson("\(alias).person_id"))
         OR EXISTS (SELECT 1 FROM licenses pl JOIN stage_distribution_orders po
                      ON po.rejected = 1 AND po.order_id = pl.order_id
                    WHERE pl.account_id = \(alias).id))
        """
    }

    private func planUsers(removals: Bool, known: Bool) throws {
        try db.execute(sql: """
            CREATE TEMP TABLE plan_users (
                action TEXT NOT NULL, account_id INTEGER, line INTEGER, person_id TEXT, role TEXT, given_name TEXT,
                family_name TEXT, email TEXT, email_key TEXT, school_unit_code TEXT, grade TEXT, eppn TEXT)
            """)
        guard known else { return }
        // Licensed users: an accepted row and at least one accepted order.
        try db.execute(sql: """
            INSERT INTO plan_users (action, account_id, line, person_id, role, given_name, family_name, email, email_key,
                                    school_unit_code, grade, eppn)
            SELECT 'create', a.id, u.line, u.person_id, u.role, u.given_name, u.family_name, u.email, u.email_key,
                   u.school_unit_code, u.grade, u.eppn
            FROM stage_users u LEFT JOIN accounts a ON a.person_id = u.person_id
            WHERE u.rejected = 0
              AND EXISTS (SELECT 1 FROM stage_distribution_orders o WHERE o.rejected = 0 AND o.person_id = u.person_id)
            """)
        try db.execute(sql: "CREATE INDEX temp.plan_users_by_person ON plan_users(person_id)")
        try db.execute(sql: "CREATE INDEX temp.plan_users_by_account ON plan_users(account_id)")
        // Adoption: an unlinked account of this organisation with the same e-mail, ignoring
        // case (Unicode, not just A–Z); when several accepted, licensed rows share it, the
        // first of them in the file adopts and the others are created. The portal's own
        // accounts carry only `email`, so the organisation's unlinked ones — few, and fewer
        // after every adoption — are case-folded into a temporary table first.
        try db.execute(sql: "DROP TABLE IF EXISTS temp.unlinked_accounts")
        try db.execute(sql: """
            CREATE TEMP TABLE unlinked_accounts AS
            SELECT a.id AS id, rosterdrop_email_key(a.email) AS email_key FROM accounts a
            WHERE a.person_id IS NULL AND a.organisation_id = ? AND a.email IS NOT NULL
            """, arguments: [organisation])
        try db.execute(sql: "CREATE INDEX temp.unlinked_accounts_by_email ON unlinked_accounts(email_key)")
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
                SELECT 1 FROM accounts a WHERE a.id = plan_users.account_id AND (
                    a.role IS DISTINCT FROM plan_users.role OR a.given_name IS DISTINCT FROM plan_users.given_name
                    OR a.family_name IS DISTINCT FROM plan_users.family_name OR a.email IS DISTINCT FROM plan_users.email
                    OR a.school_unit_code IS DISTINCT FROM plan_users.school_unit_code
                    OR a.grade IS DISTINCT FROM plan_users.grade OR a.eppn IS DISTINCT FROM plan_users.eppn))
                THEN 'update' ELSE 'keep' END
            WHERE action = 'create' AND account_id IS NOT NULL
            """)
        guard removals else { return }
        try db.execute(sql: """
            INSERT INTO plan_users (action, account_id, person_id)
            SELECT 'remove', a.id, a.person_id FROM accounts a
            WHERE a.organisation_id = ? AND a.identity_source = 'skolon'
              AND NOT EXISTS (SELECT 1 FROM plan_users p WHERE p.person_id = a.person_id)
              AND NOT \(Self.protectedAccount("a"))
            """, arguments: [organisation])
    }

    private func planGroups(known: Bool, removals: Bool) throws {
        try db.execute(sql: """
            CREATE TEMP TABLE plan_groups (action TEXT NOT NULL, group_ref INTEGER, group_id TEXT, name TEXT, type TEXT,
                                           school_unit_code TEXT)
            """)
        guard known else { return }
        try db.execute(sql: """
            INSERT INTO plan_groups (action, group_ref, group_id, name, type, school_unit_code)
            SELECT CASE WHEN g.id IS NULL THEN 'create'
                        WHEN g.name IS DISTINCT FROM s.name OR g.type IS DISTINCT FROM s.type
                             OR g.school_unit_code IS DISTINCT FROM s.school_unit_code THEN 'update'
                        ELSE 'keep' END,
                   g.id, s.group_id, s.name, s.type, s.school_unit_code
            FROM stage_groups s
            LEFT JOIN groups g ON g.organisation_id = ? AND g.source = 'skolon' AND g.external_id = s.group_id
            WHERE s.rejected = 0
            """, arguments: [organisation])
        try db.execute(sql: "CREATE INDEX temp.plan_groups_by_id ON plan_groups(group_id)")
        guard removals else { return }
        try db.execute(sql: """
            INSERT INTO plan_groups (action, group_ref, group_id)
            SELECT 'remove', g.id, g.external_id FROM groups g
            WHERE g.organisation_id = ? AND g.source = 'skolon'
              AND NOT EXISTS (SELECT 1 FROM stage_groups s WHERE s.group_id = g.external_id)
            """, arguments: [organisation])
    }

    private func planMemberships(known: Bool, removals: Bool) throws {
        try db.execute(sql: "CREATE TEMP TABLE plan_memberships (action TEXT NOT NULL, group_id TEXT, person_id TEXT)")
        if known { try planSnapshotMemberships(removals: removals) }
        try planLeavingMemberships()
    }

    /// The memberships file against the portal: both sides as (group, person) pairs of
    /// external ids, the differences computed with EXCEPT, which sorts once instead of
    /// probing an index per pair.
    private func planSnapshotMemberships(removals: Bool) throws {
        for table in ["current_memberships", "target_memberships"] {
            try db.execute(sql: "DROP TABLE IF EXISTS temp.\(table)")
        }
        try db.execute(sql: """
            CREATE TEMP TABLE current_memberships AS
            SELECT g.external_id AS group_id, a.person_id AS person_id FROM memberships m
            JOIN groups g ON g.id = m.group_id JOIN accounts a ON a.id = m.account_id
            WHERE g.organisation_id = ? AND g.source = 'skolon' AND a.person_id IS NOT NULL
            """, arguments: [organisation])
        try db.execute(sql: """
            CREATE TEMP TABLE target_memberships AS
            SELECT s.group_id AS group_id, s.person_id AS person_id FROM stage_memberships s
            JOIN plan_users p ON p.person_id = s.person_id AND p.action <> 'remove'
            WHERE s.rejected = 0
            """)
        try db.execute(sql: """
            INSERT INTO plan_memberships (action, group_id, person_id)
            SELECT 'create', d.group_id, d.person_id FROM (
                SELECT group_id, person_id FROM target_memberships
                EXCEPT SELECT group_id, person_id FROM current_memberships) d
            """)
        guard removals else { return }
        // A pair goes when the snapshot lacks it, unless a rejected row names the pair, its
        // group or its person: the rejected row may have been the one that kept it.
        try db.execute(sql: """
            INSERT INTO plan_memberships (action, group_id, person_id)
            SELECT 'remove', c.group_id, c.person_id FROM (
                SELECT group_id, person_id FROM current_memberships
                EXCEPT SELECT group_id, person_id FROM target_memberships) c
            WHERE NOT EXISTS (SELECT 1 FROM stage_memberships s WHERE s.rejected = 1
                                AND s.group_id = c.group_id AND s.person_id = c.person_id)
              AND NOT EXISTS (SELECT 1 FROM stage_groups s WHERE s.rejected = 1 AND s.group_id = c.group_id)
              AND NOT \(Self.protectedPerson("c.person_id"))
            """)
    }

    /// Memberships that go because their person or group goes, whatever the memberships file
    /// says: counted here so the receipt tells what the apply really removes.
    private func planLeavingMemberships() throws {
        // Driven from the few leaving people and groups through the portal's own indexes,
        // so the cost follows the change, not the organisation's size.
        try db.execute(sql: """
            INSERT INTO plan_memberships (action, group_id, person_id)
            SELECT 'remove', d.group_id, d.person_id FROM (
                SELECT g.external_id AS group_id, a.person_id AS person_id FROM plan_users p
                JOIN memberships m ON m.account_id = p.account_id
                JOIN groups g ON g.id = m.group_id AND g.organisation_id = ? AND g.source = 'skolon'
                JOIN accounts a ON a.id = p.account_id
                WHERE p.action = 'remove'
                UNION
                SELECT g.external_id, a.person_id FROM plan_groups pg
                JOIN memberships m ON m.group_id = pg.group_ref
                JOIN groups g ON g.id = m.group_id
                JOIN accounts a ON a.id = m.account_id AND a.person_id IS NOT NULL
                WHERE pg.action = 'remove'
                EXCEPT SELECT group_id, person_id FROM plan_memberships WHERE action = 'remove') d
            """, arguments: [organisation])
    }

    private func planLicenses(known: Bool, removals: Bool) throws {
        try db.execute(sql: """
            CREATE TEMP TABLE plan_distribution_orders (action TEXT NOT NULL, license_ref INTEGER, order_id TEXT,
                person_id TEXT, product_id TEXT, license_type TEXT, valid_from TEXT, valid_to TEXT)
            """)
        guard known else { return }
        try db.execute(sql: """
            INSERT INTO plan_distribution_orders (action, license_ref, order_id, person_id, product_id, license_type,
                                                  valid_from, valid_to)
            SELECT CASE WHEN l.id IS NULL THEN 'create'
                        WHEN l.source <> 'skolon' OR l.product_id IS DISTINCT FROM o.product_id
                             OR l.license_type IS DISTINCT FROM o.license_type
                             OR l.valid_from IS DISTINCT FROM o.valid_from OR l.valid_to IS DISTINCT FROM o.valid_to
                             OR a.person_id IS DISTINCT FROM o.person_id THEN 'update'
                        ELSE 'keep' END,
                   l.id, o.order_id, o.person_id, o.product_id, o.license_type, o.valid_from, o.valid_to
            FROM stage_distribution_orders o
            JOIN plan_users p ON p.person_id = o.person_id AND p.action <> 'remove'
            LEFT JOIN licenses l ON l.organisation_id = ? AND l.order_id = o.order_id
            LEFT JOIN accounts a ON a.id = l.account_id
            WHERE o.rejected = 0
            """, arguments: [organisation])
        try db.execute(sql: "CREATE INDEX temp.plan_orders_by_order ON plan_distribution_orders(order_id)")
        try db.execute(sql: "CREATE INDEX temp.plan_orders_by_license ON plan_distribution_orders(license_ref)")
        guard removals else { return }
        try db.execute(sql: """
            INSERT INTO plan_distribution_orders (action, license_ref, order_id)
            SELECT 'remove', l.id, l.order_id FROM licenses l JOIN accounts a ON a.id = l.account_id
            WHERE l.organisation_id = ? AND l.source = 'skolon'
              AND NOT EXISTS (SELECT 1 FROM plan_distribution_orders p WHERE p.order_id = l.order_id AND p.action <> 'remove')
              AND NOT EXISTS (SELECT 1 FROM stage_distribution_orders o WHERE o.rejected = 1 AND o.order_id = l.order_id)
              AND NOT \(Self.protectedAccount("a"))
            """, arguments: [organisation])
        // Whatever else a leaving person holds (portal-era licenses too) goes with them,
        // unless the snapshot moves it to someone who stays.
        try db.execute(sql: """
            INSERT INTO plan_distribution_orders (action, license_ref, order_id)
            SELECT 'remove', l.id, l.order_id FROM licenses l
            WHERE l.account_id IN (SELECT account_id FROM plan_users WHERE action = 'remove')
              AND NOT EXISTS (SELECT 1 FROM plan_distribution_orders p WHERE p.license_ref = l.id)
            """)
    }
}
