import Foundation
import Testing
@testable import RosterDrop

struct DropFolderTests {
    @Test(arguments: [
        ("users_20261101T000000Z.csv.gz", true), ("../etc/passwd", false), ("a/b", false), ("..", false),
        ("", false), (".hidden", false), ("bad\u{07}name", false), ("line\nbreak", false), ("receipt_x.csv", true),
    ])
    func remoteNamesAreDataNotPaths(_ name: String, _ safe: Bool) {
        #expect(DropFileName.isSafe(name) == safe)
    }

    @Test func aTakenNameGetsASuffixBeforeItsExtension() {
        #expect(DropFileName.candidate("receipt_X.csv", attempt: 1) == "receipt_X.csv")
        #expect(DropFileName.candidate("receipt_X.csv", attempt: 2) == "receipt_X-2.csv")
        #expect(DropFileName.candidate("users_X.csv.gz", attempt: 3) == "users_X-3.csv.gz")
    }

    @Test func publishingAndArchivingNeverOverwrite() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("drop-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("inbox"), withIntermediateDirectories: true)
        let folder = LocalDropFolder(root: root)
        let source = root.appendingPathComponent("report.tmp")
        for content in ["first", "second", "third"] {
            try Data(content.utf8).write(to: source)
            _ = try folder.publish(source, as: "receipt_X.csv", in: .outbox)
        }
        let outbox = root.appendingPathComponent("outbox")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outbox.path).sorted()
                == ["receipt_X-2.csv", "receipt_X-3.csv", "receipt_X.csv"])
        #expect(try String(contentsOf: outbox.appendingPathComponent("receipt_X.csv"), encoding: .utf8) == "first")
        #expect(try String(contentsOf: outbox.appendingPathComponent("receipt_X-3.csv"), encoding: .utf8) == "third")
        for content in ["old", "new"] {
            try Data(content.utf8).write(to: root.appendingPathComponent("inbox/users_X.csv.gz"))
            _ = try folder.archive("users_X.csv.gz")
        }
        #expect(try folder.list(.inbox).isEmpty)
        #expect(try folder.list(.archive).map(\.name) == ["users_X-2.csv.gz", "users_X.csv.gz"])
        #expect(try String(contentsOf: root.appendingPathComponent("archive/users_X.csv.gz"), encoding: .utf8) == "old")
        #expect(throws: DropFolderError.self) { try folder.archive("../outbox/receipt_X.csv") }
    }

    /// Stopped between the archive's link and the inbox's unlink: archiving again finishes
    /// the move instead of making a `-2` copy.
    @Test func archivingAfterAStopBetweenLinkAndUnlinkMakesNoCopy() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("drop-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for area in ["inbox", "archive"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(area), withIntermediateDirectories: true)
        }
        try Data("x".utf8).write(to: root.appendingPathComponent("inbox/users_X.csv.gz"))
        #expect(link(root.appendingPathComponent("inbox/users_X.csv.gz").path, root.appendingPathComponent("archive/users_X.csv.gz").path) == 0)
        let folder = LocalDropFolder(root: root)
        #expect(try folder.archive("users_X.csv.gz") == "users_X.csv.gz")
        #expect(try folder.list(.inbox).isEmpty)
        #expect(try folder.list(.archive).map(\.name) == ["users_X.csv.gz"])
    }
}
