import Foundation

/// A license granted by rule, for an organisation whose source sends no distribution orders
/// (`licenses:` in its config), the way Skolon's school and group licenses work: a product
/// to every user of the listed school units, roles or groups (all that are given must hold).
///
///     licenses:
///       - product: "9789140123459"
///         type: paid                     # or trial
///         from: 2026-08-01
///         to: 2027-06-30
///         school_units: ["12345678"]     # optional
///         roles: [student]               # optional
///         groups: ["7A"]                 # optional: group ids as delivered
public struct LicenseRule: Sendable, Equatable {
    static let keys: Set<String> = ["product", "type", "from", "to", "school_units", "roles", "groups"]

    public var product: String
    public var type: String
    public var from: CalendarDay
    public var to: CalendarDay
    public var schoolUnits: Set<String>?
    public var roles: Set<String>?
    public var groups: Set<String>?

    init(_ object: YAMLObject) throws {
        product = try object.requiredString("product")
        type = try object.string("type") ?? "paid"
        guard ["paid", "trial"].contains(type) else { throw object.error("type", "expected paid or trial, found '\(type)'") }
        func day(_ key: String) throws -> CalendarDay {
            let text = try object.requiredString(key)
            guard let day = CalendarDay(iso: text) else { throw object.error(key, "'\(text)' is not a date (YYYY-MM-DD)") }
            return day
        }
        from = try day("from")
        to = try day("to")
        guard from <= to else { throw object.error("to", "is before from") }
        schoolUnits = try object.strings("school_units").map(Set.init)
        roles = try object.strings("roles").map(Set.init)
        groups = try object.strings("groups").map(Set.init)
    }

    /// Whether the rule grants to a user of this role and school unit (group rules are
    /// matched on memberships).
    func grants(role: String?, schoolUnit: String?) -> Bool {
        groups == nil && (roles.map { role.map($0.contains) ?? false } ?? true)
            && (schoolUnits.map { schoolUnit.map($0.contains) ?? false } ?? true)
    }
}

/// Writes the orders the rules grant as a distribution-orders file while the users and
/// memberships files stream past (on their parser threads, one at a time), so the rest of
/// the pipeline — licensed users only, removals, expiry — works on them as on delivered ones.
final class LicenseRuleWriter: @unchecked Sendable {
    static let fileName = "license_rules (config)"
    let rules: [LicenseRule]
    let url: URL
    private let handle: FileHandle
    private var written = Set<String>()
    /// Each user's role and school unit (by delivered id), for group rules that also name them.
    private var userInfo: [String: (role: String?, unit: String?)] = [:]
    private var closed = false

    init(rules: [LicenseRule], url: URL) throws {
        self.rules = rules
        self.url = url
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: url.path) else {
            throw DropFolderError(location: url.path, operation: "write", reason: "cannot write the licenses granted by rule")
        }
        self.handle = handle
        try write(["order_id", "person_id", "product_id", "license_type", "valid_from", "valid_to"])
    }

    /// A user row accepted by the checks (person id as delivered).
    func user(personID: String, role: String?, schoolUnit: String?) throws {
        userInfo[personID] = (role, schoolUnit)
        for (index, rule) in rules.enumerated() where rule.grants(role: role, schoolUnit: schoolUnit) {
            try grant(index, rule, personID)
        }
    }

    /// A membership row accepted by the checks (ids as delivered).
    func membership(groupID: String, personID: String) throws {
        let info = userInfo[personID]
        for (index, rule) in rules.enumerated() where rule.groups?.contains(groupID) == true {
            if let roles = rule.roles, !(info?.role.map(roles.contains) ?? false) { continue }
            if let units = rule.schoolUnits, !(info?.unit.map(units.contains) ?? false) { continue }
            try grant(index, rule, personID)
        }
    }

    private func grant(_ index: Int, _ rule: LicenseRule, _ personID: String) throws {
        let orderID = "rule\(index + 1)-\(personID)"
        guard written.insert(orderID).inserted else { return }
        try write([orderID, personID, rule.product, rule.type, rule.from.iso, rule.to.iso])
    }

    private func write(_ cells: [String]) throws {
        do {
            try handle.write(contentsOf: Data(CSVWriter.line(cells).utf8))
        } catch {
            throw DropFolderError(location: url.path, operation: "write", reason: "cannot write the licenses granted by rule")
        }
    }

    /// Ends the file (before it is read, or when the delivery stops early); once.
    func close() {
        guard !closed else { return }
        closed = true
        try? handle.close()
    }

    /// The mapping's name for the granted orders' file.
    static let sourceName = "license_rules"

    /// How the granted orders are read: the canonical order columns, the same checks as
    /// delivered orders (products in the catalogue, people in the users file).
    static var mapping: Feed {
        func field(_ name: String, _ type: FieldType = .text, reference: Reference? = nil, notBefore: String? = nil) -> FieldMapping {
            FieldMapping(target: name, column: name, type: type, required: true, pattern: nil, minLength: nil, maxLength: nil,
                         unique: name == "order_id", reference: reference, notBefore: notBefore)
        }
        guard let iso = DateFormat("yyyy-MM-dd") else { preconditionFailure("yyyy-MM-dd is a date format") }
        let source = SourceFile(name: sourceName, pattern: fileName, gzip: false, encoding: .utf8,
                                delimiter: UInt8(ascii: ","), mappingFile: "config: licenses")
        return Feed(kind: .distributionOrders, source: source, fields: [
                               field("order_id"), field("person_id", reference: .users), field("product_id", reference: .products),
                               field("license_type", .enumeration(values: ["paid": "paid", "trial": "trial"], caseInsensitive: false)),
                               field("valid_from", .date(iso)),
                               field("valid_to", .date(iso), notBefore: "valid_from"),
                           ], sourceFile: "config: licenses")
    }
}
