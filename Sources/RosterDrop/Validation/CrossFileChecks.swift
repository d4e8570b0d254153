
/// The checks on more than one row that run in SQL, on a file just staged, before the next
/// file is read: people already linked to another organisation, and uniqueness of fields
/// other than the key. (Keys and references are checked in memory by `DeliveryIndex`.)
///
/// Each refused row gets a finding and is marked rejected, in staging and in the index, so
/// that the files read after it see it as rejected.
struct CrossFileChecks {
    let db: any StoreSession
    let mapping: Mapping
    let organisation: String
    let index: DeliveryIndex

    /// Runs the checks for `kind`'s rows, just staged from `feeds`, and settles its duplicates.
    func run(_ kind: EntityKind, feeds: [Feed]) throws {
        guard let fileMapping = feeds.first else { return }
        let rules = KindRules(fileMapping)
        // Each file's own column names, for findings on its rows (several files can make a kind).
        let keyColumns = Dictionary(feeds.compactMap { feed in
            index.numbering.file(of: kind, source: feed.source.name).map { ($0, KindRules(feed).keyColumn) }
        }, uniquingKeysWith: { first, _ in first })
        let repeats = index.takeRepeats(rules, keyColumns: keyColumns)
        try StagingArea.insert(repeats.findings, db)
        try StagingArea.reject(kind, lines: repeats.linesToReject, db)
        let inserter = try db.stagedRowWriter(kind)
        for row in repeats.rowsToStage { try inserter.insert(row) }
        if kind == .users { try rejectOtherOrganisations(feeds) }
        for field in rules.otherUnique {
            try rejectDuplicates(kind, columns: [field.target], header: field.column)
        }
    }

    /// The file and physical line of `kind`'s staged row `line`.
    private func place(_ kind: EntityKind, _ line: Int) -> (file: String, line: Int) { index.numbering.locate(kind, line) }

    /// Marks staged accepted rows rejected, in staging and in the index.
    private func markRejected(_ kind: EntityKind, lines: [Int]) throws {
        guard !lines.isEmpty else { return }
        let keyColumns = kind.key.joined(separator: ", ")
        var keys: [[String]] = []
        for line in lines {
            if let row = try StoreRow.fetchOne(db, sql: "SELECT \(keyColumns) FROM \(kind.stagingTable) WHERE line = ? AND rejected = 0",
                                               arguments: [line]) {
                keys.append(row.values.map { String.fromStoreValue($0) ?? "" })
            }
        }
        index.reject(kind, keys: keys)
        try StagingArea.reject(kind, lines: lines, db)
    }

    /// Every row repeating a value of a unique field other than the key is rejected.
    private func rejectDuplicates(_ kind: EntityKind, columns: [String], header: String) throws {
        let table = kind.stagingTable
        let notNull = columns.map { "\($0) IS NOT NULL" }.joined(separator: " AND ")
        let join = columns.map { "d.\($0) = s.\($0)" }.joined(separator: " AND ")
        let list = columns.joined(separator: ", ")
        let rows = try StoreRow.fetchAll(db, sql: """
            SELECT s.line, s.rejected, \(columns.map { "s.\($0)" }.joined(separator: ", ")) FROM \(table) s
            JOIN (SELECT \(list) FROM \(table) WHERE \(notNull) GROUP BY \(list) HAVING COUNT(*) > 1) d ON \(join)
            ORDER BY \(columns.map { "s.\($0)" }.joined(separator: ", ")), s.line
            """)
        var findings: [Finding] = []
        var rejectedLines: [Int] = []
        var index = 0
        while index < rows.count {
            let key: [String] = columns.map { rows[index][$0] ?? "" }
            // A person id as delivered, not as stored (`ids: organisation`).
            let shownKey = zip(columns, key).map { column, value in
                column == "person_id" ? mapping.delivery.personIDs.delivered(value, organisation: organisation) : value
            }
            var end = index
            while end < rows.count, columns.map({ rows[end][$0] ?? "" }) == key { end += 1 }
            let lines: [Int] = rows[index..<end].map { $0["line"] }
            let shown = self.index.numbering.describe(kind, lines)
            for row in rows[index..<end] {
                let line: Int = row["line"]
                let at = place(kind, line)
                findings.append(Finding(file: at.file, line: at.line, column: header, value: shownKey.joined(separator: " "),
                                        rule: .duplicate, detail: shown))
                if (row["rejected"] as Int) == 0 { rejectedLines.append(line) }
            }
            index = end
        }
        try StagingArea.insert(findings, db)
        try markRejected(kind, lines: rejectedLines)
    }

    /// A person already linked to an account of another organisation is never taken over.
    private func rejectOtherOrganisations(_ feeds: [Feed]) throws {
        var headers: [String: String] = [:]
        for feed in feeds {
            guard let file = index.numbering.file(of: .users, source: feed.source.name) else { continue }
            headers[file] = feed.fields.first { $0.target == "person_id" }?.column ?? "person_id"
        }
        let rows = try StoreRow.fetchAll(db, sql: """
            SELECT s.line, s.person_id FROM stage_users s JOIN accounts a ON a.person_id = s.person_id
            WHERE s.rejected = 0 AND (a.organisation_id IS NULL OR a.organisation_id <> ?)
            ORDER BY s.line
            """, arguments: [organisation])
        try StagingArea.insert(rows.map {
            let at = place(.users, $0["line"])
            return Finding(file: at.file, line: at.line, column: headers[at.file] ?? "person_id",
                           value: mapping.delivery.personIDs.delivered($0["person_id"], organisation: organisation), rule: .otherOrganisation)
        }, db)
        try markRejected(.users, lines: rows.map { $0["line"] })
    }
}
