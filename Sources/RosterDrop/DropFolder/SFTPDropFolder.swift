import Foundation

/// A drop folder on an SFTP server (libssh2): `<path>/inbox`, `outbox`, `archive`.
///
/// - **Trust**: public-key authentication with the configured identity; the server's host
///   key is always checked against the configured known_hosts file, and an unknown or
///   changed key refuses the connection, naming the host, port and offered fingerprint.
/// - **Faults**: every wait has a timeout; a lost or stalled connection is reconnected and the
///   step tried again, with backoff, up to `retries` times. A download is compared with the
///   remote size (and the pipeline checks its sha256 against the manifest) before use.
/// - **Never overwriting**: reports are uploaded under a hidden temporary name, flushed
///   with fsync, then renamed to the first free name (`-2`, `-3`, …): OpenSSH's SFTP cannot
///   rename over a file, and nothing here ever tries to.
/// - **Names are data**: a listed name with `/`, `..` or control characters is skipped, and
///   none is ever used to build a path outside the drop folder.
///
/// One connection serves the organisation's whole run; a lock keeps it to one thread at a
/// time, and a background keepalive holds it open while the job works locally for minutes.
public final class SFTPDropFolder: DropFolder, @unchecked Sendable {
    public let endpoint: SFTPEndpoint
    public let settings: SFTPSettings
    public var location: String { endpoint.description }

    private let lock = NSLock()
    private var session: SFTPSession?
    private var keeper: Thread?
    private var stopped = false

    public init(endpoint: SFTPEndpoint, settings: SFTPSettings) {
        self.endpoint = endpoint
        self.settings = settings
    }

    deinit {
        lock.lock()
        stopped = true
        session?.close()
        session = nil
        lock.unlock()
    }

    private func path(_ area: DropArea, _ name: String? = nil) -> String {
        let directory = "\(endpoint.path)/\(area.rawValue)"
        return name.map { "\(directory)/\($0)" } ?? directory
    }

    public func list(_ area: DropArea) throws -> [DropFile] {
        try perform("list \(area.rawValue)/") { session in
            // outbox/ and archive/ are made on first use.
            if area != .inbox, try session.size(self.path(area)) == nil { return [] }
            return try session.list(self.path(area))
                .filter { DropFileName.isSafe($0.name) }
                .sorted { $0.name < $1.name }
                .map { DropFile(name: $0.name, size: $0.size, modified: $0.modified) }
        }
    }

    public func fetch(_ name: String, scratch: URL) throws -> URL {
        guard DropFileName.isSafe(name) else {
            throw DropFolderError(location: location, operation: "fetch", reason: "refused unsafe file name")
        }
        let local = scratch.appendingPathComponent(name)
        return try perform("fetch \(name)") { session in
            guard let expected = try session.size(self.path(.inbox, name)) else {
                throw SFTPFailure(reason: "the file is gone", transient: false)
            }
            let received = try session.download(self.path(.inbox, name), to: local)
            guard received == expected else {
                // A short read is a broken transfer, not a short file: reconnect and retry.
                throw SFTPFailure(reason: "received \(received) of \(expected) bytes", transient: true)
            }
            return local
        }
    }

    public func publish(_ source: URL, as name: String, in area: DropArea) throws -> String {
        guard let used = try upload(source, as: name, in: area, exactly: false) else {
            throw DropFolderError(location: location, operation: "publish \(name)", reason: "no free name")
        }
        return used
    }

    public func place(_ source: URL, as name: String, in area: DropArea) throws -> Bool {
        try upload(source, as: name, in: area, exactly: true) != nil
    }

    public func remove(_ name: String, from area: DropArea) throws {
        guard DropFileName.isSafe(name), area != .inbox else {
            throw DropFolderError(location: location, operation: "remove", reason: "refused unsafe file name or area")
        }
        try perform("remove \(area.rawValue)/\(name)") { session in
            guard try session.size(self.path(area, name)) != nil else { return }
            try session.remove(self.path(area, name))
        }
    }

    /// Uploads under a hidden temporary name, then renames to the first free candidate
    /// (only `name` itself when `exactly`); nil when no name was free.
    private func upload(_ source: URL, as name: String, in area: DropArea, exactly: Bool) throws -> String? {
        guard DropFileName.isSafe(name) else {
            throw DropFolderError(location: location, operation: "publish", reason: "refused unsafe file name")
        }
        // What an earlier attempt left, if its connection broke: its temporary file, and
        // the name it was being renamed to.
        var temporary: String?
        var claiming: String?
        return try perform("publish \(name)") { session in
            if let earlier = temporary {
                if try session.size(earlier) != nil {
                    try? session.remove(earlier)
                } else if let target = claiming, try session.size(self.path(area, target)) != nil {
                    return target  // the rename was done; only its answer was lost
                }
            }
            try session.makeDirectory(self.path(area))
            let upload = self.path(area, ".\(name).\(UUID().uuidString).part")
            temporary = upload
            claiming = nil
            do {
                try session.upload(source, to: upload)
                let used = try self.claim(session, from: upload, name: name, in: area, attempts: exactly ? 1 : 1000) {
                    claiming = $0
                }
                if used == nil { try? session.remove(upload) }
                return used
            } catch let failure as SFTPFailure where !failure.transient {
                try? session.remove(upload)
                throw failure
            }
        }
    }

    public func archive(_ name: String) throws -> String {
        guard DropFileName.isSafe(name) else {
            throw DropFolderError(location: location, operation: "archive", reason: "refused unsafe file name")
        }
        var claiming: String?
        return try perform("archive \(name)") { session in
            if try session.size(self.path(.inbox, name)) == nil {
                // Gone from the inbox: an earlier attempt's rename went through and only its
                // answer was lost (or someone else moved it). Archiving is about getting it
                // out of the inbox, so that is done.
                return claiming ?? name
            }
            try session.makeDirectory(self.path(.archive))
            guard let used = try self.claim(session, from: self.path(.inbox, name), name: name, in: .archive, attempts: 1000,
                                            attempting: { claiming = $0 }) else {
                throw SFTPFailure(reason: "no free name", transient: false)
            }
            return used
        }
    }

    /// Renames `source` to the first free candidate name in `area`; `attempting` hears each
    /// name just before it is tried.
    private func claim(_ session: SFTPSession, from source: String, name: String, in area: DropArea, attempts: Int,
                       attempting: (String) -> Void) throws -> String? {
        for attempt in 1...attempts {
            let candidate = DropFileName.candidate(name, attempt: attempt)
            attempting(candidate)
            if try session.rename(source, to: path(area, candidate)) { return candidate }
        }
        return nil
    }

    // MARK: - Connection

    /// Runs `body` on a live connection, reconnecting and retrying after transient failures.
    private func perform<T>(_ operation: String, _ body: (SFTPSession) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        var attempt = 0
        while true {
            do {
                if session == nil {
                    session = try SFTPSession(endpoint: endpoint, settings: settings)
                    startKeeper()
                }
                guard let session else { throw SFTPFailure(reason: "not connected", transient: true) }
                return try body(session)
            } catch let failure as SFTPFailure {
                if failure.transient {
                    session?.close()
                    session = nil
                }
                guard failure.transient, attempt < settings.retries else {
                    let tries = attempt > 0 ? " (after \(attempt + 1) attempts)" : ""
                    throw DropFolderError(location: location, operation: operation, reason: failure.reason + tries)
                }
                attempt += 1
                lock.unlock()
                Thread.sleep(forTimeInterval: min(8, 0.5 * pow(2, Double(attempt - 1))))
                lock.lock()
            }
        }
    }

    /// Keeps an idle connection alive while the pipeline works locally (parsing a national
    /// file takes minutes, and firewalls drop quiet connections).
    private func startKeeper() {
        guard keeper == nil else { return }
        let interval = Double(settings.keepalive)
        let thread = Thread { [weak self] in
            while true {
                Thread.sleep(forTimeInterval: interval)
                guard let folder = self else { return }
                folder.lock.lock()
                if folder.stopped { folder.lock.unlock(); return }
                if let session = folder.session, !session.keepalive() {
                    session.close()
                    folder.session = nil
                }
                folder.lock.unlock()
            }
        }
        thread.name = "sftp-keepalive"
        keeper = thread
        thread.start()
    }
}
