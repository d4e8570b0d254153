import ArgumentParser
import Foundation
import RosterDrop

/// `rosterdrop history`: what every delivery did to one person, oldest first.
struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tell what every delivery did to one person, oldest first.",
        discussion: """
            Created, adopted, which fields changed (names, not values), groups and licenses gained and lost, \
            rejected rows that named them, and why they were removed. Kept as long as retention's removal_log_days. \
            Give one of --person or --email. Exits 1 when nothing about that person is on record.
            """)

    @Option(name: .long, help: "The job's YAML config file.")
    var config: String

    @Argument(help: "The organisation's id in the config.")
    var organisationID: String

    @Option(name: .long, help: "The person's id (Skolon's person_id).")
    var person: String?

    @Option(name: .long, help: "The e-mail address of an account in the portal now.")
    var email: String?

    @Flag(name: .long, help: "Print JSON on stdout.")
    var json = false

    func validate() throws {
        guard (person == nil) != (email == nil) else { throw ValidationError("give one of --person ID or --email ADDRESS") }
    }

    func run() throws {
        let who: PersonHistory.Who = person.map { .person($0) } ?? .email(email ?? "")
        let entries = try ExitStatus.reporting {
            let configuration = try JobConfiguration.load(path: config)
            _ = try findOrganisation(organisationID, in: configuration)
            return try PersonHistory(database: PortalDatabase(configuration.database)).entries(organisation: organisationID, who: who)
        }
        if json {
            try printJSON(entries)
            return
        }
        // The e-mail asked by is the operator's own input: it is not echoed back.
        let accounts = Set(entries.map(\.account)).sorted().map(String.init).joined(separator: ", ")
        var text = "history of \(person.map { "person \($0)" } ?? "the account with that e-mail") in \(organisationID) "
            + "(account \(accounts)), oldest first\n"
        for entry in entries {
            text += "\n\(entry.at)  " + (entry.delivery.map { "delivery \($0)" } ?? "calendar") + "\n"
            for event in entry.events { text += "  - \(event)\n" }
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
