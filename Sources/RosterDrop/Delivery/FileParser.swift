import Crypto
import Foundation

/// Reads one delivered file — checksum, gunzip, CSV, row checks — into batches of staged rows.
///
/// It knows nothing of the database: accepted rows carry their portal values, rejected rows
/// their raw values (used only to protect what they name from removal), and every problem
/// becomes a finding. File-level problems throw `DeliveryRefusal`.
final class FileParser: @unchecked Sendable {
    let mapping: FileMapping
    let name: String
    let limits: ReadLimits
    var limit: Int64 { limits.fileBytes }
    let schoolUnits: Set<String>
    let products: Set<String>
    let organisation: String
    var personIDs: PersonIDScope = .global
    /// Where accepted users and memberships grant licenses by rule, when the organisation has rules.
    var licenseRules: LicenseRuleWriter?
    /// Which in-memory references are checked (offline validation may have neither).
    var checks = (schoolUnits: true, products: true)
    /// Hashes rows and keys for the loader's checks (`DeliveryIndex`), off its thread.
    let hashing: RowHashing
    private let rules: KindRules

    static let batchSize = 8192

    // Parser state, touched only by the thread running `parse`.
    private var reader: CSVReader
    private var validator: RecordValidator?
    private var batch = StagedBatch()
    private var load: FileLoad
    private var channel: BatchChannel?

    init(mapping: FileMapping, name: String, limits: ReadLimits, schoolUnits: Set<String>, products: Set<String>,
         organisation: String, hashing: RowHashing) {
        self.mapping = mapping
        self.hashing = hashing
        rules = KindRules(mapping)
        self.name = name
        self.limits = limits
        self.schoolUnits = schoolUnits
        self.products = products
        self.organisation = organisation
        reader = CSVReader(delimiter: mapping.delimiter, encoding: mapping.encoding, maxFieldBytes: limits.fieldBytes,
                           maxRecordBytes: limits.recordBytes)
        load = FileLoad(kind: mapping.kind, name: name, sha256: "", records: 0, unkeyed: 0)
        batch.rows.reserveCapacity(Self.batchSize)
    }

    /// Reads the whole file at `url`, sending batches into `channel`.
    ///
    /// When the file cannot be decompressed and the manifest gave a checksum, the rest of the
    /// file is still hashed: a checksum mismatch (a wrong or incomplete upload) is the cause
    /// worth reporting, not the decompression error it led to.
    func parse(url: URL, expectedSHA256: String?, into channel: BatchChannel) throws -> FileLoad {
        self.channel = channel
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .unreadableFile, detail: Rule.Unreadable.cannotOpen)])
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        let decoder = mapping.gzip ? try GzipDecoder(limit: limit) : nil
        var plainBytes: Int64 = 0
        do {
            while true {
                let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
                if chunk.isEmpty { break }
                try chunk.withUnsafeBytes { buffer in
                    hasher.update(bufferPointer: buffer)
                    if let decoder {
                        try decoder.decode(buffer) { try self.feed($0) }
                    } else {
                        plainBytes += Int64(buffer.count)
                        if plainBytes > limit { throw GzipError(.tooLarge(limit: limit), path: name) }
                        try self.feed(buffer)
                    }
                }
            }
            try decoder?.finish()
            try reader.finish { try self.handle($0) }
            try flush()
        } catch let error as GzipError {
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                chunk.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            }
            if let expectedSHA256, Digest.hex(hasher.finalize()) != expectedSHA256 {
                throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .manifestChecksum)])
            }
            switch error.kind {
            case .tooLarge(let limit):
                throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .tooLarge, detail: "\(limit)")])
            default:
                throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .unreadableFile, detail: Self.explain(error))])
            }
        }
        if validator == nil {
            throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .unreadableFile, detail: Rule.Unreadable.noHeader)])
        }
        load.sha256 = Digest.hex(hasher.finalize())
        return load
    }

    private static func explain(_ error: GzipError) -> String {
        switch error.kind {
        case .notGzip: return Rule.Unreadable.notGzip
        case .truncated: return Rule.Unreadable.truncated
        case .corrupt: return Rule.Unreadable.corrupt
        case .tooLarge, .io: return Rule.Unreadable.cannotOpen
        }
    }

    private func feed(_ bytes: UnsafeRawBufferPointer) throws {
        try reader.feed(bytes) { try self.handle($0) }
    }

    private func handle(_ event: CSVEvent) throws {
        switch event {
        case .record(var record):
            // A dropped column's cells are gone before any check, finding or staging sees the row.
            if let dropped = validator?.droppedColumns, !dropped.isEmpty {
                for index in dropped where index < record.fields.count { record.fields[index] = "" }
            }
            guard let validator else {
                validator = try RecordValidator.make(mapping: mapping, file: name, header: record.fields,
                                                     schoolUnits: schoolUnits, products: products, organisation: organisation)
                validator?.personIDs = personIDs
                validator?.checksSchoolUnits = checks.schoolUnits
                validator?.checksProducts = checks.products
                return
            }
            load.records += 1
            // The checks needing other rows (`DeliveryIndex`) run on the loader's thread.
            if let values = validator.validate(record, findings: &batch.findings) {
                if !mapping.select.isEmpty, !selects(values) {
                    load.filtered += 1
                    var row = StagedBatch.Row(line: record.line, rejected: false, values: values)
                    row.filtered = true
                    stage(row)
                    return
                }
                if let licenseRules { try grant(values, licenseRules) }
                stage(StagedBatch.Row(line: record.line, rejected: false, values: values))
            } else if validator.rawKey(record) != nil {
                stage(StagedBatch.Row(line: record.line, rejected: true, values: rawValues(record, validator: validator)))
            } else {
                load.unkeyed += 1
            }
        case .problem(let problem):
            guard validator != nil else {
                if case .invalidEncoding = problem.kind {
                    // A header that is not valid in the declared encoding: most likely the
                    // file was saved in another (Excel's plain CSV is Windows-1252).
                    let other: TextEncoding = mapping.encoding == .utf8 ? .windows1252 : .utf8
                    throw DeliveryRefusal(findings: [Finding(file: name, line: problem.line, rule: .encodingMismatch,
                                                             detail: other.rawValue)])
                }
                throw DeliveryRefusal(findings: [Finding(file: name, line: problem.line, rule: .unreadableFile,
                                                         detail: Rule.Unreadable.noHeader)])
            }
            load.records += 1
            load.unkeyed += 1
            switch problem.kind {
            case .unclosedQuote:
                throw DeliveryRefusal(findings: [Finding(file: name, line: problem.line, rule: .unclosedQuote)])
            case .strayQuote:
                batch.findings.append(Finding(file: name, line: problem.line, rule: .strayQuote))
            case .wrongCellCount(let expected, let found):
                batch.findings.append(Finding(file: name, line: problem.line, rule: .cellCount, detail: "\(expected)/\(found)"))
            case .invalidEncoding:
                batch.findings.append(Finding(file: name, line: problem.line, rule: .encoding, detail: mapping.encoding.rawValue))
            case .tooLong(let field):
                batch.findings.append(Finding(file: name, line: problem.line, rule: .tooLong,
                                              detail: field ? "field:\(limits.fieldBytes)" : "record:\(limits.recordBytes)"))
            }
        }
        if batch.rows.count >= Self.batchSize || batch.findings.count >= Self.batchSize { try flush() }
    }

    private func stage(_ row: StagedBatch.Row) {
        var row = row
        row.digests = RowDigests.make(rules, values: row.values, hashing: hashing, rejected: row.rejected)
        batch.rows.append(row)
    }

    private static let userSlots = (person: EntityKind.users.slot("person_id"), role: EntityKind.users.slot("role"),
                                    unit: EntityKind.users.slot("school_unit_code"))
    private static let membershipSlots = (group: EntityKind.memberships.slot("group_id"),
                                          person: EntityKind.memberships.slot("person_id"))

    /// Licenses the rules grant for an accepted user or membership row (ids as delivered).
    private func grant(_ values: [String?], _ writer: LicenseRuleWriter) throws {
        func delivered(_ id: String?) -> String? { id.map { personIDs.delivered($0, organisation: organisation) } }
        switch mapping.kind {
        case .users:
            guard let person = delivered(values[Self.userSlots.person]) else { return }
            try writer.user(personID: person, role: values[Self.userSlots.role], schoolUnit: values[Self.userSlots.unit])
        case .memberships:
            guard let group = values[Self.membershipSlots.group], let person = delivered(values[Self.membershipSlots.person]) else { return }
            try writer.membership(groupID: group, personID: person)
        default:
            break
        }
    }

    /// Whether a row's portal values pass the mapping's `select`.
    private func selects(_ values: [String?]) -> Bool {
        mapping.select.allSatisfy { field, allowed in
            guard let slot = mapping.kind.fields.firstIndex(where: { $0.name == field }) else { return true }
            return values[slot].map(allowed.contains) ?? false
        }
    }

    /// A rejected row's raw values in portal field order (person ids in their stored form,
    /// so that the record they name is protected).
    private func rawValues(_ record: CSVRecord, validator: RecordValidator) -> [String?] {
        validator.portalSlots.map { slot in slot.flatMap { validator.storedForm(record, $0) } }
    }

    private func flush() throws {
        guard !batch.rows.isEmpty || !batch.findings.isEmpty else { return }
        try channel?.send(batch)
        batch = StagedBatch()
        batch.rows.reserveCapacity(Self.batchSize)
    }

}
