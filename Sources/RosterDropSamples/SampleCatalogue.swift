import RosterDrop

/// The publisher's product catalogue used by every sample: ISBN-13 ids with Swedish titles.
public enum SampleCatalogue {
    /// One product the portal sells.
    public struct Product: Sendable, Hashable {
        /// The ISBN-13, which is also Skolon's `product_id`.
        public let productID: String
        /// The title as shown in the portal.
        public let title: String
    }

    /// The catalogue, fixed regardless of seed so `samples/products.csv` matches every run.
    public static let products: [Product] = [
        ("978914012345", "Matematik 5000+ 1a"),
        ("978914012346", "Matematik Direkt 8"),
        ("978914023456", "Svenska Direkt 7"),
        ("978914023457", "Svenska Direkt 9"),
        ("978914034567", "Engelska Direkt Åk 6"),
        ("978914045678", "NO-boken Biologi 7–9"),
        ("978914056789", "SO-direkt Historia 7–9"),
        ("978914067890", "Läsförståelse och ordkunskap Åk 3"),
    ].map { Product(productID: isbn13(completing: $0.0), title: $0.1) }

    /// A well-formed ISBN-13 that is deliberately not in the catalogue (for a rejected order).
    public static let unknownProductID = isbn13(completing: "978914099999")

    /// `products.csv`: header `product_id,title`, one row per product, CRLF line ends.
    public static var csv: String {
        var text = CSVWriter.line(["product_id", "title"])
        for product in products { text += CSVWriter.line([product.productID, product.title]) }
        return text
    }

    /// Appends the ISBN-13 check digit to twelve digits.
    ///
    /// Weights alternate 1 and 3; the check digit brings the weighted sum to a multiple of 10.
    static func isbn13(completing twelveDigits: String) -> String {
        let digits = twelveDigits.compactMap { $0.wholeNumberValue }
        precondition(digits.count == 12, "an ISBN-13 stem has twelve digits")
        let sum = digits.enumerated().reduce(0) { $0 + $1.element * ($1.offset.isMultiple(of: 2) ? 1 : 3) }
        return twelveDigits + String((10 - sum % 10) % 10)
    }
}
