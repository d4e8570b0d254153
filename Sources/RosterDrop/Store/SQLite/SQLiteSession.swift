import GRDB

/// The SQLite implementation of a store session: GRDB's connection, seen by nothing above.
///
/// A session lives only inside the `PortalDatabase` access that made it.
final class SQLiteSession: StoreSession {
    let db: Database

    init(_ db: Database) {
        self.db = db
    }

    func execute(sql: String, arguments: StoreArguments) throws {
        try db.execute(sql: sql, arguments: arguments.grdb)
    }

    func forEachRow(sql: String, arguments: StoreArguments, _ body: (StoreRow) throws -> Bool) throws {
        let cursor = try GRDB.Row.fetchCursor(db, sql: sql, arguments: arguments.grdb)
        var columns: [String]?
        while let row = try cursor.next() {
            let names = columns ?? Array(row.columnNames)
            columns = names
            if try !body(StoreRow(columns: names, values: row.databaseValues.map(StoreValue.init))) { break }
        }
    }

    func forEachValue(sql: String, arguments: StoreArguments, _ body: (StoreValue) throws -> Bool) throws {
        let cursor = try DatabaseValue.fetchCursor(db, sql: sql, arguments: arguments.grdb)
        while let value = try cursor.next() {
            if try !body(StoreValue(value)) { break }
        }
    }

    var changesCount: Int { db.changesCount }

    func inTransaction(_ kind: TransactionKind, _ body: () throws -> TransactionCompletion) throws {
        try db.inTransaction(kind == .immediate ? .immediate : .deferred) {
            switch try body() {
            case .commit: .commit
            case .rollback: .rollback
            }
        }
    }

    func makeStatement(sql: String) throws -> any StoreStatement {
        SQLiteStatement(try db.makeStatement(sql: sql))
    }

    func dropTemporaryTable(_ name: String) throws {
        try db.execute(sql: "DROP TABLE IF EXISTS temp.\(name)")
    }

    func stagedRowWriter(_ kind: EntityKind) throws -> any StagedRowWriter {
        try StagingInserter(db, kind: kind)
    }

    func rowAppender(table: String, columns: [String]) throws -> any RowAppender {
        let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        return SQLiteStatement(try db.makeStatement(sql: "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(marks))"))
    }

    /// SQLite numbers rows after the highest id: the plan takes `last + seq`.
    func assignNewIDs(table: String, plan: String, column: String) throws -> Int64 {
        let last = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM \(table)") ?? 0
        try db.execute(sql: "UPDATE \(plan) SET \(column) = ? + seq WHERE action = 'create'", arguments: [last])
        return last
    }

    func rowHashKey() throws -> SipKey {
        guard let text = try String.fetchOne(db, sql: "SELECT value FROM job_settings WHERE name = 'row_hash_key'"),
              let key = SipKey(hex: text) else {
            throw DatabaseError(message: "job_settings.row_hash_key is missing or malformed")
        }
        return key
    }
}

final class SQLiteStatement: StoreStatement, RowAppender {
    let statement: Statement

    init(_ statement: Statement) {
        self.statement = statement
    }

    func execute(arguments: StoreArguments) throws {
        try statement.execute(arguments: arguments.grdb)
    }

    func append(_ arguments: StoreArguments) throws {
        try statement.execute(arguments: arguments.grdb)
    }
}

extension StoreArguments {
    var grdb: StatementArguments { StatementArguments(values.map { $0.databaseValue }) }
}

extension StoreValue {
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let number): self = .integer(number)
        case .double(let number): self = .real(number)
        case .string(let text): self = .text(text)
        case .blob(let data): self = .blob(data)
        }
    }

    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let number): number.databaseValue
        case .real(let number): number.databaseValue
        case .text(let text): text.databaseValue
        case .blob(let data): data.databaseValue
        }
    }
}
