import Foundation

/// The portal's state before the integration, as plain SQL INSERT statements.
///
/// Multi-row `VALUES` lists and `''`-escaped literals are standard SQL, so the file applies to
/// SQLite and PostgreSQL alike. Explicit ids from 1000 keep memberships readable and leave
/// room below for whatever a test database already holds.
struct PortalBeforeSQL {
    /// One account as the portal knew it before Skolon.
    struct Account {
        let id: Int
        let email: String
        let givenName: String
        let familyName: String
        let role: String
        let schoolUnitCode: String?
        let grade: Int?
    }

    static let organisationID = "exempel-kommun"
    static let createdAt = "2025-09-01T08:00:00Z"
    static let manualGroupID = 1000

    let accounts: [Account]
    /// Account ids in the manual group 'Läsklubben'.
    let clubMembers: [Int]

    /// Builds the accounts the demo's story needs from the cast of the first delivery.
    ///
    /// Four licensed people's addresses come back in another letter case (to be adopted), one
    /// unlicensed person's too (matched, yet never adopted), and one account matches no one.
    init(cast: DemoCast, seed: UInt64) {
        var rng = SplitMix64(seed: seed, stream: 0x5351_4C, index: 0)
        var accounts: [Account] = []
        for (offset, person) in (cast.adopted + [cast.unlicensedMatch]).enumerated() {
            accounts.append(Account(
                id: 1000 + offset,
                email: offset == 2 ? person.email.uppercased() : Self.titleCased(person.email),
                givenName: person.givenName, familyName: person.familyName, role: person.role,
                schoolUnitCode: person.schoolUnitCode,
                // Last school year's grade: the sync must overwrite it with Skolon's.
                grade: person.grade.map { max(1, $0 - 1) }))
        }
        let given = rng.pick(SwedishNames.given)
        let family = rng.pick(SwedishNames.family)
        accounts.append(Account(
            id: 1000 + accounts.count,
            // No number in the local part: generated addresses always have one, so this matches no one.
            email: Self.titleCased("\(SwedishNames.asciiFolded(given)).\(SwedishNames.asciiFolded(family))@exempel.se"),
            givenName: given, familyName: family, role: "teacher", schoolUnitCode: nil, grade: nil))
        self.accounts = accounts
        clubMembers = [accounts[0].id, accounts[accounts.count - 1].id]
    }

    /// The SQL text, one statement per table.
    var text: String {
        var sql = "-- Portal state before the Skolon integration (rosterdrop-samples demo).\n"
        sql += "INSERT INTO organisations(id) VALUES ('exempel-kommun'), ('friskolan-norr');\n\n"
        sql += "INSERT INTO accounts(id, organisation_id, person_id, email, given_name, family_name, role, "
        sql += "school_unit_code, grade, eppn, identity_source, created_at, updated_at) VALUES\n"
        sql += accounts.map { account in
            let values = [
                String(account.id), Self.literal(Self.organisationID), "NULL", Self.literal(account.email),
                Self.literal(account.givenName), Self.literal(account.familyName), Self.literal(account.role),
                Self.literal(account.schoolUnitCode), Self.literal(account.grade.map(String.init)), "NULL",
                Self.literal("portal"), Self.literal(Self.createdAt), Self.literal(Self.createdAt),
            ]
            return "  (" + values.joined(separator: ", ") + ")"
        }.joined(separator: ",\n") + ";\n\n"
        sql += "INSERT INTO groups(id, organisation_id, external_id, name, type, school_unit_code, source, "
        sql += "created_at, updated_at) VALUES\n"
        sql += "  (\(Self.manualGroupID), \(Self.literal(Self.organisationID)), NULL, 'Läsklubben', 'teaching_group', "
        sql += "NULL, 'manual', \(Self.literal(Self.createdAt)), \(Self.literal(Self.createdAt))),\n"
        // A class a teacher made in the portal last year: replaced by Skolon's at the start.
        sql += "  (\(Self.manualGroupID + 1), \(Self.literal(Self.organisationID)), NULL, 'Klass 7A (portalen)', 'class', "
        sql += "'12345678', 'manual', \(Self.literal(Self.createdAt)), \(Self.literal(Self.createdAt)));\n\n"
        sql += "INSERT INTO memberships(group_id, account_id) VALUES "
        sql += (clubMembers.map { "(\(Self.manualGroupID), \($0))" }
            + accounts.prefix(3).map { "(\(Self.manualGroupID + 1), \($0.id))" }).joined(separator: ", ") + ";\n\n"
        // The portal's own licenses: exported to Skolon at the integration start. The last
        // account's product is not in the catalogue, so the export reports it.
        sql += "INSERT INTO licenses(id, organisation_id, order_id, account_id, product_id, license_type, valid_from, "
        sql += "valid_to, source, created_at, updated_at) VALUES\n"
        sql += accounts.enumerated().map { offset, account in
            let product = offset == accounts.count - 1 ? Self.unknownProduct : SampleCatalogue.products[offset % 3].productID
            let values = [
                String(1000 + offset), Self.literal(Self.organisationID), "NULL", String(account.id), Self.literal(product),
                Self.literal("paid"), Self.literal("2026-07-01"), Self.literal("2027-06-30"), Self.literal("portal"),
                Self.literal(Self.createdAt), Self.literal(Self.createdAt),
            ]
            return "  (" + values.joined(separator: ", ") + ")"
        }.joined(separator: ",\n") + ";\n"
        return sql
    }

    /// A product the portal once sold and the catalogue no longer lists.
    static let unknownProduct = SampleCatalogue.unknownProductID

    /// A quoted SQL string literal, or `NULL`.
    static func literal(_ value: String?) -> String {
        guard let value else { return "NULL" }
        return "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `anna.lindqvist3@exempel.se` → `Anna.Lindqvist3@Exempel.se`, as people type their address.
    static func titleCased(_ email: String) -> String {
        var result = ""
        var startOfPart = true
        var inDomain = false
        for character in email {
            result += startOfPart ? character.uppercased() : String(character)
            // Only the domain's first label is capitalised: "Exempel.se", not "Exempel.Se".
            startOfPart = character == "@" || (character == "." && !inDomain)
            if character == "@" { inDomain = true }
        }
        return result
    }
}
