import RosterDrop

/// The human-readable run summary written to stderr.
enum SummaryText {
    static func render(_ summary: RunSummary) -> String {
        var text = summary.dryRun ? "\nrosterdrop test run (nothing written to the database):\n" : "\nrosterdrop run summary:\n"
        for organisation in summary.organisations {
            text += "  \(organisation.id):"
            if let error = organisation.error {
                text += " FAILED: \(error)\n"
                continue
            }
            if organisation.takenByAnotherWorker {
                text += " taken by another worker sharing the database; left to it this run\n"
                continue
            }
            if organisation.mode == "test" { text += " [test mode: the portal is not changed]" }
            if organisation.deliveries.isEmpty { text += " no complete delivery" }
            text += "\n"
            if let calendar = organisation.calendar { text += render(calendar) }
            for delivery in organisation.deliveries { text += render(delivery) }
            if !organisation.holds.isEmpty {
                text += "    HELD, waiting for an operator: \(organisation.holds.joined(separator: ", "))"
                text += " (rosterdrop holds | approve | discard)\n"
            }
            if !organisation.heldBack.isEmpty {
                text += "    waiting behind the hold: \(organisation.heldBack.joined(separator: ", "))\n"
            }
            if !organisation.waiting.isEmpty {
                text += "    waiting (incomplete): \(organisation.waiting.joined(separator: ", "))\n"
            }
            if organisation.unrecognised > 0 {
                let shown = organisation.unrecognisedNames.prefix(5).joined(separator: ", ")
                text += "    \(organisation.unrecognised) file(s) no mapping reads, left in inbox/: \(shown)"
                text += organisation.unrecognised > 5 ? ", …\n" : "\n"
            }
        }
        return text
    }

    private static func render(_ calendar: CalendarSummary) -> String {
        var text = ""
        if let export = calendar.startExport {
            let late = calendar.startedOn != calendar.startDay ? ", planned for \(calendar.startDay ?? "")" : ""
            text += "    integration started \(calendar.startedOn ?? "")\(late): \(calendar.startLicensesExported ?? 0) license(s) "
            text += "exported to outbox/\(export), \(calendar.startGroupsDeleted ?? 0) old group(s) deleted\n"
        } else if calendar.integration == "planned", let day = calendar.startDay {
            text += "    integration starts \(day); deliveries until then are test runs\n"
        }
        if let deleted = calendar.cleanupDeleted {
            text += "    integration clean-up: \(deleted) old account(s) without a Skolon license deleted\n"
        } else if calendar.cleanupWaitsForHold == true, let deadline = calendar.cleanupDeadline {
            text += "    integration clean-up (due \(deadline)) waits for the held delivery to be approved or discarded\n"
        } else if let deadline = calendar.cleanupDeadline {
            text += "    integration clean-up on \(deadline)"
            if let atRisk = calendar.accountsAtRisk { text += ": \(atRisk) old account(s) at risk" }
            if let list = calendar.atRiskList { text += ", listed in outbox/\(list)" }
            text += "\n"
        }
        if calendar.expiredLicenses > 0 {
            text += "    expired: \(calendar.expiredLicenses) license(s) removed, \(calendar.expiredAccounts) account(s) left without one removed\n"
        }
        if calendar.purgedFiles > 0 { text += "    retention: \(calendar.purgedFiles) old file(s) purged\n" }
        return text
    }

    private static func render(_ delivery: DeliverySummary) -> String {
        var text = "    \(delivery.timestamp)  \(delivery.outcome.rawValue)"
        if delivery.findings > 0 { text += ", \(delivery.findings) finding\(delivery.findings == 1 ? "" : "s")" }
        text += "\n"
        for entity in ["users", "groups", "memberships", "distribution_orders"] {
            guard let counts = delivery.counts[entity] else { continue }
            text += "      \(entity): received \(counts.received), accepted \(counts.accepted), rejected \(counts.rejected)"
            text += ", created \(counts.created), updated \(counts.updated), removed \(counts.removed)\n"
        }
        if let hold = delivery.hold {
            text += "      held: it would remove " + hold.filter { $0.removing > 0 }.map { figure in
                "\(figure.removing) of \(figure.current) \(figure.entity) (\(Int(figure.percent.rounded())) %, limit \(Int(figure.limitPercent)) %)"
            }.joined(separator: ", ") + "\n"
        }
        if delivery.unlicensedUsers > 0 {
            text += "      \(delivery.unlicensedUsers) accepted user(s) hold no order and are not in the portal\n"
        }
        if delivery.expiredOrders > 0 {
            text += "      \(delivery.expiredOrders) order(s) already past their end date grant nothing\n"
        }
        if let receipt = delivery.receipt { text += "      receipt: outbox/\(receipt)\n" }
        if let report = delivery.report { text += "      report:  outbox/\(report)\n" }
        if let rejects = delivery.rejects { text += "      rejects: outbox/\(rejects)\n" }
        return text
    }
}
