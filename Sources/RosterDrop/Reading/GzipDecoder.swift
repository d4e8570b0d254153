import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a gzip stream could not be read or written, and which file it was.
///
/// Any of these stops the whole delivery: a file we cannot decompress has no rows we
/// could trust, so this is thrown rather than collected as a finding.
public struct GzipError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Equatable, Sendable {
        /// The data does not start with the gzip magic bytes 1f 8b.
        case notGzip
        /// zlib rejected the data; the associated value is zlib's own message.
        case corrupt(String)
        /// The data ends in the middle of a gzip member.
        case truncated
        /// The decompressed size passed the configured limit (a gzip bomb or a runaway file).
        case tooLarge(limit: Int64)
        /// The file could not be opened, read or written; the value says what and why.
        case io(String)
    }

    public var kind: Kind
    /// The file concerned, when the error came from a file rather than a bare stream.
    public var path: String?

    public init(_ kind: Kind, path: String? = nil) {
        self.kind = kind
        self.path = path
    }

    public var description: String {
        let subject = path.map { "The gzip file '\($0)'" } ?? "The gzip data"
        switch kind {
        case .notGzip:
            return "\(subject) is not gzip-compressed: it does not start with the gzip signature 1f 8b."
        case .corrupt(let message):
            return "\(subject) is corrupt and cannot be decompressed (zlib: \(message))."
        case .truncated:
            return "\(subject) ends in the middle of a compressed member, so it is probably truncated."
        case .tooLarge(let limit):
            return "\(subject) decompresses to more than the limit of \(limit) bytes."
        case .io(let message):
            return "\(subject) could not be accessed: \(message)."
        }
    }
}

/// Inflates a gzip stream fed in arbitrary chunks, handing the output on in bounded pieces.
///
/// A class because zlib keeps pointers into its `z_stream`, which therefore must never move.
/// Several concatenated members (`cat a.gz b.gz`) decode as one stream, as `gzip -d` does.
public final class GzipDecoder {
    /// Output is handed to the sink in pieces of at most this size, which bounds memory
    /// whatever the compression ratio.
    static let chunkSize = 256 * 1024

    private enum Phase {
        /// Inside a member (or before the first byte).
        case inMember
        /// A member has ended; the next byte decides between another member and padding.
        case betweenMembers
        /// Zero bytes after the last member, which some writers add to fill a block.
        case padding
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutablePointer<UInt8>
    private let limit: Int64
    private var phase = Phase.inMember
    /// How many of the two signature bytes have been checked.
    private var signatureBytesSeen = 0
    /// Total decompressed bytes handed to sinks so far.
    public private(set) var totalOut: Int64 = 0

    /// Creates a decoder that refuses to produce more than `limit` decompressed bytes.
    public init(limit: Int64) throws {
        self.limit = limit
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: the largest window, with zlib parsing and checking the gzip wrapper.
        let status = rd_inflateInit2(stream, 15 + 16)
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw GzipError(.corrupt("inflateInit2 failed with status \(status)"))
        }
        output = .allocate(capacity: Self.chunkSize)
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        output.deallocate()
    }

    /// Decompresses `input`, calling `sink` with each piece of output (valid only during the call).
    public func decode(_ input: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self), !input.isEmpty else { return }
        try checkSignature(input)
        var index = 0
        while index < input.count {
            switch phase {
            case .padding:
                guard input[index...].allSatisfy({ $0 == 0 }) else {
                    throw GzipError(.corrupt("unexpected data after the end of the last gzip member"))
                }
                return
            case .betweenMembers:
                if input[index] == 0 {
                    phase = .padding
                    continue
                }
                // Another member follows; zlib needs a reset to parse its header.
                inflateReset(stream)
                phase = .inMember
            case .inMember:
                // avail_in is 32-bit; a larger buffer is simply fed in several rounds.
                let length = min(input.count - index, Int(UInt32.max))
                stream.pointee.next_in = UnsafeMutablePointer(mutating: base + index)
                stream.pointee.avail_in = UInt32(length)
                let ended = try inflateAvailable(into: sink)
                let consumed = length - Int(stream.pointee.avail_in)
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
                // zlib always takes input while it can; taking none would loop here forever.
                guard consumed > 0 else { throw GzipError(.corrupt("inflate made no progress")) }
                index += consumed
                if ended { phase = .betweenMembers }
            }
        }
    }

    /// Checks that the input ended cleanly; throws `.truncated` mid-member, `.notGzip` if empty.
    public func finish() throws {
        guard signatureBytesSeen > 0 else { throw GzipError(.notGzip) }
        if phase == .inMember { throw GzipError(.truncated) }
    }

    /// Rejects data that does not start with 1f 8b, so a plain CSV is named for what it is
    /// instead of surfacing as zlib's "incorrect header check".
    private func checkSignature(_ input: UnsafeRawBufferPointer) throws {
        let signature: [UInt8] = [0x1f, 0x8b]
        var index = 0
        while signatureBytesSeen < 2, index < input.count {
            guard input[index] == signature[signatureBytesSeen] else { throw GzipError(.notGzip) }
            signatureBytesSeen += 1
            index += 1
        }
    }

    /// Inflates the stream's pending input; returns true when a member ended.
    private func inflateAvailable(into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        while true {
            stream.pointee.next_out = output
            stream.pointee.avail_out = UInt32(Self.chunkSize)
            let inputBefore = stream.pointee.avail_in
            let status = inflate(stream, Z_NO_FLUSH)
            let produced = Self.chunkSize - Int(stream.pointee.avail_out)
            if produced > 0 {
                totalOut += Int64(produced)
                // Checked per chunk, so a bomb is stopped after at most one chunk past the limit.
                if totalOut > limit { throw GzipError(.tooLarge(limit: limit)) }
                try sink(UnsafeRawBufferPointer(start: output, count: produced))
            }
            switch status {
            case Z_STREAM_END:
                return true
            case Z_OK:
                // A full output buffer may mean more output is pending inside zlib.
                if stream.pointee.avail_out == 0 { continue }
                if stream.pointee.avail_in == 0 { return false }
                if produced == 0 && stream.pointee.avail_in == inputBefore { return false }
            case Z_BUF_ERROR:
                // No progress possible: zlib needs more input than this chunk holds.
                return false
            case Z_DATA_ERROR:
                throw GzipError(.corrupt(zlibMessage ?? "invalid compressed data"))
            case Z_MEM_ERROR:
                throw GzipError(.corrupt("zlib ran out of memory"))
            case Z_NEED_DICT:
                throw GzipError(.corrupt("the stream needs a preset dictionary"))
            default:
                throw GzipError(.corrupt(zlibMessage ?? "inflate failed with status \(status)"))
            }
        }
    }

    private var zlibMessage: String? {
        stream.pointee.msg.map { String(cString: $0) }
    }
}

/// Streams a gzip file from disk (1 MiB reads) through a decoder into `sink`.
///
/// Errors carry `path`. The output pieces are valid only during each `sink` call.
public func gunzipFile(atPath path: String, limit: Int64, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else {
        throw GzipError.systemCall("cannot open for reading", path: path)
    }
    defer { close(descriptor) }
    let readSize = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
    defer { buffer.deallocate() }
    do {
        let decoder = try GzipDecoder(limit: limit)
        while true {
            let count = read(descriptor, buffer.baseAddress, readSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw GzipError.systemCall("read failed", path: path)
            }
            if count == 0 { break }
            try decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), into: sink)
        }
        try decoder.finish()
    } catch var error as GzipError {
        error.path = path
        throw error
    }
}

extension GzipError {
    /// An `.io` error for a failed system call, with the C library's text for `errno`.
    static func systemCall(_ what: String, path: String) -> GzipError {
        GzipError(.io("\(what) (\(String(cString: strerror(errno))))"), path: path)
    }
}
