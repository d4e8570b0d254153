import Crypto
import Foundation
import RosterDrop

/// Writes one gzip'd CSV data file of a delivery row by row and reports it for the manifest.
///
/// Memory stays flat whatever the row count (`GzipWriter` buffers and deflates in chunks), and
/// the checksum is taken from the finished file on disk, which is exactly what the portal hashes.
final class DeliveryFileWriter {
    private let url: URL
    private let gzip: GzipWriter
    private var rows = 0

    /// Creates `directory/fileName` and writes the header row.
    init(directory: URL, fileName: String, header: [String], level: Int32) throws {
        url = directory.appendingPathComponent(fileName)
        gzip = try GzipWriter(path: url.path, level: level)
        try gzip.write(CSVWriter.line(header))
    }

    /// Appends one data record; it counts as one manifest row even if a field holds a newline.
    func append(_ fields: [String]) throws {
        try gzip.write(CSVWriter.line(fields))
        rows += 1
    }

    /// Closes the gzip stream and returns the file's manifest entry.
    func finish() throws -> DeliveryManifest.Entry {
        try gzip.close()
        return DeliveryManifest.Entry(file: url.lastPathComponent, rows: rows, sha256: try Self.sha256(of: url))
    }

    /// The lowercase hex sha256 of a file's bytes, read in chunks.
    static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return SampleIdentifier.hex(bytes: hasher.finalize())
    }
}
