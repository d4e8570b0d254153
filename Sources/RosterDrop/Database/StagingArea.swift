
/// Temporary tables holding one delivery's rows and findings while it is checked and planned.
///
/// Every row read is staged — rejected ones with their raw key values, so that the record
/// they name is protected from removal — except accepted rows identical to what the job last
/// wrote (see `DeliveryIndex`), which need nothing done. Temporary tables live on the job's
/// connection only and vanish with it, so an interrupted run leaves nothing behind.
struct StagingArea {
    /// Text columns: the portal fields.
    static func columns(_ kind: EntityKind) -> [String] {
        kind.fields.map(\.name)
    }

    /// Integer columns after the text ones: the accepted row's hash, and the lines (in the
    /// users and groups files) of the user and group it names.
    static let numberColumns = ["row_hash", "user_line", "group_line"]

    /// Drops and recreates every staging table, and drops the previous delivery's plan.
    /// A record starts on its own physical line, so `line` is the row id: appends stay
    /// sequential. Only rows staged as not unchanged are here; a partial index keeps the
    /// (few) rejected ones at hand for the protection lists.
    static func reset(_ db: any StoreSession) throws {
        for kind in EntityKind.allCases {
            let columns = (columns(kind).map { "\($0) TEXT" } + numberColumns.map { "\($0) INTEGER" })
                .joined(separator: ", ")
            try db.dropTemporaryTable("\(kind.stagingTable)")
            try db.execute(sql: "CREATE TEMP TABLE \(kind.stagingTable) (line INTEGER PRIMARY KEY, rejected INTEGER NOT NULL, \(columns))")
            try db.execute(sql: "CREATE INDEX \(kind.stagingTable)_rejected ON \(kind.stagingTable)(line) WHERE rejected = 1")
        }
        try Reconciliation.discardPlan(db)
        try db.dropTemporaryTable("stage_finding_people")
        try db.execute(sql: "CREATE TEMP TABLE stage_finding_people (file TEXT NOT NULL, line INTEGER NOT NULL, person_id TEXT NOT NULL)")
        try db.dropTemporaryTable("stage_findings")
        try db.execute(sql: """
            CREATE TEMP TABLE stage_findings (file TEXT NOT NULL, line INTEGER NOT NULL, column_name TEXT NOT NULL,
                value TEXT NOT NULL, rule TEXT NOT NULL, detail TEXT NOT NULL, warning INTEGER NOT NULL DEFAULT 0)
            """)
    }

    static func insertSQL(_ kind: EntityKind) -> String {
        let columns = columns(kind) + numberColumns
        let marks = Array(repeating: "?", count: columns.count + 2).joined(separator: ", ")
        return "INSERT INTO \(kind.stagingTable) (line, rejected, \(columns.joined(separator: ", "))) VALUES (\(marks))"
    }

    /// Marks staged rows rejected by a check that came after they were staged.
    static func reject(_ kind: EntityKind, lines: [Int], _ db: any StoreSession) throws {
        let statement = try db.makeStatement(sql: "UPDATE \(kind.stagingTable) SET rejected = 1 WHERE line = ?")
        for line in lines { try statement.execute(arguments: [line]) }
    }

    /// What the plan reads besides the staged rows, once every file is read:
    /// - `present_users`: lines of the users the portal keeps (accepted, licensed) among those
    ///   staged or named by a staged membership;
    /// - `vanished_<kind>`: hashes of records last written that the delivery did not match;
    /// - `rejected_people`, `rejected_orders`, `rejected_pairs`: keys named by rejected rows,
    ///   whose records are protected from removal.
    static func prepareForPlan(_ db: any StoreSession, presentUsers: [Int], vanished: [EntityKind: Set<Int64>]) throws {
        try db.dropTemporaryTable("present_users")
        try db.execute(sql: "CREATE TEMP TABLE present_users (line INTEGER PRIMARY KEY)")
        let present = try db.rowAppender(table: "present_users", columns: ["line"])
        for line in presentUsers { try present.append([line]) }
        for kind in [EntityKind.users, .memberships, .distributionOrders] {
            let table = "vanished_\(kind.rawValue)"
            try db.dropTemporaryTable("\(table)")
            try db.execute(sql: "CREATE TEMP TABLE \(table) (hash INTEGER PRIMARY KEY)")
            let insert = try db.rowAppender(table: table, columns: ["hash"])
            for hash in (vanished[kind] ?? []).sorted() { try insert.append([hash]) }
        }
        for table in ["rejected_people", "rejected_orders", "rejected_pairs"] { try db.dropTemporaryTable(table) }
        try db.execute(sql: """
            CREATE TEMP TABLE rejected_people (person_id TEXT PRIMARY KEY);
            INSERT INTO rejected_people SELECT person_id FROM stage_users WHERE rejected = 1 AND person_id IS NOT NULL
                ON CONFLICT DO NOTHING;
            INSERT INTO rejected_people
                SELECT person_id FROM stage_distribution_orders WHERE rejected = 1 AND person_id IS NOT NULL
                ON CONFLICT DO NOTHING;
            CREATE TEMP TABLE rejected_orders (order_id TEXT PRIMARY KEY);
            INSERT INTO rejected_orders
                SELECT order_id FROM stage_distribution_orders WHERE rejected = 1 AND order_id IS NOT NULL
                ON CONFLICT DO NOTHING;
            CREATE TEMP TABLE rejected_pairs (group_id TEXT, person_id TEXT, PRIMARY KEY (group_id, person_id));
            INSERT INTO rejected_pairs SELECT group_id, person_id FROM stage_memberships
                WHERE rejected = 1 AND group_id IS NOT NULL AND person_id IS NOT NULL
                ON CONFLICT DO NOTHING;
            CREATE INDEX stage_groups_by_group_id ON stage_groups(group_id);
            """)
    }

    /// Notes the person each rejected row names, by file and line, so that its findings can
    /// name them in the ledger (`Ledger.namePeople`).
    static func notePeople(_ db: any StoreSession, numbering: RowNumbering) throws {
        var people: [StoreArguments] = []
        for kind in [EntityKind.users, .memberships, .distributionOrders] {
            try db.forEachRow(sql: """
                SELECT line, person_id FROM \(kind.stagingTable) WHERE rejected = 1 AND person_id IS NOT NULL
                """, arguments: []) { row in
                let place = numbering.locate(kind, row["line"])
                people.append([place.file, place.line, row["person_id"] as String])
                return true
            }
        }
        let insert = try db.rowAppender(table: "stage_finding_people", columns: ["file", "line", "person_id"])
        for person in people { try insert.append(person) }
        try db.execute(sql: "CREATE INDEX stage_finding_people_by_place ON stage_finding_people(file, line)")
    }

    static func insert(_ findings: [Finding], _ db: any StoreSession) throws {
        // Called for every batch read: most have no findings.
        guard !findings.isEmpty else { return }
        let appender = try db.rowAppender(table: "stage_findings",
                                          columns: ["file", "line", "column_name", "value", "rule", "detail", "warning"])
        for finding in findings {
            try appender.append([finding.file, finding.line, finding.column, String(finding.value.prefix(500)),
                                              finding.rule.rawValue, finding.detail, finding.isWarning])
        }
    }
}
