/// One user of the national sample, re-derived from `(seed, index)` whenever it is needed.
///
/// Nothing about a person is stored between rows: the users, memberships and orders of a
/// person all come from the same per-index generator, so a 1.75-million-user delivery is
/// written in one streaming pass with flat memory, and snapshot 2 can re-derive snapshot 1's
/// people exactly before applying its few changes.
struct NationalPerson {
    /// What snapshot 2 does to a person of snapshot 1.
    enum Change {
        case unchanged, removed, renamed, newEmail
    }

    /// One license assignment of the person.
    struct Order {
        let productIndex: Int
        /// Index into `trialStarts`, or nil for a paid school-year license.
        let trialStart: Int?
    }

    private static let idStream: UInt64 = 0x5045_5253_4F4E
    private static let traitStream: UInt64 = 0x5452_4149_54
    private static let changeStream: UInt64 = 0x4348_414E_4745
    static let emailDomain = "riket.se"
    private static let foldedGiven = SwedishNames.given.map(SwedishNames.asciiFolded)
    private static let foldedFamily = SwedishNames.family.map(SwedishNames.asciiFolded)

    let personID: String
    let isTeacher: Bool
    let givenName: String
    let familyName: String
    let email: String
    let unit: Int
    let grade: Int?
    let eppn: String?
    /// Global group indices (`unit * groupsPerUnit + local`), always three.
    let groups: [Int]
    let orders: [Order]

    /// What snapshot 2 does to the person with `index` from snapshot 1: ≈0.4 % are removed and
    /// ≈0.2 % change their family name or e-mail address.
    static func change(index: Int, seed: UInt64) -> Change {
        var decision = SplitMix64(seed: seed, stream: changeStream, index: UInt64(index))
        switch decision.below(1000) {
        case 0..<4: return .removed
        case 4: return .renamed
        case 5: return .newEmail
        default: return .unchanged
        }
    }

    /// Derives person `index`; `baseUsers` people share the units in contiguous blocks, and
    /// people appended by snapshot 2 (index ≥ `baseUsers`) join a seed-chosen unit.
    init(index: Int, baseUsers: Int, units: Int, seed: UInt64, change: Change) {
        var rng = SplitMix64(seed: seed, stream: Self.traitStream, index: UInt64(index))
        personID = SampleIdentifier.uuidLike(seed: seed, stream: Self.idStream, index: index)
        isTeacher = rng.chance(perMille: 90)
        let given = rng.below(SwedishNames.given.count)
        let family = rng.below(SwedishNames.family.count)
        let drawnUnit = rng.below(units)
        unit = index < baseUsers ? index * units / baseUsers : drawnUnit
        givenName = SwedishNames.given[given]
        // A change must not consume draws: everything after it (groups, orders) stays as it was.
        familyName = SwedishNames.family[change == .renamed ? (family + 1 + index % 7) % SwedishNames.family.count : family]

        // A renamed person keeps the address made from their old name, as Skolon does.
        let number = index + 1
        let local = "\(Self.foldedGiven[given]).\(Self.foldedFamily[family])\(number)"
        email = change == .newEmail ? "\(local)@ny.\(Self.emailDomain)" : "\(local)@\(Self.emailDomain)"
        eppn = rng.chance(perMille: 200)
            ? nil : "\(Self.foldedGiven[given].prefix(3))\(Self.foldedFamily[family].prefix(3))\(number)@\(Self.emailDomain)"

        let base = unit * NationalSchools.groupsPerUnit
        if isTeacher {
            grade = nil
            groups = rng.distinctIndices(3, of: NationalSchools.groupsPerUnit).map { base + $0 }
        } else {
            let studentGrade = rng.int(in: 1...9)
            grade = studentGrade
            let subjects = rng.distinctIndices(2, of: NationalSchools.subjects.count)
            groups = [base + NationalSchools.classGroup(grade: studentGrade, letter: rng.below(2))]
                + subjects.map { base + NationalSchools.teachingGroup(subject: $0, grade: studentGrade) }
        }

        // 8 % hold no order, 4 % one, 31 % two, 57 % three: ≈2.37 orders per person.
        let draw = rng.below(100)
        let count = draw < 8 ? 0 : draw < 12 ? 1 : draw < 43 ? 2 : 3
        orders = rng.distinctIndices(count, of: SampleCatalogue.products.count).map { product in
            Order(productIndex: product, trialStart: rng.chance(perMille: 30) ? rng.below(28) : nil)
        }
    }
}
