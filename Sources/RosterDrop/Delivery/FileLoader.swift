import Crypto
import Foundation
import GRDB

/// What reading one data file into staging found.
struct FileLoad: Sendable {
    var kind: EntityKind
    var name: String
    var sha256: String
    /// Data records read, accepted or not (the header excluded).
    var records: Int
    /// Records refused by row-level checks so far.
    var rejected: Int
    /// Rejected records whose key could not be read: they suspend removals for this kind.
    var unkeyed: Int
}

/// Why a delivery is refused whole: file-level findings, nothing applied.
struct DeliveryRefusal: Error {
    var findings: [Finding]
}

/// Streams one delivered file — checksum, gunzip, CSV, row checks — into its staging table.
///
/// Memory stays flat whatever the file's size: bytes flow through in 1 MiB reads and only
/// findings are buffered, flushed to the staging findings table in batches.
final class FileLoader {
    let mapping: FileMapping
    let name: String
    let db: Database
    let limit: Int64
    let schoolUnits: Set<String>
    let products: Set<String>
    let organisation: String

    private var reader: CSVReader
    private var validator: RecordValidator?
    private var findings: [Finding] = []
    private var load: FileLoad
    private let insert: Statement
    private var arguments: [DatabaseValueConvertible?]
    private let derivesEmailKey: Bool
    private let emailSlot: Int?

    init(mapping: FileMapping, name: String, db: Database, limit: Int64, schoolUnits: Set<String>,
         products: Set<String>, organisation: String) throws {
        self.mapping = mapping
        self.name = name
        self.db = db
        self.limit = limit
        self.schoolUnits = schoolUnits
        self.products = products
        self.organisation = organisation
        reader = CSVReader(delimiter: mapping.delimiter, encoding: mapping.encoding)
        load = FileLoad(kind: mapping.kind, name: name, sha256: "", records: 0, rejected: 0, unkeyed: 0)
        insert = try db.makeStatement(sql: StagingArea.insertSQL(mapping.kind))
        arguments = Array(repeating: nil, count: StagingArea.columns(mapping.kind).count + 2)
        derivesEmailKey = mapping.kind == .users
        emailSlot = mapping.kind.fields.firstIndex { $0.name == "email" }
    }

    /// Reads the whole file at `url`; throws `DeliveryRefusal` for a file-level problem.
    ///
    /// When the file cannot be decompressed and the manifest gave a checksum, the rest of the
    /// file is still hashed: a checksum mismatch (a wrong or incomplete upload) is the cause
    /// worth reporting, not the decompression error it led to.
    func run(url: URL, expectedSHA256: String? = nil) throws -> FileLoad {
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
            try flushFindings()
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
        case .record(let record):
            guard let validator else {
                try start(header: record)
                return
            }
            load.records += 1
            if let values = validator.validate(record, findings: &findings) {
                try stage(line: record.line, rejected: false, values: values)
            } else {
                load.rejected += 1
                if validator.rawKey(record) != nil {
                    try stageRejected(record, validator: validator)
                } else {
                    load.unkeyed += 1
                }
            }
        case .problem(let problem):
            guard validator != nil else {
                throw DeliveryRefusal(findings: [Finding(file: name, line: problem.line, rule: .unreadableFile, detail: Rule.Unreadable.noHeader)])
            }
            load.records += 1
            load.rejected += 1
            load.unkeyed += 1
            switch problem.kind {
            case .unclosedQuote:
                throw DeliveryRefusal(findings: [Finding(file: name, line: problem.line, rule: .unclosedQuote)])
            case .strayQuote:
                findings.append(Finding(file: name, line: problem.line, rule: .strayQuote))
            case .wrongCellCount(let expected, let found):
                findings.append(Finding(file: name, line: problem.line, rule: .cellCount, detail: "\(expected)/\(found)"))
            case .invalidEncoding:
                findings.append(Finding(file: name, line: problem.line, rule: .encoding, detail: mapping.encoding.rawValue))
            }
        }
        if findings.count >= 10_000 { try flushFindings() }
    }

    private func start(header: CSVRecord) throws {
        validator = try RecordValidator.make(mapping: mapping, file: name, header: header.fields, schoolUnits: schoolUnits,
                                             products: products, organisation: organisation)
    }

    private func stage(line: Int, rejected: Bool, values: [String?]) throws {
        arguments[0] = line
        arguments[1] = rejected ? 1 : 0
        for (index, value) in values.enumerated() { arguments[index + 2] = value }
        if derivesEmailKey {
            arguments[values.count + 2] = emailSlot.flatMap { values[$0].map(Self.asciiLowercased) }
        }
        insert.setUncheckedArguments(StatementArguments(arguments))
        try insert.execute()
    }

    /// Stages a rejected row with its raw values, which are used only to protect records.
    private func stageRejected(_ record: CSVRecord, validator: RecordValidator) throws {
        var values = [String?](repeating: nil, count: mapping.kind.fields.count)
        for (slot, field) in mapping.fields.enumerated() {
            guard let portal = mapping.kind.fields.firstIndex(where: { $0.name == field.target }) else { continue }
            let raw = record.fields[validator.columnIndex[slot]].trimmingSpaces
            values[portal] = raw.isEmpty ? nil : raw
        }
        try stage(line: record.line, rejected: true, values: values)
    }

    /// Lowercases A–Z only, exactly as SQL `lower()` does in SQLite, so both sides of the
    /// e-mail match agree.
    static func asciiLowercased(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) else { return text }
        return String(decoding: text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }

    private func flushFindings() throws {
        try StagingArea.insert(findings, db)
        findings.removeAll(keepingCapacity: true)
    }
}
