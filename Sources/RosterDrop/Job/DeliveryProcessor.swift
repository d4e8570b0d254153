import Crypto
import Foundation
import GRDB
import Logging

/// What happened to one delivery, for the run summary.
public struct DeliverySummary: Sendable, Codable, Equatable {
    public var timestamp: String
    public var outcome: DeliveryOutcome
    public var findings: Int
    /// Accepted users without any accepted order, so not in the portal (contract rule 1).
    public var unlicensedUsers: Int
    public var receipt: String?
    public var rejects: String?
    public var counts: [String: EntityCounts]
}

/// Takes one complete delivery from the drop folder through checks, plan, apply and reports.
///
/// Everything before the apply transaction writes only temporary tables and scratch files,
/// so a refused or interrupted delivery leaves the portal as it was.
struct DeliveryProcessor {
    let database: PortalDatabase
    let organisation: OrganisationConfiguration
    let folder: any DropFolder
    let runID: Int64?
    let dryRun: Bool
    /// Compare every row, not only those changed since the job last wrote (see `SyncJob`).
    var full = false
    let now: Date
    let scratch: URL
    let logger: Logger

    var mapping: Mapping { organisation.mapping }

    func process(_ delivery: Delivery) throws -> DeliverySummary {
        let work = scratch.appendingPathComponent("\(organisation.id)-\(delivery.timestamp)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let summary = try database.writer.inDatabase { db -> DeliverySummary in
            try StagingArea.reset(db)
            let (outcome, counts, ledgerID, unlicensed) = try evaluate(delivery, db: db, work: work)
            let summary = try answer(delivery, outcome: outcome, counts: counts, unlicensed: unlicensed, db: db, work: work)
            if let ledgerID {
                try db.execute(sql: "UPDATE deliveries SET answered_at = ? WHERE id = ?", arguments: [Self.iso(now), ledgerID])
            }
            return summary
        }
        if !dryRun {
            for file in delivery.allFiles { try folder.archive(file.name) }
        }
        return summary
    }

    /// Checks, plans and (unless dry) applies; returns the outcome, the counts and the ledger
    /// row to mark answered once the reports are out.
    private func evaluate(_ delivery: Delivery, db: Database,
                          work: URL) throws -> (DeliveryOutcome, [EntityKind: EntityCounts], Int64?, Int) {
        var counts: [EntityKind: EntityCounts] = [:]
        do {
            let latest = try latestApplied(db)
            if let latest, latest.timestamp == delivery.timestamp {
                if latest.answered || dryRun { return (.duplicate, counts, nil, 0) }
                return try recall(latest, db: db)
            }
            if try wasApplied(delivery.timestamp, db) { return (.duplicate, counts, nil, 0) }
            if let latest, latest.timestamp > delivery.timestamp {
                // A finding about the whole delivery is filed under its manifest, when it has one.
                let name = delivery.manifest?.name ?? delivery.allFiles.first?.name ?? ""
                throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .stale, detail: latest.timestamp)])
            }
            let manifest = try readManifest(delivery, work: work)
            try checkPresence(delivery, manifest: manifest)
            let products = try ProductCatalogue.ids(db)
            let index = DeliveryIndex(hashing: RowHashing(rowKey: try PortalDatabase.rowHashKey(db)), full: full)
            let checks = CrossFileChecks(db: db, mapping: mapping, organisation: organisation.id, index: index,
                                         files: delivery.files.mapValues(\.name))
            var loads: [EntityKind: FileLoad] = [:]
            // Users and groups first: the files after them are checked against them as they stream.
            for (kind, file) in delivery.files.sorted(by: { $0.key < $1.key }) {
                guard let fileMapping = mapping.files[kind] else { continue }
                let started = ContinuousClock.now
                let local = try folder.fetch(file.name, scratch: work)
                // A manifest's count is checked only after reading: a false one must not
                // make the job reserve more than a national file needs.
                let expected = min(manifest?.entries[file.name]?.rows ?? 0, 5_000_000)
                index.reserve(kind, rows: expected)
                index.setApplied(kind, try PortalDatabase.appliedHashes(kind, organisation: organisation.id,
                                                                        expected: expected, db))
                var loaded: FileLoad?
                try db.inTransaction {
                    let parser = FileParser(mapping: fileMapping, name: file.name, limit: mapping.delivery.maxFileBytes,
                                            schoolUnits: Set(organisation.schoolUnits), products: products,
                                            organisation: organisation.id, hashing: index.hashing)
                    loaded = try FileLoader(parser: parser, db: db, index: index)
                        .run(url: local, expectedSHA256: manifest?.entries[file.name]?.sha256)
                    try checks.run(kind)
                    return .commit
                }
                index.finish(kind)
                guard let load = loaded else { continue }
                try verify(load, against: manifest)
                loads[kind] = load
                counts[kind, default: EntityCounts()].received = load.records
                logger.info("file staged", metadata: ["organisation": "\(organisation.id)", "delivery": "\(delivery.timestamp)",
                                                      "file": "\(kind.rawValue)", "records": "\(load.records)",
                                                      "seconds": "\(Self.seconds(since: started))",
                                                      "parser_waited": "\(Self.seconds(load.parserWaited))",
                                                      "loader_waited": "\(Self.seconds(load.loaderWaited))"])
            }
            let content = Self.contentHash(loads)
            if let latest, latest.content == content { return (.duplicate, counts, nil, 0) }
            var started = ContinuousClock.now
            let presentUsers = index.licensedUsers()
            try db.inTransaction {
                try StagingArea.prepareForPlan(db, presentUsers: presentUsers.planned, vanished: [
                    .users: index.unmatched(.users), .memberships: index.unmatched(.memberships),
                    .distributionOrders: index.unmatched(.distributionOrders),
                ])
                return .commit
            }
            phase("checked", delivery, since: &started)
            for (kind, load) in loads {
                let accepted = index.acceptedRows[kind] ?? 0
                counts[kind]?.accepted = accepted
                counts[kind]?.rejected = load.records - accepted
            }
            let unlicensed = loads[.users] != nil && loads[.distributionOrders] != nil
                ? max(0, (index.acceptedRows[.users] ?? 0) - presentUsers.count) : 0
            let reconciliation = Reconciliation(db: db, organisation: organisation.id, present: Set(loads.keys),
                                                suspended: Set(loads.values.filter { $0.unkeyed > 0 }.map(\.kind)),
                                                full: full)
            if !reconciliation.suspended.isEmpty {
                try StagingArea.insert(reconciliation.suspended.sorted().compactMap { kind in
                    loads[kind].map { Finding(file: $0.name, line: 0, rule: .removalsSuspended) }
                }, db)
            }
            let findings = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM stage_findings") ?? 0
            let outcome: DeliveryOutcome = dryRun ? .test : (findings > 0 ? .appliedWithRejects : .applied)
            func plan() throws {
                for (kind, change) in try reconciliation.plan() {
                    counts[kind, default: EntityCounts()].created = change.created
                    counts[kind, default: EntityCounts()].updated = change.updated
                    counts[kind, default: EntityCounts()].removed = change.removed
                }
                phase("planned", delivery, since: &started)
            }
            var ledgerID: Int64?
            if dryRun {
                try plan()
            } else {
                // Planned inside the write transaction, so the portal cannot change between the
                // plan and its apply (the portal's own writers wait on SQLite's lock meanwhile).
                try db.inTransaction(.immediate) {
                    try registerOrganisation(db)
                    try plan()
                    try reconciliation.apply(now: Self.iso(now))
                    ledgerID = try record(delivery, outcome: outcome, content: content, loads: loads, counts: counts, db: db)
                    return .commit
                }
                phase("applied", delivery, since: &started)
            }
            return (outcome, counts, ledgerID, unlicensed)
        } catch let refusal as DeliveryRefusal {
            try db.execute(sql: "DELETE FROM stage_findings")
            try StagingArea.insert(refusal.findings, db)
            for kind in counts.keys { counts[kind] = EntityCounts(received: counts[kind]?.received ?? 0) }
            var ledgerID: Int64?
            if !dryRun {
                try db.inTransaction(.immediate) {
                    try registerOrganisation(db)
                    ledgerID = try record(delivery, outcome: .refused, content: nil, loads: [:], counts: counts, db: db)
                    return .commit
                }
            }
            return (.refused, counts, ledgerID, 0)
        }
    }

    /// Publishes the receipt (and the reject report when there are findings).
    private func answer(_ delivery: Delivery, outcome: DeliveryOutcome, counts: [EntityKind: EntityCounts],
                        unlicensed: Int, db: Database, work: URL) throws -> DeliverySummary {
        let findings = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM stage_findings") ?? 0
        var rejectsName: String?
        if findings > 0 && outcome != .duplicate {
            let local = work.appendingPathComponent("rejects.csv.gz")
            _ = try ReportWriter.writeRejects(db, files: delivery.allFiles.map(\.name), to: local)
            rejectsName = try folder.publish(local, as: "rejects_\(delivery.timestamp).csv.gz", in: .outbox)
        }
        let receipt = work.appendingPathComponent("receipt.csv")
        try ReportWriter.writeReceipt(timestamp: delivery.timestamp, organisation: organisation.id, outcome: outcome,
                                      counts: counts, to: receipt)
        let receiptName = try folder.publish(receipt, as: "receipt_\(delivery.timestamp).csv", in: .outbox)
        logger.info("delivery answered", metadata: ["organisation": "\(organisation.id)", "delivery": "\(delivery.timestamp)",
                                                    "outcome": "\(outcome.rawValue)", "findings": "\(findings)"])
        let unlicensed = [.applied, .appliedWithRejects, .test].contains(outcome) ? unlicensed : 0
        return DeliverySummary(timestamp: delivery.timestamp, outcome: outcome, findings: findings,
                               unlicensedUsers: unlicensed, receipt: receiptName,
                               rejects: rejectsName, counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }))
    }

    private func readManifest(_ delivery: Delivery, work: URL) throws -> Manifest? {
        guard let file = delivery.manifest else { return nil }
        let local = try folder.fetch(file.name, scratch: work)
        do {
            return try Manifest.read(local)
        } catch let error as ManifestError {
            throw DeliveryRefusal(findings: [Finding(file: file.name, line: 0, rule: .manifestInvalid, detail: String(error.line))])
        }
    }

    /// Refuses a delivery whose files and manifest disagree, or that lacks a required kind.
    private func checkPresence(_ delivery: Delivery, manifest: Manifest?) throws {
        var findings: [Finding] = []
        let names = Set(delivery.files.values.map(\.name))
        if let manifest, let manifestName = delivery.manifest?.name {
            for name in manifest.entries.keys.sorted() where !names.contains(name) {
                findings.append(Finding(file: name, line: 0, value: manifestName, rule: .manifestMissingFile))
            }
            for name in names.sorted() where manifest.entries[name] == nil {
                findings.append(Finding(file: name, line: 0, rule: .manifestUnlisted))
            }
        }
        for kind in mapping.delivery.required where delivery.files[kind] == nil {
            let expected = mapping.files[kind]?.fileName(timestamp: delivery.timestamp) ?? kind.rawValue
            findings.append(Finding(file: expected, line: 0, rule: .missingKind, detail: expected))
        }
        if delivery.files[.memberships] != nil, delivery.files[.groups] == nil || delivery.files[.users] == nil {
            let expected = mapping.files[.groups]?.fileName(timestamp: delivery.timestamp) ?? "groups"
            findings.append(Finding(file: expected, line: 0, rule: .missingKind, detail: expected))
        }
        if !findings.isEmpty { throw DeliveryRefusal(findings: findings) }
    }

    private func verify(_ load: FileLoad, against manifest: Manifest?) throws {
        guard let manifest, let entry = manifest.entries[load.name] else { return }
        if entry.sha256 != load.sha256 {
            throw DeliveryRefusal(findings: [Finding(file: load.name, line: 0, rule: .manifestChecksum)])
        }
        if entry.rows != load.records {
            throw DeliveryRefusal(findings: [Finding(file: load.name, line: 0, rule: .manifestRows,
                                                     detail: "\(entry.rows)/\(load.records)")])
        }
    }

    private struct Applied {
        var id: Int64
        var timestamp: String
        var content: String?
        var outcome: String
        var answered: Bool
    }

    private func wasApplied(_ timestamp: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM deliveries WHERE organisation_id = ? AND timestamp = ?
                           AND outcome IN ('applied', 'applied_with_rejects'))
            """, arguments: [organisation.id, timestamp]) ?? false
    }

    private func latestApplied(_ db: Database) throws -> Applied? {
        guard let row = try GRDB.Row.fetchOne(db, sql: """
            SELECT id, timestamp, content_sha256, outcome, answered_at FROM deliveries
            WHERE organisation_id = ? AND outcome IN ('applied', 'applied_with_rejects')
            ORDER BY timestamp DESC, id DESC LIMIT 1
            """, arguments: [organisation.id]) else { return nil }
        return Applied(id: row["id"], timestamp: row["timestamp"], content: row["content_sha256"], outcome: row["outcome"],
                       answered: (row["answered_at"] as String?) != nil)
    }

    /// The outcome, counts and findings of a delivery that was committed but never answered
    /// (the run stopped between commit and reports), so it is answered now instead of being
    /// called a duplicate. The ledger keeps no cell values, so the recalled reject report
    /// has empty `value` cells.
    private func recall(_ applied: Applied, db: Database) throws -> (DeliveryOutcome, [EntityKind: EntityCounts], Int64?, Int) {
        var counts: [EntityKind: EntityCounts] = [:]
        for row in try GRDB.Row.fetchAll(db, sql: "SELECT * FROM delivery_counts WHERE delivery_id = ?", arguments: [applied.id]) {
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
        try db.execute(sql: """
            INSERT INTO stage_findings (file, line, column_name, value, rule, detail)
            SELECT file, line, column_name, '', rule, detail FROM findings WHERE delivery_id = ?
            """, arguments: [applied.id])
        return (DeliveryOutcome(rawValue: applied.outcome) ?? .applied, counts, applied.id, 0)
    }

    /// A digest of the delivery's data files by kind, independent of their names.
    static func contentHash(_ loads: [EntityKind: FileLoad]) -> String {
        var hasher = SHA256()
        for (kind, load) in loads.sorted(by: { $0.key < $1.key }) {
            hasher.update(data: Data("\(kind.rawValue)=\(load.sha256)\n".utf8))
        }
        return Digest.hex(hasher.finalize())
    }

    private func registerOrganisation(_ db: Database) throws {
        try db.execute(sql: "INSERT INTO organisations (id) VALUES (?) ON CONFLICT (id) DO NOTHING", arguments: [organisation.id])
        for unit in organisation.schoolUnits {
            try db.execute(sql: """
                INSERT INTO school_units (code, organisation_id) VALUES (?, ?)
                ON CONFLICT (code) DO UPDATE SET organisation_id = excluded.organisation_id
                """, arguments: [unit, organisation.id])
        }
    }

    private func record(_ delivery: Delivery, outcome: DeliveryOutcome, content: String?, loads: [EntityKind: FileLoad],
                        counts: [EntityKind: EntityCounts], db: Database) throws -> Int64? {
        guard let runID else { return nil }
        try db.execute(sql: """
            INSERT INTO deliveries (run_id, organisation_id, timestamp, content_sha256, outcome, received_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [runID, organisation.id, delivery.timestamp, content, outcome.rawValue, Self.iso(now)])
        let id = db.lastInsertedRowID
        for load in loads.values {
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
            INSERT INTO findings (delivery_id, file, line, column_name, rule, detail)
            SELECT ?, file, line, column_name, rule, detail FROM stage_findings
            """, arguments: [id])
        return id
    }

    private func phase(_ name: String, _ delivery: Delivery, since started: inout ContinuousClock.Instant) {
        logger.info("delivery \(name)", metadata: ["organisation": "\(organisation.id)", "delivery": "\(delivery.timestamp)",
                                                   "seconds": "\(Self.seconds(since: started))"])
        started = ContinuousClock.now
    }

    static func seconds(since start: ContinuousClock.Instant) -> String {
        seconds(ContinuousClock.now - start)
    }

    static func seconds(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return String(format: "%.3f", Double(milliseconds) / 1000)
    }

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

extension EntityCounts {
    init(received: Int) {
        self.init()
        self.received = received
    }
}
