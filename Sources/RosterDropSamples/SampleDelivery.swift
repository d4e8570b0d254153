import Foundation

/// One delivery of a single organisation: its timestamp and the rows of its four data files.
///
/// Demo deliveries are small, so their rows are held here as plain string arrays; that keeps
/// deliberately malformed rows (a missing cell, a formula) expressible next to valid ones.
/// The national generator streams instead and only borrows `File`.
struct SampleDelivery {
    /// The four data files of a delivery, in manifest order.
    enum File: CaseIterable {
        case users, groups, memberships, distributionOrders

        /// The canonical (Skolon) header row.
        var header: [String] {
            switch self {
            case .users:
                ["person_id", "role", "given_name", "family_name", "email", "school_unit_code", "grade", "eppn"]
            case .groups:
                ["group_id", "name", "type", "school_unit_code"]
            case .memberships:
                ["group_id", "person_id"]
            case .distributionOrders:
                ["order_id", "person_id", "product_id", "license_type", "valid_from", "valid_to"]
            }
        }

        /// The file's name for a delivery timestamp, e.g. `users_20261123T020000Z.csv.gz`.
        func fileName(timestamp: String) -> String {
            switch self {
            case .users: "users_\(timestamp).csv.gz"
            case .groups: "groups_\(timestamp).csv.gz"
            case .memberships: "memberships_\(timestamp).csv.gz"
            case .distributionOrders: "distribution_orders_\(timestamp).csv.gz"
            }
        }
    }

    /// UTC `YYYYMMDDTHHMMSSZ`, shared by every file of the delivery.
    let timestamp: String
    var users: [[String]] = []
    var groups: [[String]] = []
    var memberships: [[String]] = []
    var orders: [[String]] = []

    /// The rows destined for `file`.
    func rows(of file: File) -> [[String]] {
        switch file {
        case .users: users
        case .groups: groups
        case .memberships: memberships
        case .distributionOrders: orders
        }
    }

    /// Writes the four data files and then, last, the manifest into `inbox`.
    func write(to inbox: URL, level: Int32) throws -> [DeliveryManifest.Entry] {
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        var entries: [DeliveryManifest.Entry] = []
        for file in File.allCases {
            let writer = try DeliveryFileWriter(
                directory: inbox, fileName: file.fileName(timestamp: timestamp), header: file.header, level: level)
            for row in rows(of: file) { try writer.append(row) }
            entries.append(try writer.finish())
        }
        try DeliveryManifest.write(entries, timestamp: timestamp, to: inbox)
        return entries
    }
}
