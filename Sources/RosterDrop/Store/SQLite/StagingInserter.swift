import GRDB
import GRDBSQLite

/// Appends staged rows with one prepared statement, binding text straight from Swift strings.
///
/// This is the bulk path (millions of rows a delivery): it skips building a
/// `StatementArguments` per row, which measured as the main cost of staging. SQLite calls
/// stay in this file; failures surface as GRDB's `DatabaseError` with the SQL, never values.
struct StagingInserter: StagedRowWriter {
    private let statement: Statement
    private let sql: String
    private let textColumns: Int

    init(_ db: Database, kind: EntityKind) throws {
        sql = StagingArea.insertSQL(kind)
        textColumns = StagingArea.columns(kind).count
        statement = try db.makeStatement(sql: sql)
    }

    /// Inserts one row: its line, whether it was rejected, its column values in order
    /// (missing trailing ones are null), then its hash and the lines of the user and group
    /// it names.
    func insert(_ row: StagedBatch.Row) throws {
        let handle = statement.sqliteStatement
        sqlite3_bind_int64(handle, 1, Int64(row.line))
        sqlite3_bind_int64(handle, 2, row.rejected ? 1 : 0)
        var position: Int32 = 3
        for index in 0..<textColumns {
            defer { position += 1 }
            guard index < row.values.count, var value = row.values[index] else {
                sqlite3_bind_null(handle, position)
                continue
            }
            value.withUTF8 { bytes in
                _ = sqlite3_bind_text(handle, position, UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                      Int32(bytes.count), Self.transient)
            }
        }
        func bind(_ number: Int64?) {
            if let number { sqlite3_bind_int64(handle, position, number) } else { sqlite3_bind_null(handle, position) }
            position += 1
        }
        bind(row.rowHash)
        bind(row.userLine.map(Int64.init))
        bind(row.groupLine.map(Int64.init))
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "staging insert failed", sql: sql)
        }
    }

    /// SQLite's SQLITE_TRANSIENT: copy the bytes before returning (a C macro Swift cannot see).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
