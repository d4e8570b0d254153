import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 in front of a server that, while `cutting`, drops each
/// connection once the server has sent `cutAfter` bytes through it: a link that dies in the
/// middle of a download.
final class CuttingProxy: @unchecked Sendable {
    let port: Int
    private let target: Int
    private let cutAfter: Int
    private let listener: Int32
    private let lock = NSLock()
    private var _cutting = true
    private var closed = false

    var cutting: Bool {
        get { lock.withLock { _cutting } }
        set { lock.withLock { _cutting = newValue } }
    }

    /// Bytes the clients have sent through the proxy so far.
    var clientBytes: Int { lock.withLock { _clientBytes } }
    private var _clientBytes = 0

    init(to target: Int, cutAfter: Int) throws {
        self.target = target
        self.cutAfter = cutAfter
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = SSHServer.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        listener = fd
        guard ok else { Glibc.close(fd); throw SSHServerError(message: "proxy cannot listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { close() }

    func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            shutdown(listener, Int32(SHUT_RDWR))
            Glibc.close(listener)
        }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = SSHServer.loopback(port: target)
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard connected else { Glibc.close(client); Glibc.close(server); continue }
            let cut = cutting
            Thread { [self] in pump(from: server, to: client, limit: cut ? cutAfter : nil, fromClient: false) }.start()
            Thread { [self] in pump(from: client, to: server, limit: nil, fromClient: true) }.start()
        }
    }

    /// Copies bytes one way until either side closes, or `limit` bytes have passed.
    private func pump(from source: Int32, to destination: Int32, limit: Int?, fromClient: Bool) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        var total = 0
        while true {
            let count = read(source, &buffer, buffer.count)
            if count <= 0 { break }
            if fromClient { lock.withLock { _clientBytes += count } }
            var toSend = count
            if let limit, total + count >= limit { toSend = max(0, limit - total) }
            var sent = 0
            while sent < toSend {
                let written = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + sent, toSend - sent, Int32(MSG_NOSIGNAL)) }
                if written <= 0 { break }
                sent += written
            }
            total += toSend
            if let limit, total >= limit { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
    }
}
