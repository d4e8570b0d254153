/// A small seedable pseudo-random generator (SplitMix64) whose output depends only on its seed.
///
/// The generator deliberately avoids Foundation and the standard library's random APIs:
/// sample files must be byte-identical for the same seed on every machine and Swift version,
/// and `Int.random(in:using:)` does not promise a stable algorithm across releases.
struct SplitMix64: Sendable {
    private var state: UInt64

    /// Creates a generator whose whole sequence is fixed by `seed`.
    init(seed: UInt64) {
        state = seed
    }

    /// Creates a generator for one item of a larger set, so each item can be re-derived on its own.
    ///
    /// Streaming generators re-create a person from `(seed, stream, index)` in every pass instead
    /// of keeping rows in memory; mixing the three keeps neighbouring indices uncorrelated.
    init(seed: UInt64, stream: UInt64, index: UInt64) {
        state = SplitMix64.mix(seed &+ SplitMix64.mix(stream &+ SplitMix64.mix(index)))
    }

    /// Returns the next 64 pseudo-random bits.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// Returns a value in `0..<bound`; `bound` must be positive.
    ///
    /// Uses the multiply-high reduction: its tiny bias is irrelevant for sample data and it
    /// keeps every call to exactly one draw, which keeps derived sequences easy to reason about.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Returns a value in `range`.
    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// Returns true with probability `perMille / 1000`.
    mutating func chance(perMille: Int) -> Bool {
        below(1000) < perMille
    }

    /// Returns one element of a non-empty array.
    mutating func pick<Element>(_ elements: [Element]) -> Element {
        elements[below(elements.count)]
    }

    /// Returns `count` distinct indices of `0..<total`, in the order drawn.
    mutating func distinctIndices(_ count: Int, of total: Int) -> [Int] {
        var chosen: [Int] = []
        chosen.reserveCapacity(count)
        while chosen.count < min(count, total) {
            let candidate = below(total)
            if !chosen.contains(candidate) { chosen.append(candidate) }
        }
        return chosen
    }

    /// Returns the elements in a seed-determined order (Fisher–Yates with this generator).
    mutating func shuffled<Element>(_ elements: [Element]) -> [Element] {
        var result = elements
        for index in stride(from: result.count - 1, to: 0, by: -1) {
            result.swapAt(index, below(index + 1))
        }
        return result
    }

    /// The SplitMix64 finaliser: a cheap, well-distributed 64-bit hash.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
