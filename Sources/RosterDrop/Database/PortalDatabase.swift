import Foundation
import GRDB

/// The portal database: accounts, groups, memberships, licenses, the product catalogue and
/// the job's own ledger of runs and deliveries.
///
/// SQL here sticks to what SQLite and PostgreSQL share (`INSERT … SELECT`, `UPDATE … FROM`,
/// temporary tables), so that a PostgreSQL writer can be put beside this one later.
public final class PortalDatabase: Sendable {
    public let writer: DatabaseQueue
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

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-portal") { db in
            try db.execute(sql: """
                CREATE TABLE organisations (
                    id TEXT PRIMARY KEY,
                    integration_started_at TEXT
                );
                CREATE TABLE school_units (
                    code TEXT PRIMARY KEY,
                    organisation_id TEXT NOT NULL REFERENCES organisations(id)
                );
                CREATE TABLE accounts (
                    id INTEGER PRIMARY KEY,
                    organisation_id TEXT REFERENCES organisations(id),
                    person_id TEXT UNIQUE,
                    email TEXT,
                    given_name TEXT,
                    family_name TEXT,
                    role TEXT,
                    school_unit_code TEXT,
                    grade TEXT,
                    eppn TEXT,
                    identity_source TEXT NOT NULL DEFAULT 'portal',
                    linked_at TEXT,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                CREATE INDEX accounts_by_organisation ON accounts(organisation_id, identity_source);
                CREATE INDEX accounts_by_eppn ON accounts(eppn);
                CREATE TABLE groups (
                    id INTEGER PRIMARY KEY,
                    organisation_id TEXT NOT NULL REFERENCES organisations(id),
                    external_id TEXT,
                    name TEXT NOT NULL,
                    type TEXT NOT NULL,
                    school_unit_code TEXT,
                    source TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                CREATE UNIQUE INDEX groups_by_external_id ON groups(organisation_id, source, external_id);
                CREATE TABLE memberships (
                    group_id INTEGER NOT NULL REFERENCES groups(id),
                    account_id INTEGER NOT NULL REFERENCES accounts(id),
                    PRIMARY KEY (group_id, account_id)
                );
                CREATE INDEX memberships_by_account ON memberships(account_id);
                CREATE TABLE products (
                    product_id TEXT PRIMARY KEY,
                    title TEXT NOT NULL
                );
                CREATE TABLE licenses (
                    id INTEGER PRIMARY KEY,
                    organisation_id TEXT NOT NULL REFERENCES organisations(id),
                    order_id TEXT,
                    account_id INTEGER NOT NULL REFERENCES accounts(id),
                    product_id TEXT NOT NULL,
                    license_type TEXT NOT NULL,
                    valid_from TEXT,
                    valid_to TEXT,
                    source TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                CREATE UNIQUE INDEX licenses_by_order ON licenses(organisation_id, order_id);
                CREATE INDEX licenses_by_account ON licenses(account_id);
                """)
        }
        migrator.registerMigration("v1-ledger") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY,
                    started_at TEXT NOT NULL,
                    finished_at TEXT,
                    dry_run INTEGER NOT NULL,
                    outcome TEXT
                );
                CREATE TABLE deliveries (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER NOT NULL REFERENCES runs(id),
                    organisation_id TEXT NOT NULL,
                    timestamp TEXT NOT NULL,
                    content_sha256 TEXT,
                    outcome TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    -- Set once the receipt is published: an applied delivery without it was
                    -- committed but never answered (a crash in between), and is answered again.
                    answered_at TEXT
                );
                CREATE INDEX deliveries_by_organisation ON deliveries(organisation_id, timestamp);
                CREATE TABLE delivery_files (
                    delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
                    file TEXT NOT NULL,
                    sha256 TEXT,
                    rows INTEGER
                );
                CREATE TABLE delivery_counts (
                    delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
                    entity TEXT NOT NULL,
                    received INTEGER NOT NULL,
                    accepted INTEGER NOT NULL,
                    rejected INTEGER NOT NULL,
                    created INTEGER NOT NULL,
                    updated INTEGER NOT NULL,
                    removed INTEGER NOT NULL
                );
                -- Findings keep where and which rule, never the offending value: the value
                -- may be personal data and lives only in the reject report.
                CREATE TABLE findings (
                    delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
                    file TEXT NOT NULL,
                    line INTEGER NOT NULL,
                    column_name TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    detail TEXT NOT NULL
                );
                CREATE INDEX findings_by_delivery ON findings(delivery_id);
                """)
        }
        migrator.registerMigration("v2-source-hash") { db in
            // What the job last wrote for each record, as a keyed hash of the delivered row
            // (`DeliveryIndex`), so a delivery's work follows its changes. The hash is not
            // indexed: its values are random, so an index would cost a first load dearly, and
            // it is only ever read by scanning an organisation's records. Memberships become
            // a WITHOUT ROWID table: one B-tree instead of two, and the hash read in key order.
            try db.execute(sql: """
                ALTER TABLE accounts ADD COLUMN source_hash INTEGER;
                ALTER TABLE licenses ADD COLUMN source_hash INTEGER;
                CREATE INDEX licenses_by_organisation ON licenses(organisation_id, source);
                CREATE TABLE memberships_v2 (
                    group_id INTEGER NOT NULL REFERENCES groups(id),
                    account_id INTEGER NOT NULL REFERENCES accounts(id),
                    source_hash INTEGER,
                    PRIMARY KEY (group_id, account_id)
                ) WITHOUT ROWID;
                INSERT INTO memberships_v2 (group_id, account_id) SELECT group_id, account_id FROM memberships;
                DROP TABLE memberships;
                ALTER TABLE memberships_v2 RENAME TO memberships;
                CREATE INDEX memberships_by_account ON memberships(account_id);
                CREATE TABLE job_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                """)
            try db.execute(sql: "INSERT INTO job_settings (name, value) VALUES ('row_hash_key', ?)",
                           arguments: [SipKey.random().hex])
        }
        migrator.registerMigration("v3-inbox-observations") { db in
            // For sources without a manifest: when each inbox file was first seen with its
            // current size and mtime, by the job's clock (a server's clock may be off).
            try db.execute(sql: """
                CREATE TABLE inbox_observations (
                    organisation_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    modified REAL NOT NULL,
                    first_seen REAL NOT NULL,
                    PRIMARY KEY (organisation_id, name)
                )
                """)
        }
        migrator.registerMigration("v4-lifecycle") { db in
            // An organisation's calendar (integration start, clean-up), holds, the answers
            // waiting to be published, and what retention needs. Personal data never enters
            // these tables, except an answer's files between its commit and its publishing.
            try db.execute(sql: """
                ALTER TABLE organisations ADD COLUMN integration_start TEXT;
                ALTER TABLE organisations ADD COLUMN cleanup_done_at TEXT;
                CREATE TABLE integration_cohort (
                    organisation_id TEXT NOT NULL,
                    account_id INTEGER NOT NULL,
                    PRIMARY KEY (organisation_id, account_id)
                ) WITHOUT ROWID;
                CREATE TABLE calendar_events (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER,
                    organisation_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    happened_at TEXT NOT NULL,
                    accounts INTEGER NOT NULL DEFAULT 0,
                    groups INTEGER NOT NULL DEFAULT 0,
                    memberships INTEGER NOT NULL DEFAULT 0,
                    licenses INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX calendar_events_by_organisation ON calendar_events(organisation_id, kind);
                CREATE TABLE removal_log (
                    organisation_id TEXT NOT NULL,
                    account_id INTEGER NOT NULL,
                    person_id TEXT,
                    removed_at TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    delivery_id INTEGER
                );
                CREATE INDEX removal_log_by_time ON removal_log(removed_at);
                CREATE TABLE holds (
                    delivery_id INTEGER PRIMARY KEY REFERENCES deliveries(id),
                    organisation_id TEXT NOT NULL,
                    timestamp TEXT NOT NULL,
                    state TEXT NOT NULL,
                    held_at TEXT NOT NULL,
                    decided_at TEXT,
                    closed_at TEXT
                );
                CREATE INDEX holds_by_organisation ON holds(organisation_id, state);
                CREATE TABLE hold_figures (
                    delivery_id INTEGER NOT NULL REFERENCES holds(delivery_id),
                    entity TEXT NOT NULL,
                    removing INTEGER NOT NULL,
                    current INTEGER NOT NULL,
                    limit_percent REAL NOT NULL,
                    PRIMARY KEY (delivery_id, entity)
                );
                CREATE TABLE answers (
                    id INTEGER PRIMARY KEY,
                    organisation_id TEXT NOT NULL,
                    delivery_id INTEGER,
                    kind TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    published_at TEXT,
                    archive TEXT NOT NULL DEFAULT ''
                );
                CREATE INDEX answers_pending ON answers(organisation_id) WHERE published_at IS NULL;
                CREATE TABLE answer_files (
                    answer_id INTEGER NOT NULL REFERENCES answers(id),
                    position INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    content BLOB,
                    PRIMARY KEY (answer_id, position)
                );
                CREATE TABLE drop_placements (
                    organisation_id TEXT NOT NULL,
                    area TEXT NOT NULL,
                    name TEXT NOT NULL,
                    placed_at TEXT NOT NULL,
                    PRIMARY KEY (organisation_id, area, name)
                ) WITHOUT ROWID;
                CREATE TABLE notices (
                    organisation_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    day TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    PRIMARY KEY (organisation_id, kind)
                ) WITHOUT ROWID;
                -- Deliveries committed by an older build but never answered cannot be answered
                -- with their values any more; they count as answered.
                UPDATE deliveries SET answered_at = received_at WHERE answered_at IS NULL;
                """)
        }
        return migrator
    }

    /// Records the inbox listing of an organisation without manifests and returns, for each
    /// file, since when it has had its current size and mtime (files gone are forgotten).
    /// With `record` false (test mode) nothing is written: new or changed files count from now.
    public func observe(_ files: [DropFile], organisation: String, now: Date, record: Bool) throws -> [String: Date] {
        try writer.write { db in
            var seen: [String: (size: Int64, modified: Double, first: Double)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, size, modified, first_seen FROM inbox_observations WHERE organisation_id = ?",
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

    /// The database's own key for row hashes, drawn when it was created.
    static func rowHashKey(_ db: Database) throws -> SipKey {
        guard let text = try String.fetchOne(db, sql: "SELECT value FROM job_settings WHERE name = 'row_hash_key'"),
              let key = SipKey(hex: text) else {
            throw DatabaseError(message: "job_settings.row_hash_key is missing or malformed")
        }
        return key
    }

    /// The hashes of the records of `kind` the job last wrote for `organisation`.
    static func appliedHashes(_ kind: EntityKind, organisation: String, expected: Int,
                              _ db: Database) throws -> Set<Int64> {
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
        let cursor = try Int64.fetchCursor(db, sql: sql, arguments: [organisation])
        while let hash = try cursor.next() { hashes.insert(hash) }
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
