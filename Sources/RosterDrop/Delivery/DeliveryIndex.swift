/// What one delivery's files say about each record, kept in memory while they are read: the
/// checks that need more than one row, and which rows differ from what was last applied.
///
/// - **Uniqueness.** A key declared `unique` rejects every row that repeats it (the first
///   too); a key without the rule (memberships) keeps its first row and rejects repeats.
/// - **References** from memberships and orders to the delivery's users and groups, which
///   are read first (`EntityKind`'s order), so a row is judged as it streams past.
/// - **Change.** Each accepted row's `RowHashing.row` hash is looked up among the hashes
///   of the records the job last wrote for this organisation (`source_hash`). A row found
///   there is unchanged and is not staged at all; the hashes never found are the records
///   the snapshot no longer holds as they are (gone or changed), and only those are looked
///   at for removal. The work of a delivery thus follows its changes, not its size.
///
/// Keys are held as 128-bit digests and rows as 64-bit hashes, so a national snapshot's
/// checks fit in a few hundred megabytes. The index is used by one thread at a time: the
/// parser thread while a file streams, the job's thread between files.
final class DeliveryIndex: @unchecked Sendable {
    let hashing: RowHashing
    /// Where each row number's file and line are (several files can make one kind).
    let numbering = RowNumbering()
    /// When set, no row counts as unchanged: every accepted row is staged and compared
    /// with the portal field by field, and every record is a candidate for removal.
    let full: Bool

    /// Per kind, the hashes of what the job last wrote that this delivery has not matched.
    private(set) var applied: [EntityKind: Set<Int64>] = [:]

    struct Entry {
        var rowHash: Int64
        var line: UInt32
        var state: UInt8
    }
    static let accepted: UInt8 = 1
    static let unchanged: UInt8 = 2
    static let staged: UInt8 = 4
    /// Left out by the mapping's `select`: rows naming it are left out too.
    static let filtered: UInt8 = 8
    /// Rows left out because they name a record `select` left out, per kind.
    private(set) var filteredRows: [EntityKind: Int] = [:]

    /// Users and groups by key.
    private(set) var users: [KeyDigest: Entry] = [:]
    private(set) var groups: [KeyDigest: Entry] = [:]
    /// Per user line, how many accepted orders name the user (saturating).
    private var licenses: [UInt16] = []
    /// Orders by key: line (top bit: staged) and the line of the holder (`noHolder` when
    /// the row is rejected). Dropped once the orders file is read.
    private var orders: [KeyDigest: UInt64] = [:]
    private static let noHolder = UInt64(UInt32.max)
    /// In place of a holder: the order was accepted but has ended, so it licenses no one.
    private static let expired = UInt64(UInt32.max - 1)
    /// Memberships by (user line, group line): the first row's line.
    private var pairs: [UInt64: UInt32] = [:]
    /// Lines of the users that staged (new or changed) membership rows name.
    private var usersOfStagedMemberships = Set<UInt32>()

    /// Accepted and rejected rows per kind, as the checks stand.
    private(set) var acceptedRows: [EntityKind: Int] = [:]

    // What the current file's checks left for the job's thread to do.
    /// Lines of repeated keys, in file order, by key.
    private var repeats: [KeyDigest: [UInt32]] = [:]
    private var repeatOrder: [KeyDigest] = []
    private var repeatValues: [KeyDigest: String] = [:]
    /// Staged rows that a later row showed to be duplicates.
    private(set) var linesToReject: [Int] = []
    /// First rows of a duplicated key that were unchanged, hence never staged; staged as
    /// rejected (with the key from the repeat) so that their record is protected.
    private(set) var rowsToStage: [StagedBatch.Row] = []

    /// Orders whose `valid_to` is before this day (`yyyy-MM-dd`) grant nothing: they are
    /// accepted but neither license their holder nor match a license (which then goes).
    let today: String?
    /// Accepted orders already expired.
    private(set) var expiredOrders = 0
    private static let validToSlot = EntityKind.distributionOrders.slot("valid_to")

    /// Person ids as reports show them (an organisation's own ids are stored namespaced).
    var personIDs: PersonIDScope = .global
    var organisation = ""

    private func delivered(_ personID: String) -> String { personIDs.delivered(personID, organisation: organisation) }

    init(hashing: RowHashing, full: Bool, today: String? = nil) {
        self.hashing = hashing
        self.full = full
        self.today = today
    }

    /// Makes room for a file of `rows` rows (from its manifest) before it is read, so the
    /// tables are sized once instead of doubling (and briefly existing twice) as they grow.
    func reserve(_ kind: EntityKind, rows: Int) {
        switch kind {
        case .users: users.reserveCapacity(rows); licenses.reserveCapacity(rows + 2)
        case .groups: groups.reserveCapacity(rows)
        case .memberships: pairs.reserveCapacity(rows)
        case .distributionOrders: orders.reserveCapacity(rows)
        }
    }

    /// Sets what was last applied for `kind`, before its file is read.
    func setApplied(_ kind: EntityKind, _ hashes: Set<Int64>) {
        applied[kind] = full ? [] : hashes
    }

    func isApplied(_ kind: EntityKind, _ hash: Int64) -> Bool {
        applied[kind]?.contains(hash) ?? false
    }

    /// Hashes of `kind` last applied and not matched by this delivery.
    func unmatched(_ kind: EntityKind) -> Set<Int64> {
        applied[kind] ?? []
    }

    // MARK: - Admitting rows (parser thread)

    /// The verdict on one row.
    enum Verdict {
        /// Stage the row, accepted, with the lines of the user and group it names.
        case stage(userLine: Int?, groupLine: Int?)
        /// Accepted and unchanged: nothing to stage.
        case unchanged
        /// It names a record the mapping's `select` left out: left out too, counted.
        case filtered
        /// It repeats a key of a `distinct` feed: one row with the first, nothing to stage.
        case merged
        /// Rejected by a check needing other rows: stage it rejected, with this finding
        /// (nil when the finding comes later, for duplicates).
        case reject(Finding?)
    }

    /// Decides on a row that passed the single-row checks. `values` are portal values in
    /// `EntityKind.fields` order; `line` is the row's number, `place` its file and line.
    func admit(_ rules: KindRules, line: Int, values: [String?], digests: RowDigests, at place: (file: String, line: Int)) -> Verdict {
        let kind = rules.kind
        acceptedRows[kind, default: 0] += 1
        var userLine: Int?
        var groupLine: Int?
        for (position, reference) in rules.references.enumerated() {
            let value = values[reference.slot] ?? ""
            let digest = digests.reference(position) ?? hashing.key(value)
            let entry = reference.target == .users ? users[digest] : groups[digest]
            if let entry, entry.state & Self.filtered != 0 {
                acceptedRows[kind, default: 0] -= 1
                filteredRows[kind, default: 0] += 1
                return .filtered
            }
            if let entry, entry.state & Self.accepted != 0 {
                if reference.target == .users { userLine = Int(entry.line) } else { groupLine = Int(entry.line) }
                continue
            }
            let rule: Rule = switch (reference.target, entry == nil) {
            case (.users, true): .unknownPerson
            case (.users, false): .rejectedPerson
            case (_, true): .unknownGroup
            case (_, false): .rejectedGroup
            }
            acceptedRows[kind, default: 0] -= 1
            // Still a row with this key, for uniqueness.
            noteRejected(rules, line: line, rawKey: rules.keySlots.map { values[$0] ?? "" }, key: digests.key,
                         values: values)
            return .reject(Finding(file: place.file, line: place.line, column: reference.column,
                                   value: reference.target == .users ? delivered(value) : value, rule: rule))
        }
        let rowHash = digests.row
        var keyValues: [String] { rules.keySlots.map { values[$0] ?? "" } }
        switch kind {
        case .users, .groups:
            let key = digests.key ?? hashing.key(keyValues)
            if let first = kind == .users ? users[key] : groups[key] {
                acceptedRows[kind, default: 0] -= 1
                if rules.distinct { return .merged }
                repeated(rules, key: key, keyText: keyValues, first: first, line: line, values: values)
                return .reject(nil)
            }
            let unchanged = kind == .users && !rules.stageAll && isApplied(.users, rowHash)
            let entry = Entry(rowHash: rowHash, line: UInt32(line),
                              state: Self.accepted | (unchanged ? Self.unchanged : Self.staged))
            if kind == .users { users[key] = entry; noteUserLine(line) } else { groups[key] = entry }
            return unchanged ? .unchanged : .stage(userLine: nil, groupLine: nil)
        case .memberships:
            guard let userLine, let groupLine else { return .stage(userLine: userLine, groupLine: groupLine) }
            let pair = UInt64(userLine) << 32 | UInt64(groupLine)
            if let first = pairs[pair] {
                if rules.distinct {
                    acceptedRows[kind, default: 0] -= 1
                    return .merged
                }
                recordRepeat(hashing.key(keyValues), keyText: keyValues, firstLine: first, line: line)
                acceptedRows[kind, default: 0] -= 1
                return .reject(nil)
            }
            pairs[pair] = UInt32(line)
            let verdict = matchApplied(rules, rowHash: rowHash, userLine: userLine, groupLine: groupLine)
            if case .stage = verdict { usersOfStagedMemberships.insert(UInt32(userLine)) }
            return verdict
        case .distributionOrders:
            let key = digests.key ?? hashing.key(keyValues)
            if let first = orders[key] {
                acceptedRows[kind, default: 0] -= 1
                if rules.distinct { return .merged }
                repeatedOrder(rules, key: key, keyText: keyValues, first: first, line: line, values: values)
                return .reject(nil)
            }
            if let today, let validTo = values[Self.validToSlot], validTo < today {
                // Expired (rule 7): kept for uniqueness, licensing no one; the license it
                // matches stays unmatched, so it is removed.
                orders[key] = UInt64(line) << 32 | Self.expired
                expiredOrders += 1
                return .unchanged
            }
            let verdict = matchApplied(rules, rowHash: rowHash, userLine: userLine, groupLine: nil)
            var staged: UInt64 = 0
            if case .stage = verdict { staged = 1 << 31 }
            orders[key] = (UInt64(line) | staged) << 32 | UInt64(userLine.map(UInt32.init) ?? UInt32.max)
            if let userLine { license(userLine, +1) }
            return verdict
        }
    }

    /// Notes a user or group row the mapping's `select` left out, so rows naming it are left
    /// out too (not rejected as naming someone unknown).
    func noteFiltered(_ rules: KindRules, line: Int, key: KeyDigest?) {
        guard let key, rules.kind == .users || rules.kind == .groups else { return }
        let entry = Entry(rowHash: 0, line: UInt32(line), state: Self.filtered)
        if rules.kind == .users { users[key] = entry } else { groups[key] = entry }
    }

    /// Notes a row that failed the single-row checks but whose key could be read: it still
    /// counts for uniqueness, and a reference to it is to a rejected record. False when the
    /// row repeats a key of a `distinct` feed, so it is one row with the first.
    @discardableResult
    func noteRejected(_ rules: KindRules, line: Int, rawKey: [String], key digest: KeyDigest? = nil, values: [String?]) -> Bool {
        let kind = rules.kind
        guard kind != .memberships else { return true }
        let key = digest ?? hashing.key(rawKey)
        switch kind {
        case .users, .groups:
            if let first = kind == .users ? users[key] : groups[key] {
                if rules.distinct { return false }
                repeated(rules, key: key, keyText: rawKey, first: first, line: line, values: values)
                return true
            }
            let entry = Entry(rowHash: 0, line: UInt32(line), state: Self.staged)
            if kind == .users { users[key] = entry; noteUserLine(line) } else { groups[key] = entry }
        case .distributionOrders:
            if let first = orders[key] {
                if rules.distinct { return false }
                repeatedOrder(rules, key: key, keyText: rawKey, first: first, line: line, values: values)
                return true
            }
            orders[key] = (UInt64(line) | 1 << 31) << 32 | Self.noHolder
        case .memberships:
            break
        }
        return true
    }

    private func matchApplied(_ rules: KindRules, rowHash: Int64, userLine: Int?, groupLine: Int?) -> Verdict {
        if !rules.stageAll, applied[rules.kind]?.remove(rowHash) != nil { return .unchanged }
        return .stage(userLine: userLine, groupLine: groupLine)
    }

    private func noteUserLine(_ line: Int) {
        if licenses.count <= line { licenses.append(contentsOf: repeatElement(0, count: line + 1 - licenses.count)) }
    }

    private func license(_ userLine: Int, _ change: Int) {
        guard userLine < licenses.count, licenses[userLine] != .max else { return }
        licenses[userLine] = UInt16(Int(licenses[userLine]) + change)
    }

    /// A unique user or group key seen again: this row and the first are both rejected.
    private func repeated(_ rules: KindRules, key: KeyDigest, keyText: [String], first: Entry, line: Int,
                          values: [String?]) {
        recordRepeat(key, keyText: keyText, firstLine: first.line, line: line)
        guard withdraw(rules.kind, key) else { return }
        rejectFirst(line: Int(first.line), staged: first.state & Self.staged != 0, values: values)
    }

    private func repeatedOrder(_ rules: KindRules, key: KeyDigest, keyText: [String], first: UInt64, line: Int,
                               values: [String?]) {
        let firstLine = UInt32(truncatingIfNeeded: first >> 32) & ~(1 << 31)
        recordRepeat(key, keyText: keyText, firstLine: firstLine, line: line)
        guard withdraw(.distributionOrders, key) else { return }
        rejectFirst(line: Int(firstLine), staged: (first >> 63) != 0, values: values)
    }

    /// Marks the accepted record `key` of `kind` rejected after all (an order also stops
    /// licensing its holder); false when it was not accepted.
    private func withdraw(_ kind: EntityKind, _ key: KeyDigest) -> Bool {
        switch kind {
        case .users, .groups:
            guard var entry = kind == .users ? users[key] : groups[key], entry.state & Self.accepted != 0 else { return false }
            entry.state &= ~Self.accepted
            if kind == .users { users[key] = entry } else { groups[key] = entry }
        case .distributionOrders:
            guard let first = orders[key], first & 0xFFFF_FFFF != Self.noHolder else { return false }
            orders[key] = (first & ~0xFFFF_FFFF) | Self.noHolder
            if first & 0xFFFF_FFFF == Self.expired {
                expiredOrders -= 1
            } else {
                license(Int(first & 0xFFFF_FFFF), -1)
            }
        case .memberships:
            break
        }
        acceptedRows[kind, default: 0] -= 1
        return true
    }

    private func recordRepeat(_ key: KeyDigest, keyText: [String], firstLine: UInt32, line: Int) {
        if repeats[key] == nil {
            repeats[key] = [firstLine]
            repeatOrder.append(key)
            // Keys are (person_id), (group_id), (group_id, person_id) or (order_id).
            let shown = keyText.count == 2 ? [keyText[0], delivered(keyText[1])] : keyText.map(delivered)
            repeatValues[key] = shown.joined(separator: " ")
        }
        repeats[key]?.append(UInt32(line))
    }

    private func rejectFirst(line: Int, staged: Bool, values: [String?]) {
        if staged {
            linesToReject.append(line)
        } else {
            rowsToStage.append(StagedBatch.Row(line: line, rejected: true, values: values))
        }
    }

    // MARK: - Between files (job thread)

    /// The duplicate findings of the file just read, and the rows they reject; clears them.
    /// `keyColumns` names the key's column in each file, when the kind's files differ.
    func takeRepeats(_ rules: KindRules, keyColumns: [String: String] = [:]) -> (findings: [Finding], linesToReject: [Int],
                                                                                 rowsToStage: [StagedBatch.Row]) {
        var findings: [Finding] = []
        for key in repeatOrder {
            guard let lines = repeats[key] else { continue }
            let shown = numbering.describe(rules.kind, lines.map(Int.init))
            for line in lines.dropFirst(rules.keyUnique ? 0 : 1) {
                let place = numbering.locate(rules.kind, Int(line))
                let column = keyColumns[place.file] ?? rules.keyColumn
                findings.append(Finding(file: place.file, line: place.line, column: rules.keyUnique ? column : "",
                                        value: repeatValues[key] ?? "", rule: .duplicate, detail: shown))
            }
        }
        let result = (findings, linesToReject, rowsToStage)
        repeats = [:]
        repeatOrder = []
        repeatValues = [:]
        linesToReject = []
        rowsToStage = []
        return result
    }

    /// Marks accepted records rejected by a check run outside the index (another
    /// organisation, a non-key uniqueness rule); `keys` are their key values.
    func reject(_ kind: EntityKind, keys: [[String]]) {
        for key in keys { _ = withdraw(kind, hashing.key(key)) }
    }

    /// Frees what only the file just read needed.
    func finish(_ kind: EntityKind) {
        switch kind {
        case .memberships: pairs = [:]
        case .distributionOrders: orders = [:]
        default: break
        }
    }

    /// The accepted users holding at least one accepted order — the users the portal keeps
    /// (contract rule 1). Unchanged ones count as matched. Returns how many there are, and
    /// the lines the plan needs, in order: those of staged users and of users named by
    /// staged memberships.
    func licensedUsers() -> (count: Int, planned: [Int]) {
        var count = 0
        var lines: [Int] = []
        for entry in users.values where entry.state & Self.accepted != 0 {
            let line = Int(entry.line)
            guard line < licenses.count, licenses[line] > 0 else { continue }
            count += 1
            if entry.state & Self.staged != 0 || usersOfStagedMemberships.contains(UInt32(line)) { lines.append(line) }
            if entry.state & Self.unchanged != 0 { applied[.users]?.remove(entry.rowHash) }
        }
        lines.sort()
        return (count, lines)
    }
}

/// A row's hashes, computed on the parser thread (`RowDigests.make`) so that the loader's
/// thread, which also inserts, only looks them up.
struct RowDigests: Sendable {
    var row: Int64
    /// The key's digest, for kinds with a one-field key (nil for memberships).
    var key: KeyDigest?
    private var first: KeyDigest?
    private var second: KeyDigest?

    func reference(_ position: Int) -> KeyDigest? { position == 0 ? first : position == 1 ? second : nil }

    /// Hashes of `values` (portal field order; extra derived values after them are ignored).
    static func make(_ rules: KindRules, values: [String?], hashing: RowHashing, rejected: Bool) -> RowDigests {
        let key = rules.keySlots.count == 1 ? hashing.key(values[rules.keySlots[0]] ?? "") : nil
        if rejected { return RowDigests(row: 0, key: key) }
        var digests = RowDigests(row: hashing.row(values.prefix(rules.kind.fields.count)), key: key)
        for (position, reference) in rules.references.prefix(2).enumerated() {
            let digest = hashing.key(values[reference.slot] ?? "")
            if position == 0 { digests.first = digest } else { digests.second = digest }
        }
        return digests
    }

    init(row: Int64, key: KeyDigest?) {
        self.row = row
        self.key = key
    }
}

/// What the index needs to know of one kind's mapping.
struct KindRules: Sendable {
    struct ReferenceSlot: Sendable {
        var slot: Int
        var target: EntityKind
        var column: String
    }

    let kind: EntityKind
    /// Rows repeating a key are one row (`distinct:`), not duplicates.
    let distinct: Bool
    /// Portal slots of the key's fields.
    let keySlots: [Int]
    /// Whether the key is declared unique (every repeat rejected) or not (first one kept).
    let keyUnique: Bool
    let keyColumn: String
    /// References to users and groups, in the mapping's field order.
    let references: [ReferenceSlot]
    /// Fields other than the key declared unique: checked in SQL, which needs every row
    /// staged, so nothing of this kind is skipped as unchanged.
    let otherUnique: [FieldMapping]
    var stageAll: Bool { !otherUnique.isEmpty || kind == .groups }

    init(_ mapping: Feed) {
        let kind = mapping.kind
        self.kind = kind
        distinct = mapping.distinct
        let portal = kind.fields.map(\.name)
        keySlots = kind.key.compactMap { portal.firstIndex(of: $0) }
        let keyFields = mapping.fields.filter { kind.key.contains($0.target) }
        // A user's, group's or order's key names one record: a repeat rejects every row
        // carrying it, each with its finding, whether or not the mapping says `unique`.
        // A repeated membership row is the same pair twice: the first is used.
        let keyUnique = keyFields.count == 1 && (keyFields[0].unique || kind != .memberships)
        self.keyUnique = keyUnique
        keyColumn = keyFields.first?.column ?? ""
        // Memberships and orders always point at the delivery's users and groups: that is
        // the portal's model, whether or not the mapping spells the reference out.
        let implied: [String: EntityKind] = switch kind {
        case .memberships: ["group_id": .groups, "person_id": .users]
        case .distributionOrders: ["person_id": .users]
        default: [:]
        }
        references = mapping.fields.compactMap { field in
            guard let slot = portal.firstIndex(of: field.target) else { return nil }
            switch field.reference {
            case .users: return ReferenceSlot(slot: slot, target: .users, column: field.column)
            case .groups: return ReferenceSlot(slot: slot, target: .groups, column: field.column)
            default:
                return implied[field.target].map { ReferenceSlot(slot: slot, target: $0, column: field.column) }
            }
        }
        otherUnique = mapping.fields.filter { $0.unique && !(keyUnique && kind.key == [$0.target]) }
    }
}
