import Foundation

/// The job's own record of what it did with each organisation's deliveries: outcomes,
/// counts, findings (without values) and holds. It keeps ids and counts only.
struct Ledger {
    let db: any StoreSession
    let organisation: String

    /// The last delivery applied to the portal.
    struct Applied {
        var id: Int64
        var timestamp: String
        var content: String?
        var receivedAt: String
    }

    func latestApplied() throws -> Applied? {
        guard let row = try StoreRow.fetchOne(db, sql: """
            SELECT id, timestamp, content_sha256, received_at FROM deliveries
            WHERE organisation_id = ? AND outcome IN ('applied', 'applied_with_rejects', 'applied_with_warnings')
            ORDER BY timestamp DESC, id DESC LIMIT 1
            """, arguments: [organisation]) else { return nil }
        return Applied(id: row["id"], timestamp: row["timestamp"], content: row["content_sha256"], receivedAt: row["received_at"])
    }

    /// Whether a delivery with this timestamp was already taken: applied, answered in test
    /// mode (switching to live applies the next one), or discarded by an operator (sent
    /// again, it is a duplicate, not a new chance to apply).
    func wasTaken(_ timestamp: String) throws -> Bool {
        try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM deliveries WHERE organisation_id = ? AND timestamp = ?
                           AND outcome IN ('applied', 'applied_with_rejects', 'applied_with_warnings', 'test', 'discarded'))
            """, arguments: [organisation, timestamp]) ?? false
    }

    /// Whether an applied delivery's changes may be removed without a hold: the first
    /// delivery after the integration start is exempt (it replaces what the start cleared),
    /// and so is an organisation's very first delivery (there is nothing to remove).
    func isExemptFromHold(integrationStartedAt: String?) throws -> Bool {
        if let integrationStartedAt {
            return try !(Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM deliveries WHERE organisation_id = ? AND received_at >= ?
                               AND outcome IN ('applied', 'applied_with_rejects', 'applied_with_warnings'))
                """, arguments: [organisation, integrationStartedAt]) ?? false)
        }
        return try latestApplied() == nil
    }

    /// Records a delivery's outcome, counts, files and findings; returns its ledger id.
    func record(runID: Int64, timestamp: String, outcome: DeliveryOutcome, content: String?, loads: [FileLoad],
                counts: [EntityKind: EntityCounts], at now: String) throws -> Int64 {
        let id = try db.insertReturningID(sql: """
            INSERT INTO deliveries (run_id, organisation_id, timestamp, content_sha256, outcome, received_at)
            VALUES (?, ?, ?, ?, ?, ?) RETURNING id
            """, arguments: [runID, organisation, timestamp, content, outcome.rawValue, now])
        for load in loads {
            try db.execute(sql: "INSERT INTO delivery_files (delivery_id, file, sha256, rows) VALUES (?, ?, ?, ?)",
                           arguments: [id, load.name, load.sha256, load.records])
        }
        for (kind, entity) in counts {
            try db.execute(sql: """
                INSERT INTO delivery_counts (delivery_id, entity, received, accepted, rejected, created, updated, removed)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, kind.rawValue, entity.received, entity.accepted, entity.rejected, entity.created,
                                 entity.updated, entity.removed])
        }
        try db.execute(sql: """
            INSERT INTO findings (delivery_id, file, line, column_name, rule, detail, warning)
            SELECT ?, file, line, column_name, rule, detail, warning FROM stage_findings
            """, arguments: [id])
        return id
    }

    /// Names, in the findings of the delivery `deliveryID`, the person each rejected row
    /// named — only people the portal has an account for: a rejected row's id may be
    /// anything, and the ledger keeps no value the portal did not already hold.
    func namePeople(deliveryID: Int64) throws {
        try db.execute(sql: """
            UPDATE findings SET person_id = (
                SELECT p.person_id FROM stage_finding_people p JOIN accounts a ON a.person_id = p.person_id
                WHERE p.file = findings.file AND p.line = findings.line AND a.organisation_id = ?
                LIMIT 1)
            WHERE delivery_id = ? AND line > 0
            """, arguments: [organisation, deliveryID])
    }

    /// The counts a delivery was recorded with.
    func counts(of deliveryID: Int64) throws -> [EntityKind: EntityCounts] {
        var counts: [EntityKind: EntityCounts] = [:]
        for row in try StoreRow.fetchAll(db, sql: "SELECT * FROM delivery_counts WHERE delivery_id = ?", arguments: [deliveryID]) {
            guard let kind = EntityKind(rawValue: row["entity"]) else { continue }
            var entity = EntityCounts()
            entity.received = row["received"]
            entity.accepted = row["accepted"]
            entity.rejected = row["rejected"]
            entity.created = row["created"]
            entity.updated = row["updated"]
            entity.removed = row["removed"]
            counts[kind] = entity
        }
        return counts
    }

    /// Whether an operator asked for the delivery `timestamp` to be taken again.
    func reprocessRequested(_ timestamp: String) throws -> Bool {
        try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM reprocess_requests WHERE organisation_id = ? AND timestamp = ? AND taken_by IS NULL)
            """, arguments: [organisation, timestamp]) ?? false
    }

    /// Marks the open request for `timestamp` taken by the ledger entry `deliveryID`.
    func takeReprocessRequest(_ timestamp: String, by deliveryID: Int64) throws {
        try db.execute(sql: """
            UPDATE reprocess_requests SET taken_by = ? WHERE organisation_id = ? AND timestamp = ? AND taken_by IS NULL
            """, arguments: [deliveryID, organisation, timestamp])
    }

    func registerOrganisation(schoolUnits: [String]) throws {
        try db.execute(sql: "INSERT INTO organisations (id) VALUES (?) ON CONFLICT (id) DO NOTHING", arguments: [organisation])
        for unit in schoolUnits {
            try db.execute(sql: """
                INSERT INTO school_units (code, organisation_id) VALUES (?, ?)
                ON CONFLICT (code) DO UPDATE SET organisation_id = excluded.organisation_id
                """, arguments: [unit, organisation])
        }
    }
}

/// An operator's requests to take a delivery again (`rosterdrop reprocess`).
public struct ReprocessDesk {
    public let database: PortalDatabase

    public init(database: PortalDatabase) {
        self.database = database
    }

    /// Records that the next run takes the delivery `timestamp` again, as new, once its files
    /// are in the inbox (again): after a mapping is fixed, say. A delivery older than the last
    /// one applied stays refused as stale: the portal never goes back in time.
    public func request(organisation: String, timestamp: String, at now: Date) throws {
        try database.writeHolding(organisation: organisation) { db in
            let known = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM deliveries WHERE organisation_id = ? AND timestamp = ?)",
                                          arguments: [organisation, timestamp]) ?? false
            guard known else {
                throw HoldDeskError(message: "organisation '\(organisation)' has no delivery \(timestamp) in the ledger")
            }
            if try Ledger(db: db, organisation: organisation).reprocessRequested(timestamp) { return }
            try db.execute(sql: "INSERT INTO reprocess_requests (organisation_id, timestamp, requested_at) VALUES (?, ?, ?)",
                           arguments: [organisation, timestamp, JobClock.iso(now)])
        }
    }
}
