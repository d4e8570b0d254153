/// Makes a feed's source records from the file's CSV records: dropped columns blanked, the
/// source's added columns appended, each join partner's cells appended as `<file>.<column>`,
/// and one record per value of a split column. What comes out is what the field rules read.
struct RecordShaper {
    let feed: Feed
    let file: String
    /// The source record's column names: the file's header, added columns, joined columns.
    let header: [String]
    /// Header positions of the file's dropped columns.
    let dropped: [Int]
    private let tables: [JoinTable]
    /// Per join, the position (in the growing record) of the column it looks up.
    private let joinKeys: [Int]
    /// The position of the column a split feed splits.
    let splitColumn: Int?
    private let added: [String]
    /// Whether the shaper changes records at all (the Skolon layout: no).
    let isIdentity: Bool

    /// Prepares for a file whose header is `fileHeader`; a column a join or split needs and
    /// the file lacks refuses the delivery, like any missing column.
    init(feed: Feed, file: String, fileHeader: [String], tables: [JoinTable]) throws {
        self.feed = feed
        self.file = file
        self.tables = tables
        let trimmed = fileHeader.map(\.trimmingSpaces)
        dropped = trimmed.indices.filter { feed.source.dropped.contains(trimmed[$0]) }
        added = feed.source.added.map(\.value)
        var header = trimmed + feed.source.added.map(\.column)
        var keys: [Int] = []
        var missing: [Finding] = []
        for table in tables {
            if let index = header.firstIndex(of: table.join.column) {
                keys.append(index)
            } else {
                missing.append(Finding(file: file, line: 1, column: table.join.column, rule: .missingColumn, detail: table.join.column))
                keys.append(0)
            }
            header += table.header.map { "\(table.join.source.name).\($0)" }
        }
        var splitColumn: Int?
        if let split = feed.split {
            splitColumn = header.firstIndex(of: split.column)
            if splitColumn == nil {
                missing.append(Finding(file: file, line: 1, column: split.column, rule: .missingColumn, detail: split.column))
            }
        }
        if !missing.isEmpty { throw DeliveryRefusal(findings: missing) }
        self.header = header
        joinKeys = keys
        self.splitColumn = splitColumn
        isIdentity = tables.isEmpty && added.isEmpty && splitColumn == nil
    }

    /// Blanks the dropped cells of a record as read, before anything else sees it.
    func blankDropped(_ record: inout CSVRecord) {
        for index in dropped where index < record.fields.count { record.fields[index] = "" }
    }

    /// Appends added and joined cells. A key that finds no partner, or several, is a finding;
    /// the record is then completed with empty cells and must be rejected (false). `partners`
    /// gets, per join, the partner's line (0: none).
    func extend(_ record: inout CSVRecord, findings: inout [Finding], partners: inout [Int]) -> Bool {
        record.fields += added
        partners.removeAll(keepingCapacity: true)
        var complete = true
        for (table, keyIndex) in zip(tables, joinKeys) {
            let key = keyIndex < record.fields.count ? record.fields[keyIndex].trimmingSpaces : ""
            var cells: [String]?
            var line = 0
            switch key.isEmpty ? .none : table.partner(key) {
            case .one(let partner, let at):
                cells = partner
                line = at
            case .none where key.isEmpty: break
            case .none:
                findings.append(Finding(file: file, line: record.line, column: table.join.column, value: key, rule: .noPartner,
                                        detail: "\(table.name):\(table.join.partnerColumn)"))
            case .several:
                findings.append(Finding(file: file, line: record.line, column: table.join.column, value: key,
                                        rule: .severalPartners, detail: "\(table.name):\(table.join.partnerColumn)"))
            }
            if cells == nil, !key.isEmpty { complete = false }
            partners.append(line)
            let width = table.header.count
            if let cells, cells.count == width {
                record.fields += cells
            } else {
                record.fields += Array(repeating: "", count: width)
            }
        }
        return complete
    }

    /// The values of the split column (trimmed, empty ones left out, repeats once), or the
    /// record's single row when the feed does not split.
    func parts(_ record: CSVRecord) -> [String]? {
        guard let splitColumn, let split = feed.split else { return nil }
        let cell = splitColumn < record.fields.count ? record.fields[splitColumn] : ""
        let pieces = split.separator.map { cell.components(separatedBy: $0) } ?? [cell]
        var seen = Set<String>()
        return pieces.map(\.trimmingSpaces).filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// Moves findings on joined columns (`roles.grade`) to where the value is: the partner
    /// file, its line and its own column name.
    func locate(_ findings: inout [Finding], from start: Int, partners: [Int]) {
        guard !tables.isEmpty, start < findings.count else { return }
        for index in start..<findings.count {
            for (table, line) in zip(tables, partners) where line > 0 {
                let prefix = table.join.source.name + "."
                guard findings[index].column.hasPrefix(prefix) else { continue }
                findings[index].file = table.name
                findings[index].line = line
                findings[index].column = String(findings[index].column.dropFirst(prefix.count))
            }
        }
    }
}
