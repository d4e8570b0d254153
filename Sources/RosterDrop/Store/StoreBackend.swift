/// One kind of portal store: how it hands out sessions, and how workers share it.
///
/// Each backend keeps one connection for the process, used by one thread at a time: the
/// temporary tables that carry a delivery from staging to apply live on it.
protocol StoreBackend: Sendable {
    /// Runs `body` in a transaction, committed when it returns and rolled back if it throws.
    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T
    /// Runs `body` reading.
    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T
    /// Runs `body` outside any transaction: it begins its own.
    func inDatabase<T>(_ body: (any StoreSession) throws -> T) throws -> T
    /// Takes an organisation for this process, or nil at once when another process has it.
    /// SQLite's whole-run file lock already makes the process the only one (the claim is
    /// always granted); PostgreSQL takes a session advisory lock, which the server lets go
    /// of when the connection ends, so a worker that dies releases what it held.
    func claim(organisation: String) throws -> OrganisationClaim?
    func checkpoint() throws
    func close()
}

/// An organisation taken by this process; `release()` lets another worker have it.
final class OrganisationClaim {
    private var releaser: (() -> Void)?

    init(release: (() -> Void)?) {
        releaser = release
    }

    func release() {
        releaser?()
        releaser = nil
    }

    deinit { release() }
}
