import Foundation

/// A regular expression a field's whole value must match.
///
/// Patterns are compiled once when a mapping is loaded. The common shape of identifier
/// patterns — a sequence of character classes or literals with counts, such as
/// `^[0-9]{8}$` or `^[A-Za-z0-9-]{1,64}$` — is matched on bytes, because
/// NSRegularExpression costs microseconds a call and national files have millions of rows;
/// anything else falls back to NSRegularExpression.
public struct Pattern: @unchecked Sendable {
    public let source: String
    private let regex: NSRegularExpression
    private let simple: [Atom]?

    struct Atom {
        var accepts: [Bool]   // 128 entries: which ASCII bytes match
        var min: Int
        var max: Int
    }

    /// Compiles `source`; throws the regular-expression engine's complaint when it is invalid.
    public init(_ source: String) throws {
        self.source = source
        self.regex = try NSRegularExpression(pattern: source)
        self.simple = Pattern.compileSimple(source)
    }

    /// Whether the entire `value` matches.
    public func matches(_ value: String) -> Bool {
        if let simple { return Pattern.matchSimple(simple, Array(value.utf8)) }
        let range = NSRange(value.startIndex..<value.endIndex, in: value)
        guard let match = regex.firstMatch(in: value, options: [.anchored], range: range) else { return false }
        return match.range == range
    }

    private static func matchSimple(_ atoms: [Atom], _ bytes: [UInt8]) -> Bool {
        var index = 0
        for atom in atoms {
            var count = 0
            while count < atom.max, index < bytes.count, bytes[index] < 128, atom.accepts[Int(bytes[index])] {
                count += 1
                index += 1
            }
            if count < atom.min { return false }
        }
        return index == bytes.count
    }

    /// Compiles `^atom atom … $` where an atom is `[class]` or a literal, with `{n}`, `{m,n}`,
    /// `+`, `*` or `?`; returns nil for anything else. Greedy matching is exact only when
    /// consecutive atoms accept disjoint bytes, so overlapping sequences fall back too.
    private static func compileSimple(_ source: String) -> [Atom]? {
        let bytes = Array(source.utf8)
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "^"), bytes.last == UInt8(ascii: "$") else { return nil }
        var index = 1
        let end = bytes.count - 1
        var atoms: [Atom] = []
        while index < end {
            var accepts = [Bool](repeating: false, count: 128)
            let byte = bytes[index]
            if byte == UInt8(ascii: "[") {
                index += 1
                guard index < end, bytes[index] != UInt8(ascii: "^") else { return nil }
                while index < end && bytes[index] != UInt8(ascii: "]") {
                    let low = bytes[index]
                    guard low < 128, low != UInt8(ascii: "\\"), low != UInt8(ascii: "[") else { return nil }
                    if index + 2 < end, bytes[index + 1] == UInt8(ascii: "-"), bytes[index + 2] != UInt8(ascii: "]") {
                        let high = bytes[index + 2]
                        guard high < 128, high >= low else { return nil }
                        for value in low...high { accepts[Int(value)] = true }
                        index += 3
                    } else {
                        accepts[Int(low)] = true
                        index += 1
                    }
                }
                guard index < end else { return nil }
                index += 1
            } else if byte < 128, isPlainLiteral(byte) {
                accepts[Int(byte)] = true
                index += 1
            } else {
                return nil
            }
            var min = 1, max = 1
            if index < end {
                switch bytes[index] {
                case UInt8(ascii: "+"): min = 1; max = Int.max; index += 1
                case UInt8(ascii: "*"): min = 0; max = Int.max; index += 1
                case UInt8(ascii: "?"): min = 0; max = 1; index += 1
                case UInt8(ascii: "{"):
                    guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "}")), close < end else { return nil }
                    let inner = String(decoding: bytes[(index + 1)..<close], as: UTF8.self)
                    let parts = inner.split(separator: ",", omittingEmptySubsequences: false)
                    guard parts.count == 1 || parts.count == 2, let low = Int(parts[0]) else { return nil }
                    min = low
                    max = parts.count == 1 ? low : (parts[1].isEmpty ? Int.max : (Int(parts[1]) ?? -1))
                    guard max >= min else { return nil }
                    index = close + 1
                default: break
                }
            }
            if let previous = atoms.last, zip(previous.accepts, accepts).contains(where: { $0 && $1 }) { return nil }
            atoms.append(Atom(accepts: accepts, min: min, max: max))
        }
        return atoms
    }

    private static func isPlainLiteral(_ byte: UInt8) -> Bool {
        let special = Array("\\.^$|?*+()[]{}".utf8)
        return !special.contains(byte)
    }
}
