import Foundation

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
        try StoreRow.fetchAll(db, sql: """
            SELECT * FROM holds WHERE organisation_id = ? AND state <> 'closed' ORDER BY timestamp, delivery_id
            """, arguments: [organisation]).map(heldDelivery)
    }

    func heldDelivery(_ row: StoreRow) throws -> HeldDelivery {
        let id: Int64 = row["delivery_id"]
        let figures = try StoreRow.fetchAll(db, sql: "SELECT * FROM hold_figures WHERE delivery_id = ? ORDER BY entity",
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
