import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where an SFTP drop folder is: `sftp://user@host[:port]/path`.
public struct SFTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var host: String
    public var port: Int
    /// The drop folder's path on the server (`inbox/`, `outbox/`, `archive/` below it).
    public var path: String

    /// Parses an `sftp://` URL; nil when it is not one with a user, a host and a path.
    public init?(url text: String) {
        guard text.hasPrefix("sftp://"), let components = URLComponents(string: text), components.scheme == "sftp",
              let user = components.user, !user.isEmpty, components.password == nil,
              let host = components.host, !host.isEmpty, components.query == nil, components.fragment == nil
        else { return nil }
        let path = components.path
        guard path.hasPrefix("/"), path.count > 1, !path.split(separator: "/").contains("..") else { return nil }
        let port = components.port ?? 22
        guard (1...65535).contains(port) else { return nil }
        self.init(user: user, host: host, port: port, path: path.hasSuffix("/") ? String(path.dropLast()) : path)
    }

    public init(user: String, host: String, port: Int, path: String) {
        self.user = user
        self.host = host
        self.port = port
        self.path = path
    }

    public var description: String { "sftp://\(user)@\(host):\(port)\(path)" }
}

/// A failed SFTP step: what went wrong, and whether trying again may help.
struct SFTPFailure: Error, CustomStringConvertible {
    var reason: String
    /// A lost or stalled connection (worth a reconnect), not a refusal.
    var transient: Bool
    var description: String { reason }
}

/// One SSH connection with its SFTP channel, blocking, with a timeout on every wait.
///
/// Used by one thread at a time (`SFTPDropFolder` holds a lock around it): libssh2 sessions
/// are not thread-safe.
final class SFTPSession {
    let endpoint: SFTPEndpoint
    private let socket: Int32
    private let session: OpaquePointer
    private var sftp: OpaquePointer?

    /// libssh2 set up once; and SIGPIPE ignored, so that a server that goes away while we
    /// write is an error to handle (EPIPE), not the end of the whole run.
    private static let initialised: Int32 = {
        signal(SIGPIPE, SIG_IGN)
        return libssh2_init(0)
    }()

    init(endpoint: SFTPEndpoint, settings: SFTPSettings) throws {
        guard Self.initialised == 0 else { throw SFTPFailure(reason: "libssh2 could not be initialised", transient: false) }
        self.endpoint = endpoint
        socket = try Self.connect(host: endpoint.host, port: endpoint.port, timeout: settings.connectTimeout)
        guard let session = rd_session_init() else {
            Glibc.close(socket)
            throw SFTPFailure(reason: "cannot create an SSH session", transient: false)
        }
        self.session = session
        do {
            libssh2_session_set_blocking(session, 1)
            libssh2_session_set_timeout(session, settings.connectTimeout * 1000)
            // One host key algorithm, so the key offered is the kind pinned in known_hosts.
            _ = libssh2_session_method_pref(session, LIBSSH2_METHOD_HOSTKEY, "ssh-ed25519")
            if libssh2_session_handshake(session, socket) != 0 {
                throw failure("SSH handshake")
            }
            try checkHostKey(knownHosts: settings.knownHosts)
            let passphrase = try settings.passphrase()
            let publicKey = settings.identityFile + ".pub"
            let hasPublicKey = FileManager.default.fileExists(atPath: publicKey)
            if rd_userauth_publickey_fromfile(session, endpoint.user, hasPublicKey ? publicKey : nil, settings.identityFile,
                                              passphrase) != 0 {
                let detail = failure("authentication").reason
                throw SFTPFailure(reason: "the server refused the key \(settings.identityFile) for user \(endpoint.user) (\(detail))",
                                  transient: false)
            }
            libssh2_session_set_timeout(session, settings.timeout * 1000)
            libssh2_keepalive_config(session, 1, UInt32(settings.keepalive))
            guard let sftp = libssh2_sftp_init(session) else { throw failure("starting SFTP") }
            self.sftp = sftp
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    private var closed = false

    func close() {
        guard !closed else { return }
        closed = true
        if let sftp { libssh2_sftp_shutdown(sftp) }
        sftp = nil
        _ = rd_session_disconnect(session, "rosterdrop done")
        libssh2_session_free(session)
        Glibc.close(socket)
    }

    // MARK: - Connecting

    /// A TCP connection to `host:port`, given up after `timeout` seconds.
    private static func connect(host: String, port: Int, timeout: Int) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw SFTPFailure(reason: "cannot resolve \(host)", transient: true)
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                var poll = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = Glibc.poll(&poll, 1, Int32(timeout * 1000))
                if ready == 1 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    result = error == 0 ? 0 : -1
                    if error != 0 { reason = String(cString: strerror(error)) }
                } else {
                    reason = "no answer within \(timeout) s"
                    result = -1
                }
            } else if result != 0 {
                reason = String(cString: strerror(errno))
            }
            if result == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            Glibc.close(fd)
        }
        throw SFTPFailure(reason: "cannot connect to \(host) port \(port): \(reason)", transient: true)
    }

    /// Refuses a host whose key is not the one in `knownHosts` for this host and port.
    private func checkHostKey(knownHosts: String) throws {
        var length = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &length, &type) else { throw failure("reading the host key") }
        guard let hosts = libssh2_knownhost_init(session) else { throw failure("reading known_hosts") }
        defer { libssh2_knownhost_free(hosts) }
        if libssh2_knownhost_readfile(hosts, knownHosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0 {
            throw SFTPFailure(reason: "cannot read known_hosts file \(knownHosts)", transient: false)
        }
        let keyType: Int32 = switch type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: LIBSSH2_KNOWNHOST_KEY_ED25519
        case LIBSSH2_HOSTKEY_TYPE_RSA: LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        default: LIBSSH2_KNOWNHOST_KEY_UNKNOWN
        }
        var found: UnsafeMutablePointer<libssh2_knownhost>?
        let check = libssh2_knownhost_checkp(hosts, endpoint.host, Int32(endpoint.port), key, length,
                                             LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keyType, &found)
        guard check != LIBSSH2_KNOWNHOST_CHECK_MATCH else { return }
        let offered = "\(Self.keyName(type)) \(fingerprint())"
        let place = "\(endpoint.host) port \(endpoint.port)"
        switch check {
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw SFTPFailure(reason: "host key of \(place) does not match \(knownHosts) (offered \(offered)); refusing to connect",
                              transient: false)
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            throw SFTPFailure(reason: "host \(place) is not in \(knownHosts) (offered \(offered)); refusing to connect",
                              transient: false)
        default:
            throw SFTPFailure(reason: "cannot check the host key of \(place) (offered \(offered)); refusing to connect",
                              transient: false)
        }
    }

    /// The offered host key's SHA-256 fingerprint as OpenSSH prints it.
    private func fingerprint() -> String {
        guard let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return "SHA256:?" }
        let bytes = Data(bytes: hash, count: 32)
        return "SHA256:" + bytes.base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    private static func keyName(_ type: Int32) -> String {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519"
        case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa"
        default: return "key"
        }
    }

    // MARK: - Errors

    /// The session's last error as a failure; lost connections and timeouts are transient.
    func failure(_ doing: String) -> SFTPFailure {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        let text = message.map { String(cString: $0) } ?? "error \(code)"
        if code == LIBSSH2_ERROR_SFTP_PROTOCOL, let sftp {
            let status = libssh2_sftp_last_error(sftp)
            return SFTPFailure(reason: "\(doing): \(Self.statusText(status))", transient: false)
        }
        let transient = [LIBSSH2_ERROR_TIMEOUT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND,
                         LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_CHANNEL_CLOSED,
                         LIBSSH2_ERROR_CHANNEL_EOF_SENT, LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_KEX_FAILURE,
                         LIBSSH2_ERROR_EAGAIN].contains(code)
        let what = code == LIBSSH2_ERROR_TIMEOUT ? "no answer within the timeout" : text
        return SFTPFailure(reason: "\(doing): \(what)", transient: transient)
    }

    /// The last SFTP status code, if the last failure was one.
    var lastStatus: UInt? {
        guard let sftp, libssh2_session_last_errno(session) == LIBSSH2_ERROR_SFTP_PROTOCOL else { return nil }
        return libssh2_sftp_last_error(sftp)
    }

    private static func statusText(_ status: UInt) -> String {
        switch status {
        case UInt(LIBSSH2_FX_NO_SUCH_FILE): return "no such file"
        case UInt(LIBSSH2_FX_PERMISSION_DENIED): return "permission denied"
        case UInt(LIBSSH2_FX_FAILURE): return "the server refused (failure)"
        case UInt(LIBSSH2_FX_OP_UNSUPPORTED): return "the server does not allow this operation"
        case UInt(LIBSSH2_FX_FILE_ALREADY_EXISTS): return "the file already exists"
        case UInt(LIBSSH2_FX_WRITE_PROTECT): return "the server is read-only"
        case UInt(LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM), UInt(LIBSSH2_FX_QUOTA_EXCEEDED): return "no space left on the server"
        default: return "SFTP status \(status)"
        }
    }

    private var channel: OpaquePointer {
        get throws {
            guard let sftp, !closed else { throw SFTPFailure(reason: "the connection is closed", transient: true) }
            return sftp
        }
    }

    // MARK: - Operations

    /// Regular files in the directory `path`, with their sizes and modification times.
    func list(_ path: String) throws -> [(name: String, size: Int64, modified: Date)] {
        guard let handle = rd_sftp_opendir(try channel, path) else { throw failure("list \(path)") }
        defer { _ = rd_sftp_close(handle) }
        var entries: [(name: String, size: Int64, modified: Date)] = []
        var buffer = [CChar](repeating: 0, count: 1024)
        while true {
            var attributes = LIBSSH2_SFTP_ATTRIBUTES()
            let count = rd_sftp_readdir(handle, &buffer, buffer.count, &attributes)
            if count == 0 { break }
            if count < 0 { throw failure("list \(path)") }
            let name = String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard rd_is_regular(&attributes) != 0 else { continue }
            entries.append((name, Int64(attributes.filesize), Date(timeIntervalSince1970: Double(attributes.mtime))))
        }
        return entries
    }

    /// The size of the file at `path`, or nil when there is none.
    func size(_ path: String) throws -> Int64? {
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        if rd_sftp_stat(try channel, path, &attributes) != 0 {
            if lastStatus == UInt(LIBSSH2_FX_NO_SUCH_FILE) { return nil }
            throw failure("stat \(path)")
        }
        return Int64(attributes.filesize)
    }

    /// Downloads `path` into the local file `local`; returns the bytes written.
    func download(_ path: String, to local: URL) throws -> Int64 {
        guard let handle = rd_sftp_open(try channel, path, UInt(LIBSSH2_FXF_READ), 0) else {
            throw failure("open \(path)")
        }
        defer { _ = rd_sftp_close(handle) }
        guard FileManager.default.createFile(atPath: local.path, contents: nil),
              let output = FileHandle(forWritingAtPath: local.path) else {
            throw SFTPFailure(reason: "cannot write the local copy of \(path)", transient: false)
        }
        defer { try? output.close() }
        let size = 2 << 20
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let count = libssh2_sftp_read(handle, buffer, size)
            if count == 0 { break }
            if count < 0 { throw failure("download \(path) (after \(total) bytes)") }
            do {
                try output.write(contentsOf: Data(bytesNoCopy: buffer, count: count, deallocator: .none))
            } catch {
                throw SFTPFailure(reason: "cannot write the local copy of \(path) (disk full?)", transient: false)
            }
            total += Int64(count)
        }
        return total
    }

    /// Uploads the local file `local` as `path`, which must not exist, and makes the server
    /// flush it to disk before returning.
    func upload(_ local: URL, to path: String) throws {
        let flags = UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL)
        guard let handle = rd_sftp_open(try channel, path, flags, Int(LIBSSH2_SFTP_S_IRUSR | LIBSSH2_SFTP_S_IWUSR
                                                                        | LIBSSH2_SFTP_S_IRGRP)) else {
            throw failure("create \(path)")
        }
        var closed = false
        defer { if !closed { _ = rd_sftp_close(handle) } }
        guard let input = FileHandle(forReadingAtPath: local.path) else {
            throw SFTPFailure(reason: "cannot read \(local.lastPathComponent)", transient: false)
        }
        defer { try? input.close() }
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            try chunk.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let base = bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self)
                    let written = libssh2_sftp_write(handle, base, bytes.count - offset)
                    if written < 0 { throw failure("upload \(path)") }
                    offset += written
                }
            }
        }
        // Flushed to the server's disk before the rename makes it visible. A server that
        // lacks or refuses fsync@openssh.com gets the file closed without it, rather than
        // never receiving a report; a broken connection is still a failure.
        if libssh2_sftp_fsync(handle) != 0, lastStatus == nil { throw failure("fsync \(path)") }
        closed = true
        if rd_sftp_close(handle) != 0 { throw failure("close \(path)") }
    }

    /// Renames `source` to `destination`; false when `destination` already exists.
    func rename(_ source: String, to destination: String) throws -> Bool {
        if rd_sftp_rename(try channel, source, destination) == 0 { return true }
        let failed = failure("rename \(source) to \(destination)")
        // SFTP v3 servers answer a taken name with a bare failure: look before concluding.
        // A missing source is never a taken name.
        if let status = lastStatus, status == UInt(LIBSSH2_FX_FAILURE) || status == UInt(LIBSSH2_FX_FILE_ALREADY_EXISTS),
           try size(destination) != nil {
            return false
        }
        throw failed
    }

    func remove(_ path: String) throws {
        if rd_sftp_unlink(try channel, path) != 0 { throw failure("remove \(path)") }
    }

    /// Creates the directory `path` unless it exists.
    func makeDirectory(_ path: String) throws {
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        if rd_sftp_stat(try channel, path, &attributes) == 0 { return }
        if rd_sftp_mkdir(try channel, path, Int(LIBSSH2_SFTP_S_IRWXU | LIBSSH2_SFTP_S_IRGRP | LIBSSH2_SFTP_S_IXGRP)) != 0 {
            throw failure("create \(path)/")
        }
    }

    /// Sends a keepalive if one is due; false when the connection is gone.
    func keepalive() -> Bool {
        var next: Int32 = 0
        return libssh2_keepalive_send(session, &next) == 0
    }
}
