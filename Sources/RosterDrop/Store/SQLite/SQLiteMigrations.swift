import GRDB

extension SQLiteStore {
    /// The schema's steps (`PortalSchema`), each a GRDB migration.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for step in PortalSchema.steps {
            migrator.registerMigration(step.id) { db in
                try db.execute(sql: step.sql, arguments: step.arguments().grdb)
            }
        }
        return migrator
    }
}
