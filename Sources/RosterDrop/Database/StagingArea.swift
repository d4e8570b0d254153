import GRDB

/// Temporary tables holding one delivery's rows and findings while it is checked and planned.
///
/// Every row read is staged, accepted or not: a rejected row keeps its raw key values so
/// that the record it names is protected from removal. Temporary tables live on the job's
/// connection only and vanish with it, so an interrupted run leaves nothing behind.
struct StagingArea {
    /// Extra columns derived while staging, beside the portal fields.
    static func derivedColumns(_ kind: EntityKind) -> [String] {
        kind == .users ? ["email_key"] : []
    }

    static func columns(_ kind: EntityKind) -> [String] {
        kind.fields.map(\.name) + derivedColumns(kind)
    }

    /// Drops and recreates every staging table, and drops the previous delivery's plan.
    /// A record starts on its own physical line, so `line` is the row id: appends stay
    /// sequential and no separate index is needed.
    static func reset(_ db: Database) throws {
        for kind in EntityKind.allCases {
            let columns = columns(kind).map { "\($0) TEXT" }.joined(separator: ", ")
            try db.execute(sql: "DROP TABLE IF EXISTS temp.\(kind.stagingTable)")
            try db.execute(sql: "CREATE TEMP TABLE \(kind.stagingTable) (line INTEGER PRIMARY KEY, rejected INTEGER NOT NULL, \(columns))")
        }
        try Reconciliation.discardPlan(db)
        try db.execute(sql: "DROP TABLE IF EXISTS temp.stage_findings")
        try db.execute(sql: """
            CREATE TEMP TABLE stage_findings (file TEXT NOT NULL, line INTEGER NOT NULL, column_name TEXT NOT NULL,
                value TEXT NOT NULL, rule TEXT NOT NULL, detail TEXT NOT NULL)
            """)
    }

    /// Indexes the staged keys once loading is done; building them afterwards is cheaper
    /// than keeping them up to date row by row.
    static func index(_ db: Database) throws {
        let indexed: [(EntityKind, [String])] = [
            (.users, ["person_id"]), (.groups, ["group_id"]), (.memberships, ["group_id", "person_id"]),
            (.distributionOrders, ["person_id"]), (.distributionOrders, ["order_id"]),
        ]
        for (kind, columns) in indexed {
            let name = "\(kind.stagingTable)_by_\(columns.joined(separator: "_"))"
            try db.execute(sql: "CREATE INDEX temp.\(name) ON \(kind.stagingTable)(\(columns.joined(separator: ", ")))")
        }
    }

    static func insertSQL(_ kind: EntityKind) -> String {
        let columns = columns(kind)
        let marks = Array(repeating: "?", count: columns.count + 2).joined(separator: ", ")
        return "INSERT INTO \(kind.stagingTable) (line, rejected, \(columns.joined(separator: ", "))) VALUES (\(marks))"
    }

    static let findingSQL = "INSERT INTO stage_findings (file, line, column_name, value, rule, detail) VALUES (?, ?, ?, ?, ?, ?)"

    static func insert(_ findings: [Finding], _ db: Database) throws {
        let statement = try db.cachedStatement(sql: findingSQL)
        for finding in findings {
            try statement.execute(arguments: [finding.file, finding.line, finding.column, String(finding.value.prefix(500)),
                                              finding.rule.rawValue, finding.detail])
        }
    }
}
