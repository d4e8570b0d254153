import Foundation

/// The three areas of an organisation's drop folder.
public enum DropArea: String, Sendable, CaseIterable {
    case inbox, outbox, archive
}

/// One file listed in a drop folder area.
public struct DropFile: Sendable, Equatable {
    public var name: String
    public var size: Int64
    public var modified: Date
}

/// An organisation's drop folder, wherever it lives: a local folder or an SFTP server.
///
/// The pipeline sees only this: list the inbox, fetch a file to a local path, publish a
/// report under a name that is never overwritten, archive a finished inbound file.
public protocol DropFolder: AnyObject {
    /// A short description for messages (a path or a URL without credentials).
    var location: String { get }

    /// Lists the regular files of an area; names are checked with `DropFileName.isSafe`.
    func list(_ area: DropArea) throws -> [DropFile]

    /// Makes an inbox file available locally and returns its path.
    ///
    /// `scratch` is a private local directory the caller deletes afterwards; a local drop
    /// folder may return the file's own path instead of copying. The file is read-only.
    func fetch(_ name: String, scratch: URL) throws -> URL

    /// Publishes the local file `source` into `area` as `name`, or as `name` with a
    /// `-2`, `-3`, … suffix before its extension when that name is taken.
    /// Returns the name used. Never overwrites.
    @discardableResult
    func publish(_ source: URL, as name: String, in area: DropArea) throws -> String

    /// Publishes the local file `source` into `area` under exactly `name`; false when that
    /// name is already taken (the file there is left as it is). Answers use it: their names
    /// are chosen when they are committed, so a file found under its name was published by
    /// an earlier attempt whose end was lost, and is not published twice.
    func place(_ source: URL, as name: String, in area: DropArea) throws -> Bool

    /// Moves an inbox file into the archive, with a suffix when the name is taken there.
    /// A file already gone from the inbox counts as archived.
    @discardableResult
    func archive(_ name: String) throws -> String

    /// Deletes a file from `outbox/` or `archive/` (retention); a missing file is no error.
    func remove(_ name: String, from area: DropArea) throws
}

/// A drop folder operation that failed, with what was being done and where.
public struct DropFolderError: Error, CustomStringConvertible {
    public var location: String
    public var operation: String
    public var reason: String

    public init(location: String, operation: String, reason: String) {
        self.location = location
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(location): \(operation): \(reason)" }
}

/// Rules for file names that come from a drop folder, which are data, never paths.
public enum DropFileName {
    /// Whether `name` can be used as a plain file name: no `/`, no `..`, no control characters.
    public static func isSafe(_ name: String) -> Bool {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\\"),
              !name.hasPrefix(".") else { return false }
        return !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// The candidate names for `name` in order: `name`, then `stem-2.ext`, `stem-3.ext`, …
    ///
    /// The extension is everything from the first dot, so `users_X.csv.gz` becomes
    /// `users_X-2.csv.gz`.
    public static func candidate(_ name: String, attempt: Int) -> String {
        guard attempt > 1 else { return name }
        if let dot = name.firstIndex(of: ".") {
            return "\(name[..<dot])-\(attempt)\(name[dot...])"
        }
        return "\(name)-\(attempt)"
    }
}
