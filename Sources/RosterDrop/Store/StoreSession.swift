/// A store failure of the job's own making, with the SQL but never its values.
struct StoreError: Error, CustomStringConvertible {
    var message: String
    var sql: String
    var description: String { "\(message) (while running: \(sql.prefix(200)))" }
}

/// How a transaction begins: `immediate` takes the write lock at once.
public enum TransactionKind: Sendable {
    case deferred
    case immediate
}

/// How a transaction's body ends.
public enum TransactionCompletion: Sendable {
    case commit
    case rollback
}

/// A statement prepared once and run many times.
protocol StoreStatement: AnyObject {
    func execute(arguments: StoreArguments) throws
}

/// Writes staged rows in bulk: the one path that moves millions of rows a delivery.
protocol StagedRowWriter {
    func insert(_ row: StagedBatch.Row) throws
}

/// Appends many rows to one table: the bulk path for the lists the plan reads.
protocol RowAppender {
    func append(_ arguments: StoreArguments) throws
}

/// One connection to the portal store, as the pipeline uses it: statements, rows, values,
/// transactions, and the bulk paths. Above it nothing sees GRDB (nor PostgreSQL's
/// client, seen only in `Store/PostgreSQL/`); the SQL that differs between the two lives in their implementations.
protocol StoreSession: AnyObject {
    func execute(sql: String, arguments: StoreArguments) throws
    /// Calls `body` for each row until it returns false.
    func forEachRow(sql: String, arguments: StoreArguments, _ body: (StoreRow) throws -> Bool) throws
    /// Calls `body` with each row's first column until it returns false.
    func forEachValue(sql: String, arguments: StoreArguments, _ body: (StoreValue) throws -> Bool) throws
    /// Rows the last statement changed.
    var changesCount: Int { get }
    func inTransaction(_ kind: TransactionKind, _ body: () throws -> TransactionCompletion) throws
    func makeStatement(sql: String) throws -> any StoreStatement
    /// Drops the temporary table `name` if this connection has it (never a permanent one).
    func dropTemporaryTable(_ name: String) throws
    /// The bulk writer of `kind`'s staged rows.
    func stagedRowWriter(_ kind: EntityKind) throws -> any StagedRowWriter
    /// The bulk writer of rows of `columns` into `table`. What it appends is visible to the
    /// next statement run on the session.
    func rowAppender(table: String, columns: [String]) throws -> any RowAppender
    /// Gives the plan rows of `plan` whose action is `create` new ids of `table` in
    /// `column`, in the order of their `seq`, from the store's own numbering; returns the
    /// highest id `table` had before, which every new one exceeds.
    func assignNewIDs(table: String, plan: String, column: String) throws -> Int64
    /// The store's own key for row hashes, drawn when it was created.
    func rowHashKey() throws -> SipKey
}

extension StoreSession {
    func execute(sql: String) throws {
        try execute(sql: sql, arguments: [])
    }

    func inTransaction(_ body: () throws -> TransactionCompletion) throws {
        try inTransaction(.deferred, body)
    }

    /// Runs an `INSERT … RETURNING id` (SQLite and PostgreSQL alike) and returns the id: the
    /// store's own, so the portal's application can insert beside the job.
    func insertReturningID(sql: String, arguments: StoreArguments) throws -> Int64 {
        guard let id = try Int64.fetchOne(self, sql: sql, arguments: arguments) else {
            throw StoreError(message: "an insert returned no id", sql: sql)
        }
        return id
    }
}
