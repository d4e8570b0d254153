import Foundation

/// The character encodings a delivery's CSV files may be declared in by their mapping.
public enum TextEncoding: String, Sendable {
    case utf8 = "utf-8"
    /// What Excel's plain "CSV" save writes in Swedish locales.
    case windows1252 = "windows-1252"
}

/// One well-formed CSV record and the physical line it starts on.
public struct CSVRecord: Sendable, Equatable {
    /// The 1-based physical line on which the record starts (the header is line 1).
    public var line: Int
    public var fields: [String]
    /// Whether any cell holds a control character (below U+0020, or DEL): noted while the
    /// bytes are scanned anyway, so that checks need not look at every cell again.
    public var hasControlCharacters = false

    public init(line: Int, fields: [String], hasControlCharacters: Bool = false) {
        self.line = line
        self.fields = fields
        self.hasControlCharacters = hasControlCharacters
    }

    public static func == (lhs: CSVRecord, rhs: CSVRecord) -> Bool {
        lhs.line == rhs.line && lhs.fields == rhs.fields
    }
}

/// A record that could not be read, reported in its place so the run can go on.
public struct CSVProblem: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The input ended inside a quoted field; everything after its opening quote is lost.
        case unclosedQuote
        /// A quote inside an unquoted field, or something other than a delimiter or line end
        /// after a closing quote. The rest of that physical line is skipped.
        case strayQuote
        /// The record has another number of cells than the header.
        case wrongCellCount(expected: Int, found: Int)
        /// The record holds bytes that are not valid in the declared encoding.
        case invalidEncoding
        /// A field (`field` true) or the whole record is longer than the reader's bound; its
        /// bytes were skipped, not held.
        case tooLong(field: Bool)
    }

    /// The 1-based physical line on which the record starts.
    public var line: Int
    public var kind: Kind

    public init(line: Int, kind: Kind) {
        self.line = line
        self.kind = kind
    }
}

/// What the reader found next: a record, or a problem standing in for one.
public enum CSVEvent: Sendable, Equatable {
    case record(CSVRecord)
    case problem(CSVProblem)
}

/// An RFC 4180 reader fed chunks of bytes (from inflate), never holding more than a record.
///
/// Results do not depend on where chunks are split: state that spans a boundary (a CR
/// waiting for its LF, a quote that may be doubled, a partial UTF-8 sequence, a partial
/// byte order mark) is kept between calls. Records end at LF or CRLF; a CR before LF is
/// dropped, other CRs are data. Empty lines are skipped but counted. The first record is
/// the header and fixes the number of cells every later record must have.
///
/// The reader knows nothing of mappings: turning cells into typed values is validation's job.
public struct CSVReader {
    private enum State {
        /// Before the first byte of a record; empty lines are skipped here.
        case recordStart
        /// Right after a delimiter, or at a record's first byte.
        case fieldStart
        case unquoted
        case quoted
        /// A quote seen inside a quoted field: either half of a doubled quote or the closing one.
        case quoteInQuoted
        /// After a stray quote: discarding the rest of the physical line.
        case skipLine
    }

    private static let quote = UInt8(ascii: "\"")
    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    private let delimiter: UInt8
    private let encoding: TextEncoding
    private let maxFieldBytes: Int
    private let maxRecordBytes: Int
    /// Bytes of the current record so far, delimiters included.
    private var recordBytes = 0
    /// Set once the current record passed a bound: nothing more of it is kept.
    private var overLimit: CSVProblem.Kind?
    /// Cells of the current record beyond the header's count.
    private var extraCells = 0
    /// The current record's data holds a control character.
    private var recordHasControl = false
    /// The first record, once read (it is also emitted as a record).
    ///
    /// When the first record is itself a problem, the header stays nil until a well-formed
    /// record arrives, which then takes its place; callers should treat a problem reported
    /// before the header as a failure of the whole file.
    public private(set) var header: [String]?

    private var state = State.recordStart
    /// A CR was the last byte seen outside a quoted field; the next byte says whether it
    /// ends the line (LF follows) or is data.
    private var pendingCarriageReturn = false
    private var line = 1
    private var recordLine = 1
    /// Storage for the current field's raw bytes (the first `fieldLength`), reused from field
    /// to field; emptying it is then a store, not a call into Array.
    private var fieldStorage = [UInt8](repeating: 0, count: 256)
    private var fieldLength = 0
    /// All the current field's bytes OR-ed together: below 0x80 means plain ASCII, which
    /// needs no validation or transcoding.
    private var fieldBitsSeen: UInt8 = 0
    private var fields: [String] = []
    private var recordHasInvalidEncoding = false
    /// Until the first bytes are known not to be a byte order mark, how many of it matched.
    private var byteOrderMarkMatched = 0
    private var atStart = true

    /// Creates a reader; `delimiter` must be an ASCII byte other than a quote, CR or LF.
    /// A field over `maxFieldBytes` or a record over `maxRecordBytes` becomes a `tooLong`
    /// problem, and memory stays bounded by them whatever the input.
    public init(delimiter: UInt8 = UInt8(ascii: ","), encoding: TextEncoding = .utf8,
                maxFieldBytes: Int = .max, maxRecordBytes: Int = .max) {
        self.delimiter = delimiter
        self.encoding = encoding
        self.maxFieldBytes = maxFieldBytes
        self.maxRecordBytes = maxRecordBytes
    }

    /// Bytes the reader holds for the record in progress (its buffers' capacity): bounded by
    /// the limits whatever the input.
    var heldBytes: Int { fieldStorage.capacity + fields.capacity * MemoryLayout<String>.stride }

    /// Reads `bytes`, emitting every record (or problem) that ends within them.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (CSVEvent) throws -> Void) rethrows {
        guard var start = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var count = bytes.count
        if atStart {
            while byteOrderMarkMatched < 3, count > 0, start.pointee == Self.byteOrderMark[byteOrderMarkMatched] {
                byteOrderMarkMatched += 1
                start += 1
                count -= 1
            }
            if byteOrderMarkMatched == 3 {
                atStart = false
            } else if count > 0 {
                atStart = false
                try replayByteOrderMarkPrefix(emit)
            } else {
                return
            }
        }
        try parse(start, count, emit)
    }

    /// Ends the input: emits a last record that lacks a line end, or the unclosed quote.
    public mutating func finish(_ emit: (CSVEvent) throws -> Void) rethrows {
        if atStart {
            atStart = false
            try replayByteOrderMarkPrefix(emit)
        }
        // A CR at the very end can only have been meant as a line end.
        pendingCarriageReturn = false
        switch state {
        case .recordStart, .skipLine:
            break
        case .unquoted where fields.isEmpty && fieldLength == 0 && overLimit == nil:
            break
        case .fieldStart, .unquoted, .quoteInQuoted:
            endField()
            try endRecord(emit)
        case .quoted:
            try emit(.problem(CSVProblem(line: recordLine, kind: .unclosedQuote)))
            discardRecord()
        }
        state = .recordStart
    }

    /// Parses bytes that turned out not to be a byte order mark after all.
    private mutating func replayByteOrderMarkPrefix(_ emit: (CSVEvent) throws -> Void) rethrows {
        let prefix = Self.byteOrderMark.prefix(byteOrderMarkMatched)
        byteOrderMarkMatched = 0
        guard !prefix.isEmpty else { return }
        try Array(prefix).withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            try parse(base, buffer.count, emit)
        }
    }

    /// The state machine. Runs of ordinary bytes are scanned and appended in one go, which
    /// is what makes a gigabyte take seconds rather than minutes.
    private mutating func parse(_ bytes: UnsafePointer<UInt8>, _ count: Int,
                                _ emit: (CSVEvent) throws -> Void) rethrows {
        let delimiter = self.delimiter
        let quote = Self.quote, lineFeed = Self.lineFeed, carriageReturn = Self.carriageReturn
        var index = 0
        while index < count {
            if pendingCarriageReturn {
                pendingCarriageReturn = false
                if bytes[index] != lineFeed { try carriageReturnWasData(emit) }
            }
            switch state {
            case .recordStart:
                if bytes[index] == lineFeed {
                    line += 1
                    index += 1
                } else {
                    recordLine = line
                    state = .fieldStart
                }
            case .fieldStart:
                if bytes[index] == quote {
                    state = .quoted
                    index += 1
                } else {
                    state = .unquoted
                }
            case .unquoted:
                var end = index
                var bitsSeen: UInt8 = 0
                var control = false
                while end < count {
                    let byte = bytes[end]
                    if byte == delimiter || byte == quote || byte == lineFeed || byte == carriageReturn { break }
                    bitsSeen |= byte
                    if byte < 0x20 || byte == 0x7F { control = true }
                    end += 1
                }
                if control { recordHasControl = true }
                appendToField(bytes + index, end - index, bitsSeen: bitsSeen)
                guard end < count else { return }
                let byte = bytes[end]
                index = end + 1
                if byte == delimiter {
                    endField()
                    state = .fieldStart
                } else if byte == lineFeed {
                    line += 1
                    if fields.isEmpty && fieldLength == 0 && overLimit == nil {
                        state = .recordStart  // an empty line
                    } else {
                        endField()
                        try endRecord(emit)
                    }
                } else if byte == carriageReturn {
                    pendingCarriageReturn = true
                } else {
                    try rejectStrayQuote(emit)
                }
            case .quoted:
                var end = index
                var bitsSeen: UInt8 = 0
                var control = false
                while end < count {
                    let byte = bytes[end]
                    if byte == quote { break }
                    if byte == lineFeed { line += 1 }
                    bitsSeen |= byte
                    if byte < 0x20 || byte == 0x7F { control = true }
                    end += 1
                }
                if control { recordHasControl = true }
                appendToField(bytes + index, end - index, bitsSeen: bitsSeen)
                guard end < count else { return }
                index = end + 1
                state = .quoteInQuoted
            case .quoteInQuoted:
                let byte = bytes[index]
                index += 1
                if byte == quote {
                    appendToField(quote)
                    state = .quoted
                } else if byte == delimiter {
                    endField()
                    state = .fieldStart
                } else if byte == lineFeed {
                    line += 1
                    endField()
                    try endRecord(emit)
                } else if byte == carriageReturn {
                    pendingCarriageReturn = true
                } else {
                    try rejectStrayQuote(emit)
                }
            case .skipLine:
                var end = index
                while end < count && bytes[end] != lineFeed { end += 1 }
                guard end < count else { return }
                line += 1
                index = end + 1
                state = .recordStart
            }
        }
    }

    /// Handles a CR that turned out not to precede an LF.
    private mutating func carriageReturnWasData(_ emit: (CSVEvent) throws -> Void) rethrows {
        switch state {
        case .quoteInQuoted:
            try rejectStrayQuote(emit)
        default:
            recordHasControl = true
            appendToField(Self.carriageReturn)
        }
    }

    private mutating func rejectStrayQuote(_ emit: (CSVEvent) throws -> Void) rethrows {
        try emit(.problem(CSVProblem(line: recordLine, kind: .strayQuote)))
        discardRecord()
        state = .skipLine
    }

    private mutating func appendToField(_ start: UnsafePointer<UInt8>, _ count: Int, bitsSeen: UInt8) {
        guard count > 0 else { return }
        recordBytes &+= count
        let offset = fieldLength
        let needed = offset + count
        if overLimit != nil || needed > maxFieldBytes || recordBytes > maxRecordBytes {
            if overLimit == nil { overLimit = .tooLong(field: needed > maxFieldBytes) }
            return
        }
        if needed > fieldStorage.count {
            fieldStorage.append(contentsOf: repeatElement(0, count: max(needed, 2 * fieldStorage.count) - fieldStorage.count))
        }
        fieldStorage.withUnsafeMutableBufferPointer { storage in
            storage.baseAddress.map { ($0 + offset).update(from: start, count: count) }
        }
        fieldLength = needed
        fieldBitsSeen |= bitsSeen
    }

    private mutating func appendToField(_ byte: UInt8) {
        withUnsafePointer(to: byte) { appendToField($0, 1, bitsSeen: byte) }
    }

    private mutating func discardRecord() {
        fieldLength = 0
        fieldBitsSeen = 0
        fields.removeAll(keepingCapacity: true)
        recordHasInvalidEncoding = false
        recordBytes = 0
        overLimit = nil
        extraCells = 0
        recordHasControl = false
    }

    /// Most cells a header may have.
    static let maxHeaderCells = 10_000

    private mutating func endField() {
        if overLimit == nil && (recordBytes > maxRecordBytes || (header == nil && fields.count >= Self.maxHeaderCells)) {
            overLimit = .tooLong(field: false)
        }
        // The delimiter after this field, if another follows (checked with the next field).
        recordBytes &+= 1
        if overLimit == nil {
            // Cells past the header's count are only counted: the record is refused for them.
            if let header, fields.count >= header.count {
                extraCells += 1
            } else {
                fields.append(decodeField())
            }
        }
        fieldLength = 0
        fieldBitsSeen = 0
    }

    /// Emits the finished record, or the problem that replaces it.
    private mutating func endRecord(_ emit: (CSVEvent) throws -> Void) rethrows {
        state = .recordStart
        // Clearing after the emit lets the array keep its storage when the caller did not.
        defer { discardRecord() }
        if let overLimit {
            try emit(.problem(CSVProblem(line: recordLine, kind: overLimit)))
            return
        }
        if recordHasInvalidEncoding {
            try emit(.problem(CSVProblem(line: recordLine, kind: .invalidEncoding)))
            return
        }
        if let header {
            if fields.count + extraCells != header.count {
                let kind = CSVProblem.Kind.wrongCellCount(expected: header.count, found: fields.count + extraCells)
                try emit(.problem(CSVProblem(line: recordLine, kind: kind)))
                return
            }
        } else {
            header = fields
        }
        try emit(.record(CSVRecord(line: recordLine, fields: fields, hasControlCharacters: recordHasControl)))
    }

    /// The current field as text; marks the record when its bytes are not valid text.
    private mutating func decodeField() -> String {
        let isASCII = fieldBitsSeen < 0x80
        let encoding = self.encoding
        let text: String? = fieldStorage.withUnsafeBufferPointer { storage in
            let bytes = UnsafeBufferPointer(rebasing: storage[0..<fieldLength])
            if isASCII { return String(decoding: bytes, as: UTF8.self) }
            switch encoding {
            case .utf8:
                return Self.isValidUTF8(bytes) ? String(decoding: bytes, as: UTF8.self) : nil
            case .windows1252:
                return Self.decodeWindows1252(bytes)
            }
        }
        guard let text else {
            recordHasInvalidEncoding = true
            return ""
        }
        return text
    }

    /// Checks UTF-8 by RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
    ///
    /// Hand-written because `String(decoding:)` silently repairs, and the generic
    /// `String(validating:)` looked up type metadata per call, which showed in profiles.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        var index = 0
        func isContinuation(_ offset: Int) -> Bool { bytes[index + offset] & 0xC0 == 0x80 }
        while index < count {
            let lead = bytes[index]
            switch lead {
            case 0..<0x80:
                index += 1
            case 0xC2..<0xE0:
                guard index + 1 < count, isContinuation(1) else { return false }
                index += 2
            case 0xE0..<0xF0:
                guard index + 2 < count, isContinuation(1), isContinuation(2) else { return false }
                let second = bytes[index + 1]
                if lead == 0xE0 && second < 0xA0 { return false }  // overlong
                if lead == 0xED && second >= 0xA0 { return false }  // UTF-16 surrogate
                index += 3
            case 0xF0..<0xF5:
                guard index + 3 < count, isContinuation(1), isContinuation(2), isContinuation(3) else { return false }
                let second = bytes[index + 1]
                if lead == 0xF0 && second < 0x90 { return false }  // overlong
                if lead == 0xF4 && second >= 0x90 { return false }  // past U+10FFFF
                index += 4
            default:
                return false  // a stray continuation byte, C0/C1 (always overlong) or F5–FF
            }
        }
        return true
    }

    /// Windows-1252 bytes as a String, or nil when one of the five undefined bytes occurs.
    static func decodeWindows1252(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var isValid = true
        // Every byte becomes at most three UTF-8 bytes (the C1 replacements like € are U+20xx).
        let text = String(unsafeUninitializedCapacity: 3 * bytes.count) { output in
            var length = 0
            for byte in bytes {
                let scalar: UInt32
                switch byte {
                case 0..<0x80:
                    output[length] = byte
                    length += 1
                    continue
                case 0x80..<0xA0:
                    scalar = UInt32(windows1252C1[Int(byte - 0x80)])
                    if scalar == 0 {
                        isValid = false
                        return 0
                    }
                default:
                    scalar = UInt32(byte)  // 0xA0–0xFF are Latin-1
                }
                if scalar < 0x800 {
                    output[length] = UInt8(0xC0 | scalar >> 6)
                    output[length + 1] = UInt8(0x80 | scalar & 0x3F)
                    length += 2
                } else {
                    output[length] = UInt8(0xE0 | scalar >> 12)
                    output[length + 1] = UInt8(0x80 | (scalar >> 6) & 0x3F)
                    output[length + 2] = UInt8(0x80 | scalar & 0x3F)
                    length += 3
                }
            }
            return length
        }
        return isValid ? text : nil
    }

    /// Windows-1252's characters for 0x80–0x9F, where it differs from Latin-1; 0 marks the
    /// five bytes it leaves undefined.
    private static let windows1252C1: [UInt16] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]
}

extension CSVReader {
    /// Every well-formed record of a small CSV file (gunzipped when it ends in `.gz`), header
    /// first: for reports the job wrote itself, never for deliveries (which stream).
    public static func records(atPath path: String, limit: Int64 = 1 << 30) throws -> [[String]] {
        var bytes = Data()
        if path.hasSuffix(".gz") {
            try gunzipFile(atPath: path, limit: limit) { bytes.append(contentsOf: $0) }
        } else {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        var reader = CSVReader()
        var rows: [[String]] = []
        bytes.withUnsafeBytes { reader.feed($0) { if case .record(let record) = $0 { rows.append(record.fields) } } }
        reader.finish { if case .record(let record) = $0 { rows.append(record.fields) } }
        return rows
    }
}
