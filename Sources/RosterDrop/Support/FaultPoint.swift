import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Named places where a crash test can stop the process dead, to prove that a run killed
/// there leaves the portal before or after, never between, and that the next run finishes
/// the work once.
///
/// `ROSTERDROP_FAULT=<name>[:<n>]` makes the `n`th pass (default the first) through the point
/// `name` end the process at once with status 86, as a SIGKILL would: no cleanup, no
/// flushing. `<name>:<n>:stop` stops it there instead (SIGSTOP), holding whatever it holds,
/// until a test lets it go on (SIGCONT). Unset, a point costs one comparison.
enum FaultPoint {
    private static let armed: (name: Substring, pass: Int, stop: Bool)? = {
        guard let text = ProcessInfo.processInfo.environment["ROSTERDROP_FAULT"], !text.isEmpty else { return nil }
        let parts = text.split(separator: ":")
        return (parts[0], parts.count > 1 ? Int(parts[1]) ?? 1 : 1, parts.count > 2 && parts[2] == "stop")
    }()
    private static let passes = Mutex(0)

    static func hit(_ name: String) {
        guard let armed, armed.name == name else { return }
        let pass = passes.withLock { count -> Int in
            count += 1
            return count
        }
        guard pass == armed.pass else { return }
        if armed.stop {
            raise(SIGSTOP)
        } else {
            _exit(86)
        }
    }
}

/// A value behind a lock, for the few places state is shared between threads.
final class Mutex<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
