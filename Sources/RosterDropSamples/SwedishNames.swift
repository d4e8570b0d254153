/// Realistic Swedish given and family names, and the ASCII folding schools use for e-mail addresses.
///
/// The lists lean on names with å, ä and ö on purpose: they exercise UTF-8 handling end to end
/// and the case-insensitive e-mail matching, which is where real deliveries go wrong.
enum SwedishNames {
    /// Given names, mixed female and male.
    static let given: [String] = [
        "Åsa", "Björn", "Göran", "Märta", "Anna", "Erik", "Maja", "Oskar", "Ebba", "Lars",
        "Saga", "Nils", "Alva", "Hugo", "Elsa", "Linnéa", "Måns", "Sölve", "Åke", "Ingrid",
        "Karin", "Per", "Astrid", "Jöns", "Tove", "Axel", "Wilma", "Ludvig", "Freja", "Sixten",
        "Agnes", "Olle", "Greta", "Tore", "Idun", "Vidar", "Signe", "Börje", "Stina", "Gösta",
        "Klara", "Jonas", "Sofia", "Emil", "Ella", "Albin", "Ronja", "Elias", "Ylva", "Sören",
        "Hanna", "Viktor", "Lovisa", "Anton", "Matilda", "Isak", "Selma", "Vilgot", "Tilda", "Jörgen",
        "Mira", "Omar", "Leila", "Amir", "Yasmin", "Noah", "Nora", "Aron", "Liv", "Kerstin",
    ]

    /// Family names.
    static let family: [String] = [
        "Lindqvist", "Sjöberg", "Östlund", "Ängström", "Andersson", "Johansson", "Karlsson",
        "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson",
        "Pettersson", "Jönsson", "Löfgren", "Åberg", "Björklund", "Sjögren", "Ström", "Hägglund",
        "Bäckström", "Nordström", "Lindström", "Åkesson", "Holmström", "Öberg", "Wikström",
        "Mårtensson", "Sandström", "Forsberg", "Engström", "Hedlund", "Nyström", "Lundgren",
        "Söderberg", "Dahlgren", "Berglöf", "Källström", "Ekström", "Fröberg", "Grönlund",
        "Strömberg", "Ågren", "Hellström", "Blomqvist", "Sundqvist", "Wallin", "Håkansson",
    ]

    /// Lower-cases `name` and folds it to the characters schools use in e-mail addresses.
    ///
    /// Swedish schools write "Östlund" as "ostlund" in addresses, not "oestlund"; anything that
    /// is neither a letter nor a digit is dropped so the local part stays valid.
    static func asciiFolded(_ name: String) -> String {
        var folded = ""
        folded.reserveCapacity(name.utf8.count)
        for character in name.lowercased() {
            switch character {
            case "å", "ä", "á", "à": folded.append("a")
            case "ö", "ø", "ó": folded.append("o")
            case "é", "è", "ë": folded.append("e")
            case "ü", "ú": folded.append("u")
            case "a"..."z", "0"..."9": folded.append(character)
            default: continue
            }
        }
        return folded
    }

    /// The address form `given.family<number>@<domain>`, unique as long as `number` is.
    static func email(given: String, family: String, number: Int, domain: String) -> String {
        "\(asciiFolded(given)).\(asciiFolded(family))\(number)@\(domain)"
    }

    /// A school-IdP style login id (first letters of both names and a number), e.g. `annlin042`.
    static func eppn(given: String, family: String, number: Int, domain: String) -> String {
        let number = String(number)
        let padded = String(repeating: "0", count: max(0, 3 - number.count)) + number
        return "\(asciiFolded(given).prefix(3))\(asciiFolded(family).prefix(3))\(padded)@\(domain)"
    }
}
