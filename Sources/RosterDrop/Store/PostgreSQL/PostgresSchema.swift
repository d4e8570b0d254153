import Foundation

/// The schema on PostgreSQL: the portal schema's steps (`PortalSchema`) as the session
/// translates them — identity columns for SQLite's self-numbering keys, so the portal's
/// application can keep inserting beside the job — and the e-mail key function after them.
/// Each step is applied once, recorded in `rosterdrop_migrations`, under an advisory lock, so
/// workers starting together do not race.
enum PostgresSchema {
    static func migrate(_ db: PostgresSession) throws {
        try db.execute(sql: "SELECT pg_advisory_lock(\(PostgresStore.lockSpace), 0)")
        defer { try? db.execute(sql: "SELECT pg_advisory_unlock(\(PostgresStore.lockSpace), 0)") }
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS rosterdrop_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)
            """)
        let applied = Set(try String.fetchAll(db, sql: "SELECT id FROM rosterdrop_migrations"))
        let steps = PortalSchema.steps.map { step in (step.id, { try db.execute(sql: step.sql, arguments: step.arguments()) }) }
            + [("pg-email-key", { try createEmailKey(db) })]
        for (id, apply) in steps where !applied.contains(id) {
            try db.inTransaction(.immediate) {
                try apply()
                try db.execute(sql: "INSERT INTO rosterdrop_migrations (id, applied_at) VALUES (?, ?)",
                               arguments: [id, JobClock.iso(Date())])
                return .commit
            }
        }
    }

    /// `rosterdrop_email_key(email)`, which folds case as Swift's `lowercased()` does
    /// (Unicode's full mapping) through ICU when the server has it.
    private static func createEmailKey(_ db: PostgresSession) throws {
        // ICU's root locale folds as Swift does; without ICU, glibc's C.UTF-8 (simple Unicode
        // mappings); never the plain "C" collation, which folds only A–Z.
        let collations = try String.fetchAll(db, sql: """
            SELECT collname FROM pg_collation WHERE collname IN ('und-x-icu', 'C.utf8', 'C.UTF-8') ORDER BY collname DESC
            """)
        guard let chosen = collations.first else {
            throw StoreError(message: "the server has neither ICU's und-x-icu nor a C.UTF-8 collation, which e-mail matching needs",
                             sql: "SELECT collname FROM pg_collation")
        }
        try db.execute(sql: """
            CREATE FUNCTION rosterdrop_email_key(email text) RETURNS text
                LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                RETURN lower(email COLLATE "\(chosen)")
            """)
    }
}
