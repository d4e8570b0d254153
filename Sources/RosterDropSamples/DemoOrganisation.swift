import RosterDrop
/// The plan of one demo organisation (huvudman) and the generation of its first roster.
struct DemoOrganisation {
    /// A teaching group and who of the unit's students takes it.
    struct TeachingGroup {
        let name: String
        /// Students of this class only, when set.
        var className: String?
        /// Students of this grade only, when set.
        var grade: Int?
        /// Only every second matching student, as when a year is split into lab groups.
        var everySecond = false
    }

    /// A school unit (skolenhet) with its staff, students and groups.
    struct Unit {
        let code: String
        let teachers: Int
        let students: Int
        /// Class names such as "7B"; the leading number is the class's grade.
        let classes: [String]
        let teachingGroups: [TeachingGroup]
    }

    /// The drop-folder name, e.g. `exempel-kommun`.
    let slug: String
    /// Short prefix of order ids, readable in reject reports (`ek-0042-1`).
    let orderPrefix: String
    /// Separates this organisation's derived ids from another's under the same seed.
    let stream: UInt64
    let emailDomain: String
    let units: [Unit]

    /// Dates every demo order uses: a school-year license and a 30-day "Prova gratis" trial.
    static let schoolYearStart = CalendarDay(2026, 7, 1)
    static let schoolYearEnd = CalendarDay(2027, 6, 30)
    static let trialStart = CalendarDay(2026, 11, 9)
    static let expiredTrialStart = CalendarDay(2026, 10, 1)
    static let trialDays = 30

    /// The stable person id of the person with `number` (and of bad-row people, too).
    func personID(seed: UInt64, number: Int) -> String {
        SampleIdentifier.uuidLike(seed: seed, stream: stream, index: number)
    }

    /// A new, valid person of `unit`; the caller decides whether they hold orders.
    func makePerson(number: Int, role: String, unit: Unit, className: String?, using rng: inout SplitMix64,
                    seed: UInt64) -> DemoRoster.Person {
        let given = rng.pick(SwedishNames.given)
        let family = rng.pick(SwedishNames.family)
        let hasEppn = !rng.chance(perMille: 200)
        return DemoRoster.Person(
            number: number,
            personID: personID(seed: seed, number: number),
            role: role,
            givenName: given,
            familyName: family,
            email: SwedishNames.email(given: given, family: family, number: number, domain: emailDomain),
            schoolUnitCode: unit.code,
            grade: className.flatMap(Self.grade(ofClass:)),
            eppn: hasEppn ? SwedishNames.eppn(given: given, family: family, number: number, domain: emailDomain) : nil)
    }

    /// The first roster: every unit's teachers and students, groups, memberships and orders,
    /// with about a tenth of the people holding no order at all.
    func firstRoster(seed: UInt64) -> DemoRoster {
        var rng = SplitMix64(seed: seed, stream: stream, index: 0)
        var roster = DemoRoster()
        var number = 0
        var teacherGroups: [String: [String]] = [:]  // person id → group ids
        for unit in units {
            let classGroups = unit.classes.map { makeGroup(name: $0, type: "class", unit: unit, seed: seed) }
            let teachingGroups = unit.teachingGroups.map { makeGroup(name: $0.name, type: "teaching_group", unit: unit, seed: seed) }
            roster.groups += classGroups + teachingGroups
            let unitGroupIDs = (classGroups + teachingGroups).map(\.groupID)
            for _ in 0..<unit.teachers {
                number += 1
                let teacher = makePerson(number: number, role: "teacher", unit: unit, className: nil, using: &rng, seed: seed)
                roster.people.append(teacher)
                let picks = rng.distinctIndices(rng.int(in: 1...3), of: unitGroupIDs.count)
                teacherGroups[teacher.personID] = picks.map { unitGroupIDs[$0] }
            }
            var taken: [String: Int] = [:]  // teaching group name → matching students seen so far
            for _ in 0..<unit.students {
                number += 1
                let className = rng.pick(unit.classes)
                let student = makePerson(number: number, role: "student", unit: unit, className: className, using: &rng, seed: seed)
                roster.people.append(student)
                if let classGroup = classGroups.first(where: { $0.name == className }) {
                    roster.memberships.append(.init(groupID: classGroup.groupID, personID: student.personID))
                }
                for (plan, group) in zip(unit.teachingGroups, teachingGroups) where plan.admits(className: className) {
                    let seen = taken[plan.name, default: 0]
                    taken[plan.name] = seen + 1
                    if plan.everySecond && !seen.isMultiple(of: 2) { continue }
                    roster.memberships.append(.init(groupID: group.groupID, personID: student.personID))
                }
            }
        }
        for person in roster.people {
            for groupID in teacherGroups[person.personID] ?? [] {
                roster.memberships.append(.init(groupID: groupID, personID: person.personID))
            }
        }
        addOrders(to: &roster, using: &rng)
        return roster
    }

    /// Gives about 90 % of the people one to three paid licenses and a few of them a trial.
    private func addOrders(to roster: inout DemoRoster, using rng: inout SplitMix64) {
        let unlicensed = Set(rng.distinctIndices(max(1, roster.people.count / 10), of: roster.people.count))
        let trials = Set(rng.distinctIndices(4, of: roster.people.count)).subtracting(unlicensed)
        for (offset, person) in roster.people.enumerated() where !unlicensed.contains(offset) {
            let count = person.role == "teacher" ? rng.int(in: 1...3) : rng.int(in: 1...2)
            let products = rng.distinctIndices(count + 1, of: SampleCatalogue.products.count)
            for slot in 1...count {
                roster.orders.append(paidOrder(person: person, slot: slot, productID: SampleCatalogue.products[products[slot - 1]].productID))
            }
            if trials.contains(offset), let trialProduct = products.last {
                // The first trial drawn already ran out: "after valid_to they grant nothing".
                let start = roster.orders.contains { $0.licenseType == "trial" } ? Self.trialStart : Self.expiredTrialStart
                roster.orders.append(DemoRoster.Order(
                    orderID: orderID(number: person.number, slot: count + 1), personID: person.personID,
                    productID: SampleCatalogue.products[trialProduct].productID, licenseType: "trial",
                    validFrom: start, validTo: start.adding(days: Self.trialDays)))
            }
        }
    }

    /// A school-year paid order.
    func paidOrder(person: DemoRoster.Person, slot: Int, productID: String) -> DemoRoster.Order {
        DemoRoster.Order(
            orderID: orderID(number: person.number, slot: slot), personID: person.personID, productID: productID,
            licenseType: "paid", validFrom: Self.schoolYearStart, validTo: Self.schoolYearEnd)
    }

    /// `<prefix>-<number, 4 digits>-<slot>`: stable across days and easy to find in a report.
    func orderID(number: Int, slot: Int) -> String {
        let digits = String(number)
        return "\(orderPrefix)-\(String(repeating: "0", count: max(0, 4 - digits.count)))\(digits)-\(slot)"
    }

    private func makeGroup(name: String, type: String, unit: Unit, seed: UInt64) -> DemoRoster.Group {
        // Group ids come from their own stream so they never collide with person ids.
        let key = SplitMix64.mix(UInt64(truncatingIfNeeded: (unit.code + "/" + name).utf8.reduce(0) { $0 &* 31 &+ Int($1) }))
        let groupID = SampleIdentifier.uuidLike(seed: seed, stream: stream &+ 1, index: Int(truncatingIfNeeded: key >> 1))
        return DemoRoster.Group(groupID: groupID, name: name, type: type, schoolUnitCode: unit.code)
    }

    /// The grade of a class name such as "8B".
    static func grade(ofClass name: String) -> Int? {
        Int(String(name.prefix { $0.isNumber }))
    }
}

extension DemoOrganisation.TeachingGroup {
    /// Whether a student of `className` takes this group.
    func admits(className: String) -> Bool {
        if let only = self.className { return only == className }
        if let grade { return DemoOrganisation.grade(ofClass: className) == grade }
        return true
    }
}
