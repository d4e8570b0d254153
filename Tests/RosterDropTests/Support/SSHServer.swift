import Foundation
@testable import RosterDrop
#if canImport(Glibc)
import Glibc
#endif

/// A real OpenSSH server on 127.0.0.1 for one test: fresh ed25519 host and client keys, a
/// free port, `internal-sftp` (with extra options such as `-P rename` to refuse renames),
/// started with the test and stopped with it.
final class SSHServer {
    let directory: URL
    let port: Int
    let user: String
    /// The client's private key and a known_hosts file pinning this server's host key.
    let identityFile: String
    let knownHosts: String
    /// sshd's pid. Spawned with posix_spawn, not Foundation's `Process`, whose child
    /// monitor on Linux blocks on one long-lived child and then never sees others exit.
    private let pid: pid_t
    private var running = true

    /// sshd's log (`-E`), e.g. to count logins.
    var log: String { directory.appendingPathComponent("sshd.log").path }

    init(sftpOptions: String = "", extraConfig: String = "") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sshd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        user = String(cString: getpwuid(getuid()).pointee.pw_name)
        let host = directory.appendingPathComponent("host_ed25519").path
        identityFile = directory.appendingPathComponent("client_ed25519").path
        try Self.keygen(host)
        try Self.keygen(identityFile)
        try FileManager.default.copyItem(atPath: identityFile + ".pub",
                                         toPath: directory.appendingPathComponent("authorized_keys").path)
        port = try Self.freePort()
        knownHosts = directory.appendingPathComponent("known_hosts").path
        let hostKey = try String(contentsOfFile: host + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "[127.0.0.1]:\(port) \(hostKey)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("sshd_config").path
        try """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(host)
            PidFile \(directory.appendingPathComponent("sshd.pid").path)
            AuthorizedKeysFile \(directory.appendingPathComponent("authorized_keys").path)
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PermitRootLogin prohibit-password
            Subsystem sftp internal-sftp \(sftpOptions)
            \(extraConfig)

            """.write(toFile: config, atomically: true, encoding: .utf8)
        pid = try Self.spawn("/usr/sbin/sshd", ["-D", "-E", directory.appendingPathComponent("sshd.log").path, "-f", config])
        Self.started(pid)
        try waitUntilListening()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Every sshd started, so that none outlives the test process even if a test keeps its
    /// server alive to the end (an `atexit` handler stops what is left).
    nonisolated(unsafe) private static var pids = Set<pid_t>()
    private static let registry = NSLock()

    private static func started(_ pid: pid_t) {
        registry.withLock {
            if pids.isEmpty {
                atexit {
                    SSHServer.registry.withLock {
                        for pid in SSHServer.pids { kill(pid, SIGCONT); kill(pid, SIGTERM) }
                    }
                }
            }
            pids.insert(pid)
        }
    }

    func stop() {
        guard running else { return }
        running = false
        _ = Self.registry.withLock { Self.pids.remove(pid) }
        kill(pid, SIGCONT)
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel, never answered.
    func freeze() { kill(pid, SIGSTOP) }

    /// A drop folder at `path` on this server, used directly (not through a job config), with
    /// its inbox, outbox and archive created.
    func dropFolder(_ path: URL, port: Int? = nil, knownHosts: String? = nil, keepalive: Int = 15) throws -> SFTPDropFolder {
        for area in DropArea.allCases {
            try FileManager.default.createDirectory(at: path.appendingPathComponent(area.rawValue), withIntermediateDirectories: true)
        }
        return SFTPDropFolder(endpoint: SFTPEndpoint(user: user, host: "127.0.0.1", port: port ?? self.port, path: path.path),
                              settings: SFTPSettings(identityFile: identityFile, knownHosts: knownHosts ?? self.knownHosts,
                                                     keepalive: keepalive))
    }

    /// A new client key protected by `passphrase`, authorised on this server; returns its path.
    func encryptedIdentity(passphrase: String) throws -> String {
        let path = directory.appendingPathComponent("locked_ed25519").path
        try Self.keygen(path, passphrase: passphrase)
        let authorized = directory.appendingPathComponent("authorized_keys")
        let handle = try FileHandle(forWritingTo: authorized)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(contentsOf: URL(fileURLWithPath: path + ".pub")))
        try handle.close()
        return path
    }

    /// A known_hosts file pinning this server's key for another port (a proxy in front).
    func knownHosts(port other: Int) throws -> String {
        let line = try String(contentsOfFile: knownHosts, encoding: .utf8)
            .replacingOccurrences(of: "[127.0.0.1]:\(port) ", with: "[127.0.0.1]:\(other) ")
        let path = directory.appendingPathComponent("known_hosts_\(other)").path
        try line.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A known_hosts file that pins another key for this host and port.
    func wrongKnownHosts() throws -> String {
        let other = directory.appendingPathComponent("other_ed25519").path
        try Self.keygen(other)
        let key = try String(contentsOfFile: other + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let path = directory.appendingPathComponent("wrong_known_hosts").path
        try "[127.0.0.1]:\(port) \(key)\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The YAML for an organisation's `drop:` and `sftp:` keys pointing at `folder` here.
    func dropConfig(folder: String, knownHosts: String? = nil, port: Int? = nil, extra: String = "") -> String {
        """
            drop: sftp://\(user)@127.0.0.1:\(port ?? self.port)\(folder)
            sftp:
              identity_file: \(identityFile)
              known_hosts: \(knownHosts ?? self.knownHosts)
              connect_timeout: 2
              timeout: 5
              retries: 1
        \(extra)
        """
    }

    private static func keygen(_ path: String, passphrase: String = "") throws {
        let child = try spawn("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", path])
        var status: Int32 = 0
        waitpid(child, &status, 0)
        guard status == 0 else { throw SSHServerError(message: "ssh-keygen failed (\(status))") }
    }

    /// Starts `path` with `arguments`, stdin and stdout/stderr on /dev/null.
    private static func spawn(_ path: String, _ arguments: [String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [Int32(0), 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard code == 0 else { throw SSHServerError(message: "cannot start \(path): \(String(cString: strerror(code)))") }
        return pid
    }

    /// The IPv4 address 127.0.0.1:`port`.
    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    /// A port nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw SSHServerError(message: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func waitUntilListening() throws {
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: port)
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            close(fd)
            if connected { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                running = false
                throw SSHServerError(message: "sshd exited (status \(status))")
            }
            usleep(50_000)
        }
        throw SSHServerError(message: "sshd did not start listening on \(port)")
    }
}

struct SSHServerError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
