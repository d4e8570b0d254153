import Foundation

/// One snapshot of one organisation: the data files and manifest sharing a timestamp.
public struct Delivery: Sendable, Equatable {
    /// UTC `YYYYMMDDTHHMMSSZ`, which also orders deliveries oldest first.
    public var timestamp: String
    public var manifest: DropFile?
    /// The data files by the mapping's name for them (a version-1 mapping's: the kind).
    public var files: [String: DropFile]
    /// Inbox files no kind claims (unrecognised or ignorable): its manifest may name some.
    public var unclaimed: [DropFile] = []
    /// The mapping's names for its files, in the mapping's order (users before the files
    /// naming them): the order reports list them in.
    public var order: [String] = []

    /// Every inbound file of the delivery in the mapping's order, manifest last.
    public var allFiles: [DropFile] {
        let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return files.sorted { (rank[$0.key] ?? .max, $0.key) < (rank[$1.key] ?? .max, $1.key) }.map(\.value)
            + (manifest.map { [$0] } ?? [])
    }
}

/// What a look at an inbox found.
public struct InboxScan: Sendable {
    /// Deliveries ready to process, oldest first.
    public var ready: [Delivery]
    /// Deliveries not complete yet (no manifest, or files still changing), left for a later run.
    public var waiting: [Delivery]
    /// Names that belong to no delivery of this mapping and that it does not declare
    /// ignorable: left alone, and reported.
    public var unrecognised: [String]
}

extension Mapping {
    /// Groups inbox files into deliveries by timestamp and tells which are complete.
    ///
    /// With a manifest layout, a delivery is ready once its manifest is present (whether it
    /// agrees with the files is checked when it is read). Without one, it is ready once every
    /// file has kept its size and mtime for `stableSeconds`: since `stableSince` (what the
    /// job observed in earlier runs, by its own clock), or else by the file's mtime.
    public func scan(_ files: [DropFile], now: Date, stableSince: [String: Date]? = nil) -> InboxScan {
        var byTimestamp: [String: Delivery] = [:]
        var unrecognised: [String] = []
        var unclaimed: [DropFile] = []
        var fixed: [String: DropFile] = [:]
        for file in files {
            if let pattern = delivery.manifest, let timestamp = Self.timestamp(in: file.name, pattern: pattern) {
                byTimestamp[timestamp, default: Delivery(timestamp: timestamp, manifest: nil, files: [:])].manifest = file
                continue
            }
            if let source = sources.first(where: { $0.isFixed && $0.pattern == file.name }) {
                fixed[source.name] = file
                continue
            }
            let match = sources.lazy.compactMap { source in
                Self.timestamp(in: file.name, pattern: source.pattern).map { (source.name, $0) }
            }.first
            if let (source, timestamp) = match {
                byTimestamp[timestamp, default: Delivery(timestamp: timestamp, manifest: nil, files: [:])].files[source] = file
            } else {
                unclaimed.append(file)
                if !delivery.ignores(file.name) { unrecognised.append(file.name) }
            }
        }
        // Files with fixed names are one delivery, dated by the newest of them (to the
        // second): they are archived once read, so the next ones are the next delivery.
        if let newest = fixed.values.map(\.modified).max() {
            let timestamp = Self.timestamp(of: newest)
            byTimestamp[timestamp] = Delivery(timestamp: timestamp, manifest: nil, files: fixed)
        }
        // Files in the order their kinds are read, join partners beside their kind's files.
        let readingOrder = feeds.sorted { $0.kind < $1.kind }.flatMap { $0.files.map(\.name) }
            + sources.map(\.name)
        var ready: [Delivery] = []
        var waiting: [Delivery] = []
        for var delivery in byTimestamp.values.sorted(by: { $0.timestamp < $1.timestamp }) {
            delivery.unclaimed = unclaimed
            delivery.order = readingOrder
            if isComplete(delivery, now: now, stableSince: stableSince) { ready.append(delivery) } else { waiting.append(delivery) }
        }
        return InboxScan(ready: ready, waiting: waiting, unrecognised: unrecognised.sorted())
    }

    private func isComplete(_ candidate: Delivery, now: Date, stableSince: [String: Date]?) -> Bool {
        if delivery.manifest != nil { return candidate.manifest != nil }
        guard let stable = delivery.stableSeconds, !candidate.files.isEmpty else { return false }
        return candidate.files.values.allSatisfy { file in
            now.timeIntervalSince(stableSince.map { $0[file.name] ?? now } ?? file.modified) >= Double(stable)
        }
    }

    /// `date` as a delivery timestamp, `YYYYMMDDTHHMMSSZ` in UTC.
    static func timestamp(of date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
                      parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }

    /// The timestamp in `name` when it has the shape `pattern` (with `{ts}`), else nil.
    static func timestamp(in name: String, pattern: String) -> String? {
        guard let range = pattern.range(of: "{ts}") else { return nil }
        let prefix = pattern[..<range.lowerBound]
        let suffix = pattern[range.upperBound...]
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count == prefix.count + suffix.count + 16 else { return nil }
        let start = name.index(name.startIndex, offsetBy: prefix.count)
        let timestamp = String(name[start..<name.index(start, offsetBy: 16)])
        return isTimestamp(timestamp) ? timestamp : nil
    }

    /// Whether `text` is `YYYYMMDDTHHMMSSZ`.
    static func isTimestamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return false }
        return bytes.enumerated().allSatisfy { index, byte in index == 8 || index == 15 || (byte >= 48 && byte <= 57) }
    }
}
