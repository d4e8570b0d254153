import Foundation

/// The portal's own licenses of an organisation as distribution orders for Skolon.
enum IntegrationExport {
    /// The contract's order columns, then what Skolon needs to find the holder.
    static let header = ["order_id", "person_id", "product_id", "license_type", "valid_from", "valid_to",
                         "email", "school_unit_code", "role", "portal_account_id"]

    /// Writes the export and, for licenses whose product the catalogue lacks (left out of
    /// the export), a reject report; returns how many were exported and left out.
    static func write(_ db: any StoreSession, organisation: String, personIDs: PersonIDScope = .global, exportName: String, to url: URL,
                      rejects: URL) throws -> (exported: Int, unknown: Int) {
        let writer = try GzipWriter(path: url.path)
        try writer.write(CSVWriter.line(header))
        let problems = try GzipWriter(path: rejects.path)
        try problems.write(CSVWriter.line(ReportWriter.rejectsHeader))
        var exported = 0
        var unknown = 0
        try db.forEachRow(sql: """
            SELECT l.order_id, a.person_id, l.product_id, l.license_type, l.valid_from, l.valid_to, a.email,
                   a.school_unit_code, a.role, a.id AS account_id, p.product_id IS NOT NULL AS known
            FROM licenses l JOIN accounts a ON a.id = l.account_id LEFT JOIN products p ON p.product_id = l.product_id
            WHERE l.organisation_id = ? AND l.source <> 'skolon'
            ORDER BY l.id
            """, arguments: [organisation]) { row in
            let orderID: String = row["order_id"]
            let productID: String = row["product_id"]
            guard row["known"] as Bool else {
                unknown += 1
                let rule = Rule.exportUnknownProduct
                try problems.write(CSVWriter.line([exportName, "", "product_id", productID, rule.rawValue,
                                                   rule.swedish(orderID), rule.english(orderID)].map(SpreadsheetSafety.neutralise)))
                return true
            }
            let personID = (row["person_id"] as String?).map { personIDs.delivered($0, organisation: organisation) }
            let cells: [String?] = [orderID, personID, productID, row["license_type"], row["valid_from"], row["valid_to"],
                                    row["email"], row["school_unit_code"], row["role"], String(row["account_id"] as Int64)]
            try writer.write(CSVWriter.line(cells.map { $0 ?? "" }))
            exported += 1
            return true
        }
        try writer.close()
        try problems.close()
        return (exported, unknown)
    }
}
