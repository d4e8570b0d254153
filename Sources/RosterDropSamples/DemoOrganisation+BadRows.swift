extension DemoOrganisation {
    /// Person numbers of the people who exist only in bad rows; far above the roster's numbers.
    private enum BadNumber {
        static let formulaEmail = 901
        static let foreignUnit = 902
        static let unknownRole = 903
        static let duplicated = 904
        static let wrongCellCount = 905
        static let neverDelivered = 999
    }

    /// Adds the first delivery's deliberately bad rows, each a distinct case, among the valid ones.
    ///
    /// The bad people hold no orders and no memberships, so each problem shows up as exactly
    /// one finding instead of a cascade of "unknown person" rejects; the bad orders belong to
    /// people who stay licensed through their valid orders.
    func addFirstDayBadRows(to delivery: inout SampleDelivery, roster: DemoRoster, cast: DemoCast, seed: UInt64) {
        var rng = SplitMix64(seed: seed, stream: stream, index: 3)
        guard let unit = units.first, let otherUnit = units.last else { return }

        func badPerson(_ number: Int, role: String = "student", unit: Unit = unit) -> DemoRoster.Person {
            makePerson(number: number, role: role, unit: unit, className: role == "student" ? unit.classes.last : nil,
                       using: &rng, seed: seed)
        }

        // A cell that a spreadsheet would run as a formula when support opens the reject report.
        var formula = badPerson(BadNumber.formulaEmail)
        formula.email = "=HYPERLINK(\"http://x\",\"klick\")"
        insert(formula.row, into: &delivery.users, using: &rng)

        // A school unit that belongs to no one in this organisation.
        var foreign = badPerson(BadNumber.foreignUnit)
        foreign.schoolUnitCode = "99999999"
        insert(foreign.row, into: &delivery.users, using: &rng)

        // A role value the mapping does not know (principals are not portal users).
        var principal = badPerson(BadNumber.unknownRole, role: "teacher")
        principal.role = "rektor"
        insert(principal.row, into: &delivery.users, using: &rng)

        insertDuplicatedPerson(into: &delivery, seed: seed, using: &rng, otherUnit: otherUnit)

        // An unquoted comma in a hand-edited family name splits the row into nine cells.
        var split = badPerson(BadNumber.wrongCellCount)
        split.familyName = "Berg"
        split.eppn = nil
        split.email = SwedishNames.email(given: split.givenName, family: "BergLindqvist", number: BadNumber.wrongCellCount,
                                         domain: emailDomain)
        var cells = split.row
        cells.insert(" Lindqvist", at: 4)
        insert(cells, into: &delivery.users, using: &rng)

        if let group = roster.groups.first {
            let stranger = personID(seed: seed, number: BadNumber.neverDelivered)
            insert([group.groupID, stranger], into: &delivery.memberships, using: &rng)
        }

        let holders = roster.people.filter { cast.badOrderHolders.contains($0.personID) }
        for (slot, holder) in zip(7..., holders) {
            let held = Set(roster.orders.filter { $0.personID == holder.personID }.map(\.productID))
            let spare = SampleCatalogue.products.first { !held.contains($0.productID) }?.productID ?? ""
            var order = paidOrder(person: holder, slot: slot, productID: spare).row
            switch slot {
            case 7: order[2] = SampleCatalogue.unknownProductID
            case 8: (order[4], order[5]) = (order[5], order[4])  // valid_to before valid_from
            default: order[4] = "2026/08/01"
            }
            insert(order, into: &delivery.orders, using: &rng)
        }
    }

    /// Adds the one bad case that persists into later deliveries: a person id on two rows.
    ///
    /// A teacher working at both schools is exported once per unit, a classic Skolon export
    /// slip; which row is right cannot be decided, so both must be reported.
    func insertDuplicatedPerson(into delivery: inout SampleDelivery, seed: UInt64, using rng: inout SplitMix64,
                                otherUnit: Unit? = nil) {
        guard let unit = units.first else { return }
        var stable = SplitMix64(seed: seed, stream: stream, index: 4)
        let teacher = makePerson(number: BadNumber.duplicated, role: "teacher", unit: unit, className: nil,
                                 using: &stable, seed: seed)
        var second = teacher
        second.schoolUnitCode = (otherUnit ?? units.last ?? unit).code
        insert(teacher.row, into: &delivery.users, using: &rng)
        insert(second.row, into: &delivery.users, using: &rng)
    }

    /// Inserts `row` at a seed-chosen place, so bad rows sit among valid ones as in real files.
    private func insert(_ row: [String], into rows: inout [[String]], using rng: inout SplitMix64) {
        rows.insert(row, at: rng.below(rows.count + 1))
    }
}
