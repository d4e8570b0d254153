/// A date format such as `yyyy-MM-dd` or `d/M/yyyy`, parsed without locale or time zone.
///
/// Only what source files use is supported: `yyyy`, `MM`/`M`, `dd`/`d` and literal
/// separators. Parsing checks the calendar (no 31 April, 29 February only in leap years).
public struct DateFormat: Sendable, Equatable {
    enum Token: Sendable, Equatable {
        case year
        case month(padded: Bool)
        case day(padded: Bool)
        case literal(UInt8)
    }

    public let text: String
    let tokens: [Token]

    /// Parses a format; returns nil when it has no year, month and day or holds other letters.
    public init?(_ text: String) {
        var tokens: [Token] = []
        let bytes = Array(text.utf8)
        var index = 0
        func run(_ letter: UInt8) -> Int {
            var end = index
            while end < bytes.count && bytes[end] == letter { end += 1 }
            return end - index
        }
        while index < bytes.count {
            let byte = bytes[index]
            let count = run(byte)
            switch (byte, count) {
            case (UInt8(ascii: "y"), 4): tokens.append(.year)
            case (UInt8(ascii: "M"), 1), (UInt8(ascii: "M"), 2): tokens.append(.month(padded: count == 2))
            case (UInt8(ascii: "d"), 1), (UInt8(ascii: "d"), 2): tokens.append(.day(padded: count == 2))
            default:
                let isLetter = (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                if isLetter || byte >= 0x80 { return nil }
                tokens.append(contentsOf: Array(repeating: Token.literal(byte), count: count))
            }
            index += count
        }
        let years = tokens.filter { $0 == .year }.count
        let months = tokens.filter { if case .month = $0 { return true } else { return false } }.count
        let days = tokens.filter { if case .day = $0 { return true } else { return false } }.count
        guard years == 1, months == 1, days == 1 else { return nil }
        self.text = text
        self.tokens = tokens
    }

    /// Returns the date as ISO `yyyy-MM-dd`, or nil when `value` does not match or is no date.
    public func isoDate(_ value: String) -> String? {
        var year = 0, month = 0, day = 0
        var utf8 = Array(value.utf8)[...]
        func digits(min: Int, max: Int) -> Int? {
            var result = 0
            var count = 0
            while count < max, let byte = utf8.first, byte >= 48, byte <= 57 {
                result = result * 10 + Int(byte - 48)
                count += 1
                utf8 = utf8.dropFirst()
            }
            return count >= min ? result : nil
        }
        for token in tokens {
            switch token {
            case .year:
                guard let value = digits(min: 4, max: 4) else { return nil }
                year = value
            case .month(let padded):
                guard let value = digits(min: padded ? 2 : 1, max: 2) else { return nil }
                month = value
            case .day(let padded):
                guard let value = digits(min: padded ? 2 : 1, max: 2) else { return nil }
                day = value
            case .literal(let byte):
                guard utf8.first == byte else { return nil }
                utf8 = utf8.dropFirst()
            }
        }
        guard utf8.isEmpty, year >= 1900, (1...12).contains(month), day >= 1,
              day <= Self.daysIn(month: month, year: year) else { return nil }
        return Self.pad(year, 4) + "-" + Self.pad(month, 2) + "-" + Self.pad(day, 2)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func pad(_ number: Int, _ width: Int) -> String {
        let text = String(number)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
