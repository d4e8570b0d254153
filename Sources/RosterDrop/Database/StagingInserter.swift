import GRDB
import GRDBSQLite

/// Appends staged rows with one prepared statement, binding text straight from Swift strings.
///
/// This is the bulk path (millions of rows a delivery): it skips building a
/// `StatementArguments` per row, which measured as the main cost of staging. SQLite calls
/// stay in this file; failures surface as GRDB's `DatabaseError` with the SQL, never values.
struct StagingInserter {
    private let statement: Statement
    private let sql: String

    init(_ db: Database, kind: EntityKind) throws {
        sql = StagingArea.insertSQL(kind)
        statement = try db.makeStatement(sql: sql)
    }

    /// Inserts one row: its line, whether it was rejected, and its column values in order.
    func insert(line: Int, rejected: Bool, values: [String?]) throws {
        let handle = statement.sqliteStatement
        sqlite3_bind_int64(handle, 1, Int64(line))
        sqlite3_bind_int64(handle, 2, rejected ? 1 : 0)
        for (index, value) in values.enumerated() {
            let position = Int32(index + 3)
            guard var value else {
                sqlite3_bind_null(handle, position)
                continue
            }
            value.withUTF8 { bytes in
                _ = sqlite3_bind_text(handle, position, UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                      Int32(bytes.count), Self.transient)
            }
        }
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "staging insert failed", sql: sql)
        }
    }

    /// SQLite's SQLITE_TRANSIENT: copy the bytes before returning (a C macro Swift cannot see).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
