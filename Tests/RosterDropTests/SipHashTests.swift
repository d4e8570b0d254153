import Testing
@testable import RosterDrop

/// The reference vectors of SipHash-2-4 (Aumasson and Bernstein): key 00…0f, message 00…(n-1).
@Suite struct SipHashTests {
    static let key = SipKey(k0: 0x0706_0504_0302_0100, k1: 0x0f0e_0d0c_0b0a_0908)

    static func hash(_ length: Int, wide: Bool = false, pieces: Int = 1) -> SipHasher {
        var hasher = SipHasher(key: key, wide: wide)
        let message = (0..<length).map { UInt8($0) }
        let step = max(1, (length + pieces - 1) / pieces)
        var start = 0
        while start < length {
            let end = min(length, start + step)
            message[start..<end].withUnsafeBytes { hasher.combine($0) }
            start = end
        }
        return hasher
    }

    @Test func matchesTheReferenceVectors() {
        #expect(Self.hash(0).finalize() == 0x726f_db47_dd0e_0e31)
        #expect(Self.hash(15).finalize() == 0xa129_ca61_49be_45e5)
        let wide = Self.hash(0, wide: true).finalize128()
        #expect(wide.0 == 0xe6a8_25ba_047f_81a3)
        #expect(wide.1 == 0x9302_55c7_1472_f66d)
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func feedingInPiecesChangesNothing(pieces: Int) {
        for length in [0, 1, 7, 8, 9, 15, 16, 33, 64] {
            #expect(Self.hash(length, pieces: pieces).finalize() == Self.hash(length).finalize())
        }
    }

    @Test func rowHashesTellAMissingValueFromAnEmptyOneAndFieldBoundaries() {
        let hashing = RowHashing(rowKey: Self.key)
        #expect(hashing.row([nil]) != hashing.row([""]))
        #expect(hashing.row(["ab", "c"]) != hashing.row(["a", "bc"]))
        #expect(hashing.row(["ab", "c"]) == hashing.row(["ab", "c"]))
        #expect(hashing.key(["a", "b"]) != hashing.key(["ab"]))
        #expect(hashing.key("x") == hashing.key(["x"]))
    }
}
