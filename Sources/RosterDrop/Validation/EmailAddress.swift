/// The e-mail address check used for `type: email` fields.
///
/// It accepts what mail systems deliver to in practice (RFC 5321 dot-atoms with a dotted
/// domain) and refuses what is surely wrong: no `@`, spaces, empty parts, a missing
/// top-level domain. It is deliberately not a full RFC 5322 parser.
enum EmailAddress {
    static func isValid(_ address: String) -> Bool {
        let bytes = Array(address.utf8)
        guard bytes.count <= 254, let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { return false }
        let local = bytes[..<at]
        let domain = bytes[(at + 1)...]
        guard !local.isEmpty, local.count <= 64, !domain.isEmpty else { return false }
        guard isDotAtom(local, allowed: isLocalByte), isDotAtom(domain, allowed: isDomainByte) else { return false }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2, let tld = labels.last, tld.count >= 2 else { return false }
        return labels.allSatisfy { $0.first != UInt8(ascii: "-") && $0.last != UInt8(ascii: "-") }
    }

    private static func isDotAtom(_ part: ArraySlice<UInt8>, allowed: (UInt8) -> Bool) -> Bool {
        guard part.first != UInt8(ascii: "."), part.last != UInt8(ascii: ".") else { return false }
        var previousDot = false
        for byte in part {
            if byte == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
            } else {
                guard allowed(byte) else { return false }
                previousDot = false
            }
        }
        return true
    }

    private static func isLocalByte(_ byte: UInt8) -> Bool {
        if isAlphanumeric(byte) || byte >= 0x80 { return true }
        return Array("!#$%&'*+/=?^_`{|}~-".utf8).contains(byte)
    }

    private static func isDomainByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte >= 0x80
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }
}
