import Foundation

/// A source format, read from one mapping folder: which files its deliveries hold, and how
/// the portal's rows are made from them.
///
/// Data flows source files → source records (joined, split, with dropped columns blanked)
/// → portal rows per kind. The Skolon layout is the simplest case: one file per kind, read
/// column for column. Another source format is another folder of YAML files, never new
/// Swift code.
public struct Mapping: Sendable {
    /// The highest mapping-file version this build understands.
    public static let supportedVersion = 2

    /// The folder's name, e.g. `skolon-v1`.
    public var name: String
    /// A digest of the folder's mapping files: a delivery read under another mapping is a
    /// new delivery, even with the same files.
    public var digest: String = ""
    public var delivery: DeliveryLayout
    /// The files a delivery may hold, in declaration order.
    public var sources: [SourceFile]
    /// How each kind's rows are made, in the order they are read: by kind (references
    /// point only backwards), then as declared.
    public var feeds: [Feed]

    /// The feeds making `kind`'s rows.
    public func feeds(_ kind: EntityKind) -> [Feed] { feeds.filter { $0.kind == kind } }

    /// The kinds some feed makes.
    public var kinds: [EntityKind] { EntityKind.allCases.filter { kind in feeds.contains { $0.kind == kind } } }

    public func source(_ name: String) -> SourceFile? { sources.first { $0.name == name } }
}

/// One file a delivery may hold, and how it is read into records.
public struct SourceFile: Sendable, Equatable {
    /// The name the mapping uses for it (`files:` in `delivery.yaml`; a version-1 mapping
    /// names each file after its kind).
    public var name: String
    /// The file name, with `{ts}` for the delivery timestamp or fixed (`users.csv`).
    public var pattern: String
    public var gzip: Bool
    public var encoding: TextEncoding
    public var delimiter: UInt8
    /// Columns declared dropped (`drop:`): their cells are blanked as soon as a record is
    /// read, so no check, table, report or log line can ever see them.
    public var dropped: Set<String> = []
    /// `add: {column: value}`: columns every record of this file gets (a role per file).
    public var added: [(column: String, value: String)] = []
    /// The mapping file that declares it, for messages.
    public var mappingFile: String

    public var isFixed: Bool { !pattern.contains("{ts}") }

    /// The file name for a delivery timestamp.
    public func fileName(timestamp: String) -> String {
        pattern.replacingOccurrences(of: "{ts}", with: timestamp)
    }

    public static func == (lhs: SourceFile, rhs: SourceFile) -> Bool { lhs.name == rhs.name }
}

/// Another file's columns joined to each record (`join:`): the partner file is read into
/// memory first, by its key column; its columns are then named `<file>.<column>`.
public struct Join: Sendable {
    public var source: SourceFile
    /// The column of the record (or of an earlier join's, `<file>.<column>`) to look up.
    public var column: String
    /// The partner file's column holding the key.
    public var partnerColumn: String
}

/// One record becoming several rows (`split:`): one per value of a column holding a list.
public struct Split: Sendable {
    public var column: String
    /// Separates the values, e.g. `","`; nil: the whole cell is one value.
    public var separator: String?
}

/// How a source names and completes its deliveries (`delivery.yaml`).
public struct DeliveryLayout: Sendable {
    /// The manifest's file name with `{ts}` for the timestamp; nil when the source writes none.
    public var manifest: String?
    /// For sources without a manifest: seconds a file's size and mtime must stay unchanged.
    public var stableSeconds: Int?
    /// Files every delivery must contain (by their mapping name: in a version-1 mapping, a
    /// kind's); a delivery without one is refused.
    public var required: [String]
    /// How large a file, a field and a record may be.
    public var limits: ReadLimits
    /// Where the data comes from, as messages name it ("Rätta den i Skolon"); nil: the source.
    public var sourceName: String?
    /// Whether the source's person ids are unique across organisations (Skolon's) or only
    /// within one (a school register's own numbers): `ids: global | organisation`.
    public var personIDs: PersonIDScope = .global
    /// Inbox names (globs, `*` and `?`) the source puts beside its deliveries that are not
    /// data (`ignore:`): neither read nor reported, and archived with a delivery naming them.
    public var ignore: [String] = []

    /// Whether `name` is one the mapping declares ignorable.
    public func ignores(_ name: String) -> Bool {
        ignore.contains { Self.glob($0, matches: name) }
    }

    static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), n = Array(name.unicodeScalars)
        var pi = 0, ni = 0, star = -1, mark = 0
        while ni < n.count {
            if pi < p.count, p[pi] == "?" || p[pi] == n[ni] {
                pi += 1; ni += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi; mark = ni; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ni = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

/// Bounds on what one delivered file may hold, so that no input makes memory grow
/// (`delivery.yaml`: `max_file_bytes`, `max_field_bytes`, `max_record_bytes`).
public struct ReadLimits: Sendable, Equatable {
    /// Largest decompressed size accepted for one file; past it the delivery is refused.
    public var fileBytes: Int64
    /// Largest field; a longer one makes its record a finding (`csv.too_long`).
    public var fieldBytes: Int
    /// Largest record, delimiters included; a longer one is a finding too.
    public var recordBytes: Int
    /// Largest decompressed join partner (`max_join_bytes`), which is held in memory whole.
    public var joinBytes: Int64 = 512 << 20

    public init(fileBytes: Int64 = 8 << 30, fieldBytes: Int = 64 << 10, recordBytes: Int = 1 << 20) {
        self.fileBytes = fileBytes
        self.fieldBytes = fieldBytes
        self.recordBytes = recordBytes
    }
}

/// How one source file becomes rows of one portal kind.
public struct Feed: Sendable {
    public var kind: EntityKind
    /// The file whose records become the rows.
    public var source: SourceFile
    /// Partner files joined to each record, in order.
    public var joins: [Join] = []
    /// One row per value of a list column (derived classes).
    public var split: Split?
    /// Rows repeating a key are one row, silently (groups derived from a users file): the
    /// first is kept. Otherwise a repeated key is a finding.
    public var distinct = false
    /// One entry per portal field the source provides, in the portal's field order.
    public var fields: [FieldMapping]
    /// The mapping file the rules came from, for error messages.
    public var sourceFile: String
    /// `select: {portal field: [values]}`: only rows whose (portal) values are listed are
    /// taken; the others are filtered out — counted, not rejected, and treated as absent.
    public var select: [String: Set<String>] = [:]

    /// The file name this feed reads for a delivery timestamp.
    public func fileName(timestamp: String) -> String { source.fileName(timestamp: timestamp) }

    /// Every file the feed reads: its source, then its join partners.
    public var files: [SourceFile] { [source] + joins.map(\.source) }
}

/// What one source column must hold to become one portal field.
public struct FieldMapping: Sendable {
    /// The portal field this column fills.
    public var target: String
    /// The source column's header name.
    public var column: String
    public var type: FieldType
    public var required: Bool
    public var pattern: Pattern?
    public var minLength: Int?
    public var maxLength: Int?
    /// Whether the value must not repeat within the file.
    public var unique: Bool
    public var reference: Reference?
    /// For dates: the portal field this one must not precede (e.g. `valid_to` after `valid_from`).
    public var notBefore: String?
    /// Whether a text value may hold control characters (line breaks, NUL, …); refused otherwise.
    public var allowsControlCharacters = false
    /// `constant: V`: every row gets V, read from no column (a role per source file).
    public var constant: String?
    /// `transform: [lower | upper]`, applied to the delivered value (after trimming).
    public var transforms: [ValueTransform] = []
    /// `default: V`: the value when the cell is empty.
    public var defaultValue: String?
    /// `derive: [columns]`: a stable id made from these columns' values (a group id from
    /// school unit and class name), so that a renamed export does not churn records.
    public var derive: [String]?
    /// `lookup: {source id: value}`: a source's own ids (its school ids) to portal values
    /// (skolenhetskoder); an id the table lacks is a finding, and the checks apply to the
    /// looked-up value (the scope check stays on).
    public var lookup: [String: String]?
    /// `invalid: drop_value` (optional fields only): an invalid value is left out and the row
    /// kept, with a warning — SDS's rule — instead of rejecting the row and what hangs on it.
    public var dropsInvalidValue = false
}

/// The type a source value is checked and normalised against.
public enum FieldType: Sendable {
    case text
    case integer(min: Int?, max: Int?)
    /// A date in the given format, normalised to ISO `yyyy-MM-dd`.
    case date(DateFormat)
    case email
    /// Source values mapped to portal values, e.g. `Elev` → `student`; matched exactly
    /// or, when `caseInsensitive`, ignoring letter case.
    case enumeration(values: [String: String], caseInsensitive: Bool)
}

/// What a field's value must name elsewhere.
public enum Reference: String, Sendable, CaseIterable {
    /// A person accepted in this delivery's users file.
    case users = "users.person_id"
    /// A group accepted in this delivery's groups file.
    case groups = "groups.group_id"
    /// A product in the portal's catalogue.
    case products = "catalogue.products"
    /// One of the organisation's configured school units.
    case schoolUnits = "organisation.school_units"
}

/// Where a source's person ids are unique.
public enum PersonIDScope: String, Sendable {
    /// Across Sweden (Skolon): a person linked to another organisation is refused there.
    case global
    /// Only within the organisation: the portal keeps them as `<organisation>/<id>`, so two
    /// organisations' user `1001` are two people, and neither can touch the other's.
    case organisation

    /// The stored form of a delivered person id, for `organisation`.
    func stored(_ id: String, organisation: String) -> String {
        self == .global ? id : "\(organisation)/\(id)"
    }

    /// The delivered form of a stored person id, as reports show it.
    func delivered(_ id: String, organisation: String) -> String {
        guard self == .organisation, id.hasPrefix(organisation + "/") else { return id }
        return String(id.dropFirst(organisation.count + 1))
    }
}

/// A change made to a delivered value before it is checked (`transform:`).
public enum ValueTransform: String, Sendable {
    case lower, upper

    func apply(_ value: String) -> String {
        switch self {
        case .lower: return value.lowercased()
        case .upper: return value.uppercased()
        }
    }
}
