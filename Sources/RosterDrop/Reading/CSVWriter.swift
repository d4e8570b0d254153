/// Formats RFC 4180 records, the inverse of `CSVReader`.
public enum CSVWriter {
    /// One record ending in CRLF, quoting only the fields that need it (doubling their quotes).
    ///
    /// A field needs quotes when it holds the delimiter, a quote, CR or LF; everything else is
    /// written as is, so the common case costs one append per field.
    public static func line(_ fields: [String], delimiter: Character = ",") -> String {
        let delimiterText = String(delimiter)
        var result = ""
        result.reserveCapacity(fields.reduce(fields.count + 2) { $0 + $1.utf8.count })
        for (index, field) in fields.enumerated() {
            if index > 0 { result += delimiterText }
            if needsQuotes(field, delimiter: delimiter) {
                result += "\""
                // Scalars, not Characters: "\r\n" is a single Character, and quotes must be
                // found even when a combining mark follows them.
                for scalar in field.unicodeScalars {
                    if scalar == "\"" { result.unicodeScalars.append("\"") }
                    result.unicodeScalars.append(scalar)
                }
                result += "\""
            } else {
                result += field
            }
        }
        result += "\r\n"
        return result
    }

    private static func needsQuotes(_ field: String, delimiter: Character) -> Bool {
        let quote = UInt8(ascii: "\""), carriageReturn = UInt8(ascii: "\r"), lineFeed = UInt8(ascii: "\n")
        if let delimiterByte = delimiter.asciiValue, delimiter.utf8.count == 1 {
            return field.utf8.contains { $0 == quote || $0 == carriageReturn || $0 == lineFeed || $0 == delimiterByte }
        }
        if field.utf8.contains(where: { $0 == quote || $0 == carriageReturn || $0 == lineFeed }) { return true }
        return field.unicodeScalars.contains { delimiter.unicodeScalars.contains($0) }
    }
}
