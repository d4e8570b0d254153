import Crypto
import Foundation
import GRDB
import Logging

/// A delivery read and checked into staging, ready to be planned.
struct ReadDelivery {
    var loads: [EntityKind: FileLoad]
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

    var mapping: Mapping { organisation.mapping }

    func read(_ delivery: Delivery, db: Database) throws -> ReadDelivery {
        var counts: [EntityKind: EntityCounts] = [:]
        do {
            return try read(delivery, db: db, counts: &counts)
        } catch var refusal as DeliveryRefusal {
            // The receipt of a refused delivery still says how many rows each file had.
            refusal.received.merge(counts.mapValues(\.received)) { refused, _ in refused }
            throw refusal
        }
    }

    private func read(_ delivery: Delivery, db: Database, counts: inout [EntityKind: EntityCounts]) throws -> ReadDelivery {
        let manifest = try readManifest(delivery)
        let unclaimed = try checkPresence(delivery, manifest: manifest)
        if !unclaimed.isEmpty {
            try StagingArea.insert(unclaimed.filter { !mapping.delivery.ignores($0) }.map { name in
                Finding(file: name, line: 0, value: delivery.manifest?.name ?? "", rule: .manifestUnclaimed)
            }, db)
        }
        let products = try ProductCatalogue.ids(db)
        let index = DeliveryIndex(hashing: RowHashing(rowKey: try PortalDatabase.rowHashKey(db)), full: full, today: today.iso)
        index.personIDs = mapping.delivery.personIDs
        index.organisation = organisation.id
        var names = delivery.files.mapValues(\.name)
        if !organisation.licenseRules.isEmpty { names[.distributionOrders] = LicenseRuleWriter.fileName }
        let checks = CrossFileChecks(db: db, mapping: mapping, organisation: organisation.id, index: index, files: names)
        var loads: [EntityKind: FileLoad] = [:]
        let rules = organisation.licenseRules.isEmpty ? nil
            : try LicenseRuleWriter(rules: organisation.licenseRules, url: work.appendingPathComponent("license-rules.csv"))
        defer { rules?.close() }
        // Each source: its kind, name, mapping, and its local file when it is not fetched.
        var sources: [(EntityKind, String, FileMapping, URL?)] = delivery.files.sorted(by: { $0.key < $1.key }).compactMap { kind, file in
            mapping.files[kind].map { (kind, file.name, $0, nil) }
        }
        // Licenses by rule are read last, as the distribution orders the source never sends.
        if let rules { sources.append((.distributionOrders, LicenseRuleWriter.fileName, LicenseRuleWriter.mapping, rules.url)) }
        // Users and groups first: the files after them are checked against them as they stream.
        for (kind, name, fileMapping, granted) in sources {
            let started = ContinuousClock.now
            if granted != nil { rules?.close() }
            let local = try granted ?? folder.fetch(name, scratch: work)
            // A manifest's count is checked only after reading: a false one must not make
            // the job reserve more than a national file needs.
            let expected = min(manifest?.entries[name]?.rows ?? 0, 5_000_000)
            index.reserve(kind, rows: expected)
            index.setApplied(kind, try PortalDatabase.appliedHashes(kind, organisation: organisation.id,
                                                                    expected: expected, db))
            var loaded: FileLoad?
            try db.inTransaction {
                let parser = FileParser(mapping: fileMapping, name: name, limits: mapping.delivery.limits,
                                        schoolUnits: Set(organisation.schoolUnits), products: products,
                                        organisation: organisation.id, hashing: index.hashing)
                parser.personIDs = mapping.delivery.personIDs
                parser.checks = (organisation.checksSchoolUnits, organisation.checksProducts)
                if granted == nil { parser.licenseRules = rules }
                loaded = try FileLoader(parser: parser, db: db, index: index)
                    .run(url: local, expectedSHA256: manifest?.entries[name]?.sha256)
                try checks.run(kind)
                return .commit
            }
            index.finish(kind)
            guard let load = loaded else { continue }
            do {
                try verify(load, against: manifest)
            } catch var refusal as DeliveryRefusal {
                refusal.received[kind] = load.records
                throw refusal
            }
            loads[kind] = load
            counts[kind, default: EntityCounts()].received = load.records
            logger.info("file staged", metadata: ["organisation": "\(organisation.id)", "delivery": "\(delivery.timestamp)",
                                                  "file": "\(kind.rawValue)", "records": "\(load.records)",
                                                  "seconds": "\(Self.seconds(since: started))",
                                                  "parser_waited": "\(Self.seconds(load.parserWaited))",
                                                  "loader_waited": "\(Self.seconds(load.loaderWaited))"])
        }
        let presentUsers = index.licensedUsers()
        try db.inTransaction {
            try StagingArea.prepareForPlan(db, presentUsers: presentUsers.planned, vanished: [
                .users: index.unmatched(.users), .memberships: index.unmatched(.memberships),
                .distributionOrders: index.unmatched(.distributionOrders),
            ])
            return .commit
        }
        for (kind, load) in loads {
            let accepted = index.acceptedRows[kind] ?? 0
            counts[kind]?.accepted = accepted
            counts[kind]?.rejected = load.records - accepted - load.filtered - index.filteredRows[kind, default: 0]
        }
        let unlicensed = loads[.users] != nil && loads[.distributionOrders] != nil
            ? max(0, (index.acceptedRows[.users] ?? 0) - presentUsers.count) : 0
        let suspended = Set(loads.values.filter { $0.unkeyed > 0 }.map(\.kind))
        if !suspended.isEmpty {
            try StagingArea.insert(suspended.sorted().compactMap { kind in
                loads[kind].map { Finding(file: $0.name, line: 0, rule: .removalsSuspended) }
            }, db)
        }
        return ReadDelivery(loads: loads, counts: counts, content: Self.contentHash(loads, mapping: mapping.digest), unlicensed: unlicensed,
                            expiredOrders: index.expiredOrders, suspended: suspended, unclaimed: unclaimed,
                            filtered: loads.mapValues { $0.filtered + index.filteredRows[$0.kind, default: 0] }.filter { $0.value > 0 })
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
        for kind in mapping.delivery.required where delivery.files[kind] == nil
            && !(kind == .distributionOrders && !organisation.licenseRules.isEmpty) {
            let expected = mapping.files[kind]?.fileName(timestamp: delivery.timestamp) ?? kind.rawValue
            findings.append(Finding(file: expected, line: 0, rule: .missingKind, detail: expected))
        }
        if delivery.files[.memberships] != nil, delivery.files[.groups] == nil || delivery.files[.users] == nil {
            let expected = mapping.files[.groups]?.fileName(timestamp: delivery.timestamp) ?? "groups"
            findings.append(Finding(file: expected, line: 0, rule: .missingKind, detail: expected))
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

    /// The delivery's content: its files by kind, and the mapping they were read under (a
    /// fixed mapping makes the same files a new delivery).
    static func contentHash(_ loads: [EntityKind: FileLoad], mapping: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Data("mapping=\(mapping)\n".utf8))
        for (kind, load) in loads.sorted(by: { $0.key < $1.key }) {
            hasher.update(data: Data("\(kind.rawValue)=\(load.sha256)\n".utf8))
        }
        return Digest.hex(hasher.finalize())
    }

    static func seconds(since start: ContinuousClock.Instant) -> String {
        seconds(ContinuousClock.now - start)
    }

    static func seconds(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return String(format: "%.3f", Double(milliseconds) / 1000)
    }
}
