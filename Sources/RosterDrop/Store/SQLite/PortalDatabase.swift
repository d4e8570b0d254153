import Foundation
import GRDB

/// The portal database on SQLite: accounts, groups, memberships, licenses, the product
/// catalogue and the job's own ledger of runs and deliveries.
///
/// It hands the pipeline `StoreSession`s (`write`, `read`, `inDatabase`); GRDB is seen only
/// in `Store/SQLite/`. The pipeline's SQL sticks to what SQLite and PostgreSQL share
/// (`INSERT … SELECT`, `UPDATE … FROM`, temporary tables); what differs — the bulk path, the
/// e-mail key function, the migrations — lives in the implementations.
public final class PortalDatabase: Sendable {
    private let writer: DatabaseQueue
    public let path: String

    /// Opens (creating if needed) the database at `path` in WAL mode and migrates it.
    public init(path: String) throws {
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

    /// Runs `body` in a write transaction (committed when it returns, rolled back if it throws).
    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try writer.write { db in try body(SQLiteSession(db)) }
    }

    /// Runs `body` with the connection, reading.
    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try writer.read { db in try body(SQLiteSession(db)) }
    }

    /// Runs `body` with the connection outside any transaction: it begins its own.
    func inDatabase<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try writer.inDatabase { db in try body(SQLiteSession(db)) }
    }

    /// Records the inbox listing of an organisation without manifests and returns, for each
    /// file, since when it has had its current size and mtime (files gone are forgotten).
    /// With `record` false (test mode) nothing is written: new or changed files count from now.
    public func observe(_ files: [DropFile], organisation: String, now: Date, record: Bool) throws -> [String: Date] {
        try write { db in
            var seen: [String: (size: Int64, modified: Double, first: Double)] = [:]
            for row in try StoreRow.fetchAll(db, sql: "SELECT name, size, modified, first_seen FROM inbox_observations WHERE organisation_id = ?",
                                        arguments: [organisation]) {
                seen[row["name"]] = (row["size"], row["modified"], row["first_seen"])
            }
            var since: [String: Date] = [:]
            let stamp = now.timeIntervalSince1970
            for file in files {
                let modified = file.modified.timeIntervalSince1970
                if let earlier = seen[file.name], earlier.size == file.size, earlier.modified == modified {
                    since[file.name] = Date(timeIntervalSince1970: earlier.first)
                    continue
                }
                since[file.name] = now
                if record {
                    try db.execute(sql: """
                        INSERT INTO inbox_observations (organisation_id, name, size, modified, first_seen) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (organisation_id, name) DO UPDATE SET size = excluded.size, modified = excluded.modified,
                            first_seen = excluded.first_seen
                        """, arguments: [organisation, file.name, file.size, modified, stamp])
                }
            }
            if record {
                let names = Set(files.map(\.name))
                for name in seen.keys where !names.contains(name) {
                    try db.execute(sql: "DELETE FROM inbox_observations WHERE organisation_id = ? AND name = ?",
                                   arguments: [organisation, name])
                }
            }
            return since
        }
    }

    /// Copies the write-ahead log into the database and empties it, so that what a run
    /// deleted is not kept in the log's old page images either.
    public func checkpoint() throws {
        try writer.writeWithoutTransaction { db in
            _ = try GRDB.Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    /// The hashes of the records of `kind` the job last wrote for `organisation`.
    static func appliedHashes(_ kind: EntityKind, organisation: String, expected: Int,
                              _ db: any StoreSession) throws -> Set<Int64> {
        let sql: String
        switch kind {
        case .users:
            sql = """
                SELECT source_hash FROM accounts
                WHERE organisation_id = ? AND identity_source = 'skolon' AND source_hash IS NOT NULL
                """
        case .memberships:
            sql = """
                SELECT m.source_hash FROM groups g JOIN memberships m ON m.group_id = g.id
                WHERE g.organisation_id = ? AND g.source = 'skolon' AND m.source_hash IS NOT NULL
                """
        case .distributionOrders:
            sql = "SELECT source_hash FROM licenses WHERE organisation_id = ? AND source = 'skolon' AND source_hash IS NOT NULL"
        case .groups:
            return []
        }
        var hashes = Set<Int64>(minimumCapacity: expected)
        try db.forEachValue(sql: sql, arguments: [organisation]) { value in
            if case .integer(let hash) = value { hashes.insert(hash) }
            return true
        }
        return hashes
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
