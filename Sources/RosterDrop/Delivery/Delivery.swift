import Foundation

/// One snapshot of one organisation: the data files and manifest sharing a timestamp.
public struct Delivery: Sendable, Equatable {
    /// UTC `YYYYMMDDTHHMMSSZ`, which also orders deliveries oldest first.
    public var timestamp: String
    public var manifest: DropFile?
    public var files: [EntityKind: DropFile]
    /// Inbox files no kind claims (unrecognised or ignorable): its manifest may name some.
    public var unclaimed: [DropFile] = []

    /// Every inbound file of the delivery, manifest last.
    public var allFiles: [DropFile] {
        files.sorted { $0.key < $1.key }.map(\.value) + (manifest.map { [$0] } ?? [])
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
        for file in files {
            if let pattern = delivery.manifest, let timestamp = Self.timestamp(in: file.name, pattern: pattern) {
                byTimestamp[timestamp, default: Delivery(timestamp: timestamp, manifest: nil, files: [:])].manifest = file
                continue
            }
            let match = self.files.values.lazy.compactMap { mapping in
                Self.timestamp(in: file.name, pattern: mapping.filePattern).map { (mapping.kind, $0) }
            }.first
            if let (kind, timestamp) = match {
                byTimestamp[timestamp, default: Delivery(timestamp: timestamp, manifest: nil, files: [:])].files[kind] = file
            } else {
                unclaimed.append(file)
                if !delivery.ignores(file.name) { unrecognised.append(file.name) }
            }
        }
        var ready: [Delivery] = []
        var waiting: [Delivery] = []
        for var delivery in byTimestamp.values.sorted(by: { $0.timestamp < $1.timestamp }) {
            delivery.unclaimed = unclaimed
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
