import Foundation
import GRDB

/// The portal store in a SQLite file, through GRDB: one connection in WAL mode.
final class SQLiteStore: StoreBackend {
    private let writer: DatabaseQueue
    let path: String

    /// Opens (creating if needed) the database at `path` and migrates it.
    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        let profile = ProcessInfo.processInfo.environment["ROSTERDROP_PROFILE_SQL"] == "1"
        configuration.prepareDatabase { db in
            db.add(function: EmailKey.sqlFunction)
            // Staging and plan tables live in the temp schema, which has its own (small by
            // default) page cache: main gets 256 MiB, temp 128 MiB, so national files do not thrash on
            // syscalls while peak memory stays well under 1 GB.
            try db.execute(sql: "PRAGMA temp_store = FILE")
            // Personal data that is deleted is overwritten, not left in free pages (rule 9).
            try db.execute(sql: "PRAGMA secure_delete = ON")
            try db.execute(sql: "PRAGMA cache_size = -262144")
            try db.execute(sql: "PRAGMA temp.cache_size = -131072")
            if profile {
                // For tuning: statements slower than 50 ms, with their SQL but never bound values.
                db.trace(options: .profile) { event in
                    guard case let .profile(statement, duration) = event, duration > 0.05 else { return }
                    FileHandle.standardError.write(Data(String(format: "sql %.3fs %@\n", duration,
                                                               statement.sql.prefix(160).replacingOccurrences(of: "\n", with: " ")).utf8))
                }
            }
        }
        self.path = path
        do {
            writer = try DatabaseQueue(path: path, configuration: configuration)
            try writer.writeWithoutTransaction { db in
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            try Self.migrator.migrate(writer)
        } catch let error as DatabaseError {
            throw PortalDatabaseError(path: path, underlying: error)
        }
    }

    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try writer.write { db in try body(SQLiteSession(db)) }
    }

    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try writer.read { db in try body(SQLiteSession(db)) }
    }

    func inDatabase<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try writer.inDatabase { db in try body(SQLiteSession(db)) }
    }

    func claim(organisation: String) throws -> OrganisationClaim? {
        OrganisationClaim(release: nil)
    }

    /// Copies the write-ahead log into the database and empties it, so that what a run
    /// deleted is not kept in the log's old page images either.
    func checkpoint() throws {
        try writer.writeWithoutTransaction { db in
            _ = try GRDB.Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    func close() {
        try? writer.close()
    }
}

/// A database failure, with the SQL that failed but never its bound values.
public struct PortalDatabaseError: Error, CustomStringConvertible {
    public var path: String
    public var underlying: DatabaseError

    public var description: String {
        var text = "database \(path): \(underlying.message ?? "error \(underlying.resultCode)")"
        if let sql = underlying.sql { text += " (while running: \(sql.prefix(200)))" }
        return text
    }
}
