import GRDB

/// The checks that need more than one row: uniqueness within a file, references between
/// a delivery's files, and people already linked to another organisation.
///
/// They run on the staging tables with set-based SQL; each refused row gets a finding and
/// is marked rejected, so that later checks and the plan see only rows that passed.
struct CrossFileChecks {
    let db: Database
    let mapping: Mapping
    let organisation: String
    /// The delivered file name of each kind present.
    let files: [EntityKind: String]

    func run() throws {
        for kind in EntityKind.allCases {
            guard let fileMapping = mapping.files[kind], files[kind] != nil else { continue }
            if kind == .users { try rejectOtherOrganisations(fileMapping) }
            for field in fileMapping.fields where field.reference == .users || field.reference == .groups {
                try rejectDangling(kind, field: field)
            }
            for field in fileMapping.fields where field.unique {
                try rejectDuplicates(kind, columns: [field.target], keepFirst: false, header: field.column)
            }
            if !fileMapping.fields.contains(where: { $0.unique && kind.key == [$0.target] }) {
                // A key without a uniqueness rule (memberships): a repeated row says nothing
                // new, so the first is used and the repeats are reported.
                try rejectDuplicates(kind, columns: kind.key, keepFirst: true, header: "")
            }
        }
    }

    private func file(_ kind: EntityKind) -> String { files[kind] ?? kind.rawValue }

    private func markRejected(_ kind: EntityKind, lines: [Int]) throws {
        let statement = try db.cachedStatement(sql: "UPDATE \(kind.stagingTable) SET rejected = 1 WHERE line = ?")
        for line in lines { try statement.execute(arguments: [line]) }
    }

    private func rejectDuplicates(_ kind: EntityKind, columns: [String], keepFirst: Bool, header: String) throws {
        let table = kind.stagingTable
        let notNull = columns.map { "\($0) IS NOT NULL" }.joined(separator: " AND ")
        let join = columns.map { "d.\($0) = s.\($0)" }.joined(separator: " AND ")
        let list = columns.joined(separator: ", ")
        let rows = try GRDB.Row.fetchAll(db, sql: """
            SELECT s.line, s.rejected, \(columns.map { "s.\($0)" }.joined(separator: ", ")) FROM \(table) s
            JOIN (SELECT \(list) FROM \(table) WHERE \(notNull) GROUP BY \(list) HAVING COUNT(*) > 1) d ON \(join)
            ORDER BY \(columns.map { "s.\($0)" }.joined(separator: ", ")), s.line
            """)
        var findings: [Finding] = []
        var rejectedLines: [Int] = []
        var index = 0
        while index < rows.count {
            let key: [String] = columns.map { rows[index][$0] ?? "" }
            var end = index
            while end < rows.count, columns.map({ rows[end][$0] ?? "" }) == key { end += 1 }
            let lines: [Int] = rows[index..<end].map { $0["line"] }
            let shown = lines.prefix(10).map(String.init).joined(separator: ", ") + (lines.count > 10 ? ", …" : "")
            for row in rows[(keepFirst ? index + 1 : index)..<end] {
                let line: Int = row["line"]
                findings.append(Finding(file: file(kind), line: line, column: header, value: key.joined(separator: " "),
                                        rule: .duplicate, detail: shown))
                if (row["rejected"] as Int) == 0 { rejectedLines.append(line) }
            }
            index = end
        }
        try StagingArea.insert(findings, db)
        try markRejected(kind, lines: rejectedLines)
    }

    private func rejectDangling(_ kind: EntityKind, field: FieldMapping) throws {
        let (target, targetColumn, rule): (EntityKind, String, Rule) = field.reference == .users
            ? (.users, "person_id", .unknownPerson) : (.groups, "group_id", .unknownGroup)
        let column = field.target
        let rows = try GRDB.Row.fetchAll(db, sql: """
            SELECT s.line, s.\(column) AS value,
                   EXISTS (SELECT 1 FROM \(target.stagingTable) r WHERE r.\(targetColumn) = s.\(column)) AS present
            FROM \(kind.stagingTable) s
            WHERE s.rejected = 0 AND NOT EXISTS
                (SELECT 1 FROM \(target.stagingTable) t WHERE t.rejected = 0 AND t.\(targetColumn) = s.\(column))
            ORDER BY s.line
            """)
        let findings = rows.map { row -> Finding in
            let present: Bool = row["present"]
            let specific: Rule = !present ? rule : (rule == .unknownPerson ? .rejectedPerson : .rejectedGroup)
            return Finding(file: file(kind), line: row["line"], column: field.column, value: row["value"] ?? "", rule: specific)
        }
        try StagingArea.insert(findings, db)
        try markRejected(kind, lines: rows.map { $0["line"] })
    }

    /// A person already linked to an account of another organisation is never taken over.
    private func rejectOtherOrganisations(_ fileMapping: FileMapping) throws {
        let header = fileMapping.fields.first { $0.target == "person_id" }?.column ?? "person_id"
        let rows = try GRDB.Row.fetchAll(db, sql: """
            SELECT s.line, s.person_id FROM stage_users s JOIN accounts a ON a.person_id = s.person_id
            WHERE s.rejected = 0 AND (a.organisation_id IS NULL OR a.organisation_id <> ?)
            ORDER BY s.line
            """, arguments: [organisation])
        try StagingArea.insert(rows.map {
            Finding(file: file(.users), line: $0["line"], column: header, value: $0["person_id"], rule: .otherOrganisation)
        }, db)
        try markRejected(.users, lines: rows.map { $0["line"] })
    }
}
