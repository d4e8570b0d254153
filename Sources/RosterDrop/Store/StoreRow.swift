/// One row a query returned, read by column name: `row["id"] as Int64`, `row["email"] as String?`.
public struct StoreRow: Sendable {
    public let columns: [String]
    public let values: [StoreValue]

    public init(columns: [String], values: [StoreValue]) {
        self.columns = columns
        self.values = values
    }

    /// The value of `column` (the first of that name), as `T`; a missing column or a value
    /// of another type is a programming error, as in GRDB.
    public subscript<T: StoreValueConvertible>(_ column: String) -> T {
        guard let index = columns.firstIndex(of: column) else { preconditionFailure("no column \(column)") }
        guard let value = T.fromStoreValue(values[index]) else {
            preconditionFailure("column \(column) holds \(values[index]), not \(T.self)")
        }
        return value
    }

    /// The value of the column at `index`, as `T`.
    public subscript<T: StoreValueConvertible>(_ index: Int) -> T {
        guard let value = T.fromStoreValue(values[index]) else {
            preconditionFailure("column \(index) holds \(values[index]), not \(T.self)")
        }
        return value
    }

    public subscript(_ column: String) -> StoreValue {
        guard let index = columns.firstIndex(of: column) else { preconditionFailure("no column \(column)") }
        return values[index]
    }
}

extension StoreRow {
    static func fetchAll(_ db: any StoreSession, sql: String, arguments: StoreArguments = []) throws -> [StoreRow] {
        var rows: [StoreRow] = []
        try db.forEachRow(sql: sql, arguments: arguments) { rows.append($0); return true }
        return rows
    }

    static func fetchOne(_ db: any StoreSession, sql: String, arguments: StoreArguments = []) throws -> StoreRow? {
        var first: StoreRow?
        try db.forEachRow(sql: sql, arguments: arguments) { first = $0; return false }
        return first
    }
}

extension StoreValueConvertible {
    /// The first column of the first row, or nil when there is no row or it is null.
    static func fetchOne(_ db: any StoreSession, sql: String, arguments: StoreArguments = []) throws -> Self? {
        var first: Self?
        try db.forEachValue(sql: sql, arguments: arguments) { value in
            first = Self.fromStoreValue(value)
            return false
        }
        return first
    }

    /// The first column of every row (nulls skipped).
    static func fetchAll(_ db: any StoreSession, sql: String, arguments: StoreArguments = []) throws -> [Self] {
        var all: [Self] = []
        try db.forEachValue(sql: sql, arguments: arguments) { value in
            if let one = Self.fromStoreValue(value) { all.append(one) }
            return true
        }
        return all
    }
}
