import Crypto
import Foundation

/// Where an organisation's integration stands, as a delivery's report shows it.
struct IntegrationFacts: Sendable {
    /// An account the clean-up will delete unless Skolon licenses it (or it is adopted).
    struct AtRisk: Sendable {
        var accountID: Int64
        var email: String
        var schoolUnit: String
        var role: String
    }

    /// The start day, planned or performed.
    var startDay: String
    var started: Bool
    /// The export the start wrote back to Skolon, and how many licenses it held.
    var export: (name: String, licenses: Int)?
    /// The clean-up deadline, while the clean-up is still to come.
    var deadline: String?
    /// Accounts at risk, in the clean-up's warning period.
    var atRisk: [AtRisk]?
}

/// The HTML report of one delivery, `report_<ts>.html`: one self-contained page beside the
/// receipt, for the support person explaining a rejected row to a school.
///
/// It shows the outcome, the counts of the receipt (and the rows `select` left out), the
/// findings grouped by rule with the most frequent first, and every rejected row — up to
/// `rowLimit`, the rest being in the reject report — which a small inline script lets the
/// reader filter by file and rule and search. Without the script the table is whole and
/// readable; the page loads nothing from anywhere, and a content security policy lets only
/// its own script run. Every value is neutralised as in the CSV reports, then escaped.
struct DeliveryReport {
    var organisation: String
    var timestamp: String
    /// When the job answered it (ISO 8601, UTC).
    var answeredAt: String
    /// Whose clock the page shows times on (the config's `time_zone`).
    var timeZone: TimeZone = JobClock.defaultTimeZone
    var outcome: DeliveryOutcome
    var counts: [EntityKind: EntityCounts]
    var filtered: [EntityKind: Int] = [:]
    /// The delivery's files in their order, for the findings' order.
    var files: [String] = []
    /// The mapping's `source:`, named in the messages.
    var source: String?
    var hold: [HoldFigure]?
    var integration: IntegrationFacts?
    /// Accepted users without a license, so not in the portal; orders past their end.
    var unlicensedUsers = 0
    var expiredOrders = 0
    /// Whether the staged findings belong to this delivery's answer.
    var showsFindings = true

    /// Rejected rows shown in the page; a browser struggles past this, the CSV does not.
    static let rowLimit = 20_000
    static let examplesPerRule = 5

    static func fileName(_ timestamp: String) -> String { "report_\(timestamp).html" }

    /// Writes the page from the staged findings.
    func write(_ db: any StoreSession, to url: URL) throws {
        try ReportWriter.writeLocal(try render(db), to: url)
    }

    func render(_ db: any StoreSession) throws -> String {
        var page = HTMLText()
        let script = Self.script
        let hash = Data(SHA256.hash(data: Data(script.utf8))).base64EncodedString()
        page.raw("""
            <!DOCTYPE html>
            <html lang="sv"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-\(hash)'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>
            """)
        page.text("\(organisation) \(timestamp) – \(Self.outcomeText(outcome).swedish)")
        page.raw("</title><style>\(Self.style)</style></head><body>\n")
        header(&page)
        countsTable(&page)
        if let hold { holdSection(hold, &page) }
        if let integration { integrationSection(integration, &page) }
        if showsFindings {
            let ranks = ReportWriter.fileRank(files)
            let groups = try findingGroups(db, ranks: ranks)
            if !groups.isEmpty {
                findingSection(groups, &page)
                try rejectedRows(db, groups: groups, ranks: ranks, &page)
            }
        }
        page.raw("<script>\(script)</script>\n</body></html>\n")
        return page.text
    }

    // MARK: Sections

    private func header(_ page: inout HTMLText) {
        let label = Self.outcomeText(outcome)
        page.raw("<header>")
        page.bilingual("Leveransrapport", "Delivery report", in: "h1")
        page.bilingual(label.swedish, label.english, in: "p",
                       attributes: "class=\"badge \(Self.tone(outcome))\" id=\"outcome\" data-outcome=\"\(outcome.rawValue)\"")
        page.raw("<dl class=\"facts\">")
        for (swedish, english, value, id) in [("Organisation", "Organisation", organisation, "organisation"),
                                              ("Leverans", "Delivery", timestamp, "delivery"),
                                              ("Besvarad", "Answered", localTime(answeredAt), "answered")] {
            page.bilingual(swedish, english, in: "dt")
            page.element("dd", value, attributes: "id=\"\(id)\"")
        }
        page.raw("</dl>")
        page.bilingual(label.explanationSV, label.explanationEN, in: "p", attributes: "class=\"note\"")
        page.raw("</header>\n")
    }

    private func countsTable(_ page: inout HTMLText) {
        page.raw("<section>")
        page.bilingual("Antal per slag", "Counts per kind", in: "h2")
        page.raw("<table id=\"counts\"><thead><tr><th></th>")
        page.headings(Self.countHeadings)
        page.raw("</tr></thead><tbody>")
        for kind in EntityKind.allCases {
            let entity = counts[kind] ?? EntityCounts()
            let name = Self.kindText(kind)
            page.raw("<tr data-kind=\"\(kind.rawValue)\">")
            page.bilingual(name.swedish, name.english, in: "th", attributes: "scope=\"row\"")
            let numbers = [("received", entity.received), ("accepted", entity.accepted), ("rejected", entity.rejected),
                           ("created", entity.created), ("updated", entity.updated), ("removed", entity.removed),
                           ("filtered", filtered[kind] ?? 0)]
            for (field, number) in numbers {
                page.raw("<td data-count=\"\(kind.rawValue).\(field)\">\(number)</td>")
            }
            page.raw("</tr>")
        }
        page.raw("</tbody></table>")
        if unlicensedUsers > 0 || expiredOrders > 0 {
            page.raw("<p class=\"note\">")
            if unlicensedUsers > 0 {
                page.bilingual("\(unlicensedUsers) godkända användare saknar licens och finns därför inte i portalen.",
                               "\(unlicensedUsers) accepted \(unlicensedUsers == 1 ? "user has" : "users have") no license, so "
                               + "\(unlicensedUsers == 1 ? "it is" : "they are") not in the portal.")
                page.raw("<br>")
            }
            if expiredOrders > 0 {
                page.bilingual("\(expiredOrders) \(expiredOrders == 1 ? "licens har" : "licenser har") redan passerat sitt slutdatum och ger ingen åtkomst.",
                               expiredOrders == 1 ? "1 license is already past its end date and grants nothing."
                                                   : "\(expiredOrders) licenses are already past their end date and grant nothing.")
            }
            page.raw("</p>")
        }
        page.raw("</section>\n")
    }

    private func holdSection(_ figures: [HoldFigure], _ page: inout HTMLText) {
        page.raw("<section id=\"hold\">")
        page.bilingual("Pausad: skulle ta bort för mycket", "Held: it would remove too much", in: "h2")
        page.bilingual("Inget av leveransen har lästs in. En operatör godkänner den (nästa körning läser in den) eller kasserar den.",
                       "Nothing of the delivery was applied. An operator approves it (the next run applies it) or discards it.", in: "p")
        page.raw("<table><thead><tr><th></th>")
        page.headings([("Skulle ta bort", "Would remove"), ("Av nuvarande", "Of current"), ("%", "%"), ("Gräns %", "Limit %")])
        page.raw("</tr></thead><tbody>")
        for figure in figures {
            let over = figure.removing > 0 && figure.percent > figure.limitPercent
            page.raw("<tr\(over ? " class=\"over\"" : "")>")
            page.element("th", figure.entity, attributes: "scope=\"row\"")
            page.raw("<td data-hold=\"\(HTMLText.escape(figure.entity))\">\(figure.removing)</td><td>\(figure.current)</td>")
            page.raw("<td>\(String(format: "%.1f", figure.percent))</td><td>\(String(format: "%.0f", figure.limitPercent))</td></tr>")
        }
        page.raw("</tbody></table><pre>")
        page.text("rosterdrop holds --config CONFIG \(organisation)\n")
        page.text("rosterdrop approve --config CONFIG \(organisation) \(timestamp)\n")
        page.text("rosterdrop discard --config CONFIG \(organisation) \(timestamp)")
        page.raw("</pre></section>\n")
    }

    private func integrationSection(_ facts: IntegrationFacts, _ page: inout HTMLText) {
        page.raw("<section id=\"integration\">")
        page.bilingual("Integrationsstart", "Integration start", in: "h2")
        page.raw("<p>")
        if facts.started {
            page.bilingual("Integrationen startade \(facts.startDay).", "The integration started on \(facts.startDay).")
        } else {
            page.bilingual("Integrationen startar \(facts.startDay); till dess läses leveranser i testläge.",
                           "The integration starts on \(facts.startDay); until then deliveries are read in test mode.")
        }
        if let export = facts.export {
            page.raw(" ")
            page.bilingual("Portalens \(export.licenses) licenser skrevs ut till Skolon som distributionsorder i \(export.name).",
                           "The portal's \(export.licenses) licenses were written back to Skolon as distribution orders in \(export.name).")
        }
        if let deadline = facts.deadline {
            page.raw(" ")
            page.bilingual("Konton från före starten som Skolon inte licensierat tas bort \(deadline).",
                           "Accounts from before the start that Skolon has not licensed are deleted on \(deadline).")
        }
        page.raw("</p>")
        if let atRisk = facts.atRisk {
            page.bilingual("Konton i riskzonen: \(atRisk.count)", "Accounts at risk: \(atRisk.count)", in: "h3")
            page.bilingual("Licensiera dem i Skolon, eller rätta e-postadressen så att kontot kopplas ihop.",
                           "License them in Skolon, or correct the e-mail address so the account is adopted.", in: "p")
            page.raw("<table id=\"at-risk\"><thead><tr>")
            page.headings([("Konto", "Account"), ("E-post", "E-mail"), ("Skolenhet", "School unit"), ("Roll", "Role")])
            page.raw("</tr></thead><tbody>")
            for account in atRisk.prefix(Self.rowLimit) {
                page.raw("<tr><td>\(account.accountID)</td>")
                for value in [account.email, account.schoolUnit, account.role] {
                    page.element("td", SpreadsheetSafety.neutralise(value))
                }
                page.raw("</tr>")
            }
            page.raw("</tbody></table>")
        }
        page.raw("</section>\n")
    }

    /// Findings of one rule (warnings apart), with the first of them by file and line.
    private struct FindingGroup {
        var rule: String
        var warning: Bool
        var count: Int
        var lines: Int
        var examples: [StoreRow] = []
    }

    /// The findings' groups, most frequent first, each with its first examples: two passes
    /// over the staged findings, however many rules.
    private func findingGroups(_ db: any StoreSession, ranks: (sql: String, arguments: StoreArguments)) throws -> [FindingGroup] {
        var groups = try StoreRow.fetchAll(db, sql: """
            SELECT rule, warning, COUNT(*) AS n, COUNT(DISTINCT file || ':' || line) AS lines
            FROM stage_findings GROUP BY rule, warning ORDER BY n DESC, rule
            """).map { row in
            FindingGroup(rule: row["rule"], warning: (row["warning"] as Int) != 0, count: row["n"], lines: row["lines"])
        }
        let position = Dictionary(uniqueKeysWithValues: groups.enumerated().map { ("\($1.rule)|\($1.warning)", $0) })
        try db.forEachRow(sql: """
            SELECT rule, warning, file, line, column_name, detail FROM (
                SELECT rule, warning, file, line, column_name, detail,
                       ROW_NUMBER() OVER (PARTITION BY rule, warning ORDER BY \(ranks.sql), file, line, column_name) AS k
                FROM stage_findings) e
            WHERE k <= \(Self.examplesPerRule) ORDER BY k
            """, arguments: ranks.arguments) { row in
            if let index = position["\(row["rule"] as String)|\((row["warning"] as Int) != 0)"] { groups[index].examples.append(row) }
            return true
        }
        return groups
    }

    /// Findings grouped by rule, most frequent first, with examples.
    private func findingSection(_ groups: [FindingGroup], _ page: inout HTMLText) {
        page.raw("<section id=\"rules\">")
        page.bilingual("Fel per regel, vanligast först", "Findings by rule, most frequent first", in: "h2")
        page.bilingual("Rätta det vanligaste felet först: det tar bort flest avvisade rader.",
                       "Fix the most frequent finding first: it clears the most rejected rows.", in: "p", attributes: "class=\"note\"")
        page.raw("<ol class=\"rules\">")
        for group in groups {
            let (ruleID, count, lines, examples) = (group.rule, group.count, group.lines, group.examples)
            let message = messages(ruleID, detail: examples.first?["detail"] ?? "", warning: group.warning)
            page.raw("<li data-rule=\"\(HTMLText.escape(ruleID))\" data-findings=\"\(count)\"><h3>")
            page.raw("<a href=\"#rule=\(HTMLText.escape(ruleID))\">")
            page.text(ruleID)
            page.raw("</a> <span class=\"count\">")
            page.bilingual("\(count) fel på \(lines) \(lines == 1 ? "rad" : "rader")",
                           "\(count) \(count == 1 ? "finding" : "findings") on \(lines) \(lines == 1 ? "row" : "rows")")
            page.raw("</span>\(group.warning ? " <span class=\"badge warn\">varning <span class=\"en\" lang=\"en\">warning</span></span>" : "")</h3>")
            page.element("p", message.swedish)
            page.element("p", message.english, attributes: "class=\"en\" lang=\"en\"")
            page.raw("<p class=\"examples\">")
            page.bilingual("Till exempel:", "For example:")
            page.raw(" ")
            page.text(examples.map { example in
                let line: Int = example["line"]
                let column: String = example["column_name"]
                return "\(example["file"] as String)\(line > 0 ? ":\(line)" : "")\(column.isEmpty ? "" : " \(column)")"
            }.joined(separator: ", ") + (count > examples.count ? ", …" : ""))
            page.raw("</p></li>")
        }
        page.raw("</ol></section>\n")
    }

    /// Every finding as a row of a table the script filters.
    private func rejectedRows(_ db: any StoreSession, groups: [FindingGroup], ranks: (sql: String, arguments: StoreArguments),
                              _ page: inout HTMLText) throws {
        let total = groups.reduce(0) { $0 + $1.count }
        let files = try String.fetchAll(db, sql: "SELECT file FROM stage_findings GROUP BY file ORDER BY \(ranks.sql), file",
                                        arguments: ranks.arguments)
        // Rules by their findings, warnings and rejections together.
        let byRule = Dictionary(groups.map { ($0.rule, $0.count) }, uniquingKeysWith: +)
        let rules = byRule.keys.sorted { (-byRule[$0, default: 0], $0) < (-byRule[$1, default: 0], $1) }
        let shown = min(total, Self.rowLimit)
        page.raw("<section id=\"rejected\">")
        page.bilingual("Avvisade rader och varningar", "Rejected rows and warnings", in: "h2")
        if shown < total {
            page.bilingual("Sidan visar de första \(shown) av \(total); alla finns i rejects_\(timestamp).csv.gz.",
                           "The page shows the first \(shown) of \(total); all are in rejects_\(timestamp).csv.gz.", in: "p",
                           attributes: "class=\"note\" id=\"truncated\"")
        }
        page.raw("<form id=\"filters\" class=\"filters\" hidden><label>")
        page.bilingual("Fil", "File")
        page.raw(" <select id=\"f-file\"><option value=\"\">–</option>")
        for file in files { page.element("option", file, attributes: HTMLText.attribute("value", file)) }
        page.raw("</select></label> <label>")
        page.bilingual("Regel", "Rule")
        page.raw(" <select id=\"f-rule\"><option value=\"\">–</option>")
        for rule in rules { page.element("option", rule, attributes: HTMLText.attribute("value", rule)) }
        page.raw("</select></label> <label>")
        page.bilingual("Sök", "Search")
        page.raw(" <input type=\"search\" id=\"f-text\"></label> <span>")
        page.bilingual("Visar", "Showing")
        page.raw(" <output id=\"f-shown\">\(shown)</output> / \(shown)</span></form>")
        page.raw("<table id=\"rows\" data-total=\"\(total)\"><thead><tr>")
        page.headings([("Fil", "File"), ("Rad", "Line"), ("Kolumn", "Column"), ("Värde", "Value"), ("Regel", "Rule"),
                       ("Meddelande (svenska)", "Message (Swedish)"), ("Meddelande (engelska)", "Message (English)")])
        page.raw("</tr></thead><tbody>\n")
        try db.forEachRow(sql: """
            SELECT file, line, column_name, value, rule, detail, warning FROM stage_findings
            ORDER BY \(ranks.sql), file, line, column_name, rule LIMIT \(Self.rowLimit)
            """, arguments: ranks.arguments) { row in
            let file: String = row["file"]
            let ruleID: String = row["rule"]
            let line: Int = row["line"]
            let warning = (row["warning"] as Int) != 0
            let message = messages(ruleID, detail: row["detail"], warning: warning)
            page.raw("<tr \(HTMLText.attribute("data-file", file)) \(HTMLText.attribute("data-rule", ruleID))\(warning ? " class=\"warn\"" : "")>")
            page.element("td", file)
            page.raw("<td>\(line > 0 ? String(line) : "")</td>")
            page.element("td", row["column_name"])
            page.element("td", SpreadsheetSafety.neutralise(row["value"]), attributes: "class=\"value\"")
            page.element("td", ruleID)
            page.element("td", message.swedish)
            page.element("td", message.english, attributes: "lang=\"en\"")
            page.raw("</tr>\n")
            return true
        }
        page.raw("</tbody></table></section>\n")
    }

    // MARK: Texts

    /// `2026-11-24 07:00 (Europe/Stockholm)` for an ISO 8601 instant: the reader's clock, not UTC.
    func localTime(_ iso: String) -> String {
        guard let instant = JobClock.parseISO(iso) else { return iso }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return "\(formatter.string(from: instant)) (\(timeZone.identifier))"
    }

    private func messages(_ ruleID: String, detail: String, warning: Bool) -> (swedish: String, english: String) {
        ReportWriter.messages(ruleID, detail: detail, warning: warning, source: source)
    }
}
