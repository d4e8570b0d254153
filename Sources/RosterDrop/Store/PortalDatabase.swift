import Foundation

/// The portal database: accounts, groups, memberships, licenses, the product catalogue and
/// the job's own ledger of runs and deliveries, on SQLite or PostgreSQL.
///
/// It hands the pipeline `StoreSession`s (`write`, `read`, `inDatabase`) from its backend;
/// GRDB is seen only in `Store/SQLite/`, PostgresNIO only in `Store/PostgreSQL/`. The
/// pipeline's SQL sticks to what both share (`INSERT … SELECT`, `UPDATE … FROM`,
/// `ON CONFLICT`, `RETURNING`, temporary tables); what differs — the bulk paths, the e-mail
/// key function, the schema, placeholders, locking — lives in the backends.
public final class PortalDatabase: Sendable {
    private let backend: any StoreBackend
    public let location: DatabaseLocation

    /// Opens (creating or migrating the schema if needed) the store at `location`.
    public init(_ location: DatabaseLocation) throws {
        self.location = location
        switch location {
        case .sqlite(let path): backend = try SQLiteStore(path: path)
        case .postgres(let server): backend = try PostgresStore(server)
        }
    }

    /// Opens the SQLite file at `path`.
    public convenience init(path: String) throws {
        try self.init(.sqlite(path: path))
    }

    /// Runs `body` in a write transaction (committed when it returns, rolled back if it throws).
    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try backend.write(body)
    }

    /// Runs `body` with the connection, reading.
    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try backend.read(body)
    }

    /// Runs `body` with the connection outside any transaction: it begins its own.
    func inDatabase<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try backend.inDatabase(body)
    }

    /// Takes `organisation` for this process until the claim is released or the process
    /// ends, or returns nil at once when another worker has it (see `StoreBackend.claim`).
    func claim(organisation: String) throws -> OrganisationClaim? {
        try backend.claim(organisation: organisation)
    }

    /// Runs `body` in a write transaction while this process holds `organisation`, so that an
    /// operator's command (approve, discard, reprocess, integrate) never interleaves with a
    /// worker's run of that organisation; throws `RunLockError.organisationBusy` at once when
    /// a worker has it.
    func writeHolding<T>(organisation: String, _ body: (any StoreSession) throws -> T) throws -> T {
        guard let claim = try claim(organisation: organisation) else { throw RunLockError.organisationBusy(organisation) }
        defer { claim.release() }
        return try write(body)
    }

    /// Lets go of the connection now (a PostgreSQL session, and any claims it held).
    public func close() {
        backend.close()
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

    /// Makes sure what a run deleted is not kept in old page images either (SQLite's
    /// write-ahead log; PostgreSQL's dead rows are vacuum's).
    public func checkpoint() throws {
        try backend.checkpoint()
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
