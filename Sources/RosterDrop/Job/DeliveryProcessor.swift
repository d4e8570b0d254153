import Foundation
import Logging

/// What happened to one delivery, for the run summary.
public struct DeliverySummary: Sendable, Codable, Equatable {
    public var timestamp: String
    public var outcome: DeliveryOutcome
    public var findings: Int
    /// Accepted users without any accepted order, so not in the portal (contract rule 1).
    public var unlicensedUsers: Int
    /// Accepted orders already past their end date, which grant nothing (rule 7).
    public var expiredOrders: Int = 0
    public var receipt: String?
    public var rejects: String?
    /// The HTML report's name in the outbox.
    public var report: String?
    public var counts: [String: EntityCounts]
    /// For a held delivery: what it would remove beside what the organisation has.
    public var hold: [HoldFigure]?
    /// Rows the mapping's `select` left out, per kind (received = accepted + rejected + these).
    public var filtered: [String: Int]?
}

/// Takes one complete delivery through its stages: intake (ledger: taken before? stale?),
/// reading and checks (`DeliveryReader`), plan (`Reconciliation`), the removal guard
/// (`RemovalGuard`), then one transaction that applies it — or holds it, or in test mode
/// only records it — together with its ledger entry and its answer, which is published
/// after the commit (`AnswerOffice`).
///
/// Everything before that transaction writes only temporary tables and scratch files, so
/// a refused or interrupted delivery leaves the portal as it was.
struct DeliveryProcessor {
    let context: OrganisationContext
    /// Where the organisation's integration stands, for the receipt (its at-risk count) and
    /// the HTML report.
    let integration: (any StoreSession) throws -> IntegrationFacts?

    private var organisation: OrganisationConfiguration { context.organisation }
    private var logger: Logger { context.logger }

    /// The stages' result, before it is committed.
    private struct Verdict {
        var outcome: DeliveryOutcome
        var counts: [EntityKind: EntityCounts] = [:]
        var read: ReadDelivery?
        var hold: [HoldFigure]?
    }

    /// Processes `delivery`; `approval` is its hold when an operator approved it.
    func process(_ delivery: Delivery, approval: HeldDelivery? = nil) throws -> DeliverySummary {
        let work = try context.workFolder(delivery.timestamp)
        defer { try? FileManager.default.removeItem(at: work) }
        var answerID: Int64?
        var summary = try context.database.inDatabase { db -> DeliverySummary in
            try StagingArea.reset(db)
            let ledger = Ledger(db: db, organisation: organisation.id)
            var verdict: Verdict
            do {
                verdict = try evaluate(delivery, approval: approval, ledger: ledger, db: db, work: work)
            } catch let refusal as DeliveryRefusal {
                try db.execute(sql: "DELETE FROM stage_findings")
                try StagingArea.insert(refusal.findings, db)
                verdict = Verdict(outcome: .refused, counts: refusal.received.mapValues { EntityCounts(received: $0) })
            }
            if verdict.outcome == .refused || verdict.outcome == .duplicate {
                // Received counts only: nothing was (or will be) applied.
                verdict.counts = verdict.counts.mapValues { EntityCounts(received: $0.received) }
            }
            return try commit(delivery, verdict: verdict, approval: approval, ledger: ledger, db: db, work: work,
                              answerID: &answerID)
        }
        FaultPoint.hit("delivery-committed")
        if let answerID, let names = try context.publishPending()[answerID] {
            summary.name(names)
        }
        logger.info("delivery answered", metadata: ["organisation": "\(organisation.id)", "delivery": "\(delivery.timestamp)",
                                                    "outcome": "\(summary.outcome.rawValue)", "findings": "\(summary.findings)"])
        return summary
    }

    /// Intake, reading and the plan: everything but the commit.
    private func evaluate(_ delivery: Delivery, approval: HeldDelivery?, ledger: Ledger, db: any StoreSession,
                          work: URL) throws -> Verdict {
        try checkTimestamp(delivery)
        let latest = try ledger.latestApplied()
        // An operator's reprocess request makes a delivery taken before a new one.
        let again = try ledger.reprocessRequested(delivery.timestamp)
        if !again, try ledger.wasTaken(delivery.timestamp) {
            return Verdict(outcome: .duplicate)
        }
        if !again, let latest, latest.timestamp == delivery.timestamp { return Verdict(outcome: .duplicate) }
        if let latest, latest.timestamp > delivery.timestamp {
            throw DeliveryRefusal(findings: [Finding(file: wholeDeliveryFile(delivery), line: 0, rule: .stale,
                                                     detail: latest.timestamp)])
        }
        var started = ContinuousClock.now
        var reader = DeliveryReader(organisation: organisation, folder: context.folder, full: context.full,
                                    today: context.today, work: work, logger: logger)
        reader.progress = context.progress
        let read = try reader.read(delivery, db: db)
        if !again, let latest, latest.content == read.content { return Verdict(outcome: .duplicate, counts: read.counts) }
        phase("checked", delivery, since: &started)
        return Verdict(outcome: .applied, counts: read.counts, read: read)
    }

    /// A finding about the whole delivery is filed under its manifest, when it has one.
    private func wholeDeliveryFile(_ delivery: Delivery) -> String {
        delivery.manifest?.name ?? delivery.allFiles.first?.name ?? ""
    }

    /// Refuses a timestamp that names no real instant, or one more than a day ahead of the
    /// job's clock: trusting it would make every real delivery after it look stale.
    private func checkTimestamp(_ delivery: Delivery) throws {
        guard let instant = JobClock.instant(ofStamp: delivery.timestamp) else {
            throw DeliveryRefusal(findings: [Finding(file: wholeDeliveryFile(delivery), line: 0, value: delivery.timestamp,
                                                     rule: .badTimestamp, detail: "invalid")])
        }
        if instant.timeIntervalSince(context.now) > 86_400 {
            throw DeliveryRefusal(findings: [Finding(file: wholeDeliveryFile(delivery), line: 0, value: delivery.timestamp,
                                                     rule: .badTimestamp, detail: "future")])
        }
    }

    /// Plans (when the delivery was read), then in one transaction applies or holds it, records
    /// it and stores its answer. A dry run publishes its answer at once and records nothing.
    private func commit(_ delivery: Delivery, verdict: Verdict, approval: HeldDelivery?, ledger: Ledger, db: any StoreSession,
                        work: URL, answerID: inout Int64?) throws -> DeliverySummary {
        var verdict = verdict
        let findings = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM stage_findings") ?? 0
        let errors = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM stage_findings WHERE warning = 0") ?? 0
        var started = ContinuousClock.now
        let reconciliation = verdict.read.map { read in
            Reconciliation(db: db, organisation: organisation.id, present: Set(read.loads.map(\.kind)), suspended: read.suspended,
                           full: context.full)
        }
        func plan() throws {
            guard let reconciliation else { return }
            for (kind, change) in try reconciliation.plan() {
                verdict.counts[kind, default: EntityCounts()].created = change.created
                verdict.counts[kind, default: EntityCounts()].updated = change.updated
                verdict.counts[kind, default: EntityCounts()].removed = change.removed
            }
            phase("planned", delivery, since: &started)
        }
        if verdict.read != nil {
            verdict.outcome = context.mode == .live
                ? (errors > 0 ? .appliedWithRejects : findings > 0 ? .appliedWithWarnings : .applied) : .test
        }
        guard context.mode != .dry, let runID = context.runID else {
            try plan()
            let answer = try answerFiles(delivery, verdict: verdict, findings: findings, integration: try integration(db), db: db,
                                         work: work)
            let names = try context.answers.publishNow(answer, db: db)
            return summary(delivery, verdict: verdict, findings: findings, names: names)
        }
        let archive = verdict.outcome == .held ? [] : delivery.allFiles.map(\.name) + (verdict.read?.unclaimed ?? [])
        // Planned inside the write transaction, so the portal cannot change between the
        // plan and its apply (the portal's own writers wait on SQLite's lock meanwhile).
        try db.inTransaction(.immediate) {
            // Test mode changes no portal table, not even the organisation's own rows.
            if context.mode == .live { try ledger.registerOrganisation(schoolUnits: organisation.schoolUnits) }
            try plan()
            var apply = false
            if verdict.read != nil, context.mode == .live {
                let guardian = RemovalGuard(policy: organisation.hold)
                // Only kinds that remove enough to matter are counted first; a delivery to
                // be held gets the full figures.
                let judged = RemovalGuard.snapshotDriven(verdict.counts,
                                                         expiring: try RemovalGuard.expiryDriven(db, organisation: organisation.id))
                func measure(_ kinds: Set<EntityKind>) throws -> [HoldFigure] {
                    guardian.figures(planned: judged, current: try RemovalGuard.current(db, organisation: organisation.id, kinds: kinds))
                }
                var figures = try measure(approval == nil ? guardian.candidates(judged) : Set(EntityKind.allCases))
                let held: Bool
                if let approval {
                    // What the operator approved, and no more: the same content, removing no
                    // more of any kind than they saw.
                    let approvedContent = try String.fetchOne(db, sql: "SELECT content_sha256 FROM deliveries WHERE id = ?",
                                                              arguments: [approval.deliveryID])
                    held = approvedContent != verdict.read?.content || RemovalGuard.exceedsApproval(figures, approved: approval.figures)
                } else {
                    let started = try String.fetchOne(db, sql: "SELECT integration_started_at FROM organisations WHERE id = ?",
                                                      arguments: [organisation.id])
                    held = try !ledger.isExemptFromHold(integrationStartedAt: started) && guardian.exceeds(figures)
                }
                if held {
                    if approval == nil { figures = try measure(Set(EntityKind.allCases)) }
                    verdict.outcome = .held
                    verdict.hold = figures
                } else {
                    apply = true
                }
            }
            let id = try ledger.record(runID: runID, timestamp: delivery.timestamp, outcome: verdict.outcome,
                                       content: verdict.read?.content, loads: verdict.read?.files ?? [],
                                       counts: verdict.counts, at: context.stamp)
            if let approval { try ledger.close(approval, at: context.stamp) }
            if context.mode != .dry { try ledger.takeReprocessRequest(delivery.timestamp, by: id) }
            if let figures = verdict.hold {
                try ledger.hold(deliveryID: id, timestamp: delivery.timestamp, figures: figures, at: context.stamp)
            }
            if apply, let reconciliation {
                try reconciliation.apply(now: context.stamp, deliveryID: id, reason: approval == nil ? .snapshot : .approvedHold)
            }
            if findings > 0 { try ledger.namePeople(deliveryID: id) }
            var answer = try answerFiles(delivery, verdict: verdict, findings: findings, integration: try integration(db), db: db,
                                         work: work)
            answer.deliveryID = id
            answer.archive = verdict.outcome == .held ? [] : archive
            answerID = try context.answers.store(answer, db: db, at: context.stamp).id
            FaultPoint.hit("delivery-commit")
            return .commit
        }
        phase(verdict.outcome == .held ? "held" : "committed", delivery, since: &started)
        return summary(delivery, verdict: verdict, findings: findings, names: [])
    }

    /// The reject report when there are findings, the HTML report, and the receipt.
    private func answerFiles(_ delivery: Delivery, verdict: Verdict, findings: Int, integration: IntegrationFacts?, db: any StoreSession,
                             work: URL) throws -> Answer {
        var files: [(String, URL)] = []
        let names = delivery.allFiles.map(\.name)
        if findings > 0 && verdict.outcome != .duplicate {
            let local = work.appendingPathComponent("rejects.csv.gz")
            _ = try ReportWriter.writeRejects(db, files: names, source: organisation.mapping.delivery.sourceName, to: local)
            files.append(("rejects_\(delivery.timestamp).csv.gz", local))
        }
        let shown = verdict.outcome.readAndPlanned
        var report = DeliveryReport(organisation: organisation.id, timestamp: delivery.timestamp, answeredAt: context.stamp,
                                    timeZone: context.clock.timeZone,
                                    outcome: verdict.outcome, counts: verdict.counts, files: names,
                                    source: organisation.mapping.delivery.sourceName, hold: verdict.hold, integration: integration)
        // A duplicate's findings were answered with the delivery it repeats.
        report.showsFindings = verdict.outcome != .duplicate
        if shown, let read = verdict.read {
            report.filtered = read.filtered
            report.unlicensedUsers = read.unlicensed
            report.expiredOrders = read.expiredOrders
        }
        let page = work.appendingPathComponent("report.html")
        try report.write(db, to: page)
        files.append((DeliveryReport.fileName(delivery.timestamp), page))
        // The receipt last: once it is there, the answer is whole.
        let receipt = work.appendingPathComponent("receipt.csv")
        try ReportWriter.writeReceipt(timestamp: delivery.timestamp, organisation: organisation.id, outcome: verdict.outcome,
                                      counts: verdict.counts, atRisk: integration?.atRisk?.count, to: receipt)
        files.append(("receipt_\(delivery.timestamp).csv", receipt))
        return Answer(kind: "delivery", deliveryID: nil, files: files)
    }

    private func summary(_ delivery: Delivery, verdict: Verdict, findings: Int, names: [String]) -> DeliverySummary {
        let shown = verdict.outcome.readAndPlanned
        var summary = DeliverySummary(timestamp: delivery.timestamp, outcome: verdict.outcome, findings: findings,
                                      unlicensedUsers: shown ? verdict.read?.unlicensed ?? 0 : 0,
                                      expiredOrders: shown ? verdict.read?.expiredOrders ?? 0 : 0,
                                      counts: Dictionary(uniqueKeysWithValues: verdict.counts.map { ($0.key.rawValue, $0.value) }),
                                      hold: verdict.hold,
                                      filtered: verdict.read.map { Dictionary(uniqueKeysWithValues: $0.filtered.map { ($0.key.rawValue, $0.value) }) })
        summary.name(names)
        return summary
    }

    /// Answers a held delivery an operator discarded: a receipt `discarded` with what it
    /// held, and its files (those still in the inbox) archived.
    func discard(_ hold: HeldDelivery, files: [String]) throws -> DeliverySummary {
        let work = try context.workFolder(hold.timestamp)
        defer { try? FileManager.default.removeItem(at: work) }
        var answerID: Int64?
        var counts: [EntityKind: EntityCounts] = [:]
        try context.database.inDatabase { db in
            let ledger = Ledger(db: db, organisation: organisation.id)
            try StagingArea.reset(db)
            try db.inTransaction(.immediate) {
                counts = try ledger.counts(of: hold.deliveryID).mapValues { held in
                    var entity = EntityCounts(received: held.received)
                    entity.accepted = held.accepted
                    entity.rejected = held.rejected
                    return entity
                }
                try ledger.close(hold, at: context.stamp)
                let receipt = work.appendingPathComponent("receipt.csv")
                try ReportWriter.writeReceipt(timestamp: hold.timestamp, organisation: organisation.id, outcome: .discarded,
                                              counts: counts, to: receipt)
                let page = work.appendingPathComponent("report.html")
                try DeliveryReport(organisation: organisation.id, timestamp: hold.timestamp, answeredAt: context.stamp,
                                   timeZone: context.clock.timeZone,
                                   outcome: .discarded, counts: counts, source: organisation.mapping.delivery.sourceName,
                                   hold: hold.figures).write(db, to: page)
                let id = try ledger.record(runID: context.runID ?? 0, timestamp: hold.timestamp, outcome: .discarded, content: nil,
                                           loads: [], counts: counts, at: context.stamp)
                let answer = Answer(kind: "discard", deliveryID: id,
                                    files: [(DeliveryReport.fileName(hold.timestamp), page), ("receipt_\(hold.timestamp).csv", receipt)],
                                    archive: files)
                answerID = try context.answers.store(answer, db: db, at: context.stamp).id
                return .commit
            }
        }
        let names = try answerID.flatMap { try context.publishPending()[$0] } ?? []
        logger.info("held delivery discarded", metadata: ["organisation": "\(organisation.id)", "delivery": "\(hold.timestamp)"])
        var summary = DeliverySummary(timestamp: hold.timestamp, outcome: .discarded, findings: 0, unlicensedUsers: 0,
                                      counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }))
        summary.name(names)
        return summary
    }

    /// The summary of a delivery answered now for a run that committed it and stopped
    /// before its answer was out.
    static func recalled(deliveryID: Int64, names: [String], _ db: any StoreSession) throws -> DeliverySummary? {
        guard let row = try StoreRow.fetchOne(db, sql: "SELECT organisation_id, timestamp, outcome FROM deliveries WHERE id = ?",
                                              arguments: [deliveryID]),
              let outcome = DeliveryOutcome(rawValue: row["outcome"]) else { return nil }
        let counts = try Ledger(db: db, organisation: row["organisation_id"]).counts(of: deliveryID)
        let findings = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM findings WHERE delivery_id = ?", arguments: [deliveryID]) ?? 0
        var summary = DeliverySummary(timestamp: row["timestamp"], outcome: outcome, findings: findings, unlicensedUsers: 0,
                                      counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }))
        summary.name(names)
        return summary
    }

    private func phase(_ name: String, _ delivery: Delivery, since started: inout ContinuousClock.Instant) {
        logger.info("delivery \(name)", metadata: ["organisation": "\(organisation.id)", "delivery": "\(delivery.timestamp)",
                                                   "seconds": "\(DeliveryReader.seconds(since: started))"])
        started = ContinuousClock.now
    }
}

extension DeliverySummary {
    /// Takes the published names of the delivery's answer files.
    mutating func name(_ names: [String]) {
        receipt = names.first { $0.hasPrefix("receipt_") }
        rejects = names.first { $0.hasPrefix("rejects_") }
        report = names.first { $0.hasPrefix("report_") }
    }
}

extension EntityCounts {
    init(received: Int) {
        self.init()
        self.received = received
    }
}
