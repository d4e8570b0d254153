/// The school units and groups of the national sample, derived from the seed and a unit count.
///
/// Every unit has the same 33 groups: two classes (A, B) per grade 1–9 and fifteen teaching
/// groups (five subjects for each of the stages 1–3, 4–6 and 7–9). At 400 units that gives the
/// ≈13,000 groups of a national-scale delivery; group ids are derived so a membership row can
/// name its group without a lookup table keyed by anything but the group's index.
struct NationalSchools: Sendable {
    static let classesPerUnit = 18
    static let subjects = ["Ma", "Svenska", "Engelska", "NO", "SO"]
    static let stages = ["åk 1–3", "åk 4–6", "åk 7–9"]
    static let groupsPerUnit = classesPerUnit + subjects.count * stages.count
    /// Stream for the per-group rename decision of snapshot 2.
    private static let renameStream: UInt64 = 0x5245_4E41_4D45

    /// Eight-digit school unit codes, in unit order.
    let unitCodes: [String]
    /// Group ids, indexed `unit * groupsPerUnit + local`.
    let groupIDs: [String]
    /// Group names as delivered in the snapshot being generated.
    let groupNames: [String]
    /// Number of groups renamed relative to snapshot 1 (zero in snapshot 1).
    let renamedGroups: Int

    /// Derives `units` school units and their groups; in snapshot 2 about 0.5 % of groups are renamed.
    init(units: Int, seed: UInt64, snapshot: Int) {
        precondition((1...60_000).contains(units), "the national sample supports 1 to 60,000 school units")
        // 20000000 + unit·1000 + a seeded offset: unique, always eight digits, not sequential.
        unitCodes = (0..<units).map { unit in
            String(20_000_000 + unit * 1000 + Int(SplitMix64.mix(seed &+ UInt64(unit)) % 1000))
        }
        var ids: [String] = []
        var names: [String] = []
        var renamed = 0
        ids.reserveCapacity(units * Self.groupsPerUnit)
        names.reserveCapacity(units * Self.groupsPerUnit)
        for unit in 0..<units {
            for local in 0..<Self.groupsPerUnit {
                let index = unit * Self.groupsPerUnit + local
                ids.append("g\(unitCodes[unit])-\(local < 10 ? "0" : "")\(local)")
                var name = Self.name(ofLocalGroup: local)
                var decision = SplitMix64(seed: seed, stream: Self.renameStream, index: UInt64(index))
                if snapshot == 2 && decision.chance(perMille: 5) {
                    name += " (sammanslagen)"
                    renamed += 1
                }
                names.append(name)
            }
        }
        groupIDs = ids
        groupNames = names
        renamedGroups = renamed
    }

    /// "7B" for a class, "Svenska åk 7–9" for a teaching group.
    static func name(ofLocalGroup local: Int) -> String {
        if local < classesPerUnit {
            return "\(local / 2 + 1)\(local.isMultiple(of: 2) ? "A" : "B")"
        }
        let teaching = local - classesPerUnit
        return "\(subjects[teaching % subjects.count]) \(stages[teaching / subjects.count])"
    }

    /// `class` or `teaching_group`.
    static func type(ofLocalGroup local: Int) -> String {
        local < classesPerUnit ? "class" : "teaching_group"
    }

    /// The local index of the class for `grade` (1–9) and `letter` (0 for A, 1 for B).
    static func classGroup(grade: Int, letter: Int) -> Int {
        (grade - 1) * 2 + letter
    }

    /// The local index of the teaching group of `subject` for a student in `grade`.
    static func teachingGroup(subject: Int, grade: Int) -> Int {
        classesPerUnit + ((grade - 1) / 3) * subjects.count + subject
    }
}
