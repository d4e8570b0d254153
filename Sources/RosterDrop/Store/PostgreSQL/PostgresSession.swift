import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The PostgreSQL implementation of a store session: one PostgresNIO connection, used
/// synchronously by the one thread that holds the session.
///
/// Bulk rows (staging, the plan's lists, findings) are not sent one by one: they gather in
/// `COPY` text-format buffers, sent when a buffer is full and before any other statement, so
/// every statement sees every row appended before it.
final class PostgresSession: StoreSession, @unchecked Sendable {
    let connection: PostgresConnection
    private let logger: Logger
    private(set) var changesCount = 0
    private var copies: [CopyBuffer] = []

    /// A full buffer is sent: large enough that a `COPY` round trip costs nothing, small
    /// enough that memory stays flat.
    static let copyChunk = 4 << 20

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    // MARK: statements

    func execute(sql: String, arguments: StoreArguments) throws {
        try run(sql: sql, arguments: arguments, collect: .nothing) { _ in true }
    }

    func forEachRow(sql: String, arguments: StoreArguments, _ body: (StoreRow) throws -> Bool) throws {
        try run(sql: sql, arguments: arguments, collect: .everyColumn) { rows in
            let width = rows.columns.count
            for start in stride(from: 0, to: rows.values.count, by: max(width, 1)) {
                if try !body(StoreRow(columns: rows.columns, values: Array(rows.values[start..<start + width]))) { return false }
            }
            return true
        }
    }

    func forEachValue(sql: String, arguments: StoreArguments, _ body: (StoreValue) throws -> Bool) throws {
        try run(sql: sql, arguments: arguments, collect: .firstColumn) { rows in
            for value in rows.values {
                if try !body(value) { return false }
            }
            return true
        }
    }

    private enum Collect {
        case nothing, firstColumn, everyColumn
    }

    /// One statement's rows, read into store values as they arrive (on the connection's event
    /// loop, while the caller waits): one flat array, a row's values after another's.
    private final class Rows: @unchecked Sendable {
        var columns: [String] = []
        var values: [StoreValue] = []
    }

    /// Runs each statement of `sql` in turn, handing the rows of each to `body` (which
    /// returns false to skip the rest of them). Rows come whole before `body` sees them:
    /// it may run statements of its own on this connection, as SQLite's cursors allow.
    /// (They are read row by row rather than by PostgresNIO's `all()`, which copies its whole
    /// array for every network batch — quadratic on a national table's millions of rows.)
    private func run(sql: String, arguments: StoreArguments, collect: Collect, _ body: (Rows) throws -> Bool) throws {
        try flushCopies()
        let statements = PostgresSQL.translate(sql)
        guard Set(statements.flatMap(\.arguments)) == Set(arguments.values.indices) else {
            throw StoreError(message: "the statement's placeholders do not take its \(arguments.values.count) argument(s) one for one",
                             sql: sql)
        }
        for statement in statements {
            var binds = PostgresBindings(capacity: statement.arguments.count)
            for index in statement.arguments { Self.bind(arguments.values[index], to: &binds) }
            let rows = Rows()
            let metadata: PostgresQueryMetadata
            let started = ContinuousClock.now
            let text = statement.text
            do {
                metadata = try connection.query(PostgresQuery(unsafeSQL: text, binds: binds), logger: logger) { row in
                    switch collect {
                    case .nothing:
                        return
                    case .firstColumn:
                        if let cell = row.first(where: { _ in true }) { rows.values.append(try Self.value(cell, sql: text)) }
                    case .everyColumn:
                        if rows.columns.isEmpty { rows.columns = row.map(\.columnName) }
                        for cell in row { rows.values.append(try Self.value(cell, sql: text)) }
                    }
                }.wait()
            } catch let error as StoreError {
                throw error
            } catch {
                throw PostgresStoreError(error, sql: text)
            }
            if Self.profile { Self.report(text, since: started) }
            changesCount = metadata.rows ?? 0
            if try !body(rows) { break }
        }
    }

    /// `ROSTERDROP_PROFILE_SQL=1`: statements slower than 50 ms, with their SQL but never
    /// bound values, as on SQLite.
    private static let profile = ProcessInfo.processInfo.environment["ROSTERDROP_PROFILE_SQL"] == "1"

    private static func report(_ sql: String, since started: ContinuousClock.Instant) {
        let seconds = (ContinuousClock.now - started).inSeconds
        guard seconds > 0.05 else { return }
        FileHandle.standardError.write(Data(String(format: "sql %.3fs %@\n", seconds,
                                                   sql.prefix(160).replacingOccurrences(of: "\n", with: " ")).utf8))
    }

    static func bind(_ value: StoreValue, to binds: inout PostgresBindings) {
        switch value {
        case .null: binds.appendNull()
        case .integer(let number): binds.append(number)
        case .real(let number): binds.append(number)
        case .text(let text): binds.append(PostgresText.clean(text))
        case .blob(let data): binds.append(ByteBuffer(bytes: data))
        }
    }

    static func value(_ cell: PostgresCell, sql: String) throws -> StoreValue {
        guard cell.bytes != nil else { return .null }
        guard let value = try? decoded(cell) else {
            throw StoreError(message: "column \(cell.columnName) holds a value of type \(cell.dataType) the job cannot read",
                             sql: sql)
        }
        return value
    }

    /// A cell of a type the store knows, or nil.
    private static func decoded(_ cell: PostgresCell) throws -> StoreValue? {
        switch cell.dataType {
        case .int2, .int4, .int8, .oid:
            return .integer(try cell.decode(Int64.self))
        case .float4, .float8:
            return .real(try cell.decode(Double.self))
        case .bool:
            return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .numeric:
            // SUM() of a bigint column is numeric: whole numbers stay exact integers.
            let number = try cell.decode(Decimal.self)
            if let integer = Int64(number.description) { return .integer(integer) }
            return .real(NSDecimalNumber(decimal: number).doubleValue)
        case .bytea:
            var buffer = cell.bytes!
            return .blob(Data(buffer.readBytes(length: buffer.readableBytes) ?? []))
        case .text, .varchar, .bpchar, .name:
            return .text(try cell.decode(String.self))
        case .void:
            return .null
        default:
            return nil
        }
    }

    // MARK: transactions

    func inTransaction(_ kind: TransactionKind, _ body: () throws -> TransactionCompletion) throws {
        try execute(sql: "BEGIN")
        let completion: TransactionCompletion
        do {
            completion = try body()
            try flushCopies()
        } catch {
            // Rows of the failed transaction are not sent after it (the buffers stay, empty,
            // for the writers that hold them).
            for buffer in copies { buffer.bytes.clear() }
            try? execute(sql: "ROLLBACK")
            throw error
        }
        try execute(sql: completion == .commit ? "COMMIT" : "ROLLBACK")
    }

    // MARK: prepared statements and bulk paths

    func makeStatement(sql: String) throws -> any StoreStatement {
        PostgresStatement(session: self, sql: sql)
    }

    func dropTemporaryTable(_ name: String) throws {
        try execute(sql: "DROP TABLE IF EXISTS pg_temp.\(name)")
    }

    func stagedRowWriter(_ kind: EntityKind) throws -> any StagedRowWriter {
        PostgresStagedRows(buffer: copyBuffer(table: kind.stagingTable,
                                              columns: ["line", "rejected"] + StagingArea.columns(kind) + StagingArea.numberColumns),
                           textColumns: StagingArea.columns(kind).count, session: self)
    }

    func rowAppender(table: String, columns: [String]) throws -> any RowAppender {
        PostgresRowAppender(buffer: copyBuffer(table: table, columns: columns), session: self)
    }

    /// The ids come from the table's identity sequence, which the portal's application
    /// shares: taken in `seq` order, and first moved past any id inserted without it.
    func assignNewIDs(table: String, plan: String, column: String) throws -> Int64 {
        let last = try Int64.fetchOne(self, sql: "SELECT COALESCE(MAX(id), 0) FROM \(table)") ?? 0
        let sequence = "pg_get_serial_sequence('\(table)', 'id')"
        try execute(sql: """
            SELECT setval(\(sequence), ?) FROM (SELECT last_value, is_called FROM \(table)_id_seq) s
            WHERE s.last_value < ? OR (s.last_value = ? AND NOT s.is_called)
            """, arguments: [last, last, last])
        try execute(sql: """
            UPDATE \(plan) SET \(column) = n.id FROM (
                SELECT o.seq, nextval(\(sequence)) AS id FROM (
                    SELECT seq FROM \(plan) WHERE action = 'create' ORDER BY seq) o) n
            WHERE \(plan).seq = n.seq
            """)
        return last
    }

    func rowHashKey() throws -> SipKey {
        guard let text = try String.fetchOne(self, sql: "SELECT value FROM job_settings WHERE name = 'row_hash_key'"),
              let key = SipKey(hex: text) else {
            throw StoreError(message: "job_settings.row_hash_key is missing or malformed", sql: "SELECT value FROM job_settings")
        }
        return key
    }

    /// The buffer gathering rows for `table`, made when first asked for.
    private func copyBuffer(table: String, columns: [String]) -> CopyBuffer {
        if let buffer = copies.first(where: { $0.table == table && $0.columns == columns }) { return buffer }
        let buffer = CopyBuffer(table: table, columns: columns)
        copies.append(buffer)
        return buffer
    }

    /// Sends `buffer` if it is full.
    func sendIfFull(_ buffer: CopyBuffer) throws {
        if buffer.bytes.readableBytes >= Self.copyChunk { try send(buffer) }
    }

    /// Sends every buffered row, in the order the tables were first written.
    func flushCopies() throws {
        for buffer in copies where buffer.bytes.readableBytes > 0 { try send(buffer) }
    }

    private func send(_ buffer: CopyBuffer) throws {
        let bytes = buffer.bytes
        buffer.bytes.clear()
        let connection = connection
        let logger = logger
        let table = buffer.table
        let columns = buffer.columns
        let started = ContinuousClock.now
        defer { if Self.profile { Self.report("COPY \(table)", since: started) } }
        do {
            try AsyncBridge.shared.run {
                try await connection.copyFrom(table: table, columns: columns, format: .text(.init()), logger: logger) { writer in
                    try await writer.write(bytes)
                }
            }
        } catch {
            throw PostgresStoreError(error, sql: "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN")
        }
    }
}

/// Rows of one table waiting to be sent by `COPY … FROM STDIN` in text format.
final class CopyBuffer {
    let table: String
    let columns: [String]
    var bytes = ByteBuffer()

    init(table: String, columns: [String]) {
        self.table = table
        self.columns = columns
        bytes.reserveCapacity(PostgresSession.copyChunk + (64 << 10))
    }

    func appendNull() {
        bytes.writeStaticString("\\N")
    }

    func append(_ number: Int64) {
        bytes.writeString(String(number))
    }

    func append(_ number: Double) {
        bytes.writeString("\(number)")
    }

    /// Text with COPY's escapes: backslash, tab, newline and carriage return.
    func append(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            var start = 0
            for (index, byte) in utf8.enumerated() {
                let escape: StaticString
                switch byte {
                case UInt8(ascii: "\\"): escape = "\\\\"
                case UInt8(ascii: "\t"): escape = "\\t"
                case UInt8(ascii: "\n"): escape = "\\n"
                case UInt8(ascii: "\r"): escape = "\\r"
                case 0: escape = "\u{FFFD}"
                default: continue
                }
                bytes.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[start..<index]))
                bytes.writeStaticString(escape)
                start = index + 1
            }
            bytes.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[start...]))
        }
    }

    func append(_ value: StoreValue) {
        switch value {
        case .null: appendNull()
        case .integer(let number): append(number)
        case .real(let number): append(number)
        case .text(let text): append(text)
        case .blob(let data): append("\\x" + data.map { String(format: "%02x", $0) }.joined())
        }
    }

    func separator() { bytes.writeInteger(UInt8(ascii: "\t")) }
    func endRow() { bytes.writeInteger(UInt8(ascii: "\n")) }
}

/// Text as PostgreSQL keeps it: it has no NUL character, which the job turns into U+FFFD.
enum PostgresText {
    static func clean(_ text: String) -> String {
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }
}

struct PostgresStagedRows: StagedRowWriter {
    let buffer: CopyBuffer
    let textColumns: Int
    let session: PostgresSession

    func insert(_ row: StagedBatch.Row) throws {
        buffer.append(Int64(row.line))
        buffer.separator()
        buffer.append(Int64(row.rejected ? 1 : 0))
        for index in 0..<textColumns {
            buffer.separator()
            if index < row.values.count, let value = row.values[index] { buffer.append(value) } else { buffer.appendNull() }
        }
        func number(_ value: Int64?) {
            buffer.separator()
            if let value { buffer.append(value) } else { buffer.appendNull() }
        }
        number(row.rowHash)
        number(row.userLine.map(Int64.init))
        number(row.groupLine.map(Int64.init))
        buffer.endRow()
        try session.sendIfFull(buffer)
    }
}

struct PostgresRowAppender: RowAppender {
    let buffer: CopyBuffer
    let session: PostgresSession

    func append(_ arguments: StoreArguments) throws {
        for (index, value) in arguments.values.enumerated() {
            if index > 0 { buffer.separator() }
            buffer.append(value)
        }
        buffer.endRow()
        try session.sendIfFull(buffer)
    }
}

/// A statement run again for each call: PostgreSQL parses it quickly, and the many-row
/// paths use `COPY` instead.
final class PostgresStatement: StoreStatement {
    let session: PostgresSession
    let sql: String

    init(session: PostgresSession, sql: String) {
        self.session = session
        self.sql = sql
    }

    func execute(arguments: StoreArguments) throws {
        try session.execute(sql: sql, arguments: arguments)
    }
}

/// A PostgreSQL failure: the server's message and SQLSTATE with the SQL, never bound values
/// nor the server's detail line (which quotes them).
struct PostgresStoreError: Error, CustomStringConvertible {
    var message: String
    var sql: String
    var sqlState: String?

    init(_ error: any Error, sql: String) {
        self.sql = sql
        if let error = error as? PSQLError {
            let info = error.serverInfo
            sqlState = info?[.sqlState]
            if let state = sqlState, state.hasPrefix("22") || state.hasPrefix("23") {
                // Data errors (22…) and constraint violations (23…) may quote the value in
                // their message: only where, never what.
                let place = [info?[.tableName], info?[.columnName], info?[.constraintName]].compactMap { $0 }
                message = (state.hasPrefix("22") ? "a value was refused" : "a constraint was violated")
                    + (place.isEmpty ? "" : " (\(place.joined(separator: ", ")))")
            } else {
                message = info?[.message] ?? "\(error.code)"
            }
        } else {
            message = "\(error)"
        }
    }

    var description: String {
        "PostgreSQL: \(message)\(sqlState.map { " [\($0)]" } ?? "") (while running: \(sql.prefix(200)))"
    }
}
