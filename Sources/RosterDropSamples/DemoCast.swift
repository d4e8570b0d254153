/// Who plays which part in the exempel-kommun story, chosen once from the first roster.
///
/// Choosing every role up front, each from a different person, keeps the second delivery's
/// changes and the pre-integration accounts from stepping on each other: an account meant to
/// be adopted is never also a person who leaves the next day.
struct DemoCast {
    /// Licensed people who also have an account from before the integration (adopted by e-mail).
    let adopted: [DemoRoster.Person]
    /// A person without orders who has a pre-integration account (matched, but not adopted).
    let unlicensedMatch: DemoRoster.Person
    /// Licensed people absent from the second delivery.
    let removed: [String]
    /// People whose family name changes.
    let renamed: [String]
    /// Grade 7 students re-registered in grade 8 (class 8B).
    let regraded: [String]
    /// A student moving from 8A to 8B.
    let movedClass: String
    /// The adopted person whose e-mail changes in Skolon (same person id).
    let emailChanged: String
    /// A person with two or more paid orders who loses one.
    let losesOrder: String
    /// A licensed person who is given one more product.
    let gainsOrder: String
    /// A teacher who joins one more group.
    let joiningTeacher: String
    /// People whose rows get the bad orders of the first delivery (they keep their valid ones).
    let badOrderHolders: [String]
    /// The person whose history `make demo` tells: adopted, then moved to another class and
    /// one license fewer the next day, then absent from a later delivery (one of `adopted`).
    let storyteller: String

    /// Picks the cast deterministically from `roster` and `seed`.
    init(roster: DemoRoster, seed: UInt64) {
        var rng = SplitMix64(seed: seed, stream: 0xCA57, index: 1)
        let licensed = roster.licensedPersonIDs
        let classOf = Dictionary(
            roster.memberships.compactMap { membership -> (String, String)? in
                guard let group = roster.groups.first(where: { $0.groupID == membership.groupID && $0.type == "class" })
                else { return nil }
                return (membership.personID, group.name)
            },
            uniquingKeysWith: { first, _ in first })
        var pool = rng.shuffled(roster.people)

        func take(where matches: (DemoRoster.Person) -> Bool) -> DemoRoster.Person {
            guard let index = pool.firstIndex(where: matches) else {
                preconditionFailure("the demo organisation plan is too small for its story")
            }
            return pool.remove(at: index)
        }

        let isLicensed: (DemoRoster.Person) -> Bool = { licensed.contains($0.personID) }
        adopted = (0..<4).map { _ in take(where: isLicensed) }
        unlicensedMatch = take { !licensed.contains($0.personID) }
        emailChanged = adopted[0].personID
        removed = (0..<5).map { _ in take(where: isLicensed).personID }
        renamed = (0..<2).map { _ in take { _ in true }.personID }
        regraded = (0..<2).map { _ in take { classOf[$0.personID] == "7A" }.personID }
        movedClass = take { classOf[$0.personID] == "8A" }.personID
        losesOrder = take { person in
            roster.orders.filter { $0.personID == person.personID && $0.licenseType == "paid" }.count >= 2
        }.personID
        gainsOrder = take { isLicensed($0) && roster.orderCount(of: $0.personID) < 3 }.personID
        joiningTeacher = take { $0.role == "teacher" && $0.schoolUnitCode == "12345678" }.personID
        badOrderHolders = (0..<3).map { _ in take { isLicensed($0) && roster.orderCount(of: $0.personID) <= 3 }.personID }
        // Chosen last, among the adopted (not the one whose e-mail changes): a student in a
        // class with two orders or more, so losing one keeps them in the portal.
        let candidates = adopted.dropFirst().filter { person in
            person.role == "student" && classOf[person.personID] != nil && roster.orderCount(of: person.personID) >= 2
        }
        storyteller = (candidates.first ?? adopted[1]).personID
    }
}
