import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// The portal store in a PostgreSQL database, through PostgresNIO: one connection for the
/// process, on which the delivery's temporary tables live and the organisations it has
/// taken are locked.
///
/// Several workers share the organisations through session advisory locks
/// (`pg_try_advisory_lock`): a worker takes an organisation only if no other holds it, never
/// waits, and the server releases the lock when the worker's connection ends, however the
/// worker ended. Row locks (`FOR UPDATE SKIP LOCKED`) would hold a transaction open for
/// the whole of an organisation's deliveries, and the job commits each delivery by itself.
final class PostgresStore: StoreBackend, @unchecked Sendable {
    private let connection: PostgresConnection
    private let session: PostgresSession
    private let lock = NSLock()
    let location: PostgresLocation

    /// The first key of the job's advisory locks: (`lockSpace`, the organisation's hash).
    static let lockSpace: Int32 = 0x726F_7374  // "rost"

    init(_ location: PostgresLocation) throws {
        self.location = location
        let logger = Logger(label: "rosterdrop.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        let password = try location.resolvePassword()
        var configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                             password: password, database: location.database,
                                                             tls: try Self.tls(location.sslMode, rootCertificate: location.sslRootCertificate))
        configuration.options.connectTimeout = .seconds(15)
        do {
            connection = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(),
                                                        configuration: configuration, id: 1, logger: logger).wait()
        } catch {
            throw Self.connectionError(error, location: location)
        }
        session = PostgresSession(connection: connection, logger: logger)
        do {
            try Self.prepare(session, location: location)
            try PostgresSchema.migrate(session)
        } catch {
            try? connection.close().wait()
            throw error
        }
    }

    /// The session as the job needs it: UTF-8 both ways (refusing a database that cannot
    /// store it), and a dead peer noticed by the server within minutes, so that a worker
    /// lost on a half-open connection does not keep its organisations' locks for hours.
    private static func prepare(_ session: PostgresSession, location: PostgresLocation) throws {
        try session.execute(sql: """
            SET client_min_messages = warning;
            SET client_encoding = 'UTF8';
            SET tcp_keepalives_idle = 60;
            SET tcp_keepalives_interval = 10;
            SET tcp_keepalives_count = 6;
            SET idle_in_transaction_session_timeout = '30min'
            """)
        let encoding = try String.fetchOne(session, sql: "SELECT current_setting('server_encoding')") ?? ""
        guard encoding == "UTF8" else {
            throw StoreConnectionError(location: location.description, key: "database",
                                       message: "the database's encoding is \(encoding); rosterdrop needs UTF8 (CREATE DATABASE … ENCODING 'UTF8')")
        }
        let version = try Int.fetchOne(session, sql: "SELECT current_setting('server_version_num')::integer") ?? 0
        guard version >= 140_000 else {
            throw StoreConnectionError(location: location.description, key: "database",
                                       message: "the server is PostgreSQL \(version / 10_000); rosterdrop needs 14 or later")
        }
    }

    private static func tls(_ mode: PostgresLocation.SSLMode, rootCertificate: String?) throws
        -> PostgresConnection.Configuration.TLS {
        var client = TLSConfiguration.makeClientConfiguration()
        if let rootCertificate { client.trustRoots = .file(rootCertificate) }
        switch mode {
        case .disable:
            return .disable
        case .allow, .prefer:
            client.certificateVerification = .none
            return .prefer(try NIOSSLContext(configuration: client))
        case .require:
            client.certificateVerification = .none
            return .require(try NIOSSLContext(configuration: client))
        case .verifyCA:
            client.certificateVerification = .noHostnameVerification
            return .require(try NIOSSLContext(configuration: client))
        case .verifyFull:
            return .require(try NIOSSLContext(configuration: client))
        }
    }

    /// A failure to connect, naming the key to check: a refused login is the config's (or
    /// the password's), an unreachable server is the run's.
    private static func connectionError(_ error: any Error, location: PostgresLocation) -> StoreConnectionError {
        let place = location.description
        let key = location.passwordKey
        if let error = error as? PSQLError, let info = error.serverInfo {
            let state = info[.sqlState] ?? ""
            // 28…: invalid authorization; 3D000: no such database.
            let refused = state.hasPrefix("28")
            return StoreConnectionError(location: place, key: refused ? key : "database",
                                        message: "\(refused ? "login refused" : "refused"): \(info[.message] ?? state) [\(state)]",
                                        isConfiguration: true)
        }
        if let error = error as? PSQLError, [.authMechanismRequiresPassword, .unsupportedAuthMechanism, .saslError].contains(error.code) {
            return StoreConnectionError(location: place, key: key,
                                        message: "login refused: the server wants a password the config does not give "
                                            + "(database_password_env or database_password_file)",
                                        isConfiguration: true)
        }
        // PSQLError's own description hides everything; its underlying error says why.
        let reason = (error as? PSQLError)?.underlying.map { "\($0)" } ?? "\(error)"
        return StoreConnectionError(location: place, key: "database",
                                    message: "cannot be reached (\(reason.prefix(160)))",
                                    isConfiguration: false)
    }

    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try withSession { session in
            var result: T?
            try session.inTransaction(.immediate) {
                result = try body(session)
                return .commit
            }
            return result!
        }
    }

    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try withSession { session in try body(session) }
    }

    func inDatabase<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try withSession { session in try body(session) }
    }

    private func withSession<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(session)
    }

    func claim(organisation: String) throws -> OrganisationClaim? {
        let taken = try withSession { session in
            try Bool.fetchOne(session, sql: "SELECT pg_try_advisory_lock(\(Self.lockSpace), hashtext(?))",
                              arguments: [organisation]) ?? false
        }
        guard taken else { return nil }
        return OrganisationClaim { [self] in
            _ = try? withSession { session in
                try session.execute(sql: "SELECT pg_advisory_unlock(\(Self.lockSpace), hashtext(?))", arguments: [organisation])
            }
        }
    }

    /// Nothing to do here: deleted rows (and the personal data in them) are left to
    /// PostgreSQL's vacuum to reclaim.
    func checkpoint() throws {}

    func close() {
        try? connection.close().wait()
    }

    deinit {
        try? connection.close().wait()
    }
}
