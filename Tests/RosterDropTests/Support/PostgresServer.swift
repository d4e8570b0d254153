import Foundation
@testable import RosterDrop
#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server on 127.0.0.1 for the test process: `initdb` into a temporary
/// folder, a free port, started on first use and stopped when the process ends. Each test
/// gets a database of its own (`makeDatabase`).
final class PostgresServer: @unchecked Sendable {
    let directory: URL
    let port: Int
    let bin: String
    static let user = "rosterdrop"
    /// The role that logs in by password, and its password.
    static let passwordRole = "portal_job"
    static let password = "rätt-lösenord"

    /// The one server of this test process.
    static var shared: PostgresServer {
        get throws { try startOnce.get() }
    }

    private static let startOnce = Result { try PostgresServer() }

    /// Whether the suites that take a store run on PostgreSQL this time
    /// (`ROSTERDROP_TEST_BACKEND=postgresql`, as the second pass of `make test` sets).
    static var isBackend: Bool { ProcessInfo.processInfo.environment["ROSTERDROP_TEST_BACKEND"] == "postgresql" }

    private init() throws {
        guard let bin = Self.findBin() else { throw ServerMissing() }
        self.bin = bin
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        if asRoot { try Self.run("/bin/chown", ["postgres", directory.path]) }
        let data = directory.appendingPathComponent("data").path
        try Self.runAsServerUser("\(bin)/initdb", ["-D", data, "-A", "trust", "-U", Self.user, "--encoding=UTF8", "--locale=C.UTF-8"],
                                 asRoot: asRoot)
        // Everyone is trusted on loopback but one role, which must give its password (SCRAM),
        // for the tests of where the job takes a password from.
        let hba = directory.appendingPathComponent("data/pg_hba.conf")
        let rules = try String(contentsOf: hba, encoding: .utf8)
        try ("host all \(Self.passwordRole) 127.0.0.1/32 scram-sha-256\n" + rules).write(to: hba, atomically: false, encoding: .utf8)
        port = try SSHServer.freePort()
        let options = "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            + "-c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB"
        try Self.runAsServerUser("\(bin)/pg_ctl", ["-D", data, "-l", directory.appendingPathComponent("log").path, "-o", options,
                                              "-w", "start"], asRoot: asRoot)
        try psql("CREATE ROLE \(Self.passwordRole) LOGIN PASSWORD '\(Self.password)'")
        Self.stopCommand = ["\(bin)/pg_ctl", "-D", data, "-m", "immediate", "stop"]
        Self.folder = directory.path
        atexit {
            if let command = PostgresServer.stopCommand {
                _ = try? PostgresServer.runAsServerUser(command[0], Array(command.dropFirst()), asRoot: getuid() == 0)
            }
            if let folder = PostgresServer.folder { try? FileManager.default.removeItem(atPath: folder) }
        }
    }

    /// What stops the server and where it lives, for the exit handler (set once, at start).
    nonisolated(unsafe) private static var stopCommand: [String]?
    nonisolated(unsafe) private static var folder: String?

    /// A new empty database; the store makes its schema when the job first opens it.
    func makeDatabase(owner: String = PostgresServer.user) throws -> PostgresLocation {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try psql("CREATE DATABASE \(name) OWNER \(owner)")
        var location = location(name)
        location.user = owner
        return location
    }

    func location(_ database: String) -> PostgresLocation {
        PostgresLocation(host: "127.0.0.1", port: port, user: Self.user, database: database, sslMode: .disable)
    }

    /// Runs `sql` with psql against `database`; returns what it printed (unaligned, no header).
    @discardableResult
    func psql(_ sql: String, database: String = "postgres") throws -> String {
        try Self.run("\(bin)/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", Self.user, "-d", database, "-v", "ON_ERROR_STOP=1",
                                     "-X", "-q", "-A", "-t", "-c", sql])
    }

    /// `pg_dump` of `database`'s rows, as text.
    func dump(_ database: String) throws -> String {
        try Self.run("\(bin)/pg_dump", ["-h", "127.0.0.1", "-p", "\(port)", "-U", Self.user, "-d", database, "--data-only"])
    }

    private static func runAsServerUser(_ path: String, _ arguments: [String], asRoot: Bool) throws {
        if asRoot {
            try run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        } else {
            try run(path, arguments)
        }
    }

    private static func findBin() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.reversed().map { "\(root)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    struct ServerMissing: Error, CustomStringConvertible {
        var description: String { "PostgreSQL's server is not installed (/usr/lib/postgresql/*/bin/initdb); `make test` installs it" }
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var command: String
        var status: Int32
        var output: String
        var description: String { "\(command) exited \(status): \(output.suffix(2000))" }
    }

    /// Runs a command to its end and returns its output (stdout and stderr).
    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let child = try Child(path, arguments)
        let result = child.wait()
        guard result.status == 0 else {
            throw CommandFailed(command: ([path] + arguments).joined(separator: " "), status: result.status,
                                output: result.stdout + result.stderr)
        }
        return result.stdout + result.stderr
    }
}

/// A process started with posix_spawn (Foundation's `Process` on Linux can miss a child's
/// exit when several run at once), its output in files until it is waited for.
final class Child {
    let pid: pid_t
    private let stdoutPath: String
    private let stderrPath: String

    init(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)").path
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let variables = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let envp = variables.map { strdup("\($0)=\($1)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw PostgresServer.CommandFailed(command: path, status: spawned, output: "cannot start")
        }
        self.pid = pid
    }

    /// Waits until the process stops itself (SIGSTOP, as `ROSTERDROP_FAULT=…:stop` does);
    /// false when it ended instead.
    func waitUntilStopped() -> Bool {
        var status: Int32 = 0
        while waitpid(pid, &status, WUNTRACED) < 0, errno == EINTR {}
        if status & 0xff == 0x7f { return true }
        exitStatus = status
        return false
    }

    /// Lets a stopped process go on.
    func resume() {
        kill(pid, SIGCONT)
    }

    private var exitStatus: Int32?

    /// Waits for the end; the exit status (128 + the signal when killed) and the output.
    func wait() -> Executable.Result {
        var status: Int32 = exitStatus ?? 0
        if exitStatus == nil { while waitpid(pid, &status, 0) < 0, errno == EINTR {} }
        defer {
            try? FileManager.default.removeItem(atPath: stdoutPath)
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Executable.Result(status: code, stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                                 stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
    }
}
