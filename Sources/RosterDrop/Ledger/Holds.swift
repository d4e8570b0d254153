import Foundation
import GRDB

/// Where a held delivery stands.
public enum HoldState: String, Sendable, Codable {
    /// Waiting for an operator; it and every newer delivery of the organisation wait too.
    case held
    /// The next run applies it (re-planned, and held again if it would now remove more).
    case approved
    /// The next run answers it `discarded` and archives its files.
    case discarded
    /// Dealt with.
    case closed
}

/// What a held delivery would remove of one kind, beside what the organisation has.
public struct HoldFigure: Sendable, Codable, Equatable {
    public var entity: String
    public var removing: Int
    public var current: Int
    public var limitPercent: Double

    public var percent: Double { current == 0 ? (removing > 0 ? 100 : 0) : Double(removing) * 100 / Double(current) }
}

/// A delivery held for an operator, as `rosterdrop holds` lists it.
public struct HeldDelivery: Sendable, Codable {
    public var organisation: String
    public var timestamp: String
    public var state: HoldState
    public var heldAt: String
    public var decidedAt: String?
    public var figures: [HoldFigure]
    /// What the delivery would create, update and remove, per entity.
    public var counts: [String: EntityCounts]
    var deliveryID: Int64
}

extension Ledger {
    /// The organisation's holds not yet closed, oldest first.
    func openHolds() throws -> [HeldDelivery] {
        try GRDB.Row.fetchAll(db, sql: """
            SELECT * FROM holds WHERE organisation_id = ? AND state <> 'closed' ORDER BY timestamp, delivery_id
            """, arguments: [organisation]).map(heldDelivery)
    }

    func heldDelivery(_ row: GRDB.Row) throws -> HeldDelivery {
        let id: Int64 = row["delivery_id"]
        let figures = try GRDB.Row.fetchAll(db, sql: "SELECT * FROM hold_figures WHERE delivery_id = ? ORDER BY entity",
                                            arguments: [id]).map { figure in
            HoldFigure(entity: figure["entity"], removing: figure["removing"], current: figure["current"],
                       limitPercent: figure["limit_percent"])
        }
        let counts = try self.counts(of: id)
        return HeldDelivery(organisation: row["organisation_id"], timestamp: row["timestamp"],
                            state: HoldState(rawValue: row["state"]) ?? .held, heldAt: row["held_at"], decidedAt: row["decided_at"],
                            figures: figures, counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                            deliveryID: id)
    }

    /// Records that the delivery `deliveryID` is held, with its figures.
    func hold(deliveryID: Int64, timestamp: String, figures: [HoldFigure], at now: String) throws {
        try db.execute(sql: """
            INSERT INTO holds (delivery_id, organisation_id, timestamp, state, held_at) VALUES (?, ?, ?, 'held', ?)
            """, arguments: [deliveryID, organisation, timestamp, now])
        for figure in figures {
            try db.execute(sql: """
                INSERT INTO hold_figures (delivery_id, entity, removing, current, limit_percent) VALUES (?, ?, ?, ?, ?)
                """, arguments: [deliveryID, figure.entity, figure.removing, figure.current, figure.limitPercent])
        }
    }

    /// Closes a hold once its delivery is applied, held again, or answered as discarded.
    func close(_ hold: HeldDelivery, at now: String) throws {
        try db.execute(sql: "UPDATE holds SET state = 'closed', closed_at = ? WHERE delivery_id = ?",
                       arguments: [now, hold.deliveryID])
    }
}

/// What an operator can do with held deliveries (`rosterdrop holds|approve|discard`).
public struct HoldDesk {
    public let database: PortalDatabase

    public init(database: PortalDatabase) {
        self.database = database
    }

    /// Every open hold, of one organisation or all.
    public func list(organisation: String? = nil) throws -> [HeldDelivery] {
        try database.writer.read { db in
            let organisations = try organisation.map { [$0] }
                ?? String.fetchAll(db, sql: "SELECT DISTINCT organisation_id FROM holds WHERE state <> 'closed' ORDER BY 1")
            return try organisations.flatMap { try Ledger(db: db, organisation: $0).openHolds() }
        }
    }

    /// Marks the held delivery `timestamp` approved (the next run applies it) or discarded
    /// (the next run answers it and archives its files).
    public func decide(organisation: String, timestamp: String, approve: Bool, at now: Date) throws -> HeldDelivery {
        try database.writer.write { db in
            let holds = try Ledger(db: db, organisation: organisation).openHolds()
            guard var hold = holds.first(where: { $0.timestamp == timestamp }) else {
                let open = holds.map(\.timestamp).joined(separator: ", ")
                throw HoldDeskError(message: "organisation '\(organisation)' has no open hold for delivery \(timestamp)"
                    + (open.isEmpty ? " (it has none)" : " (open: \(open))"))
            }
            guard hold.state == .held else {
                throw HoldDeskError(message: "delivery \(timestamp) of '\(organisation)' is already \(hold.state.rawValue); the next run acts on it")
            }
            hold.state = approve ? .approved : .discarded
            hold.decidedAt = JobClock.iso(now)
            try db.execute(sql: "UPDATE holds SET state = ?, decided_at = ? WHERE delivery_id = ?",
                           arguments: [hold.state.rawValue, hold.decidedAt, hold.deliveryID])
            return hold
        }
    }
}

public struct HoldDeskError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Decides whether a delivery's plan removes too much to apply without an operator.
struct RemovalGuard {
    let policy: HoldPolicy

    static let entities: [(EntityKind, String)] = [
        (.users, "users"), (.groups, "groups"), (.memberships, "memberships"), (.distributionOrders, "licenses"),
    ]

    /// What the organisation holds from Skolon now, for the kinds in `kinds` (counting a
    /// national organisation's memberships takes a while: only kinds that remove enough to
    /// matter are counted).
    static func current(_ db: Database, organisation: String, kinds: Set<EntityKind>) throws -> [EntityKind: Int] {
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
