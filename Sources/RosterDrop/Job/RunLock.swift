import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a SQLite database for the length of a run, so two runs never
/// interleave.
///
/// It is an advisory `flock(2)` on `<database>.lock`: the kernel releases it when the
/// process ends, so a crashed run never leaves a stale lock behind. On PostgreSQL there is
/// none: workers share the organisations, each taken by one at a time (`claim`).
public final class RunLock {
    private let descriptor: Int32
    public let path: String

    /// Takes the lock or throws `RunLockError.busy` at once when another run holds it.
    public init(database: DatabaseLocation) throws {
        guard let file = database.sqlitePath else {
            descriptor = -1
            path = ""
            return
        }
        path = file + ".lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw RunLockError.unavailable(path: path, reason: String(cString: strerror(errno)))
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let busy = errno == EWOULDBLOCK
            close(descriptor)
            throw busy ? RunLockError.busy(path: path) : RunLockError.unavailable(path: path, reason: String(cString: strerror(errno)))
        }
    }

    deinit {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

public enum RunLockError: Error, CustomStringConvertible {
    case busy(path: String)
    case unavailable(path: String, reason: String)
    /// On PostgreSQL: a worker is running the organisation an operator's command is for.
    case organisationBusy(String)

    public var description: String {
        switch self {
        case .busy(let path): return "another rosterdrop run is in progress on this database (lock \(path) is held); try again when it has finished"
        case .unavailable(let path, let reason): return "cannot create the run lock \(path): \(reason)"
        case .organisationBusy(let id):
            return "a worker is processing organisation \(id) right now; try again when it has finished"
        }
    }
}
