/// Builds HTML text with every value escaped: nothing a delivery holds can become markup.
struct HTMLText {
    private(set) var text = ""

    init() {
        text.reserveCapacity(1 << 16)
    }

    /// Escapes `value` for an element's text or a quoted attribute.
    static func escape(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            // Control characters other than tab and newline show as a visible mark.
            case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}", "\u{7F}": escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// Appends trusted markup (the page's own tags).
    mutating func raw(_ markup: String) {
        text += markup
    }

    /// Appends `value` as text.
    mutating func text(_ value: String) {
        text += Self.escape(value)
    }

    /// Appends `<tag attributes>value</tag>`, the value escaped.
    mutating func element(_ tag: String, _ value: String, attributes: String = "") {
        text += "<\(tag)\(attributes.isEmpty ? "" : " " + attributes)>"
        text += Self.escape(value)
        text += "</\(tag)>"
    }

    /// A Swedish text with its English beside it, the English marked for the reader.
    mutating func bilingual(_ swedish: String, _ english: String) {
        text += Self.escape(swedish)
        text += " <span class=\"en\" lang=\"en\">"
        text += Self.escape(english)
        text += "</span>"
    }

    /// `<tag attributes>Swedish / English</tag>`.
    mutating func bilingual(_ swedish: String, _ english: String, in tag: String, attributes: String = "") {
        text += "<\(tag)\(attributes.isEmpty ? "" : " " + attributes)>"
        bilingual(swedish, english)
        text += "</\(tag)>"
    }

    /// One `<th>` per pair, Swedish first.
    mutating func headings(_ pairs: [(String, String)]) {
        for (swedish, english) in pairs { bilingual(swedish, english, in: "th") }
    }

    /// `name="value"`, escaped.
    static func attribute(_ name: String, _ value: String) -> String {
        "\(name)=\"\(escape(value))\""
    }
}
