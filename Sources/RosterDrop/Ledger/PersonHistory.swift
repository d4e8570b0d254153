import Foundation

/// One moment in a person's history: a delivery or a calendar step, and what it did to them.
public struct HistoryEntry: Sendable, Codable, Equatable {
    public var at: String
    /// The delivery's timestamp, or nil for a calendar step (expiry, integration start, clean-up).
    public var delivery: String?
    public var account: Int64
    /// What happened, each a sentence a support person can repeat.
    public var events: [String]
}

/// Why `history` found nobody.
public struct HistoryError: Error, CustomStringConvertible {
    public var description: String
}

/// A person's history (`rosterdrop history`), told from the change log, the removal log and
/// the findings that named them — ids, field names and rule ids, never a value.
///
/// What an account had when it was created (or when the log began) is not logged row by row:
/// it is what the account has now (or had when it was removed), with the later gains taken
/// out and the later losses put back.
public struct PersonHistory {
    public let database: PortalDatabase

    public init(database: PortalDatabase) {
        self.database = database
    }

    public enum Who: Sendable {
        case person(String)
        case email(String)
    }

    public func entries(organisation: String, who: Who) throws -> [HistoryEntry] {
        try database.read { db in
            let accounts = try self.accounts(db, organisation: organisation, who: who)
            guard !accounts.isEmpty else {
                let what = switch who {
                case .person(let id): "person \(id)"
                case .email: "that e-mail address (a removed account's e-mail is deleted with it: ask by person id)"
                }
                throw HistoryError(description: "organisation '\(organisation)' has no account, change or removal on record for \(what)")
            }
            var entries: [HistoryEntry] = []
            for (account, person) in accounts {
                entries += try self.entries(db, organisation: organisation, account: account, person: person)
            }
            // At one instant the calendar's steps come before the deliveries, as a run takes them.
            return entries.sorted { ($0.at, $0.delivery ?? "", $0.account) < ($1.at, $1.delivery ?? "", $1.account) }
        }
    }

    /// The accounts the person has had, with their person id: the current one and those removed.
    private func accounts(_ db: any StoreSession, organisation: String, who: Who) throws -> [(Int64, String?)] {
        var people: [String] = []
        var found: [Int64: String?] = [:]
        switch who {
        case .person(let id):
            people = [id]
        case .email(let address):
            for row in try StoreRow.fetchAll(db, sql: """
                SELECT id, person_id FROM accounts WHERE organisation_id = ? AND rosterdrop_email_key(email) = ?
                """, arguments: [organisation, EmailKey.key(address)]) {
                found[row["id"]] = row["person_id"] as String?
                if let person = row["person_id"] as String? { people.append(person) }
            }
        }
        for person in people {
            for id in try Int64.fetchAll(db, sql: """
                SELECT id FROM accounts WHERE organisation_id = ? AND person_id = ?
                UNION SELECT account_id FROM removal_log WHERE organisation_id = ? AND person_id = ?
                """, arguments: [organisation, person, organisation, person]) {
                found[id] = person
            }
        }
        return found.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    private struct Change {
        var at: String
        var deliveryID: Int64?
        var event: String
        var ref: String?
        var detail: String?
        var reason: String?
    }

    private func entries(_ db: any StoreSession, organisation: String, account: Int64, person: String?) throws -> [HistoryEntry] {
        let changes = try StoreRow.fetchAll(db, sql: """
            SELECT happened_at, delivery_id, event, ref, detail, reason FROM change_log
            WHERE account_id = ? AND organisation_id = ? ORDER BY happened_at, id
            """, arguments: [account, organisation]).map { row in
            Change(at: row["happened_at"], deliveryID: row["delivery_id"], event: row["event"], ref: row["ref"],
                   detail: row["detail"], reason: row["reason"])
        }
        let names = try Names(db, organisation: organisation)
        var deliveries: [Int64: (timestamp: String, at: String)] = [:]
        for row in try StoreRow.fetchAll(db, sql: "SELECT id, timestamp, received_at FROM deliveries WHERE organisation_id = ?",
                                         arguments: [organisation]) {
            deliveries[row["id"]] = (row["timestamp"], row["received_at"])
        }
        let current = try StoreRow.fetchOne(db, sql: "SELECT created_at, created_by_delivery FROM accounts WHERE id = ?",
                                            arguments: [account])
        let removal = try StoreRow.fetchOne(db, sql: """
            SELECT removed_at, reason, delivery_id, created_by_delivery FROM removal_log
            WHERE account_id = ? AND organisation_id = ? ORDER BY removed_at LIMIT 1
            """, arguments: [account, organisation])
        let createdBy = (current?["created_by_delivery"] as Int64?) ?? (removal?["created_by_delivery"] as Int64?)
        let holdings = try startingHoldings(db, account: account, changes: changes)

        // Moments, keyed by when and which delivery, in order.
        var moments: [String: HistoryEntry] = [:]
        func note(_ at: String, _ deliveryID: Int64?, _ text: String) {
            let key = at + "|" + (deliveryID.map(String.init) ?? "")
            moments[key, default: HistoryEntry(at: at, delivery: deliveryID.flatMap { deliveries[$0]?.timestamp }, account: account,
                                               events: [])].events.append(text)
        }
        let had = holdings.describe(names)
        if let createdBy, let delivery = deliveries[createdBy] {
            note(delivery.at, createdBy, "account \(account) created from the delivery" + (had.isEmpty ? "" : ", with \(had)"))
        } else {
            // An account no delivery created was there before the log: what it had then first.
            // Placed at its first logged moment; its creation day is known while it lives.
            let first = changes.first?.at ?? (removal?["removed_at"] as String?) ?? ""
            let since = (current?["created_at"] as String?).map { " (since \($0))" } ?? ""
            note(first, changes.first?.deliveryID, "account \(account) was in the portal\(since) before the change log began"
                 + (had.isEmpty ? "" : "; it had \(had)"))
        }
        for change in changes {
            note(change.at, change.deliveryID, describe(change, account: account, names: names))
        }
        if let removal {
            note(removal["removed_at"], removal["delivery_id"], "account \(account) removed: " + Self.removalReason(removal["reason"]))
        }
        if let person {
            for row in try StoreRow.fetchAll(db, sql: """
                SELECT d.received_at, d.id, f.file, f.line, f.column_name, f.rule FROM findings f
                JOIN deliveries d ON d.id = f.delivery_id
                WHERE f.person_id = ? AND d.organisation_id = ? AND f.warning = 0 ORDER BY d.received_at, f.file, f.line
                """, arguments: [person, organisation]) {
                let column: String = row["column_name"]
                let rule: String = row["rule"]
                let english = Rule(rawValue: rule)?.english("") ?? rule
                note(row["received_at"], row["id"], "row rejected: \(row["file"] as String) line \(row["line"] as Int)"
                     + "\(column.isEmpty ? "" : ", column \(column)"), rule \(rule) — \(english)")
            }
        }
        return Array(moments.values)
    }

    private func describe(_ change: Change, account: Int64, names: Names) -> String {
        let fields = change.detail?.split(separator: ",").joined(separator: ", ") ?? ""
        switch change.event {
        case "adopted":
            return "adopted the portal's own account \(account) (matched by e-mail), which became Skolon's"
                + (fields.isEmpty ? "" : "; Skolon's values taken for \(fields)")
        case "updated":
            return "changed: \(fields)"
        case "group_joined":
            return "joined group \(names.group(change.ref))"
        case "group_left":
            return "left group \(names.group(change.ref)): " + Self.leftReason(change.reason)
        case "license_gained":
            return "gained license \(names.product(change.detail)) (order \(change.ref ?? "?"))"
        case "license_lost":
            return "lost license \(names.product(change.detail)) (order \(change.ref ?? "?")): " + Self.lostReason(change.reason)
        case "license_changed":
            return "license order \(change.ref ?? "?") changed: \(fields)"
        default:
            return change.event
        }
    }

    static func removalReason(_ reason: String) -> String {
        switch reason {
        case RemovalReason.snapshot.rawValue:
            "the delivered snapshot no longer held them with a license (contract rules 1 and 3)"
        case RemovalReason.approvedHold.rawValue:
            "the delivered snapshot no longer held them with a license, applied when an operator approved the held delivery"
        case RemovalReason.licenseExpired.rawValue:
            "their last license ended (its valid_to passed, contract rule 7)"
        case RemovalReason.integrationDeadline.rawValue:
            "an account from before the integration that Skolon had not licensed by the clean-up deadline (contract rule 5)"
        default: reason
        }
    }

    static func leftReason(_ reason: String?) -> String {
        switch reason {
        case "group_removed": "the group was no longer delivered"
        case "integration_start": "the portal's own groups were deleted at the integration start"
        case "account_removed": "with the account's removal"
        case RemovalReason.approvedHold.rawValue: "the snapshot no longer held the membership (approved hold)"
        default: "the snapshot no longer held the membership"
        }
    }

    static func lostReason(_ reason: String?) -> String {
        switch reason {
        case "moved": "the order moved to another person"
        case RemovalReason.licenseExpired.rawValue: "its end date passed"
        case "account_removed": "with the account's removal"
        case RemovalReason.approvedHold.rawValue: "the snapshot no longer held the order (approved hold)"
        default: "the snapshot no longer held the order"
        }
    }

    /// Groups and licenses by id, what an account had before its first logged change.
    private struct Holdings {
        var groups: [String] = []
        var licenses: [(order: String, product: String?)] = []

        func describe(_ names: Names) -> String {
            var parts: [String] = []
            if !groups.isEmpty { parts.append("groups " + groups.map(names.group).joined(separator: ", ")) }
            if !licenses.isEmpty {
                parts.append("licenses " + licenses.map { "\(names.product($0.product)) (order \($0.order))" }.joined(separator: ", "))
            }
            return parts.joined(separator: "; ")
        }
    }

    /// What the account held at its creation (or when the log began): held now or lost later,
    /// less what was gained later — judged per group and order by its first logged event.
    private func startingHoldings(_ db: any StoreSession, account: Int64, changes: [Change]) throws -> Holdings {
        var first: [String: String] = [:]
        var products: [String: String] = [:]
        for change in changes {
            guard let ref = change.ref else { continue }
            switch change.event {
            case "group_joined", "group_left":
                if first["g:" + ref] == nil { first["g:" + ref] = change.event }
            case "license_gained", "license_lost":
                if first["l:" + ref] == nil { first["l:" + ref] = change.event }
                if let product = change.detail { products[ref] = product }
            default:
                break
            }
        }
        var holdings = Holdings()
        let groups = try String.fetchAll(db, sql: """
            SELECT COALESCE(g.external_id, 'portal:' || g.id) FROM memberships m JOIN groups g ON g.id = m.group_id
            WHERE m.account_id = ? ORDER BY 1
            """, arguments: [account])
        var licenses: [String: String?] = [:]
        for row in try StoreRow.fetchAll(db, sql: "SELECT order_id, product_id FROM licenses WHERE account_id = ? AND order_id IS NOT NULL",
                                         arguments: [account]) {
            licenses[row["order_id"]] = row["product_id"] as String?
        }
        var groupSet = Set(groups.filter { first["g:" + $0] == nil })
        var orderSet = Set(licenses.keys.filter { first["l:" + $0] == nil })
        for (key, event) in first {
            let ref = String(key.dropFirst(2))
            if key.hasPrefix("g:"), event == "group_left" { groupSet.insert(ref) }
            if key.hasPrefix("l:"), event == "license_lost" { orderSet.insert(ref) }
        }
        holdings.groups = groupSet.sorted()
        holdings.licenses = orderSet.sorted().map { ($0, products[$0] ?? licenses[$0] ?? nil) }
        return holdings
    }

    /// Group names and product titles, for a readable story (neither is personal data).
    private struct Names {
        var groups: [String: String] = [:]
        var products: [String: String] = [:]

        init(_ db: any StoreSession, organisation: String) throws {
            for row in try StoreRow.fetchAll(db, sql: """
                SELECT COALESCE(external_id, 'portal:' || id) AS ref, name FROM groups WHERE organisation_id = ?
                """, arguments: [organisation]) {
                groups[row["ref"]] = row["name"]
            }
            for row in try StoreRow.fetchAll(db, sql: "SELECT product_id, title FROM products") {
                products[row["product_id"]] = row["title"]
            }
        }

        func group(_ ref: String?) -> String {
            guard let ref else { return "?" }
            return groups[ref].map { "\($0) (\(ref))" } ?? ref
        }

        func product(_ id: String?) -> String {
            guard let id else { return "?" }
            return products[id].map { "\($0) (\(id))" } ?? id
        }
    }
}
