import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A drop folder on the local file system: `<root>/inbox`, `outbox`, `archive`.
///
/// Publishing and archiving claim the final name with `link(2)`, which fails rather than
/// replace an existing file, so two answers to one delivery can never overwrite each other.
public final class LocalDropFolder: DropFolder {
    public let root: URL
    public var location: String { root.path }

    public init(root: URL) {
        self.root = root
    }

    func url(_ area: DropArea) -> URL { root.appendingPathComponent(area.rawValue, isDirectory: true) }

    public func list(_ area: DropArea) throws -> [DropFile] {
        let directory = url(area)
        let names: [String]
        if area != .inbox, !FileManager.default.fileExists(atPath: directory.path) { return [] }  // made on first use
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw DropFolderError(location: location, operation: "list \(area.rawValue)/", reason: "cannot read the folder")
        }
        return names.sorted().compactMap { name in
            guard DropFileName.isSafe(name) else { return nil }
            var info = stat()
            guard lstat(directory.appendingPathComponent(name).path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
            return DropFile(name: name, size: Int64(info.st_size), modified: modified)
        }
    }

    public func fetch(_ name: String, scratch: URL) throws -> URL {
        guard DropFileName.isSafe(name) else {
            throw DropFolderError(location: location, operation: "fetch", reason: "refused unsafe file name")
        }
        return url(.inbox).appendingPathComponent(name)
    }

    public func publish(_ source: URL, as name: String, in area: DropArea) throws -> String {
        try ensure(area)
        // A private copy is claimed, never the caller's file: a later write to `source`
        // must not change a published report through a shared inode.
        guard let used = try copyThenClaim(from: source.path, name: name, in: area, operation: "publish \(name)") else {
            throw DropFolderError(location: location, operation: "publish \(name)", reason: "no free name")
        }
        return used
    }

    public func place(_ source: URL, as name: String, in area: DropArea) throws -> Bool {
        try ensure(area)
        return try copyThenClaim(from: source.path, name: name, in: area, operation: "publish \(name)", exactly: true) != nil
    }

    public func remove(_ name: String, from area: DropArea) throws {
        guard DropFileName.isSafe(name), area != .inbox else {
            throw DropFolderError(location: location, operation: "remove", reason: "refused unsafe file name or area")
        }
        if unlink(url(area).appendingPathComponent(name).path) != 0, errno != ENOENT {
            throw DropFolderError(location: location, operation: "remove \(area.rawValue)/\(name)", reason: String(cString: strerror(errno)))
        }
    }

    public func archive(_ name: String) throws -> String {
        guard DropFileName.isSafe(name) else {
            throw DropFolderError(location: location, operation: "archive", reason: "refused unsafe file name")
        }
        try ensure(.archive)
        let source = url(.inbox).appendingPathComponent(name).path
        var info = stat()
        if lstat(source, &info) != 0, errno == ENOENT { return name }
        // A run stopped between the link and the unlink left the file in both places: the
        // archive's copy is the same inode, so only the inbox name is left to remove.
        var archived = stat()
        if lstat(url(.archive).appendingPathComponent(name).path, &archived) == 0,
           archived.st_ino == info.st_ino, archived.st_dev == info.st_dev {
            if unlink(source) != 0 {
                throw DropFolderError(location: location, operation: "archive \(name)", reason: "cannot remove the inbox copy: \(String(cString: strerror(errno)))")
            }
            return name
        }
        guard let used = try claim(from: source, name: name, in: .archive, operation: "archive \(name)") else {
            throw DropFolderError(location: location, operation: "archive \(name)", reason: "no free name")
        }
        if unlink(source) != 0 {
            throw DropFolderError(location: location, operation: "archive \(name)", reason: "cannot remove the inbox copy: \(String(cString: strerror(errno)))")
        }
        return used
    }

    private func ensure(_ area: DropArea) throws {
        do {
            try FileManager.default.createDirectory(at: url(area), withIntermediateDirectories: true)
        } catch {
            throw DropFolderError(location: location, operation: "create \(area.rawValue)/", reason: "cannot create the folder")
        }
    }

    /// Hard-links `source` to the first free candidate name in `area` (only to `name` itself
    /// when `exactly`); never replaces a file. Nil when no name was free.
    private func claim(from source: String, name: String, in area: DropArea, operation: String,
                       exactly: Bool = false) throws -> String? {
        guard DropFileName.isSafe(name) else {
            throw DropFolderError(location: location, operation: operation, reason: "refused unsafe file name")
        }
        for attempt in 1...(exactly ? 1 : 10_000) {
            let candidate = DropFileName.candidate(name, attempt: attempt)
            let target = url(area).appendingPathComponent(candidate).path
            if link(source, target) == 0 { return candidate }
            if errno == EEXIST { continue }
            throw DropFolderError(location: location, operation: operation, reason: String(cString: strerror(errno)))
        }
        return nil
    }

    private func copyThenClaim(from source: String, name: String, in area: DropArea, operation: String,
                               exactly: Bool = false) throws -> String? {
        let temporary = url(area).appendingPathComponent(".\(name).\(UUID().uuidString).part")
        do {
            try FileManager.default.copyItem(atPath: source, toPath: temporary.path)
        } catch {
            throw DropFolderError(location: location, operation: operation, reason: "cannot write into \(area.rawValue)/")
        }
        defer { unlink(temporary.path) }
        return try claim(from: temporary.path, name: name, in: area, operation: operation, exactly: exactly)
    }
}
