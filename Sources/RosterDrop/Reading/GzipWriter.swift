import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The class's own close()/write(_:) shadow the C functions inside it.
@discardableResult
private func posixClose(_ descriptor: Int32) -> Int32 { close(descriptor) }
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// Writes a gzip file (one member), buffering small writes so they cost a copy each.
///
/// Reports and test fixtures write gigabytes of CSV a line at a time; deflating each line
/// separately would be slow and compress poorly, so input is gathered into a 1 MiB buffer
/// first. Call `close()` to finish the member: a writer dropped without it leaves an
/// incomplete file behind, which a reader reports as truncated.
public final class GzipWriter {
    static let inputCapacity = 1 << 20
    static let outputCapacity = 256 * 1024

    private let path: String
    private var descriptor: Int32
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private var inputCount = 0
    private let output: UnsafeMutablePointer<UInt8>
    private var isClosed = false

    /// Creates (or truncates) the file at `path`; `level` is zlib's 0–9 compression level.
    public init(path: String, level: Int32 = 6) throws {
        self.path = path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw GzipError.systemCall("cannot open for writing", path: path) }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: the largest window, with a gzip header and trailer instead of zlib's.
        let status = rd_deflateInit2(stream, level, 15 + 16)
        guard status == Z_OK else {
            posixClose(descriptor)
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw GzipError(.io("deflateInit2 failed with status \(status) (level \(level))"), path: path)
        }
        self.descriptor = descriptor
        input = .allocate(capacity: Self.inputCapacity)
        output = .allocate(capacity: Self.outputCapacity)
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
        output.deallocate()
        if descriptor >= 0 { posixClose(descriptor) }
    }

    /// Appends raw bytes to the uncompressed stream.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !isClosed else { throw GzipError(.io("write after close"), path: path) }
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Self.inputCapacity - inputCount)
            (input + inputCount).initialize(from: base.advanced(by: offset).assumingMemoryBound(to: UInt8.self),
                                            count: count)
            inputCount += count
            offset += count
            if inputCount == Self.inputCapacity { try compressInput(flush: Z_NO_FLUSH) }
        }
    }

    /// Appends the UTF-8 bytes of `string`.
    public func write(_ string: String) throws {
        var string = string
        // withUTF8 is free for native Swift strings; it only copies bridged ones.
        try string.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Compresses what is buffered, writes the gzip trailer and closes the file.
    public func close() throws {
        guard !isClosed else { return }
        isClosed = true
        try compressInput(flush: Z_FINISH)
        let status = posixClose(descriptor)
        descriptor = -1
        guard status == 0 else { throw GzipError.systemCall("close failed", path: path) }
    }

    /// Deflates the input buffer and writes whatever output zlib produces.
    private func compressInput(flush: Int32) throws {
        stream.pointee.next_in = input
        stream.pointee.avail_in = UInt32(inputCount)
        while true {
            stream.pointee.next_out = output
            stream.pointee.avail_out = UInt32(Self.outputCapacity)
            let status = deflate(stream, flush)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw GzipError(.io("deflate failed with status \(status)"), path: path)
            }
            try writeFully(output, count: Self.outputCapacity - Int(stream.pointee.avail_out))
            if flush == Z_FINISH {
                if status == Z_STREAM_END { break }
            } else if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 {
                break
            }
        }
        stream.pointee.next_in = nil
        inputCount = 0
    }

    /// Writes all `count` bytes, retrying short writes and interruptions.
    private func writeFully(_ bytes: UnsafePointer<UInt8>, count: Int) throws {
        var offset = 0
        while offset < count {
            let written = posixWrite(descriptor, bytes + offset, count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw GzipError.systemCall("write failed", path: path)
            }
            offset += written
        }
    }
}
