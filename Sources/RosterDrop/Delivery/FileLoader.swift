import Foundation

/// What reading one data file into staging found.
struct FileLoad: Sendable {
    var kind: EntityKind
    var name: String
    var sha256: String
    /// Data records read, accepted or not (the header excluded): what a manifest counts.
    var records: Int
    /// Rejected records whose key could not be read: they suspend removals for this kind.
    var unkeyed: Int
    /// Records the mapping's `select` left out (counted, neither accepted nor rejected).
    var filtered = 0
    /// The mapping's name for the file (`files:`; a version-1 mapping's: the kind).
    var source = ""
    /// Rows the records made for the kind (a split record makes several), less repeats a
    /// `distinct` feed merged: what the receipt counts as received.
    var rows = 0
    /// The last physical line read, so the next file of the kind is numbered after it.
    var lastLine = 1
    /// How long the parser waited for the loader, and the loader for the parser.
    var parserWaited = Duration.zero
    var loaderWaited = Duration.zero
}

/// Why a delivery is refused whole: file-level findings, nothing applied.
struct DeliveryRefusal: Error {
    var findings: [Finding]
    /// Records read of each file before the delivery was refused, for the receipt.
    var received: [EntityKind: Int] = [:]
}

/// Streams one delivered file into its staging table, on two threads.
///
/// A parser thread reads, hashes, gunzips, splits and checks single rows (`FileParser`);
/// this thread, which owns the database connection, runs the checks that need other rows
/// and tells unchanged rows (`DeliveryIndex`), then inserts the rest. The work is split so
/// that neither thread idles: a first load is bound by inserts, a run with few changes by
/// parsing. Memory stays flat whatever the file's size: at most a few batches are in flight.
struct FileLoader {
    let parser: FileParser
    let db: any StoreSession
    let index: DeliveryIndex

    func run(url: URL, expectedSHA256: String?) throws -> FileLoad {
        let channel = BatchChannel(capacity: 4)
        let rules = KindRules(parser.mapping)
        var merged = 0
        let inserter = try db.stagedRowWriter(parser.mapping.kind)
        let parser = self.parser
        let thread = Thread {
            let result = Result { try parser.parse(url: url, expectedSHA256: expectedSHA256, into: channel) }
            channel.finish(result)
        }
        thread.stackSize = 1 << 22
        thread.start()
        do {
            var findings: [Finding] = []
            while let batch = channel.receive() {
                for row in batch.rows {
                    if row.filtered {
                        index.noteFiltered(rules, line: row.line, key: row.digests.key)
                        continue
                    }
                    if row.rejected {
                        let key = rules.keySlots.map { row.values[$0] ?? "" }
                        if index.noteRejected(rules, line: row.line, rawKey: key, key: row.digests.key, values: row.values) {
                            try inserter.insert(row)
                        } else {
                            merged += 1
                        }
                        continue
                    }
                    switch index.admit(rules, line: row.line, values: row.values, digests: row.digests,
                                       at: (parser.name, row.sourceLine)) {
                    case .unchanged, .filtered:
                        break
                    case .merged:
                        merged += 1
                    case let .stage(userLine, groupLine):
                        var staged = row
                        staged.rowHash = row.digests.row
                        staged.userLine = userLine
                        staged.groupLine = groupLine
                        try inserter.insert(staged)
                    case .reject(let finding):
                        if let finding { findings.append(finding) }
                        var rejected = row
                        rejected.rejected = true
                        try inserter.insert(rejected)
                    }
                }
                try StagingArea.insert(batch.findings, db)
                try StagingArea.insert(findings, db)
                findings.removeAll(keepingCapacity: true)
            }
        } catch {
            channel.cancel()
            _ = channel.waitForResult()
            throw error
        }
        var load = try channel.waitForResult().get()
        load.rows -= merged
        load.parserWaited = channel.producerWaited
        load.loaderWaited = channel.consumerWaited
        return load
    }
}

/// Rows parsed and checked, waiting to be staged.
struct StagedBatch: Sendable {
    struct Row: Sendable {
        var line: Int
        var rejected: Bool
        /// Values in `StagingArea.columns` order.
        var values: [String?]
        /// For accepted rows: the row's hash, and the lines of the user and group it names.
        var rowHash: Int64?
        var userLine: Int?
        var groupLine: Int?
        /// Left out by the mapping's `select`: only noted, so rows naming it are left out too.
        var filtered = false
        /// Hashes the parser computed for the loader's checks (none for rows staged otherwise).
        var digests = RowDigests(row: 0, key: nil)
        /// The physical line of the record the row came from (`line` numbers the row among
        /// its kind's, see `RowNumbering`).
        var sourceLine = 0

        init(line: Int, rejected: Bool, values: [String?], rowHash: Int64? = nil, userLine: Int? = nil,
             groupLine: Int? = nil) {
            self.line = line
            self.rejected = rejected
            self.values = values
            self.rowHash = rowHash
            self.userLine = userLine
            self.groupLine = groupLine
        }
    }

    var rows: [Row] = []
    var findings: [Finding] = []
}

/// A bounded hand-over of batches from the parser thread to the database thread.
final class BatchChannel: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [StagedBatch] = []
    private let capacity: Int
    private var result: Result<FileLoad, Error>?
    private var cancelled = false
    /// Time the parser spent waiting for room, and the loader waiting for batches: which
    /// of the two threads bounds a file's loading.
    private(set) var producerWaited = Duration.zero
    private(set) var consumerWaited = Duration.zero

    struct Cancelled: Error {}

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Blocks while the queue is full; throws once the consumer has given up.
    func send(_ batch: StagedBatch) throws {
        condition.lock()
        defer { condition.unlock() }
        if queue.count >= capacity && !cancelled {
            let start = ContinuousClock.now
            while queue.count >= capacity && !cancelled { condition.wait() }
            producerWaited += ContinuousClock.now - start
        }
        if cancelled { throw Cancelled() }
        queue.append(batch)
        condition.broadcast()
    }

    /// The next batch, or nil once the parser has finished and the queue is empty.
    func receive() -> StagedBatch? {
        condition.lock()
        defer { condition.unlock() }
        if queue.isEmpty && result == nil {
            let start = ContinuousClock.now
            while queue.isEmpty && result == nil { condition.wait() }
            consumerWaited += ContinuousClock.now - start
        }
        if queue.isEmpty { return nil }
        let batch = queue.removeFirst()
        condition.broadcast()
        return batch
    }

    func finish(_ outcome: Result<FileLoad, Error>) {
        condition.lock()
        result = outcome
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    func waitForResult() -> Result<FileLoad, Error> {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return result ?? .failure(Cancelled())
    }
}
