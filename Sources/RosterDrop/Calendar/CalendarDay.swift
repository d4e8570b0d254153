import Foundation

/// A day on the calendar, `yyyy-MM-dd`, as license dates and integration starts are given.
///
/// Days are compared and counted as whole days (proleptic Gregorian), with no time zone of
/// their own: which day "today" is comes from `JobClock` and its configured zone.
public struct CalendarDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public let ordinal: Int

    public init(ordinal: Int) {
        self.ordinal = ordinal
    }

    /// A real date in `yyyy-MM-dd` form, or nil.
    public init?(iso text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The day, or nil when it does not exist (month 13, 30 February, …).
    public init?(year: Int, month: Int, day: Int) {
        guard year >= 1, month >= 1, month <= 12, day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        ordinal = era * 146_097 + dayOfEra - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public var components: (year: Int, month: Int, day: Int) {
        let z = ordinal + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `yyyy-MM-dd`.
    public var iso: String {
        // Interpolation, not String(format:): the national generator writes millions.
        let (year, month, day) = components
        let century = year < 1000 ? String(repeating: "0", count: year < 10 ? 3 : year < 100 ? 2 : 1) : ""
        return "\(century)\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
    }

    public var description: String { iso }

    public func adding(days: Int) -> CalendarDay { CalendarDay(ordinal: ordinal + days) }

    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool { lhs.ordinal < rhs.ordinal }
}

/// The job's one clock: the current instant (injected, so tests move time without
/// sleeping) and the time zone that says which calendar day it is.
public struct JobClock: Sendable {
    public var now: @Sendable () -> Date
    public var timeZone: TimeZone

    public init(now: @escaping @Sendable () -> Date = Date.init, timeZone: TimeZone = JobClock.defaultTimeZone) {
        self.now = now
        self.timeZone = timeZone
    }

    /// Swedish schools' license dates are Swedish days.
    public static let defaultTimeZone = TimeZone(identifier: "Europe/Stockholm") ?? TimeZone(secondsFromGMT: 3600)!

    /// The calendar day `date` falls on in the job's zone.
    public func day(of date: Date) -> CalendarDay {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + timeZone.secondsFromGMT(for: date)
        return CalendarDay(ordinal: Int((Double(seconds) / 86_400).rounded(.down)))
    }

    /// The first instant of `day` in the job's zone.
    public func start(of day: CalendarDay) -> Date {
        let local = Double(day.ordinal) * 86_400
        let guess = Date(timeIntervalSince1970: local - Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: local))))
        return Date(timeIntervalSince1970: local - Double(timeZone.secondsFromGMT(for: guess)))
    }

    /// `YYYYMMDDTHHMMSSZ`, the drop folder's timestamp form, in UTC.
    public static func stamp(_ date: Date) -> String {
        let parts = utcParts(date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second)
    }

    /// ISO 8601 in UTC, seconds precision: how the ledger and the portal keep instants.
    public static func iso(_ date: Date) -> String {
        let parts = utcParts(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second)
    }

    /// An instant from `iso(_:)`'s form, or nil.
    public static func parseISO(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[10] == UInt8(ascii: "T"), bytes[19] == UInt8(ascii: "Z"),
              let day = CalendarDay(iso: String(text.prefix(10))) else { return nil }
        let clock = Array(bytes[11..<19])
        guard clock[2] == UInt8(ascii: ":"), clock[5] == UInt8(ascii: ":"),
              [0, 1, 3, 4, 6, 7].allSatisfy({ clock[$0] >= 48 && clock[$0] <= 57 }) else { return nil }
        let time = [0, 3, 6].map { Int(clock[$0] - 48) * 10 + Int(clock[$0 + 1] - 48) }
        guard time[0] < 24, time[1] < 60, time[2] < 60 else { return nil }
        return Date(timeIntervalSince1970: Double(day.ordinal * 86_400 + time[0] * 3600 + time[1] * 60 + time[2]))
    }

    /// The instant a drop-folder timestamp names, or nil when it is not a real UTC time
    /// (`20261399T250000Z` has the right digits and names no instant).
    public static func instant(ofStamp stamp: String) -> Date? {
        let bytes = Array(stamp.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        let digits = String(stamp.prefix(8))
        let time = Array(stamp.dropFirst(9).prefix(6))
        guard digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), time.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let iso = "\(digits.prefix(4))-\(digits.dropFirst(4).prefix(2))-\(digits.suffix(2))T"
            + "\(String(time[0...1])):\(String(time[2...3])):\(String(time[4...5]))Z"
        return parseISO(iso)
    }

    private static func utcParts(_ date: Date) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let dayNumber = Int((Double(seconds) / 86_400).rounded(.down))
        let within = seconds - dayNumber * 86_400
        let (year, month, day) = CalendarDay(ordinal: dayNumber).components
        return (year, month, day, within / 3600, within % 3600 / 60, within % 60)
    }
}
