/// Neutralises report cells so that none can run as a formula when opened in a spreadsheet.
///
/// Following OWASP's CSV-injection advice, a cell starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return (or their full-width forms) gets a leading `'`, which spreadsheets
/// show as text. The CSV writer then quotes the cell as RFC 4180 requires.
enum SpreadsheetSafety {
    static func neutralise(_ cell: String) -> String {
        guard let first = cell.unicodeScalars.first else { return cell }
        switch first {
        case "=", "+", "-", "@", "\t", "\r", "\u{FF1D}", "\u{FF0B}", "\u{FF0D}", "\u{FF20}":
            return "'" + cell
        default:
            return cell
        }
    }
}
