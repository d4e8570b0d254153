/// Stable identifiers derived from a seed, so the same person keeps the same id in every snapshot.
enum SampleIdentifier {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A UUID-shaped id (version 4 layout) derived from `(seed, stream, index)`.
    ///
    /// Skolon's person ids look like UUIDs; deriving rather than drawing them means a streaming
    /// generator can rebuild a membership's person id without remembering the user row.
    static func uuidLike(seed: UInt64, stream: UInt64, index: Int) -> String {
        var generator = SplitMix64(seed: seed, stream: stream, index: UInt64(index))
        let high = generator.next()
        // Version nibble 4 and variant bits 10xx, as in a random UUID.
        let low = (generator.next() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        let versioned = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        appendHex(versioned, into: &bytes)
        appendHex(low, into: &bytes)
        for dash in [8, 13, 18, 23] { bytes.insert(UInt8(ascii: "-"), at: dash) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Sixteen lowercase hex digits of `value`.
    static func hex(_ value: UInt64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        appendHex(value, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Lowercase hex of arbitrary bytes, as used for sha256 digests in manifests.
    static func hex<Bytes: Sequence>(bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendHex(_ value: UInt64, into bytes: inout [UInt8]) {
        for shift in stride(from: 60, through: 0, by: -4) {
            bytes.append(hexDigits[Int((value >> UInt64(shift)) & 0x0F)])
        }
    }
}
