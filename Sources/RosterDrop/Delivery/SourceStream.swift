import Crypto
import Foundation

/// The bytes of one delivered file, hashed as read and gunzipped when the name says so, fed
/// in chunks: the one way every data file (and join partner) is read.
///
/// Past `limit` decompressed bytes the delivery is refused (a gzip bomb, or a wrong file).
/// When the file cannot be decompressed and the manifest gave a checksum, the rest of the
/// file is still hashed: a checksum mismatch (a wrong or incomplete upload) is the cause
/// worth reporting, not the decompression error it led to.
struct SourceStream {
    let url: URL
    /// The delivered name, for findings.
    let name: String
    let gzip: Bool
    let limit: Int64

    /// Feeds the plain bytes to `body`, telling `stored` how many of the file's bytes were read
    /// so far after each chunk; returns the file's SHA-256 (hex).
    func read(expectedSHA256: String?, stored: (Int64) -> Void = { _ in },
              _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .unreadableFile, detail: Rule.Unreadable.cannotOpen)])
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        let decoder = gzip ? try GzipDecoder(limit: limit) : nil
        var plainBytes: Int64 = 0
        var storedBytes: Int64 = 0
        do {
            while true {
                let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
                if chunk.isEmpty { break }
                try chunk.withUnsafeBytes { buffer in
                    hasher.update(bufferPointer: buffer)
                    if let decoder {
                        try decoder.decode(buffer, into: body)
                    } else {
                        plainBytes += Int64(buffer.count)
                        if plainBytes > limit { throw GzipError(.tooLarge(limit: limit), path: name) }
                        try body(buffer)
                    }
                }
                storedBytes += Int64(chunk.count)
                stored(storedBytes)
            }
            try decoder?.finish()
        } catch let error as GzipError {
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                chunk.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            }
            if let expectedSHA256, Digest.hex(hasher.finalize()) != expectedSHA256 {
                throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .manifestChecksum)])
            }
            switch error.kind {
            case .tooLarge(let limit):
                throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .tooLarge, detail: "\(limit)")])
            default:
                throw DeliveryRefusal(findings: [Finding(file: name, line: 0, rule: .unreadableFile, detail: Self.explain(error))])
            }
        }
        return Digest.hex(hasher.finalize())
    }

    private static func explain(_ error: GzipError) -> String {
        switch error.kind {
        case .notGzip: return Rule.Unreadable.notGzip
        case .truncated: return Rule.Unreadable.truncated
        case .corrupt: return Rule.Unreadable.corrupt
        case .tooLarge, .io: return Rule.Unreadable.cannotOpen
        }
    }
}
