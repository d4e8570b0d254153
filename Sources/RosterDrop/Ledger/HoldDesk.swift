import Foundation

/// What an operator can do with held deliveries (`rosterdrop holds|approve|discard`).
public struct HoldDesk {
    public let database: PortalDatabase

    public init(database: PortalDatabase) {
        self.database = database
    }

    /// Every open hold, of one organisation or all.
    public func list(organisation: String? = nil) throws -> [HeldDelivery] {
        try database.read { db in
            let organisations = try organisation.map { [$0] }
                ?? String.fetchAll(db, sql: "SELECT DISTINCT organisation_id FROM holds WHERE state <> 'closed' ORDER BY 1")
            return try organisations.flatMap { try Ledger(db: db, organisation: $0).openHolds() }
        }
    }

    /// Marks the held delivery `timestamp` approved (the next run applies it) or discarded
    /// (the next run answers it and archives its files).
    public func decide(organisation: String, timestamp: String, approve: Bool, at now: Date) throws -> HeldDelivery {
        try database.writeHolding(organisation: organisation) { db in
            let holds = try Ledger(db: db, organisation: organisation).openHolds()
            guard var hold = holds.first(where: { $0.timestamp == timestamp }) else {
                let open = holds.map(\.timestamp).joined(separator: ", ")
                throw HoldDeskError(message: "organisation '\(organisation)' has no open hold for delivery \(timestamp)"
                    + (open.isEmpty ? " (it has none)" : " (open: \(open))"))
            }
            // Until the next run acts, a decision can be changed: an approved delivery whose
            // files went missing can still be discarded, so it never blocks the organisation.
            let wanted: HoldState = approve ? .approved : .discarded
            guard hold.state != wanted else {
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
