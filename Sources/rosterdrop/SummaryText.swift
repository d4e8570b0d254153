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
            if organisation.deliveries.isEmpty { text += " no complete delivery" }
            text += "\n"
            for delivery in organisation.deliveries {
                text += "    \(delivery.timestamp)  \(delivery.outcome.rawValue)"
                if delivery.findings > 0 { text += ", \(delivery.findings) finding\(delivery.findings == 1 ? "" : "s")" }
                text += "\n"
                for entity in ["users", "groups", "memberships", "distribution_orders"] {
                    guard let counts = delivery.counts[entity] else { continue }
                    text += "      \(entity): received \(counts.received), accepted \(counts.accepted), rejected \(counts.rejected)"
                    text += ", created \(counts.created), updated \(counts.updated), removed \(counts.removed)\n"
                }
                if delivery.unlicensedUsers > 0 {
                    text += "      \(delivery.unlicensedUsers) accepted user(s) hold no order and are not in the portal\n"
                }
                if let receipt = delivery.receipt { text += "      receipt: outbox/\(receipt)\n" }
                if let rejects = delivery.rejects { text += "      rejects: outbox/\(rejects)\n" }
            }
            if !organisation.waiting.isEmpty {
                text += "    waiting (incomplete): \(organisation.waiting.joined(separator: ", "))\n"
            }
            if organisation.unrecognised > 0 { text += "    \(organisation.unrecognised) unrecognised file(s) left in inbox/\n" }
        }
        return text
    }
}
