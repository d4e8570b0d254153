import Foundation

/// Where the progress of reading files is shown: a terminal's status line, or nowhere.
public protocol ReadProgress: Sendable {
    /// Starts showing one file of `bytes` (as stored, compressed or not); returns its meter.
    func begin(organisation: String, file: String, bytes: Int64) -> FileMeter
}

/// One file's progress, fed by the thread reading it.
public protocol FileMeter: AnyObject, Sendable {
    /// `rows` records read so far, from `bytesRead` stored bytes.
    func update(rows: Int, bytesRead: Int64)
    /// The file is read (or given up): the line is finished.
    func end(rows: Int)
}

/// A status line per file on a terminal: `org  file  rows  rows/s  percent`, redrawn in
/// place at most five times a second, and left standing when the file is done. The percent
/// is of the stored bytes read (compressed for a gzip'd file), the only size known ahead.
public final class TerminalProgress: ReadProgress, @unchecked Sendable {
    private let write: @Sendable (String) -> Void
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Writes to standard error unless `write` is given; `now` times the rates.
    public init(write: (@Sendable (String) -> Void)? = nil,
                now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.write = write ?? { text in FileHandle.standardError.write(Data(text.utf8)) }
        self.now = now
    }

    /// Whether standard error is a terminal: only then is a status line drawn.
    public static var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    public func begin(organisation: String, file: String, bytes: Int64) -> FileMeter {
        Meter(label: "\(organisation)  \(file)", bytes: bytes, started: now(), write: write, now: now)
    }

    private final class Meter: FileMeter, @unchecked Sendable {
        let label: String
        let bytes: Int64
        let started: ContinuousClock.Instant
        let write: @Sendable (String) -> Void
        let now: @Sendable () -> ContinuousClock.Instant
        private var drawn: ContinuousClock.Instant?
        private var bytesRead: Int64 = 0

        init(label: String, bytes: Int64, started: ContinuousClock.Instant, write: @escaping @Sendable (String) -> Void,
             now: @escaping @Sendable () -> ContinuousClock.Instant) {
            self.label = label
            self.bytes = bytes
            self.started = started
            self.write = write
            self.now = now
        }

        func update(rows: Int, bytesRead: Int64) {
            self.bytesRead = bytesRead
            let instant = now()
            if let drawn, instant - drawn < .milliseconds(200) { return }
            drawn = instant
            write("\r\u{1B}[K" + line(rows: rows, at: instant))
        }

        func end(rows: Int) {
            bytesRead = max(bytesRead, bytes)
            write("\r\u{1B}[K" + line(rows: rows, at: now()) + "\n")
        }

        private func line(rows: Int, at instant: ContinuousClock.Instant) -> String {
            let seconds = (instant - started).inSeconds
            let rate = seconds > 0 ? Int(Double(rows) / seconds) : 0
            let percent = bytes > 0 ? min(100, Int(bytesRead * 100 / bytes)) : 100
            return "\(label)  \(Self.grouped(rows)) rows  \(Self.grouped(rate)) rows/s  \(percent) %"
        }

        static func grouped(_ number: Int) -> String {
            let digits = Array(String(number))
            var text = ""
            for (index, digit) in digits.enumerated() {
                if index > 0, (digits.count - index) % 3 == 0 { text += " " }
                text.append(digit)
            }
            return text
        }
    }
}
