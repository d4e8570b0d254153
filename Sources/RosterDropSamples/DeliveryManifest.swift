import Foundation
import RosterDrop

/// The manifest that completes a delivery: one `file,rows,sha256` row per data file.
public enum DeliveryManifest {
    /// One data file as recorded in the manifest.
    public struct Entry: Sendable, Hashable {
        /// The file's name inside the inbox, e.g. `users_20261123T020000Z.csv.gz`.
        public let file: String
        /// Data records in the file, the header not counted.
        public let rows: Int
        /// Lowercase hex sha256 of the gzip file's bytes.
        public let sha256: String
    }

    /// The manifest's file name for a delivery timestamp.
    public static func fileName(timestamp: String) -> String {
        "manifest_\(timestamp).csv"
    }

    /// Writes `manifest_<ts>.csv` into `directory` and returns its URL.
    ///
    /// The manifest's presence is what marks a delivery complete, so it must appear whole or not
    /// at all: it is written to a temporary file and renamed (`.atomic`).
    @discardableResult
    public static func write(_ entries: [Entry], timestamp: String, to directory: URL) throws -> URL {
        var text = CSVWriter.line(["file", "rows", "sha256"])
        for entry in entries {
            text += CSVWriter.line([entry.file, String(entry.rows), entry.sha256])
        }
        let url = directory.appendingPathComponent(fileName(timestamp: timestamp))
        try Data(text.utf8).write(to: url, options: .atomic)
        return url
    }
}
