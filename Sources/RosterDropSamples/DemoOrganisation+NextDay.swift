extension DemoOrganisation {
    /// The next day's snapshot of the same organisation, with the changes the cast calls for.
    ///
    /// Every kind of change the reconciliation must handle appears at least once: people added
    /// (with orders) and removed, names, grades and an e-mail changed, a group removed and one
    /// renamed, memberships moved, one order withdrawn and one added.
    func nextRoster(after first: DemoRoster, cast: DemoCast, seed: UInt64) -> DemoRoster {
        var rng = SplitMix64(seed: seed, stream: stream, index: 2)
        var roster = first
        for personID in cast.removed { roster.remove(personID: personID) }

        func update(_ personID: String, _ change: (inout DemoRoster.Person) -> Void) {
            if let index = roster.people.firstIndex(where: { $0.personID == personID }) {
                change(&roster.people[index])
            }
        }
        func groupID(named name: String) -> String? {
            roster.groups.first { $0.name == name }?.groupID
        }
        func leave(_ personID: String, _ groupName: String) {
            guard let id = groupID(named: groupName) else { return }
            roster.memberships.removeAll { $0.personID == personID && $0.groupID == id }
        }
        func join(_ personID: String, _ groupName: String) {
            guard let id = groupID(named: groupName) else { return }
            let membership = DemoRoster.Membership(groupID: id, personID: personID)
            if !roster.memberships.contains(membership) { roster.memberships.append(membership) }
        }

        for personID in cast.renamed {
            // A changed family name (marriage, a corrected spelling); Skolon keeps the address.
            update(personID) { person in
                person.familyName = rng.pick(SwedishNames.family.filter { $0 != person.familyName })
            }
        }
        update(cast.emailChanged) { person in
            person.email = SwedishNames.email(
                given: person.givenName, family: person.familyName, number: person.number, domain: "skola.\(emailDomain)")
        }
        for personID in cast.regraded {
            update(personID) { $0.grade = 8 }
            for group in roster.groups where group.schoolUnitCode == "12345678" && group.name.hasPrefix("NO åk 7") {
                leave(personID, group.name)
            }
            leave(personID, "7A")
            join(personID, "8B")
        }
        // The storyteller moves to another class of their school and loses their last order.
        if let person = roster.people.first(where: { $0.personID == cast.storyteller }),
           let current = roster.memberships.lazy.compactMap({ membership in
               roster.groups.first { $0.groupID == membership.groupID && $0.type == "class" && membership.personID == person.personID }
           }).first,
           let other = roster.groups.first(where: { $0.type == "class" && $0.schoolUnitCode == current.schoolUnitCode
                                                     && $0.groupID != current.groupID }) {
            leave(person.personID, current.name)
            join(person.personID, other.name)
        }
        if let index = roster.orders.lastIndex(where: { $0.personID == cast.storyteller }) {
            roster.orders.remove(at: index)
        }
        leave(cast.movedClass, "8A")
        leave(cast.movedClass, "Ma 8A")
        join(cast.movedClass, "8B")
        let teacherGroups = Set(roster.memberships.filter { $0.personID == cast.joiningTeacher }.map(\.groupID))
        if let newGroup = roster.groups.first(where: { $0.schoolUnitCode == units.first?.code && !teacherGroups.contains($0.groupID) }) {
            join(cast.joiningTeacher, newGroup.name)
        }

        if let removedGroup = groupID(named: "Engelska åk 6") {
            roster.groups.removeAll { $0.groupID == removedGroup }
            roster.memberships.removeAll { $0.groupID == removedGroup }
        }
        if let index = roster.groups.firstIndex(where: { $0.name == "Ma 8A" }) {
            roster.groups[index].name = "Matematik 8A"
        }

        if let index = roster.orders.lastIndex(where: { $0.personID == cast.losesOrder && $0.licenseType == "paid" }) {
            roster.orders.remove(at: index)
        }
        if let person = first.people.first(where: { $0.personID == cast.gainsOrder }) {
            let held = Set(first.orders.filter { $0.personID == person.personID }.map(\.productID))
            if let product = SampleCatalogue.products.first(where: { !held.contains($0.productID) }) {
                roster.orders.append(paidOrder(person: person, slot: first.orderCount(of: person.personID) + 1,
                                               productID: product.productID))
            }
        }
        addNewcomers(4, to: &roster, after: first, using: &rng, seed: seed)
        return roster
    }

    /// Appends `count` new students, each in a class and with one or two paid orders.
    private func addNewcomers(_ count: Int, to roster: inout DemoRoster, after first: DemoRoster,
                              using rng: inout SplitMix64, seed: UInt64) {
        var number = first.people.map(\.number).max() ?? 0
        for _ in 0..<count {
            number += 1
            let unit = rng.pick(units)
            let className = rng.pick(unit.classes)
            let student = makePerson(number: number, role: "student", unit: unit, className: className, using: &rng, seed: seed)
            roster.people.append(student)
            if let group = roster.groups.first(where: { $0.name == className && $0.schoolUnitCode == unit.code }) {
                roster.memberships.append(.init(groupID: group.groupID, personID: student.personID))
            }
            let products = rng.distinctIndices(rng.int(in: 1...2), of: SampleCatalogue.products.count)
            for (slot, product) in products.enumerated() {
                roster.orders.append(paidOrder(person: student, slot: slot + 1,
                                               productID: SampleCatalogue.products[product].productID))
            }
        }
    }
}
