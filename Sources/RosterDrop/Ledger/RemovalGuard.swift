
/// Decides whether a delivery's plan removes too much to apply without an operator.
struct RemovalGuard {
    let policy: HoldPolicy

    static let entities: [(EntityKind, String)] = [
        (.users, "users"), (.groups, "groups"), (.memberships, "memberships"), (.distributionOrders, "licenses"),
    ]

    /// What the organisation holds from Skolon now, for the kinds in `kinds` (counting a
    /// national organisation's memberships takes a while: only kinds that remove enough to
    /// matter are counted).
    static func current(_ db: any StoreSession, organisation: String, kinds: Set<EntityKind>) throws -> [EntityKind: Int] {
        let sql: [EntityKind: String] = [
            .users: "SELECT COUNT(*) FROM accounts WHERE organisation_id = ? AND identity_source = 'skolon'",
            .groups: "SELECT COUNT(*) FROM groups WHERE organisation_id = ? AND source = 'skolon'",
            .memberships: """
                SELECT COUNT(*) FROM groups g JOIN memberships m ON m.group_id = g.id
                WHERE g.organisation_id = ? AND g.source = 'skolon'
                """,
            .distributionOrders: "SELECT COUNT(*) FROM licenses WHERE organisation_id = ? AND source = 'skolon'",
        ]
        var counts: [EntityKind: Int] = [:]
        for kind in kinds { counts[kind] = try sql[kind].flatMap { try Int.fetchOne(db, sql: $0, arguments: [organisation]) } ?? 0 }
        return counts
    }

    /// The kinds whose planned removals reach the minimum: the only ones that can be held.
    func candidates(_ planned: [EntityKind: EntityCounts]) -> Set<EntityKind> {
        Set(Self.entities.map(\.0).filter { (planned[$0]?.removed ?? 0) >= max(policy.minimum, 1) })
    }

    /// The plan's removals that are expiry's doing, not the snapshot's: people whose last
    /// license ended (`expiry_pending`), with what goes with them. They never count toward a
    /// hold (a school's trials ending on one day are no broken export).
    static func expiryDriven(_ db: any StoreSession, organisation: String) throws -> [EntityKind: Int] {
        let pending = "SELECT account_id FROM expiry_pending WHERE organisation_id = ?"
        return [
            .users: try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM plan_users WHERE action = 'remove' AND account_id IN (\(pending))
                """, arguments: [organisation]) ?? 0,
            .memberships: try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM plan_memberships WHERE action = 'remove' AND account_id IN (\(pending))
                """, arguments: [organisation]) ?? 0,
            .distributionOrders: try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM plan_distribution_orders p JOIN licenses l ON l.id = p.license_ref
                WHERE p.action = 'remove' AND l.account_id IN (\(pending))
                """, arguments: [organisation]) ?? 0,
        ]
    }

    /// The planned counts with expiry's removals taken out, as the guard judges them.
    static func snapshotDriven(_ planned: [EntityKind: EntityCounts], expiring: [EntityKind: Int]) -> [EntityKind: EntityCounts] {
        var counts = planned
        for (kind, number) in expiring { counts[kind, default: EntityCounts()].removed -= min(number, counts[kind]?.removed ?? 0) }
        return counts
    }

    func figures(planned: [EntityKind: EntityCounts], current: [EntityKind: Int]) -> [HoldFigure] {
        Self.entities.map { kind, name in
            HoldFigure(entity: name, removing: planned[kind]?.removed ?? 0, current: current[kind] ?? 0,
                       limitPercent: policy.percent[kind] ?? 100)
        }
    }

    /// Whether any kind removes more than its share (and at least the minimum).
    func exceeds(_ figures: [HoldFigure]) -> Bool {
        figures.contains { $0.removing >= max(policy.minimum, 1) && $0.percent > $0.limitPercent }
    }

    /// Whether an approved delivery, re-planned, removes more of any kind than the operator saw.
    static func exceedsApproval(_ figures: [HoldFigure], approved: [HoldFigure]) -> Bool {
        figures.contains { figure in figure.removing > (approved.first { $0.entity == figure.entity }?.removing ?? 0) }
    }
}
