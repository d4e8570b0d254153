import Dispatch

/// Runs PostgresNIO's async calls (its `COPY`) for the job's synchronous pipeline, on a
/// queue of its own: the caller waits on a semaphore, and the task never needs a thread of
/// Swift's shared pool, which the caller may be occupying.
final class AsyncBridge: TaskExecutor, @unchecked Sendable {
    static let shared = AsyncBridge()

    private let queue = DispatchQueue(label: "rosterdrop.postgres.async", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    /// Runs `operation` and waits for it; its error is thrown here.
    func run(_ operation: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Outcome()
        Task(executorPreference: self) {
            do {
                try await operation()
            } catch {
                outcome.error = error
            }
            outcome.done.signal()
        }
        outcome.done.wait()
        if let error = outcome.error { throw error }
    }

    private final class Outcome: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var error: (any Error)?
    }
}
