import Foundation
import Testing
@testable import RosterDrop

/// The HTML report of a delivery, rendered in a real headless Chromium.
@Suite(.serialized)
struct HTMLReportTests {
    static let ts = "20261101T020000Z"
    static let script = "<script>document.title='pwned'</script>"
    static let formula = "=cmd|' /C calc'!A0"
    static let longName = String(repeating: "Å", count: 10_000)

    /// A delivery with rejected rows, among them hostile values.
    static func rejectingDrop() throws -> TestDrop {
        let drop = try TestDrop()
        try drop.deliver(ts, users: [
            Fixture.user("p1"),
            Fixture.user("p2", email: script),
            Fixture.user("p3", role: formula),
            Fixture.user("p4", given: longName),
            Fixture.user("p5"),
            Fixture.user("p6", unit: "1234"),
        ], orders: [
            Fixture.order("o1", person: "p1"),
            Fixture.order("o5", person: "p5", from: "2027-08-01", to: "2026-08-01"),
            Fixture.order("o6", person: "p5", from: "första augusti"),
        ])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        return drop
    }

    func page(_ drop: TestDrop, _ ts: String = HTMLReportTests.ts) -> URL {
        drop.folder("org1", "outbox").appendingPathComponent("report_\(ts).html")
    }

    @Test func theReportShowsTheReceiptsNumbersAndFiltersRowsInABrowser() throws {
        let drop = try Self.rejectingDrop()
        let browser = try HeadlessBrowser()
        let dom = try browser.dom(page(drop))
        #expect(dom.contains("data-outcome=\"applied_with_rejects\""))
        // Answered at 05:00 UTC: the page says so on Swedish time (winter, UTC+1).
        #expect(DOM.values(dom, attribute: "id")["answered"] == "2026-11-01 06:00 (Europe/Stockholm)")

        // The counts are the receipt's.
        let counts = DOM.values(dom, attribute: "data-count")
        let receipt = try drop.receipt(Self.ts)
        #expect(receipt.count == 4)
        for (entity, row) in receipt {
            for (index, field) in ["received", "accepted", "rejected", "created", "updated", "removed"].enumerated() {
                #expect(counts["\(entity).\(field)"] == row[4 + index], "\(entity) \(field)")
            }
        }
        // p5's orders are both rejected: accepted but unlicensed, so not created.
        #expect(counts["users.rejected"] == "4" && counts["users.created"] == "1")

        // Every rejected row of the CSV report, in its order.
        let rejects = try drop.report("rejects_\(Self.ts).csv.gz").dropFirst()
        let rows = DOM.rows(dom, table: "rows")
        #expect(rows.count == rejects.count && rejects.count >= 6)
        #expect(DOM.shownRows(dom, table: "rows").count == rejects.count, "nothing filtered without a filter")
        #expect(DOM.values(dom, attribute: "id")["f-shown"] == String(rejects.count))

        // Grouped by rule, most frequent first.
        let groups = DOM.pairs(dom, "data-rule", "data-findings")
        let byRule = Dictionary(grouping: rejects, by: { $0[4] }).mapValues { String($0.count) }
        #expect(groups == byRule)

        // A rule's filter (as a rule's link sets it) narrows the rows to that rule.
        let email = try browser.dom(page(drop), fragment: "rule=field.email")
        let shown = DOM.shownRows(email, table: "rows")
        #expect(shown.count == rejects.filter { $0[4] == "field.email" }.count && shown.count == 1)
        #expect(shown.allSatisfy { $0.contains("data-rule=\"field.email\"") })
        #expect(DOM.values(email, attribute: "id")["f-shown"] == "1")
        // By file, and by free text.
        let ordersFile = "distribution_orders_\(Self.ts).csv.gz"
        let byFile = DOM.shownRows(try browser.dom(page(drop), fragment: "file=\(ordersFile)"), table: "rows")
        #expect(byFile.count == rejects.filter { $0[0] == ordersFile }.count && byFile.count >= 2)
        let searched = DOM.shownRows(try browser.dom(page(drop), fragment: "q=calc"), table: "rows")
        #expect(searched.count == 1 && searched[0].contains("field.enum"))
    }

    @Test func hostileValuesRenderAsTextAndScriptingOffShowsEveryRow() throws {
        let drop = try Self.rejectingDrop()
        let browser = try HeadlessBrowser()
        let dom = try browser.dom(page(drop))
        // The value is text: no element from it, the page's title untouched.
        #expect(!dom.contains(Self.script))
        #expect(dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"))
        #expect(!dom.contains("<title>pwned"))
        // A formula is neutralised as in the CSV report.
        #expect(dom.contains("'\(Self.formula)"))
        // A 10 kB name is cut to the report's bound, whole in no page.
        #expect(!dom.contains(String(repeating: "Å", count: 501)))
        #expect(dom.contains(String(repeating: "Å", count: 500)))

        // Without its script the page is complete: every row there and none hidden, the
        // filter form hidden (Chromium's DOM dump itself needs scripting, so the file is read).
        let plain = try String(contentsOf: page(drop), encoding: .utf8)
        let rejects = try drop.report("rejects_\(Self.ts).csv.gz").dropFirst()
        #expect(DOM.shownRows(plain, table: "rows").count == rejects.count)
        #expect(plain.contains("<form id=\"filters\" class=\"filters\" hidden"))
        #expect(!plain.contains("href=\"http") && !plain.contains("src=\""), "nothing loaded from elsewhere")
    }

    @Test func aHeldDeliverysReportSaysWhatItWouldRemoveAndHowToDecide() throws {
        let drop = try HoldTests.heldSetup()
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        let dom = try HeadlessBrowser().dom(page(drop, "20261102T020000Z"))
        #expect(dom.contains("data-outcome=\"held\""))
        #expect(DOM.values(dom, attribute: "data-hold")["users"] == "18")
        #expect(DOM.values(dom, attribute: "data-count")["users.removed"] == "18")
        #expect(dom.contains("rosterdrop approve --config CONFIG org1 20261102T020000Z"))
        #expect(dom.contains("rosterdrop discard --config CONFIG org1 20261102T020000Z"))
    }

    @Test func duringTheCleanUpsWarningTheReportShowsTheStartsExportAndTheAccountsAtRisk() throws {
        let drop = try TestDrop(settings: "integration_start: 2026-11-01")
        try PortalBefore.write(into: drop)
        try drop.deliver("20261101T020000Z", users: [CleanupTests.anna], orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let export = try #require(drop.files("org1", "outbox").first { $0.hasPrefix("distribution_orders_") })
        let exported = try drop.report(export).count - 1
        try drop.deliver("20261125T020000Z", users: [CleanupTests.anna, CleanupTests.bo],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run(at: instant("2026-11-25T05:00:00Z"))
        let dom = try HeadlessBrowser().dom(page(drop, "20261125T020000Z"))
        #expect(dom.contains("Integrationen startade 2026-11-01."))
        #expect(dom.contains("Portalens \(exported) licenser skrevs ut till Skolon som distributionsorder i \(export)."))
        #expect(dom.contains("tas bort 2026-12-01"))
        // The same accounts as the receipt counts and the at-risk list names.
        let atRisk = DOM.rows(dom, table: "at-risk")
        #expect(String(atRisk.count) == (try drop.receipt("20261125T020000Z")["accounts_at_risk"]?[4]))
        #expect(dom.contains("<td>1002</td><td>Cecilia.Ros@Exempel.se</td><td>12345678</td><td>student</td>"))
    }

    /// `make demo`'s story: every delivery's report, opened in the browser, shows its receipt's numbers.
    @Test func everyDemoDeliverysReportShowsItsReceiptsNumbers() throws {
        let run = try DemoRun()
        try run.uploadSheets()
        let binary = try Executable("rosterdrop")
        for now in ["2026-11-24T06:00:00Z", "2026-11-24T06:10:00Z", "2026-12-17T06:00:00Z", "2026-12-24T06:00:00Z"] {
            if now.hasPrefix("2026-12-17") { try run.deliverLater() }
            _ = try binary.run(["run", "--config", run.configPath, "--now", now])
        }
        let browser = try HeadlessBrowser()
        var checked = 0
        for organisation in ["exempel-kommun", "friskolan-norr", "skolan-excel"] {
            let outbox = run.outbox(organisation)
            for name in try FileManager.default.contentsOfDirectory(atPath: outbox.path) where name.hasPrefix("receipt_") {
                let stamp = name.dropFirst("receipt_".count).prefix(16)
                let receipt = try CSVReader.records(atPath: outbox.appendingPathComponent(name).path).dropFirst()
                let dom = try browser.dom(outbox.appendingPathComponent("report_\(stamp).html"))
                let counts = DOM.values(dom, attribute: "data-count")
                for row in receipt where row[3] != "accounts_at_risk" {
                    for (index, field) in ["received", "accepted", "rejected", "created", "updated", "removed"].enumerated() {
                        #expect(counts["\(row[3]).\(field)"] == row[4 + index], "\(organisation) \(stamp) \(row[3]) \(field)")
                    }
                }
                #expect(dom.contains("data-outcome=\"\(receipt.first?[2] ?? "")\""))
                checked += 1
            }
        }
        #expect(checked == 5, "three exempel-kommun deliveries, friskolan-norr's and skolan-excel's")
    }
}
