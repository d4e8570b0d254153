import RosterDrop
import Foundation

/// A national-scale delivery for one organisation, `riket`, streamed straight to disk.
///
/// At the defaults it is ≈1.75M users in 400 school units (≈9 % teachers), ≈13k groups,
/// ≈5.25M memberships and ≈4.15M orders. Snapshot 2 is snapshot 1 with ≈1 % of the users
/// changed: ≈0.4 % removed, ≈0.4 % appended, ≈0.2 % with a new family name or e-mail, and
/// ≈0.5 % of the groups renamed; memberships and orders follow their people.
public struct NationalSnapshot: Sendable {
    public static let organisation = "riket"
    /// Fast compression: this data set exists to load-test the portal, not to be small.
    static let compressionLevel: Int32 = 1

    /// Users in snapshot 1 (snapshot 2 removes and appends a few).
    public var users: Int
    /// School units of the organisation.
    public var schools: Int
    public var seed: UInt64
    /// 1 or 2.
    public var snapshot: Int

    /// Describes a snapshot; nothing is generated until `write(to:)`.
    public init(users: Int = 1_750_000, schools: Int = 400, seed: UInt64 = 7, snapshot: Int = 1) {
        self.users = users
        self.schools = schools
        self.seed = seed
        self.snapshot = snapshot
    }

    /// The delivery timestamp: one day apart, so snapshot 2 sorts after snapshot 1.
    public var timestamp: String {
        snapshot == 2 ? "20261202T010000Z" : "20261201T010000Z"
    }

    /// People appended by snapshot 2 (≈0.4 % of `users`).
    public var appendedUsers: Int {
        snapshot == 2 ? max(1, users * 4 / 1000) : 0
    }

    /// Writes `products.csv`, `config-units.txt` and the delivery into `dir/drop/riket/inbox/`.
    public func write(to dir: URL) throws -> NationalSummary {
        precondition(snapshot == 1 || snapshot == 2, "snapshot must be 1 or 2")
        precondition(users > 0 && schools > 0, "users and schools must be positive")
        let fileManager = FileManager.default
        let inbox = dir.appendingPathComponent("drop/\(Self.organisation)/inbox", isDirectory: true)
        try fileManager.createDirectory(at: inbox, withIntermediateDirectories: true)
        try Data(SampleCatalogue.csv.utf8).write(to: dir.appendingPathComponent("products.csv"), options: .atomic)

        let directory = NationalSchools(units: schools, seed: seed, snapshot: snapshot)
        let unitsText = directory.unitCodes.map { $0 + "\n" }.joined()
        try Data(unitsText.utf8).write(to: dir.appendingPathComponent("config-units.txt"), options: .atomic)

        let groups = try writer(.groups, in: inbox)
        for (index, groupID) in directory.groupIDs.enumerated() {
            let local = index % NationalSchools.groupsPerUnit
            try groups.append([groupID, directory.groupNames[index], NationalSchools.type(ofLocalGroup: local),
                               directory.unitCodes[index / NationalSchools.groupsPerUnit]])
        }
        let groupsEntry = try groups.finish()

        let people = try writer(.users, in: inbox)
        let memberships = try writer(.memberships, in: inbox)
        let orders = try writer(.distributionOrders, in: inbox)
        var counts = NationalSummary.Changes()
        let dates = OrderDates()
        for index in 0..<(users + appendedUsers) {
            var change = NationalPerson.Change.unchanged
            if snapshot == 2 && index < users {
                change = NationalPerson.change(index: index, seed: seed)
                counts.count(change)
                if change == .removed { continue }
            }
            let person = NationalPerson(index: index, baseUsers: users, units: schools, seed: seed, change: change)
            try people.append([
                person.personID, person.isTeacher ? "teacher" : "student", person.givenName, person.familyName,
                person.email, directory.unitCodes[person.unit], person.grade.map(String.init) ?? "", person.eppn ?? "",
            ])
            for group in person.groups {
                try memberships.append([directory.groupIDs[group], person.personID])
            }
            for (slot, order) in person.orders.enumerated() {
                let product = SampleCatalogue.products[order.productIndex].productID
                let (from, to) = order.trialStart.map { (dates.trialFrom[$0], dates.trialTo[$0]) } ?? (dates.paidFrom, dates.paidTo)
                try orders.append(["do-\(index + 1)-\(slot + 1)", person.personID, product,
                                   order.trialStart == nil ? "paid" : "trial", from, to])
            }
        }
        counts.appended = appendedUsers
        counts.renamedGroups = directory.renamedGroups
        let entries = [try people.finish(), groupsEntry, try memberships.finish(), try orders.finish()]
        try DeliveryManifest.write(entries, timestamp: timestamp, to: inbox)
        return NationalSummary(timestamp: timestamp, inbox: inbox, files: entries, changes: counts)
    }

    private func writer(_ file: SampleDelivery.File, in inbox: URL) throws -> DeliveryFileWriter {
        try DeliveryFileWriter(directory: inbox, fileName: file.fileName(timestamp: timestamp), header: file.header,
                               level: Self.compressionLevel)
    }

    /// The few date strings orders use, formatted once rather than once per row.
    private struct OrderDates {
        let paidFrom = CalendarDay(2026, 7, 1).description
        let paidTo = CalendarDay(2027, 6, 30).description
        let trialFrom: [String]
        let trialTo: [String]

        init() {
            let starts = (0..<28).map { CalendarDay(2026, 11, 1).adding(days: $0) }
            trialFrom = starts.map(\.description)
            trialTo = starts.map { $0.adding(days: 30).description }
        }
    }
}

/// What `NationalSnapshot.write(to:)` wrote.
public struct NationalSummary: Sendable {
    /// How snapshot 2 differs from snapshot 1 (all zero for snapshot 1).
    public struct Changes: Sendable {
        public var removed = 0
        public var appended = 0
        public var renamed = 0
        public var newEmail = 0
        public var renamedGroups = 0

        mutating func count(_ change: NationalPerson.Change) {
            switch change {
            case .removed: removed += 1
            case .renamed: renamed += 1
            case .newEmail: newEmail += 1
            case .unchanged: break
            }
        }
    }

    public let timestamp: String
    public let inbox: URL
    /// The manifest's entries, in manifest order.
    public let files: [DeliveryManifest.Entry]
    public let changes: Changes

    /// Data records over all four files.
    public var totalRows: Int {
        files.reduce(0) { $0 + $1.rows }
    }
}
