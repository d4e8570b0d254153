import Foundation

/// The demo data set: two organisations, three deliveries, the product catalogue and the
/// portal's state before the integration.
public enum DemoSamples {
    /// The seed the demo uses unless told otherwise.
    public static let defaultSeed: UInt64 = 42
    /// Demo files are small; the default zlib level keeps them close to what Skolon sends.
    static let compressionLevel: Int32 = 6

    static let firstTimestamp = "20261123T020000Z"
    static let secondTimestamp = "20261124T020000Z"
    static let friskolanTimestamp = "20261123T030000Z"
    /// A later exempel-kommun delivery, put in the inbox by the demo before its day-24 run.
    static let laterTimestamp = "20261210T020000Z"

    /// Writes the whole demo under `dir` and returns what was written.
    ///
    /// Layout: `products.csv`, `portal-before.sql` and `drop/<organisation>/inbox/` with each
    /// delivery's four gzip'd files and its manifest (written last). The same seed always
    /// gives byte-identical files.
    public static func write(to dir: URL, seed: UInt64 = defaultSeed) throws -> DemoSummary {
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: dir, withIntermediateDirectories: true)

        let productsFile = dir.appendingPathComponent("products.csv")
        try Data(SampleCatalogue.csv.utf8).write(to: productsFile, options: .atomic)

        let kommun = DemoOrganisation.exempelKommun
        let first = kommun.firstRoster(seed: seed)
        let cast = DemoCast(roster: first, seed: seed)
        let second = kommun.nextRoster(after: first, cast: cast, seed: seed)

        var firstDelivery = first.delivery(timestamp: firstTimestamp)
        kommun.addFirstDayBadRows(to: &firstDelivery, roster: first, cast: cast, seed: seed)
        var secondDelivery = second.delivery(timestamp: secondTimestamp)
        var placement = SplitMix64(seed: seed, stream: kommun.stream, index: 5)
        kommun.insertDuplicatedPerson(into: &secondDelivery, seed: seed, using: &placement)

        // Weeks later: the same snapshot without the storyteller.
        var third = second
        third.remove(personID: cast.storyteller)
        let later = dir.appendingPathComponent("later/exempel-kommun", isDirectory: true)
        _ = try third.delivery(timestamp: laterTimestamp).write(to: later, level: compressionLevel)
        try Data((cast.storyteller + "\n").utf8).write(to: dir.appendingPathComponent("story-person.txt"), options: .atomic)

        let friskolan = DemoOrganisation.friskolanNorr
        let friskolanDelivery = friskolan.firstRoster(seed: seed).delivery(timestamp: friskolanTimestamp)

        var deliveries: [DemoSummary.Delivery] = []
        for (organisation, delivery) in [(kommun, firstDelivery), (kommun, secondDelivery), (friskolan, friskolanDelivery)] {
            let inbox = dir.appendingPathComponent("drop/\(organisation.slug)/inbox", isDirectory: true)
            let files = try delivery.write(to: inbox, level: compressionLevel)
            deliveries.append(.init(organisation: organisation.slug, timestamp: delivery.timestamp, inbox: inbox, files: files))
        }

        // A legacy school's Excel sheets, as mailed to support before it is onboarded
        // (`mappings/excel-sv`): dated the evening before the demo's first day.
        var excel = SchoolExport.roster(seed: seed)
        excel.people[3].email = "kalle.at.skolan"
        let mailed = dir.appendingPathComponent("mailed-in/skolan-excel", isDirectory: true)
        let sheets = try excel.write(.excel, to: mailed, timestamp: "", products: SampleCatalogue.products.prefix(3).map(\.productID),
                                     validFrom: "2026-08-01", validTo: "2027-07-31")
        for name in sheets {
            try fileManager.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_795_456_800)],
                                          ofItemAtPath: mailed.appendingPathComponent(name).path)
        }
        try fileManager.createDirectory(at: dir.appendingPathComponent("drop/skolan-excel/inbox"), withIntermediateDirectories: true)

        let portal = PortalBeforeSQL(cast: cast, seed: seed)
        let portalFile = dir.appendingPathComponent("portal-before.sql")
        try Data(portal.text.utf8).write(to: portalFile, options: .atomic)

        return DemoSummary(
            deliveries: deliveries, productsFile: productsFile, portalBeforeFile: portalFile,
            preIntegrationAccounts: portal.accounts.count,
            licensedUsersFirstDelivery: first.licensedPersonIDs.count,
            unlicensedUsersFirstDelivery: first.people.count - first.licensedPersonIDs.count)
    }
}

/// What `DemoSamples.write(to:seed:)` wrote, for the command's summary and for tests.
public struct DemoSummary: Sendable {
    /// One delivery written into an inbox.
    public struct Delivery: Sendable {
        public let organisation: String
        public let timestamp: String
        public let inbox: URL
        /// The manifest's entries, in manifest order.
        public let files: [DeliveryManifest.Entry]

        /// The manifest file written last.
        public var manifest: URL {
            inbox.appendingPathComponent(DeliveryManifest.fileName(timestamp: timestamp))
        }

        /// The data file of the delivery whose name starts with `prefix` (e.g. `users_`).
        public func file(_ prefix: String) -> URL? {
            files.first { $0.file.hasPrefix(prefix) }.map { inbox.appendingPathComponent($0.file) }
        }
    }

    public let deliveries: [Delivery]
    public let productsFile: URL
    public let portalBeforeFile: URL
    public let preIntegrationAccounts: Int
    /// Valid users of exempel-kommun's first delivery who hold at least one order.
    public let licensedUsersFirstDelivery: Int
    /// Valid users of exempel-kommun's first delivery with no order at all.
    public let unlicensedUsersFirstDelivery: Int

    /// Every file written, in the order written.
    public var filesWritten: [URL] {
        [productsFile]
            + deliveries.flatMap { delivery in delivery.files.map { delivery.inbox.appendingPathComponent($0.file) } + [delivery.manifest] }
            + [portalBeforeFile]
    }
}
