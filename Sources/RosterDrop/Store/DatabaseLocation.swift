import Foundation

/// Where the portal store is: a SQLite file (the embedded default) or a PostgreSQL database.
///
/// `database:` in the config is a file path (or `sqlite:PATH`) or a
/// `postgresql://user@host:port/dbname?sslmode=…` URL; the password never comes from the
/// config itself but from `database_password_env` (an environment variable's name) or
/// `database_password_file` (a file whose first line it is).
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// Reads `database:` (and the password keys) of a config whose folder is `base`.
    static func parse(_ text: String, passwordEnv: String?, passwordFile: String?, base: URL,
                      error: (String, String) -> ConfigurationError) throws -> DatabaseLocation {
        let scheme = text.prefix { $0 != ":" }.lowercased()
        if scheme == "postgresql" || scheme == "postgres" {
            var location = try PostgresLocation(url: text, error: { error("database", $0) })
            if passwordEnv != nil, passwordFile != nil {
                throw error("database_password_file", "give the password by database_password_env or database_password_file, not both")
            }
            if let passwordEnv { location.password = .environment(passwordEnv) }
            if let passwordFile { location.password = .file(JobConfiguration.resolve(passwordFile, base: base)) }
            return .postgres(location)
        }
        if passwordEnv != nil { throw error("database_password_env", "is for a postgresql:// database only") }
        if passwordFile != nil { throw error("database_password_file", "is for a postgresql:// database only") }
        var path = text
        if path.hasPrefix("sqlite:") { path.removeFirst("sqlite:".count) }
        if path.contains("://") {
            // Not echoed: a mistyped URL may hold a password.
            throw error("database", "is neither a file path nor a postgresql:// URL (scheme '\(scheme.prefix(20))')")
        }
        guard !path.isEmpty else { throw error("database", "names no file") }
        return .sqlite(path: JobConfiguration.resolve(path, base: base))
    }

    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.description
        }
    }

    /// The SQLite file, for what exists only beside one (the run lock, the default scratch).
    public var sqlitePath: String? {
        if case .sqlite(let path) = self { return path }
        return nil
    }
}

/// A PostgreSQL database as the config names it. Its description never holds the password.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum Password: Sendable, Equatable {
        case none
        case environment(String)
        case file(String)
    }

    /// `sslmode` as libpq spells it; `prefer` when the URL names none, as libpq does.
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var sslMode: SSLMode
    /// `sslrootcert`: the certificate authorities `verify-ca`/`verify-full` trust (PEM);
    /// the system's trust store when nil.
    public var sslRootCertificate: String?
    public var password: Password = .none

    public init(host: String, port: Int = 5432, user: String, database: String, sslMode: SSLMode = .prefer) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.sslMode = sslMode
    }

    init(url text: String, error: (String) -> ConfigurationError) throws {
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw error("is not a postgresql://user@host:port/dbname URL")
        }
        guard components.password == nil, components.queryItems?.contains(where: { $0.name == "password" }) != true else {
            throw error("holds a password: give it by database_password_env or database_password_file, never in the config")
        }
        guard let user = components.user, !user.isEmpty else { throw error("names no user (postgresql://user@host/dbname)") }
        let name = String(components.path.drop(while: { $0 == "/" }))
        guard !name.isEmpty, !name.contains("/") else { throw error("names no database (postgresql://user@host/dbname)") }
        self.init(host: host, port: components.port ?? 5432, user: user.removingPercentEncoding ?? user,
                  database: name.removingPercentEncoding ?? name)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw error("sslmode '\(item.value ?? "")' is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "sslrootcert":
                guard let path = item.value, !path.isEmpty else { throw error("sslrootcert names no file") }
                sslRootCertificate = path
            default:
                throw error("has the parameter '\(item.name)', which rosterdrop does not know (only sslmode and sslrootcert)")
            }
        }
        if sslMode == .verifyFull, hostIsAddress {
            throw error("sslmode verify-full checks the server's name, and \(host) is an address: name the host, or use verify-ca")
        }
    }

    public var description: String { "postgresql://\(user)@\(host):\(port)/\(database)" }

    /// Whether `host` is an address rather than a name (no name to check a certificate against).
    var hostIsAddress: Bool {
        host.contains(":") || host.split(separator: ".").allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// The config key a refused login sends the reader to: where the password comes from.
    var passwordKey: String {
        switch password {
        case .none: "database"
        case .environment: "database_password_env"
        case .file: "database_password_file"
        }
    }

    /// The password, read now from where the config says (nil when it names none).
    func resolvePassword() throws -> String? {
        switch password {
        case .none:
            return nil
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw StoreConnectionError(location: description, key: passwordKey,
                                           message: "the environment variable \(name) is not set")
            }
            return value
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw StoreConnectionError(location: description, key: passwordKey, message: "\(path) cannot be read")
            }
            // The first line, whatever its line end ("\r\n" is one Character to Swift).
            return String(text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).first ?? "")
        }
    }
}

/// The store could not be reached or refused the job: names the config key to look at.
public struct StoreConnectionError: Error, CustomStringConvertible {
    public var location: String
    public var key: String
    public var message: String
    /// A refused login or a missing password (the config's to fix), not a server down.
    public var isConfiguration = true

    public var description: String { "database \(location): \(message) (check `\(key)` in the config)" }
}
