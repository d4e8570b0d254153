import Foundation

/// A join partner read into memory by its key column, so that each record of the file it is
/// joined to finds its partner as it streams past (`join:`).
///
/// The partner is the smaller side (roles, schools): it is held whole, within the mapping's
/// `max_join_bytes` of decompressed text, and its table is sized from the file's size. Its
/// own unreadable rows are findings on it; a record whose key finds no partner, or several,
/// is a finding on the record (`JoinedRecords`).
struct JoinTable {
    /// The join this table serves (a table read once can serve joins from several files).
    var join: Join
    /// The partner's delivered name, for findings.
    let name: String
    /// The partner's header, dropped columns included (their cells are blank).
    private(set) var header: [String] = []
    /// Rows by key: an index into `rows`, or `several` when the key repeats.
    private var byKey: [String: Int32] = [:]
    private var rows: [[String]] = []
    /// Each row's physical line, so a finding on a joined value names where it is.
    private var lines: [Int32] = []
    static let several: Int32 = -1
    /// Problems in the partner's own rows, and its SHA-256.
    private(set) var findings: [Finding] = []
    private(set) var sha256 = ""
    private(set) var records = 0

    /// Reads the partner file at `url`.
    init(join: Join, name: String, url: URL, limits: ReadLimits, expectedSHA256: String?) throws {
        self.join = join
        self.name = name
        let source = join.source
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        let estimate = min(size / (source.gzip ? 12 : 48), 1 << 22)
        byKey.reserveCapacity(estimate)
        rows.reserveCapacity(estimate)
        var reader = CSVReader(delimiter: source.delimiter, encoding: source.encoding, maxFieldBytes: limits.fieldBytes,
                               maxRecordBytes: limits.recordBytes)
        var keyIndex = -1
        var dropped: [Int] = []
        var problem: DeliveryRefusal?
        let stream = SourceStream(url: url, name: name, gzip: source.gzip, limit: min(limits.fileBytes, limits.joinBytes))
        func handle(_ event: CSVEvent) {
            switch event {
            case .record(var record):
                guard problem == nil else { return }
                for index in dropped where index < record.fields.count { record.fields[index] = "" }
                if header.isEmpty {
                    header = record.fields.map(\.trimmingSpaces)
                    dropped = header.indices.filter { source.dropped.contains(header[$0]) }
                    guard let index = header.firstIndex(of: join.partnerColumn) else {
                        problem = DeliveryRefusal(findings: [Finding(file: name, line: 1, column: join.partnerColumn,
                                                                     rule: .missingColumn, detail: join.partnerColumn)])
                        return
                    }
                    keyIndex = index
                    return
                }
                records += 1
                let key = record.fields[keyIndex].trimmingSpaces
                guard !key.isEmpty else { return }
                if byKey[key] == nil {
                    byKey[key] = Int32(rows.count)
                    rows.append(record.fields)
                    lines.append(Int32(clamping: record.line))
                } else {
                    byKey[key] = Self.several
                }
            case .problem(let found):
                guard problem == nil else { return }
                if header.isEmpty {
                    // A header line that cannot be read: most likely another encoding.
                    if case .invalidEncoding = found.kind {
                        let other: TextEncoding = source.encoding == .utf8 ? .windows1252 : .utf8
                        problem = DeliveryRefusal(findings: [Finding(file: name, line: found.line, rule: .encodingMismatch,
                                                                     detail: other.rawValue)])
                    } else {
                        problem = DeliveryRefusal(findings: [Finding(file: name, line: found.line, rule: .unreadableFile,
                                                                     detail: Rule.Unreadable.noHeader)])
                    }
                    return
                }
                records += 1
                switch found.kind {
                case .unclosedQuote:
                    problem = problem ?? DeliveryRefusal(findings: [Finding(file: name, line: found.line, rule: .unclosedQuote)])
                case .strayQuote: findings.append(Finding(file: name, line: found.line, rule: .strayQuote))
                case .wrongCellCount(let expected, let count):
                    findings.append(Finding(file: name, line: found.line, rule: .cellCount, detail: "\(expected)/\(count)"))
                case .invalidEncoding:
                    findings.append(Finding(file: name, line: found.line, rule: .encoding, detail: source.encoding.rawValue))
                case .tooLong(let field):
                    findings.append(Finding(file: name, line: found.line, rule: .tooLong,
                                            detail: field ? "field:\(limits.fieldBytes)" : "record:\(limits.recordBytes)"))
                }
            }
        }
        sha256 = try stream.read(expectedSHA256: expectedSHA256) { bytes in
            reader.feed(bytes) { handle($0) }
            if let problem { throw problem }
        }
        reader.finish { handle($0) }
        if let problem { throw problem }
        if header.isEmpty {
            throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .unreadableFile, detail: Rule.Unreadable.noHeader)])
        }
    }

    /// The partner of `key`: its cells, `.none` or `.several`.
    func partner(_ key: String) -> Partner {
        guard let index = byKey[key] else { return .none }
        return index == Self.several ? .several : .one(rows[Int(index)], line: Int(lines[Int(index)]))
    }

    enum Partner {
        case none
        case one([String], line: Int)
        case several
    }
}
