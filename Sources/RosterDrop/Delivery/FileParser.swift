import Foundation

/// Reads one delivered file for one feed — checksum, gunzip, CSV, source records (joined,
/// split), row checks — into batches of staged rows.
///
/// It knows nothing of the database: accepted rows carry their portal values, rejected rows
/// their raw values (used only to protect what they name from removal), and every problem
/// becomes a finding. File-level problems throw `DeliveryRefusal`.
final class FileParser: @unchecked Sendable {
    let mapping: Feed
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
    /// Join partners, read before this file.
    var joins: [JoinTable] = []
    /// Shows how far the file is read, when someone watches.
    var meter: FileMeter?
    /// How this file's rows are numbered among its kind's.
    var numbering = RowNumbering.Segment(start: 0, file: "", shift: 0)
    private let rules: KindRules

    static let batchSize = 8192

    // Parser state, touched only by the thread running `parse`.
    private var reader: CSVReader
    private var shaper: RecordShaper?
    /// The current record's join partners' lines.
    private var partners: [Int] = []
    private var validator: RecordValidator?
    private var batch = StagedBatch()
    private var load: FileLoad
    private var channel: BatchChannel?

    init(mapping: Feed, name: String, limits: ReadLimits, schoolUnits: Set<String>, products: Set<String>,
         organisation: String, hashing: RowHashing) {
        self.mapping = mapping
        self.hashing = hashing
        rules = KindRules(mapping)
        self.name = name
        self.limits = limits
        self.schoolUnits = schoolUnits
        self.products = products
        self.organisation = organisation
        reader = CSVReader(delimiter: mapping.source.delimiter, encoding: mapping.source.encoding, maxFieldBytes: limits.fieldBytes,
                           maxRecordBytes: limits.recordBytes)
        load = FileLoad(kind: mapping.kind, name: name, sha256: "", records: 0, unkeyed: 0)
        load.source = mapping.source.name
        batch.rows.reserveCapacity(Self.batchSize)
    }

    /// Reads the whole file at `url`, sending batches into `channel`.
    func parse(url: URL, expectedSHA256: String?, into channel: BatchChannel) throws -> FileLoad {
        self.channel = channel
        let stream = SourceStream(url: url, name: name, gzip: mapping.source.gzip, limit: limit)
        defer { meter?.end(rows: load.records) }
        let sha256 = try stream.read(expectedSHA256: expectedSHA256, stored: { [meter] bytes in
            meter?.update(rows: self.load.records, bytesRead: bytes)
        }) { try self.feed($0) }
        try reader.finish { try self.handle($0) }
        try flush()
        if validator == nil {
            throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .unreadableFile, detail: Rule.Unreadable.noHeader)])
        }
        load.sha256 = sha256
        return load
    }

    private func feed(_ bytes: UnsafeRawBufferPointer) throws {
        try reader.feed(bytes) { try self.handle($0) }
    }

    private func handle(_ event: CSVEvent) throws {
        switch event {
        case .record(var record):
            guard let validator, let shaper else {
                let shaper = try RecordShaper(feed: mapping, file: name, fileHeader: record.fields, tables: joins)
                self.shaper = shaper
                validator = try RecordValidator.make(mapping: mapping, file: name, header: shaper.header,
                                                     schoolUnits: schoolUnits, products: products, organisation: organisation)
                validator?.personIDs = personIDs
                validator?.checksSchoolUnits = checks.schoolUnits
                validator?.checksProducts = checks.products
                return
            }
            // A dropped column's cells are gone before any check, finding or staging sees the row.
            shaper.blankDropped(&record)
            load.records += 1
            load.lastLine = record.line
            if shaper.isIdentity {
                try take(record, row: numbering.row(line: record.line), joined: true, validator: validator)
            } else {
                let found = batch.findings.count
                defer { shaper.locate(&batch.findings, from: found, partners: partners) }
                let joined = shaper.extend(&record, findings: &batch.findings, partners: &partners)
                if let parts = shaper.parts(record), let column = shaper.splitColumn {
                    guard parts.count < RowNumbering.partsPerRecord else {
                        batch.findings.append(Finding(file: name, line: record.line, column: mapping.split?.column ?? "",
                                                      rule: .tooManyValues, detail: "\(RowNumbering.partsPerRecord - 1)"))
                        load.rows += 1
                        load.unkeyed += 1
                        return
                    }
                    for (position, part) in parts.enumerated() {
                        var one = record
                        one.fields[column] = part
                        try take(one, row: numbering.row(line: record.line, part: position), joined: joined, validator: validator)
                    }
                } else {
                    try take(record, row: numbering.row(line: record.line), joined: joined, validator: validator)
                }
            }
        case .problem(let problem):
            guard validator != nil else {
                if case .invalidEncoding = problem.kind {
                    // A header that is not valid in the declared encoding: most likely the
                    // file was saved in another (Excel's plain CSV is Windows-1252).
                    let other: TextEncoding = mapping.source.encoding == .utf8 ? .windows1252 : .utf8
                    throw DeliveryRefusal(findings: [Finding(file: name, line: problem.line, rule: .encodingMismatch,
                                                             detail: other.rawValue)])
                }
                throw DeliveryRefusal(findings: [Finding(file: name, line: problem.line, rule: .unreadableFile,
                                                         detail: Rule.Unreadable.noHeader)])
            }
            load.records += 1
            load.rows += 1
            load.unkeyed += 1
            load.lastLine = problem.line
            switch problem.kind {
            case .unclosedQuote:
                throw DeliveryRefusal(findings: [Finding(file: name, line: problem.line, rule: .unclosedQuote)])
            case .strayQuote:
                batch.findings.append(Finding(file: name, line: problem.line, rule: .strayQuote))
            case .wrongCellCount(let expected, let found):
                batch.findings.append(Finding(file: name, line: problem.line, rule: .cellCount, detail: "\(expected)/\(found)"))
            case .invalidEncoding:
                batch.findings.append(Finding(file: name, line: problem.line, rule: .encoding, detail: mapping.source.encoding.rawValue))
            case .tooLong(let field):
                batch.findings.append(Finding(file: name, line: problem.line, rule: .tooLong,
                                              detail: field ? "field:\(limits.fieldBytes)" : "record:\(limits.recordBytes)"))
            }
        }
        if batch.rows.count >= Self.batchSize || batch.findings.count >= Self.batchSize { try flush() }
    }

    /// Checks one source record as row `row` of its kind, and stages it.
    private func take(_ record: CSVRecord, row: Int, joined: Bool, validator: RecordValidator) throws {
        guard row < RowNumbering.limit else {
            throw DeliveryRefusal(findings: [Finding(file: name, line: record.line, rule: .tooLarge, detail: "\(RowNumbering.limit)")])
        }
        load.rows += 1
        // A row whose join failed is rejected (its key protects its record), never left out:
        // its blank joined cells say nothing of what `select` would keep.
        if joined, !validator.selection.isEmpty, !validator.selects(record) {
            load.filtered += 1
            var staged = StagedBatch.Row(line: row, rejected: false, values: rawValues(record, validator: validator))
            staged.filtered = true
            staged.sourceLine = record.line
            stage(staged)
            return
        }
        // The checks needing other rows (`DeliveryIndex`) run on the loader's thread.
        if joined, let values = validator.validate(record, findings: &batch.findings) {
            if let licenseRules { try grant(values, licenseRules) }
            var staged = StagedBatch.Row(line: row, rejected: false, values: values)
            staged.sourceLine = record.line
            stage(staged)
        } else if validator.rawKey(record) != nil {
            var staged = StagedBatch.Row(line: row, rejected: true, values: rawValues(record, validator: validator))
            staged.sourceLine = record.line
            stage(staged)
        } else {
            load.unkeyed += 1
        }
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
