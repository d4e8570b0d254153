import Foundation

/// The portal's product catalogue: the products orders may name.
public enum ProductCatalogue {
    /// Loads `product_id,title` rows from a CSV file, adding new products and updating titles.
    ///
    /// The whole file is checked first: any bad row refuses the import, naming its line.
    public static func importCSV(at path: String, into database: PortalDatabase) throws -> Int {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, line: nil, key: nil, message: "cannot be read")
        }
        var reader = CSVReader()
        var events: [CSVEvent] = []
        data.withUnsafeBytes { reader.feed($0) { events.append($0) } }
        reader.finish { events.append($0) }
        var products: [(String, String)] = []
        var seen: Set<String> = []
        for (index, event) in events.enumerated() {
            switch event {
            case .problem(let problem):
                throw ConfigurationError(file: path, line: problem.line, key: nil, message: "not valid CSV (\(problem.kind))")
            case .record(let record) where index == 0:
                guard record.fields.map(\.trimmingSpaces) == ["product_id", "title"] else {
                    throw ConfigurationError(file: path, line: 1, key: nil, message: "the header must be product_id,title")
                }
            case .record(let record):
                let id = record.fields[0].trimmingSpaces
                let title = record.fields[1].trimmingSpaces
                guard !id.isEmpty, !title.isEmpty else {
                    throw ConfigurationError(file: path, line: record.line, key: nil, message: "product_id and title must not be empty")
                }
                guard seen.insert(id).inserted else {
                    throw ConfigurationError(file: path, line: record.line, key: nil, message: "product \(id) is listed twice")
                }
                products.append((id, title))
            }
        }
        try database.write { db in
            let statement = try db.makeStatement(sql: """
                INSERT INTO products (product_id, title) VALUES (?, ?)
                ON CONFLICT (product_id) DO UPDATE SET title = excluded.title
                """)
            for (id, title) in products { try statement.execute(arguments: [id, title]) }
        }
        return products.count
    }

    /// Every product id in the catalogue.
    static func ids(_ db: any StoreSession) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: "SELECT product_id FROM products"))
    }
}
