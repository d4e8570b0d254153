/// SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit hash. With a secret key nobody can
/// make two different inputs collide on purpose, which is what lets a hash stand in for a
/// row or a key: a school's file cannot be crafted to make a changed row look unchanged.
struct SipHasher {
    private var v0: UInt64
    private var v1: UInt64
    private var v2: UInt64
    private var v3: UInt64
    private var tail: UInt64 = 0
    private var tailBytes = 0
    private var length = 0

    /// A hasher for a 64-bit result, or for a 128-bit one (`finalize128`) when `wide`.
    init(key: SipKey, wide: Bool = false) {
        v0 = key.k0 ^ 0x736f_6d65_7073_6575
        v1 = key.k1 ^ 0x646f_7261_6e64_6f6d ^ (wide ? 0xee : 0)
        v2 = key.k0 ^ 0x6c79_6765_6e65_7261
        v3 = key.k1 ^ 0x7465_6462_7974_6573
    }

    @inline(__always)
    private static func rotate(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 &- b)) }

    @inline(__always)
    private mutating func round() {
        v0 = v0 &+ v1; v1 = Self.rotate(v1, 13); v1 ^= v0; v0 = Self.rotate(v0, 32)
        v2 = v2 &+ v3; v3 = Self.rotate(v3, 16); v3 ^= v2
        v0 = v0 &+ v3; v3 = Self.rotate(v3, 21); v3 ^= v0
        v2 = v2 &+ v1; v1 = Self.rotate(v1, 17); v1 ^= v2; v2 = Self.rotate(v2, 32)
    }

    @inline(__always)
    private mutating func compress(_ m: UInt64) {
        v3 ^= m
        round(); round()
        v0 ^= m
    }

    mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        length &+= count
        // Finish a partly filled word first.
        while tailBytes != 0 && index < count {
            tail |= UInt64(bytes[index]) << UInt64(8 * tailBytes)
            index += 1
            tailBytes += 1
            if tailBytes == 8 { compress(tail); tail = 0; tailBytes = 0 }
        }
        while index + 8 <= count {
            compress(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            index += 8
        }
        while index < count {
            tail |= UInt64(bytes[index]) << UInt64(8 * tailBytes)
            index += 1
            tailBytes += 1
        }
    }

    mutating func combine(_ byte: UInt8) {
        withUnsafeBytes(of: byte) { combine($0) }
    }

    mutating func combine(_ text: String) {
        var text = text
        text.withUTF8 { combine(UnsafeRawBufferPointer($0)) }
    }

    consuming func finalize() -> UInt64 {
        let last = tail | (UInt64(truncatingIfNeeded: length) << 56)
        compress(last)
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }

    /// SipHash-2-4 with a 128-bit result, for a hasher made `wide`: one pass over the input.
    consuming func finalize128() -> (UInt64, UInt64) {
        let last = tail | (UInt64(truncatingIfNeeded: length) << 56)
        compress(last)
        v2 ^= 0xee
        round(); round(); round(); round()
        let first = v0 ^ v1 ^ v2 ^ v3
        v1 ^= 0xdd
        round(); round(); round(); round()
        return (first, v0 ^ v1 ^ v2 ^ v3)
    }
}

/// A 128-bit SipHash key.
struct SipKey: Sendable, Equatable {
    var k0: UInt64
    var k1: UInt64

    static func random() -> SipKey {
        var generator = SystemRandomNumberGenerator()
        return SipKey(k0: generator.next(), k1: generator.next())
    }

    /// The key as 32 hexadecimal digits, for storing.
    var hex: String { String(k0, radix: 16).leftPadded(16) + String(k1, radix: 16).leftPadded(16) }

    init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    /// A key stored as `hex`; nil when `text` is not one.
    init?(hex text: String) {
        guard text.utf8.count == 32, let k0 = UInt64(text.prefix(16), radix: 16),
              let k1 = UInt64(text.suffix(16), radix: 16) else { return nil }
        self.init(k0: k0, k1: k1)
    }
}

/// Hashes of rows and keys for one delivery.
///
/// - `row`: 64 bits under the database's own persistent key, stored beside each record the
///   job writes (`source_hash`), so the next delivery can tell an unchanged row without
///   comparing it field by field.
/// - `key`: 128 bits under a key drawn for this run, standing in for a record's key in the
///   in-memory checks (uniqueness, references); a chance collision is below one in 10^20.
struct RowHashing: Sendable {
    let rowKey: SipKey
    let keyKey: SipKey

    init(rowKey: SipKey) {
        self.rowKey = rowKey
        keyKey = SipKey.random()
    }

    /// The hash of a row's portal values; a missing value and an empty one differ.
    func row<Values: Collection<String?>>(_ values: Values) -> Int64 {
        var hasher = SipHasher(key: rowKey)
        for value in values {
            if let value {
                hasher.combine(1)
                hasher.combine(value)
                hasher.combine(0)
            } else {
                hasher.combine(2)
            }
        }
        return Int64(bitPattern: hasher.finalize())
    }

    func key(_ parts: [String]) -> KeyDigest {
        digest { hasher in
            for part in parts {
                hasher.combine(part)
                hasher.combine(0)
            }
        }
    }

    /// `key([part])` without building an array: it runs a few times per row.
    func key(_ part: String) -> KeyDigest {
        digest { hasher in
            hasher.combine(part)
            hasher.combine(0)
        }
    }

    private func digest(_ feed: (inout SipHasher) -> Void) -> KeyDigest {
        var hasher = SipHasher(key: keyKey, wide: true)
        feed(&hasher)
        let (a, b) = hasher.finalize128()
        return KeyDigest(a: a, b: b)
    }
}

/// A record's key, hashed to 128 bits.
struct KeyDigest: Hashable, Sendable {
    var a: UInt64
    var b: UInt64

    func hash(into hasher: inout Hasher) {
        hasher.combine(a)
    }

    static func == (lhs: KeyDigest, rhs: KeyDigest) -> Bool { lhs.a == rhs.a && lhs.b == rhs.b }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
