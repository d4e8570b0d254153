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
            throw ManifestError(reason: "cannot be read or is larger than 1 MiB")
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
                throw ManifestError(reason: "line \(problem.line) is not valid CSV")
            case .record(let record):
                guard let columns = header else {
                    header = record.fields.map(\.trimmingSpaces)
                    guard header == ["file", "rows", "sha256"] else {
                        throw ManifestError(reason: "the header must be file,rows,sha256")
                    }
                    continue
                }
                _ = columns
                let name = record.fields[0].trimmingSpaces
                let sha = record.fields[2].trimmingSpaces.lowercased()
                guard DropFileName.isSafe(name) else { throw ManifestError(reason: "line \(record.line) names an unusable file") }
                guard let rows = Int(record.fields[1].trimmingSpaces), rows >= 0 else {
                    throw ManifestError(reason: "line \(record.line): rows is not a whole number")
                }
                guard sha.utf8.count == 64, sha.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                    throw ManifestError(reason: "line \(record.line): sha256 is not 64 hex digits")
                }
                guard entries[name] == nil else { throw ManifestError(reason: "line \(record.line) lists \(name) twice") }
                entries[name] = Entry(rows: rows, sha256: sha)
            }
        }
        guard header != nil else { throw ManifestError(reason: "it is empty") }
        return Manifest(entries: entries)
    }
}

/// Why a manifest could not be read.
public struct ManifestError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
