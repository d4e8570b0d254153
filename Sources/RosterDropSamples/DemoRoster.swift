import RosterDrop
/// What one demo organisation holds in Skolon on one day: people, groups, memberships, orders.
///
/// The roster is the valid part of a snapshot; deliberately bad rows are added only when it is
/// rendered into a delivery, so the next day's roster can be derived from this one cleanly.
struct DemoRoster {
    /// A student or teacher.
    struct Person {
        /// 1-based number within the organisation; it keeps e-mail addresses unique.
        let number: Int
        let personID: String
        var role: String
        var givenName: String
        var familyName: String
        var email: String
        var schoolUnitCode: String
        var grade: Int?
        var eppn: String?

        /// The person's row in `users_<ts>.csv.gz`.
        var row: [String] {
            [personID, role, givenName, familyName, email, schoolUnitCode, grade.map(String.init) ?? "", eppn ?? ""]
        }
    }

    /// A class or teaching group.
    struct Group {
        let groupID: String
        var name: String
        let type: String
        let schoolUnitCode: String

        /// The group's row in `groups_<ts>.csv.gz`.
        var row: [String] { [groupID, name, type, schoolUnitCode] }
    }

    /// A person's place in a group.
    struct Membership: Hashable {
        let groupID: String
        let personID: String

        /// The membership's row in `memberships_<ts>.csv.gz`.
        var row: [String] { [groupID, personID] }
    }

    /// A license assignment (distributionsorder).
    struct Order {
        let orderID: String
        let personID: String
        let productID: String
        let licenseType: String
        let validFrom: CalendarDay
        let validTo: CalendarDay

        /// The order's row in `distribution_orders_<ts>.csv.gz`.
        var row: [String] {
            [orderID, personID, productID, licenseType, validFrom.description, validTo.description]
        }
    }

    var people: [Person] = []
    var groups: [Group] = []
    var memberships: [Membership] = []
    var orders: [Order] = []

    /// Person ids that hold at least one order: the users the portal will create.
    var licensedPersonIDs: Set<String> {
        Set(orders.map(\.personID))
    }

    /// Orders per person id.
    func orderCount(of personID: String) -> Int {
        orders.reduce(0) { $0 + ($1.personID == personID ? 1 : 0) }
    }

    /// Drops a person together with their memberships and orders, as Skolon's next snapshot would.
    mutating func remove(personID: String) {
        people.removeAll { $0.personID == personID }
        memberships.removeAll { $0.personID == personID }
        orders.removeAll { $0.personID == personID }
    }

    /// The roster as a delivery with valid rows only.
    func delivery(timestamp: String) -> SampleDelivery {
        SampleDelivery(
            timestamp: timestamp,
            users: people.map(\.row),
            groups: groups.map(\.row),
            memberships: memberships.map(\.row),
            orders: orders.map(\.row))
    }
}
