/// A stable identifier for one kind of problem, with the messages support staff hand on.
///
/// Rule ids are part of the reject report's contract: scripts and support notes refer to
/// them, so an id never changes meaning. Messages say what is wrong and what to do, in
/// Swedish and English; `detail` carries the specifics (an expected format, other lines).
public enum Rule: String, Sendable, CaseIterable {
    case unclosedQuote = "csv.unclosed_quote"
    case strayQuote = "csv.stray_quote"
    case cellCount = "csv.cell_count"
    case encoding = "csv.encoding"
    case tooLong = "csv.too_long"
    case required = "field.required"
    case pattern = "field.pattern"
    case length = "field.length"
    case controlCharacter = "field.control_character"
    case lookup = "field.lookup"
    case noPartner = "join.no_partner"
    case severalPartners = "join.several_partners"
    case tooManyValues = "split.too_many"
    case integer = "field.integer"
    case range = "field.range"
    case date = "field.date"
    case dateOrder = "field.date_order"
    case email = "field.email"
    case enumeration = "field.enum"
    case duplicate = "unique.duplicate"
    case unknownPerson = "reference.person"
    case rejectedPerson = "reference.person_rejected"
    case unknownGroup = "reference.group"
    case rejectedGroup = "reference.group_rejected"
    case unknownProduct = "reference.product"
    case schoolUnitOutOfScope = "scope.school_unit"
    case otherOrganisation = "scope.other_organisation"
    case missingColumn = "file.missing_column"
    case encodingMismatch = "file.encoding"
    case unreadableFile = "file.unreadable"
    case tooLarge = "file.too_large"
    case manifestMissingFile = "manifest.missing_file"
    case manifestUnlisted = "manifest.unlisted_file"
    case manifestUnclaimed = "manifest.unclaimed_file"
    case manifestRows = "manifest.rows"
    case manifestChecksum = "manifest.checksum"
    case manifestInvalid = "manifest.invalid"
    case missingKind = "delivery.missing_file"
    case stale = "delivery.stale"
    case badTimestamp = "delivery.timestamp"
    case exportUnknownProduct = "export.unknown_product"
    case removalsSuspended = "delivery.removals_suspended"

    /// The Swedish message, with `detail` filled in; `source` names where the data comes
    /// from (the mapping's `source:`, e.g. Skolon), so the school knows where to fix it.
    public func swedish(_ detail: String, source: String? = nil) -> String {
        let fixAt = source.map { "i \($0)" } ?? "i källsystemet"
        switch self {
        case .unclosedQuote: return "Ett citattecken öppnas men stängs aldrig; resten av filen kunde inte läsas. Kontrollera citattecknen på raden."
        case .strayQuote: return "Ett citattecken står mitt i ett fält. Omge hela fältet med citattecken och dubblera citattecken inuti (\"\")."
        case .cellCount: return "Raden har fel antal fält (förväntat \(part(detail, 0)), hittade \(part(detail, 1))). Kontrollera avgränsare och citattecken."
        case .encoding: return "Raden innehåller tecken som inte är giltiga i filens teckenkodning (\(detail)). Spara filen i rätt kodning."
        case .tooLong: return detail.hasPrefix("field:") ? "Ett fält på raden är längre än tillåtet (högst \(part(detail, 1, ":")) byte); raden används inte. Kontrollera radbrytningar och citattecken i exporten." : "Raden är längre än tillåtet (högst \(part(detail, 1, ":")) byte); raden används inte. Kontrollera radbrytningar och citattecken i exporten."
        case .required: return "Fältet är obligatoriskt men saknar värde. Fyll i det \(fixAt)."
        case .pattern: return "Värdet har fel format (förväntat: \(detail)). Rätta värdet \(fixAt)."
        case .length: return detail.hasPrefix("min:") ? "Värdet är för kort (minst \(part(detail, 1, ":")) tecken)." : "Värdet är för långt (högst \(part(detail, 1, ":")) tecken)."
        case .controlCharacter: return "Värdet innehåller ett osynligt styrtecken (t.ex. en radbrytning eller ett nolltecken). Rätta värdet \(fixAt)."
        case .noPartner: return "Ingen rad i \(part(detail, 0, ":")) har detta värde i kolumnen \(part(detail, 1, ":")), så raden kunde inte kompletteras och används inte. Rätta värdet eller lägg till raden \(fixAt)."
        case .severalPartners: return "Flera rader i \(part(detail, 0, ":")) har detta värde i kolumnen \(part(detail, 1, ":")), så det går inte att avgöra vilken som gäller; raden används inte. Rätta \(fixAt) så att värdet förekommer en gång."
        case .tooManyValues: return "Fältet innehåller fler värden än tillåtet (högst \(detail)); raden används inte. Rätta värdet \(fixAt)."
        case .lookup: return "Värdet finns inte i mappningens uppslagstabell (t.ex. en skola som saknar skolenhetskod där). Kontakta förlagets support så att tabellen kompletteras, eller rätta värdet \(fixAt)."
        case .integer: return "Värdet ska vara ett heltal."
        case .range: return "Värdet ligger utanför tillåtet intervall (\(detail))."
        case .date: return "Datumet är ogiltigt eller har fel format (förväntat: \(detail), t.ex. \(Self.example(detail)))."
        case .dateOrder: return "Slutdatumet ligger före startdatumet (\(detail))."
        case .email: return "E-postadressen är inte giltig. Rätta den \(fixAt)."
        case .enumeration: return "Värdet är inte tillåtet (tillåtna värden: \(detail))."
        case .duplicate: return "Samma id förekommer på flera rader (rad \(detail)); dubbletterna används inte. Ta bort dubbletten \(fixAt)."
        case .unknownPerson: return "Personen finns inte i leveransens användarfil. Kontrollera person_id eller skicka med personen."
        case .rejectedPerson: return "Personens rad i användarfilen underkändes, så raden används inte. Rätta först personens rad."
        case .unknownGroup: return "Gruppen finns inte i leveransens gruppfil. Kontrollera group_id eller skicka med gruppen."
        case .rejectedGroup: return "Gruppens rad i gruppfilen underkändes, så raden används inte. Rätta först gruppens rad."
        case .unknownProduct: return "Produkten finns inte i portalens produktkatalog. Kontrollera produkt-id (ISBN) eller kontakta förlagets support."
        case .schoolUnitOutOfScope: return "Skolenheten hör inte till organisationen \(detail). Raden rör inte en annan organisations data."
        case .otherOrganisation: return "Personen är redan kopplad till en annan organisation i portalen; raden används inte."
        case .missingColumn: return "Kolumnen saknas i filens rubrikrad (\(detail)). Filen kunde inte läsas in."
        case .encodingMismatch: return "Filen verkar vara sparad i en annan teckenkodning (\(detail)) än mappningen anger. Spara den i mappningens kodning, eller be förlagets support ändra mappningen. Ingenting i leveransen har lästs in."
        case .unreadableFile: return "Filen kunde inte läsas (\(Self.swedishReason(detail))). Ingenting i leveransen har lästs in."
        case .tooLarge: return "Filen är större än tillåtet när den packas upp (över \(detail) byte). Ingenting i leveransen har lästs in."
        case .manifestMissingFile: return "Filen står i manifestet men finns inte i leveransen. Ingenting i leveransen har lästs in."
        case .manifestUnlisted: return "Filen hör till leveransen men står inte i manifestet. Ingenting i leveransen har lästs in."
        case .manifestUnclaimed: return "Manifestet nämner filen, men ingen fil i mappningen läser den: den används inte. Ta bort den ur exporten, eller be förlagets support lägga till den i mappningen."
        case .manifestRows: return "Antalet rader stämmer inte med manifestet (manifestet: \(part(detail, 0)), filen: \(part(detail, 1))). Ingenting i leveransen har lästs in."
        case .manifestChecksum: return "Filens kontrollsumma stämmer inte med manifestet; filen kan vara skadad eller ofullständig. Ingenting i leveransen har lästs in."
        case .manifestInvalid: return "Manifestet kunde inte läsas (rad \(detail)): det ska ha rubriken file,rows,sha256 och en rad per fil med antal rader och sha256 i hex. Ingenting i leveransen har lästs in."
        case .missingKind: return "Leveransen saknar en fil som krävs (\(detail)). Ingenting i leveransen har lästs in."
        case .stale: return "Leveransen är äldre än en som redan lästs in (\(detail)) och används inte."
        case .badTimestamp: return detail == "future" ? "Leveransens tidsstämpel ligger i framtiden; den används inte. Kontrollera klockan i systemet som skapar filerna." : "Leveransens tidsstämpel är inte en giltig tidpunkt (ÅÅÅÅMMDDTHHMMSSZ i UTC); den används inte."
        case .exportUnknownProduct: return "Licensen gäller en produkt som saknas i portalens produktkatalog och skickas därför inte till Skolon. Kontakta förlagets support."
        case .removalsSuspended: return "Filen har rader som inte kunde knytas till någon post (de kunde inte läsas eller saknar id); därför tas inget bort för den här filen i denna leverans."
        }
    }

    /// The English message, with `detail` filled in; `source` as for `swedish`.
    public func english(_ detail: String, source: String? = nil) -> String {
        let fixAt = source.map { "in \($0)" } ?? "at the source"
        switch self {
        case .unclosedQuote: return "A quote is opened but never closed; the rest of the file could not be read. Check the quotes on this line."
        case .strayQuote: return "A quote character stands inside a field. Quote the whole field and double any quote inside it (\"\")."
        case .cellCount: return "The row has the wrong number of fields (expected \(part(detail, 0)), found \(part(detail, 1))). Check delimiters and quotes."
        case .encoding: return "The row has characters that are not valid in the file's encoding (\(detail)). Save the file in the right encoding."
        case .tooLong: return detail.hasPrefix("field:") ? "A field on this row is longer than allowed (at most \(part(detail, 1, ":")) bytes); the row is not used. Check line breaks and quotes in the export." : "The row is longer than allowed (at most \(part(detail, 1, ":")) bytes); the row is not used. Check line breaks and quotes in the export."
        case .required: return "This field is required but empty. Fill it in \(fixAt)."
        case .pattern: return "The value has the wrong format (expected: \(detail)). Correct it \(fixAt)."
        case .length: return detail.hasPrefix("min:") ? "The value is too short (at least \(part(detail, 1, ":")) characters)." : "The value is too long (at most \(part(detail, 1, ":")) characters)."
        case .controlCharacter: return "The value holds an invisible control character (such as a line break or a NUL byte). Correct it \(fixAt)."
        case .noPartner: return "No row of \(part(detail, 0, ":")) has this value in its column \(part(detail, 1, ":")), so the row could not be completed and is not used. Correct the value, or add the row \(fixAt)."
        case .severalPartners: return "Several rows of \(part(detail, 0, ":")) have this value in their column \(part(detail, 1, ":")), so which one applies cannot be told; the row is not used. Correct it \(fixAt) so that the value occurs once."
        case .tooManyValues: return "The cell holds more values than allowed (at most \(detail)); the row is not used. Correct it \(fixAt)."
        case .lookup: return "The value is not in the mapping's lookup table (such as a school without a skolenhetskod there). Ask the publisher's support to add it, or correct the value \(fixAt)."
        case .integer: return "The value must be a whole number."
        case .range: return "The value is out of range (\(detail))."
        case .date: return "The date is invalid or in the wrong format (expected: \(detail), e.g. \(Self.example(detail)))."
        case .dateOrder: return "The end date is before the start date (\(detail))."
        case .email: return "The e-mail address is not valid. Correct it \(fixAt)."
        case .enumeration: return "The value is not allowed (allowed values: \(detail))."
        case .duplicate: return "The same id appears on several rows (lines \(detail)); the duplicates are not used. Remove the duplicate \(fixAt)."
        case .unknownPerson: return "The person is not in the delivery's users file. Check the person_id or include the person."
        case .rejectedPerson: return "The person's row in the users file was rejected, so this row is not used. Fix the person's row first."
        case .unknownGroup: return "The group is not in the delivery's groups file. Check the group_id or include the group."
        case .rejectedGroup: return "The group's row in the groups file was rejected, so this row is not used. Fix the group's row first."
        case .unknownProduct: return "The product is not in the portal's product catalogue. Check the product id (ISBN) or contact the publisher's support."
        case .schoolUnitOutOfScope: return "The school unit does not belong to organisation \(detail). A row can never change another organisation's data."
        case .otherOrganisation: return "The person is already linked to another organisation in the portal; the row is not used."
        case .missingColumn: return "The column is missing from the file's header row (\(detail)). The file could not be read."
        case .encodingMismatch: return "The file seems to be saved in another character encoding (\(detail)) than the mapping says. Save it in the mapping's encoding, or ask the publisher's support to change the mapping. Nothing in the delivery was applied."
        case .unreadableFile: return "The file could not be read (\(Self.englishReason(detail))). Nothing in the delivery was applied."
        case .tooLarge: return "The file is larger than allowed once decompressed (over \(detail) bytes). Nothing in the delivery was applied."
        case .manifestMissingFile: return "The manifest lists this file but the delivery does not contain it. Nothing in the delivery was applied."
        case .manifestUnlisted: return "The file belongs to the delivery but is not listed in the manifest. Nothing in the delivery was applied."
        case .manifestUnclaimed: return "The manifest names this file, but no file of the mapping reads it: it is not used. Leave it out of the export, or ask the publisher's support to map it."
        case .manifestRows: return "The number of rows does not match the manifest (manifest: \(part(detail, 0)), file: \(part(detail, 1))). Nothing in the delivery was applied."
        case .manifestChecksum: return "The file's checksum does not match the manifest; it may be damaged or incomplete. Nothing in the delivery was applied."
        case .manifestInvalid: return "The manifest could not be read (line \(detail)): it needs the header file,rows,sha256 and one row per file with its row count and hex sha256. Nothing in the delivery was applied."
        case .missingKind: return "The delivery lacks a file it needs (\(detail)). Nothing in the delivery was applied."
        case .stale: return "The delivery is older than one already applied (\(detail)) and is not used."
        case .badTimestamp: return detail == "future" ? "The delivery's timestamp is in the future; it is not used. Check the clock of the system that writes the files." : "The delivery's timestamp is not a real time (YYYYMMDDTHHMMSSZ in UTC); it is not used."
        case .exportUnknownProduct: return "The license is for a product missing from the portal's catalogue, so it is not sent to Skolon. Contact the publisher's support."
        case .removalsSuspended: return "The file has rows that cannot be tied to a record (unreadable, or without an id); nothing is removed for this file in this delivery."
        }
    }

    /// Reasons a file cannot be read, as codes in `detail`.
    public enum Unreadable {
        public static let notGzip = "not_gzip"
        public static let truncated = "truncated"
        public static let corrupt = "corrupt"
        public static let noHeader = "no_header"
        public static let cannotOpen = "cannot_open"
    }

    private static func swedishReason(_ code: String) -> String {
        switch code {
        case Unreadable.notGzip: return "filen är inte gzip-komprimerad"
        case Unreadable.truncated: return "den komprimerade filen tar slut för tidigt; den är troligen ofullständigt uppladdad"
        case Unreadable.corrupt: return "den komprimerade filen är skadad"
        case Unreadable.noHeader: return "filen saknar rubrikrad"
        default: return "filen kunde inte öppnas"
        }
    }

    private static func englishReason(_ code: String) -> String {
        switch code {
        case Unreadable.notGzip: return "the file is not gzip-compressed"
        case Unreadable.truncated: return "the compressed file ends early; it was probably not uploaded completely"
        case Unreadable.corrupt: return "the compressed file is damaged"
        case Unreadable.noHeader: return "the file has no header row"
        default: return "the file could not be opened"
        }
    }

    /// A sample date in `format`, so the expected shape is plain to see.
    private static func example(_ format: String) -> String {
        format.replacingOccurrences(of: "yyyy", with: "2026").replacingOccurrences(of: "MM", with: "08")
            .replacingOccurrences(of: "dd", with: "15").replacingOccurrences(of: "M", with: "8")
            .replacingOccurrences(of: "d", with: "15")
    }

    /// The `index`th `/`-separated part of a detail such as `8/9`.
    private func part(_ detail: String, _ index: Int, _ separator: Character = "/") -> String {
        let parts = detail.split(separator: separator, omittingEmptySubsequences: false)
        return index < parts.count ? String(parts[index]) : ""
    }
}

/// One problem found in a delivery, located well enough for a school's IT admin to fix it.
public struct Finding: Sendable, Equatable {
    /// The delivered file's name.
    public var file: String
    /// The 1-based physical line on which the record starts; 0 for a whole-file problem.
    public var line: Int
    /// The source column's header name; empty for a whole-row or whole-file problem.
    public var column: String
    /// The offending value as delivered (personal data: reports only, never logs).
    public var value: String
    public var rule: Rule
    public var detail: String
    /// A warning keeps its row (its value left out, `invalid: drop_value`); anything else
    /// rejects it.
    public var isWarning = false

    public init(file: String, line: Int, column: String = "", value: String = "", rule: Rule, detail: String = "",
                isWarning: Bool = false) {
        self.file = file
        self.line = line
        self.column = column
        self.value = value
        self.rule = rule
        self.detail = detail
        self.isWarning = isWarning
    }
}
