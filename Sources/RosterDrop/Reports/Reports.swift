import Foundation

/// The outcome of a delivery as the receipt states it.
public enum DeliveryOutcome: String, Sendable, Codable {
    case applied
    case appliedWithRejects = "applied_with_rejects"
    /// Applied; some values were left out of kept rows (`invalid: drop_value`), none rejected.
    case appliedWithWarnings = "applied_with_warnings"
    case held
    case refused
    case duplicate
    case test
    /// A held delivery an operator discarded: nothing of it was applied.
    case discarded
}

extension DeliveryOutcome {
    /// Whether the delivery's rows were read and planned, so its unlicensed users, expired
    /// orders and filtered rows belong in its answer.
    var readAndPlanned: Bool {
        [.applied, .appliedWithRejects, .appliedWithWarnings, .test, .held].contains(self)
    }
}

/// Writes the two report files of a delivery into a local folder, ready to publish.
enum ReportWriter {
    static let rejectsHeader = ["file", "line", "column", "value", "rule", "message_sv", "message_en"]
    static let receiptHeader = ["delivery", "organisation", "outcome", "entity", "received", "accepted", "rejected",
                                "created", "updated", "removed"]

    /// Writes `rejects_<ts>.csv.gz` from the staged findings, ordered by file then line.
    ///
    /// `files` gives the order of the delivery's files; findings about other names follow.
    static func writeRejects(_ db: any StoreSession, files: [String], source: String? = nil, to url: URL) throws -> Int {
        let writer = try GzipWriter(path: url.path)
        try writer.write(CSVWriter.line(rejectsHeader))
        var count = 0
        let rank = fileRank(files)
        try db.forEachRow(sql: """
            SELECT file, line, column_name, value, rule, detail, warning FROM stage_findings
            ORDER BY \(rank.sql), file, line, column_name, rule
            """, arguments: rank.arguments) { row in
            let ruleID: String = row["rule"]
            let line: Int = row["line"]
            let message = messages(ruleID, detail: row["detail"], warning: (row["warning"] as Int) != 0, source: source)
            let cells = [row["file"], line > 0 ? String(line) : "", row["column_name"], row["value"], ruleID,
                         message.swedish, message.english]
            try writer.write(CSVWriter.line(cells.map(SpreadsheetSafety.neutralise)))
            count += 1
            return true
        }
        try writer.close()
        return count
    }

    /// SQL ranking findings by the delivery's file order (`files`); other names come after.
    static func fileRank(_ files: [String]) -> (sql: String, arguments: StoreArguments) {
        guard !files.isEmpty else { return ("0", []) }
        var rank = "CASE file"
        for index in files.indices { rank += " WHEN ? THEN \(index)" }
        return (rank + " ELSE \(files.count) END", StoreArguments(files))
    }

    /// A finding's Swedish and English messages, as every report gives them.
    static func messages(_ ruleID: String, detail: String, warning: Bool, source: String?) -> (swedish: String, english: String) {
        let rule = Rule(rawValue: ruleID)
        let swedish = rule?.swedish(detail, source: source) ?? detail
        let english = rule?.english(detail, source: source) ?? detail
        return warning
            ? ("Varning, raden används men värdet lämnas tomt: " + swedish, "Warning, the row is kept but this value left empty: " + english)
            : (swedish, english)
    }

    /// Writes `receipt_<ts>.csv`: one row per entity, and while old accounts are at risk
    /// of the integration's clean-up, a last row `accounts_at_risk` whose `received` cell
    /// counts them (the list itself is `accounts_at_risk_<ts>.csv`).
    static func writeReceipt(timestamp: String, organisation: String, outcome: DeliveryOutcome,
                             counts: [EntityKind: EntityCounts], atRisk: Int? = nil, to url: URL) throws {
        var text = CSVWriter.line(receiptHeader)
        var rows = EntityKind.allCases.map { kind in
            let entity = counts[kind] ?? EntityCounts()
            return (kind.rawValue, [entity.received, entity.accepted, entity.rejected, entity.created, entity.updated, entity.removed])
        }
        if let atRisk { rows.append(("accounts_at_risk", [atRisk, 0, 0, 0, 0, 0])) }
        for (entity, numbers) in rows {
            let cells = [timestamp, organisation, outcome.rawValue, entity] + numbers.map(String.init)
            text += CSVWriter.line(cells.map(SpreadsheetSafety.neutralise))
        }
        try writeLocal(text, to: url)
    }

    /// Writes a plain CSV report file into the local work folder.
    static func writeLocal(_ text: String, to url: URL) throws {
        do {
            try Data(text.utf8).write(to: url)
        } catch {
            throw DropFolderError(location: url.deletingLastPathComponent().path, operation: "write \(url.lastPathComponent)",
                                  reason: "cannot write the report locally")
        }
    }
}
