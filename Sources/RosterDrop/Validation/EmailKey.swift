/// The form in which e-mail addresses are compared when adopting pre-integration accounts.
///
/// Contract rule 2 matches e-mails case-insensitively. SQL's `lower()` folds only A–Z in
/// SQLite, so both sides use this Swift folding instead: staged rows when they are read,
/// the portal's accounts through the `rosterdrop_email_key` SQL function on the job's
/// connection (never in an index, so the portal's own connections do not need it).
enum EmailKey {
    static func key(_ email: String) -> String {
        email.lowercased()
    }
}
