import Foundation

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
