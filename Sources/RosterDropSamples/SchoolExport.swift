import Foundation

/// One small school's roster as its own register exports it, in the three shapes the shipped
/// mappings read: an Excel sheet (`excel-sv`), a tab-separated file with a class column
/// (`class-column`) and Microsoft School Data Sync v2.1 CSV (`sds-v2.1`).
///
/// Seeded and byte-reproducible. Day 2 is day 1 with the changes a real week brings: two
/// students leave, two arrive and one moves to another class.
public struct SchoolExport: Sendable {
    public enum Shape: String, CaseIterable, Sendable {
        case excel = "excel-sv"
        case classColumn = "class-column"
        case sds = "sds-v2.1"
    }

    public struct Person: Sendable {
        /// The register's own id: unique within the school only.
        public var id: String
        public var teacher: Bool
        public var givenName: String
        public var familyName: String
        public var email: String
        public var schoolUnit: String
        public var grade: Int?
        public var classes: [String]
        /// A personnummer the exports carry and every mapping drops.
        public var personnummer: String
        /// A password column SDS exports carry (dropped too).
        public var password: String
    }

    public static let schoolUnits = ["41000001", "41000002"]
    public static let defaultSeed: UInt64 = 20261126
    public var people: [Person]
    /// A staff member SDS lists with a role the portal does not take (`select:` leaves it out).
    public var administrator: Person

    /// The roster on `day` (1 or 2).
    public static func roster(seed: UInt64 = defaultSeed, day: Int = 1) -> SchoolExport {
        var random = SplitMix64(seed: seed)
        let classes = [("41000001", "7A", 7), ("41000001", "7B", 7), ("41000002", "8A", 8)]
        var people: [Person] = []
        func person(_ number: Int, teacher: Bool, unit: String, grade: Int?, classes: [String]) -> Person {
            let given = random.pick(SwedishNames.given)
            let family = random.pick(SwedishNames.family)
            let born = teacher ? random.int(in: 1965...1995) : 2026 - (grade ?? 7) - 7
            let personnummer = String(format: "%04d%02d%02d-%04d", born, random.int(in: 1...12), random.int(in: 1...28),
                                      random.int(in: 1000...9999))
            return Person(id: String(1000 + number), teacher: teacher, givenName: given, familyName: family,
                          email: SwedishNames.email(given: given, family: family, number: number, domain: "skolan.exempel.se"),
                          schoolUnit: unit, grade: grade, classes: classes, personnummer: personnummer,
                          password: "Hemligt-\(random.int(in: 100_000...999_999))")
        }
        var number = 0
        for (unit, name, grade) in classes {
            number += 1
            people.append(person(number, teacher: true, unit: unit, grade: nil, classes: [name]))
            for _ in 0..<6 {
                number += 1
                people.append(person(number, teacher: false, unit: unit, grade: grade, classes: [name]))
            }
        }
        // Some 7th-graders also study in a teaching group of their own.
        for index in people.indices where people[index].grade == 7 && people[index].id.hasSuffix("3") {
            people[index].classes.append("Engelska 7")
        }
        let administrator = person(99, teacher: true, unit: "41000001", grade: nil, classes: [])
        var export = SchoolExport(people: people, administrator: administrator)
        if day >= 2 {
            // Two leave, two arrive, one changes class.
            let leaving = Set([export.people[2].id, export.people[16].id])
            export.people.removeAll { leaving.contains($0.id) }
            number = 40
            for (unit, name, grade) in [classes[0], classes[2]] {
                number += 1
                export.people.append(person(number, teacher: false, unit: unit, grade: grade, classes: [name]))
            }
            if let index = export.people.firstIndex(where: { !$0.teacher && $0.classes.first == "7A" }) {
                export.people[index].classes[0] = "7B"
            }
        }
        return export
    }

    /// The memberships a run should hold after this export in `shape` (for tests), as
    /// `(unit, class name, person id)`: an Excel sheet has room for one class per person.
    public func memberships(_ shape: Shape) -> Set<[String]> {
        Set(people.flatMap { person in
            (shape == .excel ? Array(person.classes.prefix(1)) : person.classes).map { [person.schoolUnit, $0, person.id] }
        })
    }

    /// Writes the export's files into `folder`, named for `timestamp` where the shape dates
    /// its names; returns the names written.
    @discardableResult
    public func write(_ shape: Shape, to folder: URL, timestamp: String, products: [String], validFrom: String,
                      validTo: String) throws -> [String] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        switch shape {
        case .excel:
            // Excel's "CSV (semikolonavgränsad)": Windows-1252, `;`, CRLF, Swedish headers.
            var sheet = [["Användar-id", "Förnamn", "Efternamn", "Personnummer", "E-post", "Skolenhetskod", "Roll", "Klass", "Årskurs"]]
            for person in people {
                sheet.append([person.id, person.givenName, person.familyName, person.personnummer, person.email, person.schoolUnit,
                              person.teacher ? "Lärare" : "Elev", person.classes.first ?? "", person.grade.map(String.init) ?? ""])
            }
            var licenses = [["Användar-id", "Produkt", "Licenstyp", "Startdatum", "Slutdatum"]]
            for (index, person) in people.enumerated() {
                licenses.append([person.id, products[index % products.count], index % 7 == 3 ? "Prov" : "Betald",
                                 Self.swedishDate(validFrom), Self.swedishDate(validTo)])
            }
            try Self.windows1252(sheet, delimiter: ";").write(to: folder.appendingPathComponent("elever.csv"))
            try Self.windows1252(licenses, delimiter: ";").write(to: folder.appendingPathComponent("licenser.csv"))
            return ["elever.csv", "licenser.csv"]
        case .classColumn:
            var rows = [["id", "role", "first_name", "last_name", "email", "school", "grade", "classes"]]
            for person in people {
                rows.append([person.id, person.teacher ? "teacher" : "student", person.givenName, person.familyName, person.email,
                             person.schoolUnit, person.grade.map(String.init) ?? "", person.classes.joined(separator: ",")])
            }
            let name = "users_\(timestamp).txt"
            try Data(rows.map { $0.joined(separator: "\t") + "\n" }.joined().utf8).write(to: folder.appendingPathComponent(name))
            return [name]
        case .sds:
            let everyone = people + [administrator]
            var orgs = [["sourcedId", "name", "type"]]
            for (index, unit) in Self.schoolUnits.enumerated() { orgs.append([unit, "Exempelskolan \(index + 1)", "school"]) }
            var users = [["sourcedId", "username", "givenName", "familyName", "password", "activeDirectoryMatchId", "email", "phone", "sms"]]
            var roles = [["userSourcedId", "orgSourcedId", "role", "sessionSourcedId", "grade", "isPrimary", "roleStartDate", "roleEndDate"]]
            for person in everyone {
                users.append([person.id, person.email, person.givenName, person.familyName, person.password, "", person.email, "", ""])
                let role = person.id == administrator.id ? "administrator" : person.teacher ? "teacher" : "student"
                roles.append([person.id, person.schoolUnit, role, "", person.grade.map { String(format: "%02d", $0) } ?? "",
                              "TRUE", "", ""])
            }
            let classNames = Set(people.flatMap { person in person.classes.map { [person.schoolUnit, $0] } }).sorted { $0.joined() < $1.joined() }
            var classes = [["sourcedId", "orgSourcedId", "title", "sessionSourcedIds", "courseSourcedId"]]
            var classIDs: [[String]: String] = [:]
            for (index, unitAndName) in classNames.enumerated() {
                classIDs[unitAndName] = "class-\(index + 1)"
                classes.append(["class-\(index + 1)", unitAndName[0], unitAndName[1], "", ""])
            }
            var enrollments = [["classSourcedId", "userSourcedId", "role"]]
            for person in people {
                for name in person.classes {
                    enrollments.append([classIDs[[person.schoolUnit, name]] ?? "", person.id, person.teacher ? "teacher" : "student"])
                }
            }
            let files = [("orgs.csv", orgs), ("users.csv", users), ("roles.csv", roles), ("classes.csv", classes),
                         ("enrollments.csv", enrollments)]
            for (name, rows) in files {
                try Data(rows.map { Self.csvLine($0, delimiter: ",") + "\r\n" }.joined().utf8).write(to: folder.appendingPathComponent(name))
            }
            return files.map(\.0)
        }
    }

    /// `yyyy-MM-dd` as a Swedish spreadsheet writes it: `d/M/yyyy`.
    static func swedishDate(_ iso: String) -> String {
        let parts = iso.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return iso }
        return "\(parts[2])/\(parts[1])/\(parts[0])"
    }

    static func csvLine(_ cells: [String], delimiter: Character) -> String {
        cells.map { cell in
            cell.contains(delimiter) || cell.contains("\"") || cell.contains("\n")
                ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
        }.joined(separator: String(delimiter))
    }

    /// Rows as Windows-1252 bytes with CRLF line ends (the Swedish letters are all in
    /// Latin-1's range, where Windows-1252 agrees with Unicode).
    static func windows1252(_ rows: [[String]], delimiter: Character) -> Data {
        let text = rows.map { csvLine($0, delimiter: delimiter) + "\r\n" }.joined()
        return Data(text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
    }
}
