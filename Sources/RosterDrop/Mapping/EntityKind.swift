/// The four kinds of data file a delivery can hold, named by the portal's own vocabulary.
///
/// The portal's fields are the portal's side of the contract: a mapping file says how a
/// source's columns become these fields; nothing here knows a source's column names.
public enum EntityKind: String, CaseIterable, Sendable, Comparable {
    case users
    case groups
    case memberships
    case distributionOrders = "distribution_orders"

    /// The portal fields of this kind, in staging-table order.
    public var fields: [PortalField] {
        switch self {
        case .users:
            return [
                PortalField("person_id", required: true),
                PortalField("role", required: true, domain: ["student", "teacher"]),
                PortalField("given_name", required: true),
                PortalField("family_name", required: true),
                PortalField("email", required: true),
                PortalField("school_unit_code", required: true),
                PortalField("grade"),
                PortalField("eppn"),
            ]
        case .groups:
            return [
                PortalField("group_id", required: true),
                PortalField("name", required: true),
                PortalField("type", required: true, domain: ["class", "teaching_group"]),
                PortalField("school_unit_code", required: true),
            ]
        case .memberships:
            return [
                PortalField("group_id", required: true),
                PortalField("person_id", required: true),
            ]
        case .distributionOrders:
            return [
                PortalField("order_id", required: true),
                PortalField("person_id", required: true),
                PortalField("product_id", required: true),
                PortalField("license_type", required: true, domain: ["paid", "trial"]),
                PortalField("valid_from", required: true),
                PortalField("valid_to", required: true),
            ]
        }
    }

    /// The position of the portal field `name` in `fields` (and in staged values).
    func slot(_ name: String) -> Int {
        guard let slot = fields.firstIndex(where: { $0.name == name }) else {
            preconditionFailure("\(name) is not a portal field of \(rawValue)")
        }
        return slot
    }

    /// The fields that identify one record of this kind within a delivery.
    public var key: [String] {
        switch self {
        case .users: return ["person_id"]
        case .groups: return ["group_id"]
        case .memberships: return ["group_id", "person_id"]
        case .distributionOrders: return ["order_id"]
        }
    }

    /// The order in which kinds are validated: references point only backwards.
    public static func < (lhs: EntityKind, rhs: EntityKind) -> Bool {
        lhs.rank < rhs.rank
    }

    private var rank: Int {
        switch self {
        case .users: return 0
        case .groups: return 1
        case .memberships: return 2
        case .distributionOrders: return 3
        }
    }

    /// The name of the staging table holding this kind's rows for one delivery.
    var stagingTable: String { "stage_\(rawValue)" }
}

/// One field of the portal's model of an entity.
public struct PortalField: Sendable, Equatable {
    public var name: String
    /// Whether a mapping must provide this field.
    public var required: Bool
    /// The portal values an enum mapping may produce, when the field is an enumeration.
    public var domain: [String]?

    init(_ name: String, required: Bool = false, domain: [String]? = nil) {
        self.name = name
        self.required = required
        self.domain = domain
    }
}
