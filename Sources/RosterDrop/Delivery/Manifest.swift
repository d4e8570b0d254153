import Foundation

/// A delivery's manifest: one row per data file with its row count and sha256.
public struct Manifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var rows: Int
        public var sha256: String
    }

    public var entries: [String: Entry]

    /// Reads a manifest file (`file,rows,sha256`, UTF-8, header row).
    ///
    /// Throws a `Finding`-ready message when the manifest itself is malformed.
    public static func read(_ url: URL) throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: url.path), data.count <= 1 << 20 else {
            throw ManifestError(line: 1, reason: "cannot be read or is larger than 1 MiB")
        }
        var reader = CSVReader()
        var events: [CSVEvent] = []
        data.withUnsafeBytes { reader.feed($0) { events.append($0) } }
        reader.finish { events.append($0) }
        var header: [String]?
        var entries: [String: Entry] = [:]
        for event in events {
            switch event {
            case .problem(let problem):
                throw ManifestError(line: problem.line, reason: "not valid CSV")
            case .record(let record):
                guard header != nil else {
                    header = record.fields.map(\.trimmingSpaces)
                    guard header == ["file", "rows", "sha256"] else {
                        throw ManifestError(line: record.line, reason: "the header must be file,rows,sha256")
                    }
                    continue
                }
                let name = record.fields[0].trimmingSpaces
                let sha = record.fields[2].trimmingSpaces.lowercased()
                guard DropFileName.isSafe(name) else { throw ManifestError(line: record.line, reason: "names an unusable file") }
                guard let rows = Int(record.fields[1].trimmingSpaces), rows >= 0 else {
                    throw ManifestError(line: record.line, reason: "rows is not a whole number")
                }
                guard sha.utf8.count == 64, sha.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                    throw ManifestError(line: record.line, reason: "sha256 is not 64 hex digits")
                }
                guard entries[name] == nil else { throw ManifestError(line: record.line, reason: "lists a file twice") }
                entries[name] = Entry(rows: rows, sha256: sha)
            }
        }
        guard header != nil else { throw ManifestError(line: 1, reason: "empty") }
        return Manifest(entries: entries)
    }
}

/// Why a manifest could not be read.
public struct ManifestError: Error, CustomStringConvertible {
    /// The manifest line at fault (1 for the header or an empty file).
    public var line: Int
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}
