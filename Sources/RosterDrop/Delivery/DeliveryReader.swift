import Crypto
import Foundation
import Logging

/// A delivery read and checked into staging, ready to be planned.
struct ReadDelivery {
    /// What each feed read, in reading order.
    var loads: [FileLoad]
    /// Each delivered file once (join partners included), for the ledger.
    var files: [FileLoad]
    var counts: [EntityKind: EntityCounts]
    /// A digest of the data files by kind, independent of their names.
    var content: String
    /// Accepted users without any accepted order, so not in the portal (contract rule 1).
    var unlicensed: Int
    /// Accepted orders already past their `valid_to`: they grant nothing (rule 7).
    var expiredOrders: Int
    /// Kinds whose removals are suspended because some rows could not be keyed.
    var suspended: Set<EntityKind>
    /// Inbox files the manifest names that no kind reads: archived with the delivery.
    var unclaimed: [String] = []
    /// Rows the mappings' `select` left out, or that name what it left out, per kind.
    var filtered: [EntityKind: Int] = [:]
}

/// Reads one complete delivery — manifest, every data file streamed through the checks —
/// into the staging tables. Refuses the whole delivery (`DeliveryRefusal`) when its files
/// and manifest disagree or a file cannot be read; writes nothing but temporary tables.
struct DeliveryReader {
    let organisation: OrganisationConfiguration
    let folder: any DropFolder
    /// Compare every row, not only those changed since the job last wrote.
    let full: Bool
    /// Orders ending before this day grant nothing.
    let today: CalendarDay
    let work: URL
    let logger: Logger
    /// Where each file's progress is shown while it is read (a terminal), if anywhere.
    var progress: (any ReadProgress)?

    var mapping: Mapping { organisation.mapping }

    func read(_ delivery: Delivery, db: any StoreSession) throws -> ReadDelivery {
        var counts: [EntityKind: EntityCounts] = [:]
        do {
            return try read(delivery, db: db, counts: &counts)
        } catch var refusal as DeliveryRefusal {
            // The receipt of a refused delivery still says how many rows each file had.
            refusal.received.merge(counts.mapValues(\.received)) { refused, _ in refused }
            throw refusal
        }
    }

    private func read(_ delivery: Delivery, db: any StoreSession, counts: inout [EntityKind: EntityCounts]) throws -> ReadDelivery {
        let manifest = try readManifest(delivery)
        let unclaimed = try checkPresence(delivery, manifest: manifest)
        if !unclaimed.isEmpty {
            try StagingArea.insert(unclaimed.filter { !mapping.delivery.ignores($0) }.map { name in
                Finding(file: name, line: 0, value: delivery.manifest?.name ?? "", rule: .manifestUnclaimed)
            }, db)
        }
        let products = try ProductCatalogue.ids(db)
        let index = DeliveryIndex(hashing: RowHashing(rowKey: try db.rowHashKey()), full: full, today: today.iso)
        index.personIDs = mapping.delivery.personIDs
        index.organisation = organisation.id
        let checks = CrossFileChecks(db: db, mapping: mapping, organisation: organisation.id, index: index)
        var loads: [FileLoad] = []
        var files: [String: FileLoad] = [:]
        let rules = organisation.licenseRules.isEmpty ? nil
            : try LicenseRuleWriter(rules: organisation.licenseRules, url: work.appendingPathComponent("license-rules.csv"))
        defer { rules?.close() }
        var fetched: [String: URL] = [:]
        // Join partners by file and key column: read once, whichever kinds join them.
        var partnerTables: [String: JoinTable] = [:]
        func local(_ name: String) throws -> URL {
            if let url = fetched[name] { return url }
            let url = try folder.fetch(name, scratch: work)
            fetched[name] = url
            return url
        }
        // Kind by kind, users and groups first: the rows after them are checked against them
        // as they stream. Within a kind, its feeds in the mapping's order.
        for kind in EntityKind.allCases.sorted() {
            var feeds = mapping.feeds(kind).filter { delivery.files[$0.source.name] != nil }
            // Licenses by rule are read last, as the distribution orders the source never sends.
            if kind == .distributionOrders, rules != nil { feeds.append(LicenseRuleWriter.mapping) }
            guard !feeds.isEmpty else { continue }
            let started = ContinuousClock.now
            // A manifest's count is checked only after reading: a false one must not make
            // the job reserve more than a national file needs.
            let expected = min(feeds.reduce(0) { sum, feed in
                sum + (delivery.files[feed.source.name].flatMap { manifest?.entries[$0.name]?.rows } ?? 0)
            }, 5_000_000)
            index.reserve(kind, rows: expected)
            index.setApplied(kind, try PortalDatabase.appliedHashes(kind, organisation: organisation.id,
                                                                    expected: expected, db))
            var read: [FileLoad] = []
            var partners: [FileLoad] = []
            try db.inTransaction {
                for feed in feeds {
                    let granted = rules != nil && feed.source.name == LicenseRuleWriter.sourceName
                    let name = granted ? LicenseRuleWriter.fileName : delivery.files[feed.source.name]?.name ?? feed.source.name
                    if granted { rules?.close() }
                    var tables: [JoinTable] = []
                    for join in feed.joins {
                        guard let partner = delivery.files[join.source.name]?.name else { continue }
                        let key = partner + "\u{1F}" + join.partnerColumn
                        var table = try partnerTables[key] ?? JoinTable(join: join, name: partner, url: try local(partner),
                                                                        limits: mapping.delivery.limits,
                                                                        expectedSHA256: manifest?.entries[partner]?.sha256)
                        table.join = join
                        partnerTables[key] = table
                        if files[partner] == nil {
                            try StagingArea.insert(table.findings, db)
                            var load = FileLoad(kind: kind, name: partner, sha256: table.sha256, records: table.records, unkeyed: 0)
                            load.source = join.source.name
                            files[partner] = load
                            partners.append(load)
                        }
                        tables.append(table)
                    }
                    let parser = FileParser(mapping: feed, name: name, limits: mapping.delivery.limits,
                                            schoolUnits: Set(organisation.schoolUnits), products: products,
                                            organisation: organisation.id, hashing: index.hashing)
                    parser.personIDs = mapping.delivery.personIDs
                    parser.checks = (organisation.checksSchoolUnits, organisation.checksProducts)
                    parser.joins = tables
                    if !granted { parser.licenseRules = rules }
                    let segment = index.numbering.begin(kind, file: name, source: feed.source.name, splits: feed.split != nil)
                    parser.numbering = segment
                    let url = granted ? rules?.url ?? work : try local(name)
                    if let progress {
                        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? 0
                        parser.meter = progress.begin(organisation: organisation.id, file: name, bytes: size)
                    }
                    let fileStarted = ContinuousClock.now
                    let load = try FileLoader(parser: parser, db: db, index: index)
                        .run(url: url, expectedSHA256: manifest?.entries[name]?.sha256)
                    logger.info("file read", metadata: ["organisation": "\(organisation.id)", "delivery": "\(delivery.timestamp)",
                                                        "file": "\(name)", "records": "\(load.records)",
                                                        "seconds": "\(Self.seconds(since: fileStarted))"])
                    index.numbering.end(kind, segment, lastLine: load.lastLine)
                    read.append(load)
                    // A file several feeds read is reported, and recorded, once.
                    if files[name] == nil { files[name] = load }
                }
                try checks.run(kind, feeds: feeds)
                return .commit
            }
            index.finish(kind)
            for load in read + partners {
                do {
                    try verify(load, against: manifest)
                } catch var refusal as DeliveryRefusal {
                    refusal.received[kind] = load.records
                    throw refusal
                }
            }
            loads += read
            counts[kind, default: EntityCounts()].received = read.reduce(0) { $0 + $1.rows }
            logger.info("kind staged", metadata: ["organisation": "\(organisation.id)", "delivery": "\(delivery.timestamp)",
                                                  "kind": "\(kind.rawValue)", "files": "\(read.count)",
                                                  "records": "\(read.reduce(0) { $0 + $1.records })",
                                                  "seconds": "\(Self.seconds(since: started))",
                                                  "parser_waited": "\(Self.seconds(read.reduce(.zero) { $0 + $1.parserWaited }))",
                                                  "loader_waited": "\(Self.seconds(read.reduce(.zero) { $0 + $1.loaderWaited }))"])
        }
        let presentUsers = index.licensedUsers()
        try db.inTransaction {
            try StagingArea.notePeople(db, numbering: index.numbering)
            try StagingArea.prepareForPlan(db, presentUsers: presentUsers.planned, vanished: [
                .users: index.unmatched(.users), .memberships: index.unmatched(.memberships),
                .distributionOrders: index.unmatched(.distributionOrders),
            ])
            return .commit
        }
        let kinds = Set(loads.map(\.kind))
        var filtered: [EntityKind: Int] = [:]
        for kind in kinds {
            let read = loads.filter { $0.kind == kind }
            let accepted = index.acceptedRows[kind] ?? 0
            let left = read.reduce(0) { $0 + $1.filtered } + index.filteredRows[kind, default: 0]
            counts[kind]?.accepted = accepted
            counts[kind]?.rejected = read.reduce(0) { $0 + $1.rows } - accepted - left
            if left > 0 { filtered[kind] = left }
        }
        let unlicensed = kinds.contains(.users) && kinds.contains(.distributionOrders)
            ? max(0, (index.acceptedRows[.users] ?? 0) - presentUsers.count) : 0
        let suspended = Set(loads.filter { $0.unkeyed > 0 }.map(\.kind))
        if !suspended.isEmpty {
            try StagingArea.insert(loads.filter { $0.unkeyed > 0 }.map { Finding(file: $0.name, line: 0, rule: .removalsSuspended) }, db)
        }
        let delivered = files.values.sorted { $0.name < $1.name }
        return ReadDelivery(loads: loads, files: delivered, counts: counts,
                            content: Self.contentHash(delivered, mapping: mapping.digest), unlicensed: unlicensed,
                            expiredOrders: index.expiredOrders, suspended: suspended, unclaimed: unclaimed, filtered: filtered)
    }

    private func readManifest(_ delivery: Delivery) throws -> Manifest? {
        guard let file = delivery.manifest else { return nil }
        let local = try folder.fetch(file.name, scratch: work)
        do {
            return try Manifest.read(local)
        } catch let error as ManifestError {
            throw DeliveryRefusal(findings: [Finding(file: file.name, line: 0, rule: .manifestInvalid, detail: String(error.line))])
        }
    }

    /// Refuses a delivery whose files and manifest disagree, or that lacks a required kind.
    /// Returns the inbox files the manifest names that no kind reads (reported, unless the
    /// mapping declares them ignorable, and archived with the delivery).
    private func checkPresence(_ delivery: Delivery, manifest: Manifest?) throws -> [String] {
        var findings: [Finding] = []
        var unclaimed: [String] = []
        let names = Set(delivery.files.values.map(\.name))
        let present = Set(delivery.unclaimed.map(\.name))
        if let manifest, let manifestName = delivery.manifest?.name {
            for name in manifest.entries.keys.sorted() where !names.contains(name) {
                if present.contains(name) {
                    unclaimed.append(name)
                    continue
                }
                findings.append(Finding(file: name, line: 0, value: manifestName, rule: .manifestMissingFile))
            }
            for name in names.sorted() where manifest.entries[name] == nil {
                findings.append(Finding(file: name, line: 0, rule: .manifestUnlisted))
            }
        }
        let rulesMakeOrders = !organisation.licenseRules.isEmpty
        for name in mapping.delivery.required where delivery.files[name] == nil {
            guard let source = mapping.source(name) else { continue }
            // Licenses by rule stand in for a distribution orders file.
            if rulesMakeOrders, mapping.feeds.contains(where: { $0.source == source && $0.kind == .distributionOrders }) { continue }
            let expected = source.fileName(timestamp: delivery.timestamp)
            findings.append(Finding(file: expected, line: 0, rule: .missingKind, detail: expected))
        }
        // A feed read needs its join partners, and memberships the users and groups they name.
        var missing = Set(findings.map(\.file))
        for feed in mapping.feeds where delivery.files[feed.source.name] != nil {
            for join in feed.joins where delivery.files[join.source.name] == nil {
                let expected = join.source.fileName(timestamp: delivery.timestamp)
                if missing.insert(expected).inserted { findings.append(Finding(file: expected, line: 0, rule: .missingKind, detail: expected)) }
            }
        }
        let kinds = Set(mapping.feeds.filter { delivery.files[$0.source.name] != nil }.map(\.kind))
        if kinds.contains(.memberships) {
            for kind in [EntityKind.users, .groups] where !kinds.contains(kind) {
                let expected = mapping.feeds(kind).first?.fileName(timestamp: delivery.timestamp) ?? kind.rawValue
                if missing.insert(expected).inserted { findings.append(Finding(file: expected, line: 0, rule: .missingKind, detail: expected)) }
            }
        }
        if !findings.isEmpty { throw DeliveryRefusal(findings: findings) }
        return unclaimed
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

    /// The delivery's content: its files by the mapping's name for them, and the mapping they were read under (a
    /// fixed mapping makes the same files a new delivery).
    static func contentHash(_ files: [FileLoad], mapping: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Data("mapping=\(mapping)\n".utf8))
        for load in files.sorted(by: { $0.source < $1.source }) {
            hasher.update(data: Data("\(load.source)=\(load.sha256)\n".utf8))
        }
        return Digest.hex(hasher.finalize())
    }

    static func seconds(since start: ContinuousClock.Instant) -> String {
        seconds(ContinuousClock.now - start)
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.3f", duration.inSeconds)
    }
}
