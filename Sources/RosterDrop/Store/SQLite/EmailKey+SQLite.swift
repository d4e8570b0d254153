import GRDB

extension EmailKey {
    /// `rosterdrop_email_key(email)` on the job's SQLite connection: SQLite's `lower()` folds
    /// only A–Z.
    static let sqlFunction = DatabaseFunction("rosterdrop_email_key", argumentCount: 1, pure: true) { values in
        guard let email = String.fromDatabaseValue(values[0]) else { return nil }
        return key(email)
    }
}
