import Foundation

/// Checks one source record against a feed's field rules, turning it into portal field values.
///
/// It checks what a single row can show: presence, type, format, length, enum values and
/// in-memory references (school units, product catalogue). Checks that need other rows —
/// uniqueness and references between files — run afterwards on the staging tables.
struct RecordValidator {
    let mapping: Feed
    let file: String
    /// Per mapped field, the index of its column in the header.
    let columnIndex: [Int]
    /// Per portal field of the kind, the index into `mapping.fields`, or nil when unmapped.
    let portalSlots: [Int?]
    let keySlots: [Int?]
    /// Pairs of mapped fields (slot, slot it must not precede), resolved once per file.
    let dateOrderSlots: [(Int, Int)]
    let schoolUnits: Set<String>
    let products: Set<String>
    let organisation: String
    /// How person ids are stored (an organisation's own ids are namespaced by it).
    var personIDs: PersonIDScope = .global
    /// Per mapped field, whether it is a person id (stored per organisation for `ids:
    /// organisation`): resolved once, not compared per cell.
    var personSlots: [Bool] = []
    /// Per mapped field made by `derive:`, the positions of the columns it is made from.
    var deriveColumns: [[Int]?] = []
    /// The feed's `select:`, by the slot of the field it selects on, resolved once per file.
    var selection: [(slot: Int, allowed: Set<String>)] = []
    /// Offline validation may have no school units or catalogue to check against.
    var checksSchoolUnits = true
    var checksProducts = true

    /// Prepares a validator for a file whose header is `header`; throws the missing columns
    /// as file-level findings when a mapped column is absent.
    static func make(mapping: Feed, file: String, header: [String], schoolUnits: Set<String>,
                     products: Set<String>, organisation: String) throws -> RecordValidator {
        var indexByName: [String: Int] = [:]
        for (index, name) in header.enumerated() where indexByName[name.trimmingSpaces] == nil {
            indexByName[name.trimmingSpaces] = index
        }
        var columnIndex: [Int] = []
        var missing: [Finding] = []
        var deriveColumns: [[Int]?] = []
        for field in mapping.fields {
            deriveColumns.append(field.derive.map { columns in columns.map { indexByName[$0] ?? -1 } })
            for column in field.derive ?? [] where indexByName[column] == nil {
                missing.append(Finding(file: file, line: 1, column: column, rule: .missingColumn, detail: column))
            }
            if field.constant != nil || field.derive != nil {
                columnIndex.append(-1)
            } else if let index = indexByName[field.column] {
                columnIndex.append(index)
            } else {
                missing.append(Finding(file: file, line: 1, column: field.column, rule: .missingColumn,
                                       detail: "\(field.column)"))
            }
        }
        if !missing.isEmpty {
            // UTF-8 read as Windows-1252 shows as "FÃ¶rnamn": say which encoding it looks like.
            if mapping.source.encoding == .windows1252, header.contains(where: { $0.contains("Ã") }) {
                missing.insert(Finding(file: file, line: 1, rule: .encodingMismatch, detail: TextEncoding.utf8.rawValue), at: 0)
            }
            throw DeliveryRefusal(findings: missing)
        }
        let portalSlots = mapping.kind.fields.map { portal in mapping.fields.firstIndex { $0.target == portal.name } }
        let keySlots = mapping.kind.key.map { key in mapping.fields.firstIndex { $0.target == key } }
        let dateOrderSlots = mapping.fields.enumerated().compactMap { slot, field -> (Int, Int)? in
            guard let other = field.notBefore, let otherSlot = mapping.fields.firstIndex(where: { $0.target == other })
            else { return nil }
            return (slot, otherSlot)
        }
        var validator = RecordValidator(mapping: mapping, file: file, columnIndex: columnIndex, portalSlots: portalSlots,
                                        keySlots: keySlots, dateOrderSlots: dateOrderSlots, schoolUnits: schoolUnits,
                                        products: products, organisation: organisation)
        validator.deriveColumns = deriveColumns
        validator.selection = mapping.select.compactMap { target, allowed in
            mapping.fields.firstIndex { $0.target == target }.map { (slot: $0, allowed: allowed) }
        }
        validator.personSlots = mapping.fields.map { $0.target == "person_id" }
        return validator
    }

    /// Validates `record`; returns the portal values in `EntityKind.fields` order, or nil
    /// when the row is rejected (its findings appended to `findings`).
    func validate(_ record: CSVRecord, findings: inout [Finding]) -> [String?]? {
        var values = [String?](repeating: nil, count: mapping.fields.count)
        var rejected = false
        for (slot, field) in mapping.fields.enumerated() {
            let delivered = cell(record, slot)
            func reject(_ rule: Rule, _ detail: String = "") {
                if field.dropsInvalidValue {
                    // The value is left out (it stays nil) and the row kept: a warning.
                    findings.append(Finding(file: file, line: record.line, column: field.column, value: delivered, rule: rule,
                                            detail: detail, isWarning: true))
                    return
                }
                rejected = true
                // Two portal fields read from one column find the same problem once.
                if slot > 0, mapping.fields[..<slot].contains(where: { $0.column == field.column }),
                   findings.contains(where: { $0.line == record.line && $0.column == field.column && $0.rule == rule }) { return }
                findings.append(Finding(file: file, line: record.line, column: field.column, value: delivered, rule: rule, detail: detail))
            }
            // The value the checks see: transformed, defaulted, looked up; findings show it as delivered.
            var given = field.transforms.isEmpty ? delivered : field.transforms.reduce(delivered) { $1.apply($0) }
            if given.isEmpty, let value = field.defaultValue { given = value }
            if given.isEmpty {
                if field.required { reject(.required) }
                continue
            }
            if let lookup = field.lookup {
                guard let value = lookup[given] else {
                    reject(.lookup)
                    continue
                }
                given = value
            }
            let raw = given
            // Characters are counted only when the byte count cannot decide: counting
            // grapheme clusters costs more than the rest of a row's checks.
            let bytes = raw.utf8.count
            if let minLength = field.minLength, bytes < minLength || (bytes < 4 * minLength && raw.count < minLength) {
                reject(.length, "min:\(minLength)")
                continue
            }
            if let maxLength = field.maxLength, bytes > maxLength && raw.count > maxLength {
                reject(.length, "max:\(maxLength)")
                continue
            }
            if let pattern = field.pattern, !pattern.matches(raw) {
                reject(.pattern, pattern.source)
                continue
            }
            var value = raw
            switch field.type {
            case .text:
                // Other types' formats refuse control characters by themselves.
                if record.hasControlCharacters, !field.allowsControlCharacters, raw.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                    reject(.controlCharacter)
                    continue
                }
            case .integer(let min, let max):
                guard let number = Int(raw) else { reject(.integer); continue }
                if let min, number < min { reject(.range, "\(min)–\(max.map(String.init) ?? "")"); continue }
                if let max, number > max { reject(.range, "\(min.map(String.init) ?? "")–\(max)"); continue }
                value = String(number)
            case .date(let format):
                guard let iso = format.isoDate(raw) else { reject(.date, format.text); continue }
                value = iso
            case .email:
                guard EmailAddress.isValid(raw) else { reject(.email); continue }
            case .enumeration(let map, let caseInsensitive):
                guard let mapped = map[caseInsensitive ? raw.lowercased() : raw] else {
                    reject(.enumeration, map.keys.sorted().joined(separator: ", "))
                    continue
                }
                value = mapped
            }
            switch field.reference {
            case .schoolUnits where checksSchoolUnits && !schoolUnits.contains(value):
                reject(.schoolUnitOutOfScope, organisation)
                continue
            case .products where checksProducts && !products.contains(value):
                reject(.unknownProduct)
                continue
            default:
                break
            }
            values[slot] = personSlots[slot] && personIDs == .organisation ? personIDs.stored(value, organisation: organisation) : value
        }
        for (slot, otherSlot) in dateOrderSlots {
            guard let value = values[slot], let otherValue = values[otherSlot] else { continue }
            if value < otherValue {
                findings.append(Finding(file: file, line: record.line, column: mapping.fields[slot].column, value: value,
                                        rule: .dateOrder, detail: "\(mapping.fields[otherSlot].column) \(otherValue)"))
                rejected = true
            }
        }
        if rejected { return nil }
        return portalSlots.map { slot in slot.flatMap { values[$0] } }
    }

    /// The delivered cell of the field in `slot` (trimmed), the field's constant, or the
    /// value derived from its columns.
    func cell(_ record: CSVRecord, _ slot: Int) -> String {
        if let constant = mapping.fields[slot].constant { return constant }
        if let columns = deriveColumns[slot] { return Self.derive(columns.map { record.fields[$0] }) }
        return record.fields[columnIndex[slot]].trimmingSpaces
    }

    /// A stable id made from `values` (`derive:`): the same school unit and class name give
    /// the same id in every delivery, whatever the file's name, row order or letter case;
    /// 24 hexadecimal digits of their SHA-256, or empty when a value is empty.
    static func derive(_ values: [String]) -> String {
        let parts = values.map { $0.trimmingSpaces.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ").lowercased() }
        guard !parts.contains(where: \.isEmpty) else { return "" }
        return String(Digest.sha256Hex(Data(parts.joined(separator: "\u{1F}").utf8)).prefix(24))
    }

    /// Whether the record passes the feed's `select:`: each selected field's value, as the
    /// portal would hold it, is one of those listed. Checked before the row's rules, so a
    /// row left out is never a finding.
    func selects(_ record: CSVRecord) -> Bool {
        selection.allSatisfy { slot, allowed in
            var value = prepared(record, slot)
            switch mapping.fields[slot].type {
            case .enumeration(let map, let caseInsensitive): value = map[caseInsensitive ? value.lowercased() : value] ?? value
            case .integer: value = Int(value).map(String.init) ?? value
            case .date(let format): value = format.isoDate(value) ?? value
            case .text, .email: break
            }
            return allowed.contains(value)
        }
    }

    /// A rejected row's value of the field in `slot` in the form its record is stored under
    /// (transformed, defaulted, looked up when the table has it, a person id namespaced), so
    /// that the record it names is protected from removal; nil when empty.
    func storedForm(_ record: CSVRecord, _ slot: Int) -> String? {
        let value = prepared(record, slot)
        if value.isEmpty { return nil }
        return personSlots.indices.contains(slot) && personSlots[slot] ? personIDs.stored(value, organisation: organisation) : value
    }

    /// The field's value before its checks: the cell transformed, defaulted when empty, and
    /// looked up when the table has it.
    private func prepared(_ record: CSVRecord, _ slot: Int) -> String {
        let field = mapping.fields[slot]
        var value = cell(record, slot)
        if !field.transforms.isEmpty { value = field.transforms.reduce(value) { $1.apply($0) } }
        if value.isEmpty, let fallback = field.defaultValue { value = fallback }
        if let looked = field.lookup?[value] { value = looked }
        return value
    }

    /// The record's key values as delivered (trimmed), or nil when a key cell is empty.
    ///
    /// A rejected row's key protects the portal's record with that key from removal.
    func rawKey(_ record: CSVRecord) -> [String]? {
        var key: [String] = []
        for slot in keySlots {
            guard let slot, let value = storedForm(record, slot) else { return nil }
            key.append(value)
        }
        return key
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and non-breaking spaces.
    var trimmingSpaces: String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == " " || scalar == "\t" || scalar == "\u{A0}" }
        let scalars = unicodeScalars
        guard let first = scalars.first, let last = scalars.last, isSpace(first) || isSpace(last) else { return self }
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end && isSpace(scalars[start]) { start = scalars.index(after: start) }
        while end > start && isSpace(scalars[scalars.index(before: end)]) { end = scalars.index(before: end) }
        return String(scalars[start..<end])
    }
}
