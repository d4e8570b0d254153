import Foundation
import Testing
@testable import RosterDrop

/// A fresh temporary folder per test, removed when the test's value goes away.
private final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("rosterdrop-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Writes `text` as a gzip file, in small pieces to exercise the writer's buffering.
private func writeGzip(_ text: String, to path: String, pieceLength: Int = 7) throws {
    let writer = try GzipWriter(path: path)
    var rest = Substring(text)
    while !rest.isEmpty {
        try writer.write(String(rest.prefix(pieceLength)))
        rest = rest.dropFirst(pieceLength)
    }
    try writer.close()
}

private func gunzip(_ path: String, limit: Int64 = 1 << 30) throws -> [UInt8] {
    var output: [UInt8] = []
    try gunzipFile(atPath: path, limit: limit) { output.append(contentsOf: $0) }
    return output
}

/// Decodes `data` with a decoder fed `chunkLength` bytes at a time.
private func decode(_ data: [UInt8], chunkLength: Int, limit: Int64 = 1 << 30) throws -> [UInt8] {
    let decoder = try GzipDecoder(limit: limit)
    var output: [UInt8] = []
    var start = 0
    while start < data.count {
        let end = min(start + chunkLength, data.count)
        try data[start..<end].withUnsafeBytes { try decoder.decode($0) { output.append(contentsOf: $0) } }
        start = end
    }
    try decoder.finish()
    #expect(decoder.totalOut == Int64(output.count))
    return output
}

private func bytes(ofFile path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Runs `body`, returning the GzipError it throws (nil when it throws none).
private func gzipError(_ body: () throws -> Void) -> GzipError? {
    do {
        try body()
        return nil
    } catch let error as GzipError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

/// A time limit turns a decoding loop that never ends into a failure instead of a hung run.
@Suite(.timeLimit(.minutes(1)))
struct GzipTests {
    @Test func roundTripThroughWriterAndFileReader() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("users.csv.gz")
        // About 3 MB: several writer buffers and many 256 KiB output chunks.
        let text = (0..<60_000).map { "person-\($0),Åsa Öberg,åsa.\($0)@example.se\r\n" }.joined()
        try writeGzip(text, to: path, pieceLength: 41)
        let compressed = try bytes(ofFile: path)
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
        #expect(compressed.count < text.utf8.count / 4)
        #expect(try gunzip(path) == Array(text.utf8))
    }

    @Test func writerAcceptsLargeWritesAndRawBytes() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("big.gz")
        let payload = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let writer = try GzipWriter(path: path, level: 1)
        try payload.withUnsafeBytes { try writer.write($0) }
        try writer.write("tail")
        try writer.close()
        #expect(try gunzip(path) == payload + Array("tail".utf8))
    }

    @Test func concatenatedMembersDecodeWhole() throws {
        let folder = try TemporaryFolder()
        try writeGzip("id,name\n1,Ada\n", to: folder.path("a.gz"))
        try writeGzip("2,Bo\n", to: folder.path("b.gz"))
        try writeGzip("", to: folder.path("empty.gz"))
        let joined = try bytes(ofFile: folder.path("a.gz")) + bytes(ofFile: folder.path("empty.gz"))
            + bytes(ofFile: folder.path("b.gz"))
        let expected = Array("id,name\n1,Ada\n2,Bo\n".utf8)
        for chunkLength in [1, 3, 10, joined.count] {
            #expect(try decode(joined, chunkLength: chunkLength) == expected)
        }
        let path = folder.path("joined.gz")
        try Data(joined).write(to: URL(fileURLWithPath: path))
        #expect(try gunzip(path) == expected)
    }

    @Test func zeroPaddingAfterTheLastMemberIsIgnored() throws {
        let folder = try TemporaryFolder()
        try writeGzip("a,b\n", to: folder.path("a.gz"))
        let padded = try bytes(ofFile: folder.path("a.gz")) + [UInt8](repeating: 0, count: 512)
        #expect(try decode(padded, chunkLength: 5) == Array("a,b\n".utf8))
        let garbage = try bytes(ofFile: folder.path("a.gz")) + [0, 0, 7]
        #expect(gzipError { _ = try decode(garbage, chunkLength: 100) }?.kind
            == .corrupt("unexpected data after the end of the last gzip member"))
    }

    @Test func truncatedFileIsReportedAsTruncated() throws {
        let folder = try TemporaryFolder()
        let text = (0..<5_000).map { "row \($0)\n" }.joined()
        try writeGzip(text, to: folder.path("full.gz"))
        let full = try bytes(ofFile: folder.path("full.gz"))
        for cut in [5, full.count / 2, full.count - 3] {
            let path = folder.path("cut-\(cut).gz")
            try Data(full.prefix(cut)).write(to: URL(fileURLWithPath: path))
            let error = gzipError { _ = try gunzip(path) }
            #expect(error == GzipError(.truncated, path: path))
        }
        // A lone first signature byte is a member begun, not a different format.
        #expect(gzipError { _ = try decode([0x1f], chunkLength: 1) }?.kind == .truncated)
    }

    @Test func corruptedBytesAreReportedAsCorrupt() throws {
        let folder = try TemporaryFolder()
        try writeGzip((0..<2_000).map { "line \($0)\n" }.joined(), to: folder.path("good.gz"))
        let good = try bytes(ofFile: folder.path("good.gz"))

        var badChecksum = good
        badChecksum[good.count - 8] ^= 0xFF  // first byte of the CRC-32 trailer
        #expect(gzipError { _ = try decode(badChecksum, chunkLength: 4096) }?.kind == .corrupt("incorrect data check"))

        var badMethod = good
        badMethod[2] = 7  // compression method: only 8 (deflate) exists
        #expect(gzipError { _ = try decode(badMethod, chunkLength: 4096) }?.kind == .corrupt("unknown compression method"))

        var badLength = good
        badLength[good.count - 1] ^= 0x01  // ISIZE, the length modulo 2^32
        #expect(gzipError { _ = try decode(badLength, chunkLength: 4096) }?.kind == .corrupt("incorrect length check"))
    }

    @Test func plainTextIsNotGzip() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("users.csv.gz")
        try Data("person_id,role\n1,student\n".utf8).write(to: URL(fileURLWithPath: path))
        let error = gzipError { _ = try gunzip(path) }
        #expect(error == GzipError(.notGzip, path: path))
        #expect(error?.description.contains(path) == true)
        #expect(gzipError { _ = try decode([0x1f, 0x8c, 0, 0], chunkLength: 1) }?.kind == .notGzip)
    }

    @Test func emptyInputIsNotGzip() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("empty.csv.gz")
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(gzipError { _ = try gunzip(path) } == GzipError(.notGzip, path: path))
    }

    @Test func missingFileIsAnIOError() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("absent.gz")
        let error = gzipError { _ = try gunzip(path) }
        #expect(error?.kind == .io("cannot open for reading (No such file or directory)"))
        #expect(error?.path == path)
    }

    @Test func emptyMemberDecodesToNothing() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("empty.gz")
        try GzipWriter(path: path).close()
        #expect(try bytes(ofFile: path).count == 20)  // 10-byte header, empty block, 8-byte trailer
        var calls = 0
        try gunzipFile(atPath: path, limit: 0) { _ in calls += 1 }
        #expect(calls == 0)
    }

    @Test func bombStopsAtTheLimitInBoundedChunks() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("bomb.gz")
        let writer = try GzipWriter(path: path, level: 9)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<200 { try zeros.withUnsafeBytes { try writer.write($0) } }
        try writer.close()
        #expect(try bytes(ofFile: path).count < 1_000_000)

        let limit: Int64 = 10 << 20
        var received = 0
        var largestChunk = 0
        let error = gzipError {
            try gunzipFile(atPath: path, limit: limit) { chunk in
                received += chunk.count
                largestChunk = max(largestChunk, chunk.count)
            }
        }
        #expect(error == GzipError(.tooLarge(limit: limit), path: path))
        #expect(received <= Int(limit))
        #expect(received > Int(limit) - GzipDecoder.chunkSize)
        #expect(largestChunk == GzipDecoder.chunkSize)
        #expect(error?.description.contains("10485760") == true)
    }
}
