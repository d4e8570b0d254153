import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Defects found when exports were tried as a new school would (issue 8, part 9).
struct MappingDefectTests {
    @Test func lengthMessagesKeepTheirNumber() throws {
        #expect(Rule.length.swedish("max:8").contains("högst 8 tecken"))
        #expect(Rule.length.english("min:2").contains("at least 2 characters"))
        let mapping = try Mapping.load(folder: MappingTests.folder(["users.yaml": MappingTests.legacyUsers]))
        let users = try #require(mapping.feeds(.users).first)
        var reader = CSVReader(delimiter: users.source.delimiter, encoding: users.source.encoding)
        var records: [CSVRecord] = []
        let bytes = MappingTests.windows1252("Personnummer-id;Roll;Förnamn;Efternamn;E-post;Skolenhet;Årskurs\r\n"
                                             + "1234;Elev;Åsa-Lena;Öberg;asa@skola.se;12345678;7\r\n")
        bytes.withUnsafeBytes { reader.feed($0) { if case .record(let record) = $0 { records.append(record) } } }
        let validator = try RecordValidator.make(mapping: users, file: "elever.csv", header: records[0].fields,
                                                 schoolUnits: ["12345678"], products: [], organisation: "org1")
        var findings: [Finding] = []
        _ = validator.validate(records[1], findings: &findings)
        let finding = try #require(findings.first)
        #expect(finding.rule.swedish(finding.detail).contains("högst 5 tecken"), "\(finding.rule.swedish(finding.detail))")
    }

    @Test func aYamlFileThatIsNoKindIsAMappingError() throws {
        let folder = try MappingTests.folder(["users.yaml": MappingTests.legacyUsers, "elever.yaml": MappingTests.legacyUsers])
        #expect { _ = try Mapping.load(folder: folder) } throws: { error in
            "\(error)".contains("elever.yaml") && "\(error)".contains("is not a mapping file")
        }
    }

    @Test func twoKindsClaimingOneFileAreAMappingError() throws {
        let groups = """
            version: 1
            kind: groups
            file: "elever_{ts}.csv"
            fields: { group_id: {column: id}, name: {column: n}, type: {column: t, type: enum, values: {K: class}},
                      school_unit_code: {column: s} }
            """
        let folder = try MappingTests.folder(["users.yaml": MappingTests.legacyUsers, "groups.yaml": groups])
        #expect { _ = try Mapping.load(folder: folder) } throws: { error in
            "\(error)".contains("users.yaml: file") && "\(error)".contains("groups.yaml: file") && "\(error)".contains("both match")
        }
    }

    @Test func controlCharactersInANameAreRefusedAndMessagesNameTheSource() throws {
        let drop = try TestDrop()
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1", given: "Å\u{0}sa"), Fixture.user("p2", email: "fel"),
                                                      Fixture.user("p3")],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2"),
                                  Fixture.order("o3", person: "p3")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz")
        let control = try #require(rejects.first { $0[4] == "field.control_character" })
        #expect(control[1] == "2" && control[2] == "given_name")
        let email = try #require(rejects.first { $0[4] == "field.email" })
        #expect(email[5].contains("Rätta den i Skolon") && email[6].contains("Correct it in Skolon"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 1)
        // A source without a name is "the source".
        #expect(Rule.email.english("").contains("at the source"))
    }

    @Test func aRowWithAnEmptyKeySaysSoWhenRemovalsAreSuspended() {
        #expect(Rule.removalsSuspended.swedish("").contains("saknar id"))
        #expect(Rule.removalsSuspended.english("").contains("without an id"))
    }

    /// After a mapping fix, the same files are a new delivery; and an operator can have a
    /// delivery taken again.
    @Test func aFixedMappingMakesTheSameFilesNewAndReprocessTakesADeliveryAgain() throws {
        let drop = try TestDrop()
        let users = [Fixture.user("p1", given: "Anna-Karin Elisabeth Maria Lovisa"), Fixture.user("p2")]
        let orders = [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")]
        // A local copy of the Skolon mapping that is too strict about names.
        let mapping = drop.root.appendingPathComponent("mapping")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: TestDrop.skolonMapping), to: mapping)
        let usersYAML = mapping.appendingPathComponent("users.yaml")
        let strict = try String(contentsOf: usersYAML, encoding: .utf8)
        let tooStrict = strict.replacingOccurrences(of: "column: given_name\n    required: true\n    max_length: 100",
                                                    with: "column: given_name\n    required: true\n    max_length: 10")
        #expect(tooStrict != strict)
        try tooStrict.write(to: usersYAML, atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: drop.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: TestDrop.skolonMapping, with: mapping.path)
            .write(toFile: drop.configPath, atomically: true, encoding: .utf8)
        let files = try drop.deliver("20261101T020000Z", users: users, orders: orders)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 1)
        // The mapping is fixed; the school sends the same files again under a new timestamp.
        try strict.write(to: usersYAML, atomically: true, encoding: .utf8)
        for (name, data) in files {
            try data.write(to: drop.inbox().appendingPathComponent(name.replacingOccurrences(of: "20261101T020000Z", with: "20261102T020000Z")))
        }
        try drop.deliver("20261102T020000Z", users: users, orders: orders)
        let again = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        #expect(again.organisations[0].deliveries.map(\.outcome) == [.applied], "not a duplicate: read under another mapping")
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 2)

        // Reprocess: the same timestamp taken again once its files are back in the inbox.
        let binary = try Executable("rosterdrop")
        let request = try binary.run(["reprocess", "--config", drop.configPath, "org1", "20261102T020000Z"])
        #expect(request.status == 0, "\(request.stderr)")
        let unknown = try binary.run(["reprocess", "--config", drop.configPath, "org1", "20261103T020000Z"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no delivery 20261103T020000Z"))
        try drop.execute("UPDATE accounts SET given_name = 'ändrad i portalen' WHERE person_id = 'p2'")
        try drop.deliver("20261102T020000Z", users: users, orders: orders)
        let reprocessed = try drop.run(full: true, at: instant("2026-11-02T06:00:00Z"))
        #expect(reprocessed.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.rows("SELECT given_name FROM accounts WHERE person_id = 'p2'").first?["given_name"] as String? == "Åsa")
        #expect(try drop.count("SELECT COUNT(*) FROM reprocess_requests WHERE taken_by IS NOT NULL") == 1)
        // Taken once: the same files once more are a duplicate again.
        try drop.deliver("20261102T020000Z", users: users, orders: orders)
        #expect(try drop.run(at: instant("2026-11-02T07:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.duplicate])
    }

    /// A copy of the Skolon mapping with `edit` applied to one of its files, used by `drop`.
    static func editedSkolonMapping(_ drop: TestDrop, _ file: String, _ edit: (String) -> String) throws {
        let mapping = drop.root.appendingPathComponent("mapping-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: TestDrop.skolonMapping), to: mapping)
        let url = mapping.appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(edit(text) != text, "the edit changed \(file)")
        try edit(text).write(to: url, atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: drop.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: TestDrop.skolonMapping, with: mapping.path)
            .write(toFile: drop.configPath, atomically: true, encoding: .utf8)
    }

    @Test func filesNoMappingReadsAreReportedUnlessIgnored() throws {
        let drop = try TestDrop()
        try Self.editedSkolonMapping(drop, "delivery.yaml") { $0 + "ignore: [\"README*.txt\"]\n" }
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        // The manifest also names a file no kind reads, and an ignorable one; a stray file lies beside.
        let extra = Data("x\n".utf8)
        try extra.write(to: drop.inbox().appendingPathComponent("schools_20261101T020000Z.csv"))
        try extra.write(to: drop.inbox().appendingPathComponent("README_20261101.txt"))
        try extra.write(to: drop.inbox().appendingPathComponent("stray.xlsx"))
        let manifest = drop.inbox().appendingPathComponent("manifest_20261101T020000Z.csv")
        let text = try String(contentsOf: manifest, encoding: .utf8)
            + "schools_20261101T020000Z.csv,1,\(Digest.sha256Hex(extra))\nREADME_20261101.txt,1,\(Digest.sha256Hex(extra))\n"
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        let summary = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz")
        #expect(rejects.dropFirst().map { [$0[0], $0[4]] } == [["schools_20261101T020000Z.csv", "manifest.unclaimed_file"]])
        #expect(rejects[1][5].contains("ingen fil i mappningen läser den"))
        #expect(drop.files("org1", "archive").contains("schools_20261101T020000Z.csv"))
        #expect(drop.files("org1", "archive").contains("README_20261101.txt"))
        #expect(drop.files("org1", "inbox") == ["stray.xlsx"])
        #expect(summary.organisations[0].unrecognisedNames == ["stray.xlsx"])
    }

    @Test func aRepeatedKeyRejectsEveryRowWithItsOwnFindingEvenWithoutUnique() throws {
        let drop = try TestDrop()
        try Self.editedSkolonMapping(drop, "users.yaml") {
            $0.replacingOccurrences(of: "pattern: \"^[A-Za-z0-9_-]{1,64}$\"\n    unique: true", with: "pattern: \"^[A-Za-z0-9_-]{1,64}$\"")
        }
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1"), Fixture.user("p1", given: "Bo"), Fixture.user("p2")],
                         orders: [Fixture.order("o2", person: "p2")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz").dropFirst()
        #expect(rejects.filter { $0[4] == "unique.duplicate" }.map { $0[1] } == ["2", "3"])
        #expect(try drop.receipt("20261101T020000Z")["users"]?[4...6] == ["3", "1", "2"])
    }

    @Test func twoFieldsFromOneColumnReportAProblemOnce() throws {
        let drop = try TestDrop()
        try Self.editedSkolonMapping(drop, "users.yaml") {
            $0.replacingOccurrences(of: "  eppn:\n    column: eppn\n    max_length: 254", with: "  eppn:\n    column: given_name\n    max_length: 100")
        }
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1", given: String(repeating: "x", count: 120))],
                         orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz").dropFirst().filter { $0[4] == "field.length" }
        #expect(rejects.count == 1 && rejects.first?[2] == "given_name")
    }

    @Test(arguments: [TextEncoding.utf8, .windows1252])
    func aFileInAnotherEncodingSaysSo(_ mappingEncoding: TextEncoding) throws {
        let drop = try TestDrop()
        try Self.editedSkolonMapping(drop, "users.yaml") {
            $0.replacingOccurrences(of: "encoding: utf-8", with: "encoding: \(mappingEncoding.rawValue)")
                .replacingOccurrences(of: "column: given_name", with: "column: Förnamn")
        }
        let header = TestDrop.usersHeader.replacingOccurrences(of: "given_name", with: "Förnamn")
        let text = header + "\n" + Fixture.user("p1") + "\n"
        // The other encoding than the mapping's.
        let bytes = mappingEncoding == .utf8 ? Data(MappingTests.windows1252(text)) : Data(text.utf8)
        let path = drop.inbox().appendingPathComponent("users_20261101T020000Z.csv.gz").path
        let writer = try GzipWriter(path: path)
        try bytes.withUnsafeBytes { try writer.write($0) }
        try writer.close()
        let users = try Data(contentsOf: URL(fileURLWithPath: path))
        let orders = try TestDrop.gzip(TestDrop.ordersHeader + "\n" + Fixture.order("o1", person: "p1") + "\n")
        try orders.write(to: drop.inbox().appendingPathComponent("distribution_orders_20261101T020000Z.csv.gz"))
        try """
            file,rows,sha256
            users_20261101T020000Z.csv.gz,1,\(Digest.sha256Hex(users))
            distribution_orders_20261101T020000Z.csv.gz,1,\(Digest.sha256Hex(orders))

            """.write(to: drop.inbox().appendingPathComponent("manifest_20261101T020000Z.csv"), atomically: true, encoding: .utf8)
        let summary = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.refused])
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz")
        let hint = try #require(rejects.first { $0[4] == "file.encoding" })
        let other = mappingEncoding == .utf8 ? "windows-1252" : "utf-8"
        #expect(hint[5].contains("(\(other))") && hint[6].contains("another character encoding"))
    }

    /// A register's own ids are unique only inside one school: two organisations' user 1001
    /// are two people, and the scope check holds; Skolon's global ids are still refused when
    /// they are another organisation's.
    @Test(arguments: [PersonIDScope.organisation, .global])
    func personIdsUniqueOnlyWithinAnOrganisation(_ scope: PersonIDScope) throws {
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["45678901"])])
        if scope == .organisation { try Self.editedSkolonMapping(drop, "delivery.yaml") { $0 + "ids: organisation\n" } }
        try drop.deliver("20261101T020000Z", org: "org1", users: [Fixture.user("1001", given: "Anna")],
                         orders: [Fixture.order("o1", person: "1001")])
        try drop.deliver("20261101T020000Z", org: "org2",
                         users: [Fixture.user("1001", given: "Bo", unit: "45678901"), Fixture.user("1001", unit: "45678901")],
                         groups: [Fixture.group("g1", unit: "45678901")], memberships: ["g1,1001"],
                         orders: [Fixture.order("o1", person: "1001")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let accounts = try drop.rows("SELECT organisation_id, person_id, given_name FROM accounts ORDER BY organisation_id")
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz", org: "org2").dropFirst()
        if scope == .organisation {
            // org2's file repeats 1001: both rows rejected there, shown as delivered; org1 untouched.
            #expect(accounts.map { $0["person_id"] as String } == ["org1/1001"])
            #expect(rejects.filter { $0[4] == "unique.duplicate" }.map { $0[3] } == ["1001", "1001"])
            // Fixed the next day: org2's own 1001 is created beside org1's.
            try drop.deliver("20261102T020000Z", org: "org2", users: [Fixture.user("1001", given: "Bo", unit: "45678901")],
                             orders: [Fixture.order("o1", person: "1001")])
            _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
            #expect(try drop.rows("SELECT person_id, given_name FROM accounts ORDER BY organisation_id")
                        .map { "\($0["person_id"] as String) \($0["given_name"] as String)" } == ["org1/1001 Anna", "org2/1001 Bo"])
        } else {
            #expect(accounts.map { $0["person_id"] as String } == ["1001"])
            _ = try drop.deliver("20261102T020000Z", org: "org2", users: [Fixture.user("1001", given: "Bo", unit: "45678901")],
                                 orders: [Fixture.order("o1", person: "1001")])
            _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
            #expect(try drop.rejectRules("20261102T020000Z", org: "org2").contains("scope.other_organisation"))
            #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 1)
        }
    }

    /// `rosterdrop mapping check` reports every error of a folder at once, each with its
    /// file, line and key.
    @Test func mappingCheckReportsEveryErrorAtOnce() throws {
        let binary = try Executable("rosterdrop")
        let broken = MappingTests.legacyUsers
            .replacingOccurrences(of: "max_length: 5", with: "max_length: fem")
            .replacingOccurrences(of: "type: integer, min: 1", with: "type: heltal, min: 1")
            .replacingOccurrences(of: "  email: { column: E-post, type: email }\n", with: "")
        let folder = try MappingTests.folder(["users.yaml": broken, "elever.yaml": "version: 1\n"])
        let errors = Mapping.check(folder: folder)
        let texts = errors.map(\.description)
        #expect(texts.count == 4, "\(texts)")
        #expect(texts.contains { $0.contains("users.yaml:") && $0.contains("given_name.max_length") && $0.contains("'fem'") })
        #expect(texts.contains { $0.contains("users.yaml:") && $0.contains("grade.type") && $0.contains("heltal") })
        #expect(texts.contains { $0.contains("must map the portal field 'email'") })
        #expect(texts.contains { $0.contains("elever.yaml") })
        let result = try binary.run(["mapping", "check", folder.path])
        #expect(result.status == 2)
        #expect(result.stdout.split(separator: "\n").count == 4)
        #expect(result.stderr.contains("4 error(s)"))
        let good = try binary.run(["mapping", "check", TestDrop.skolonMapping])
        #expect(good.status == 0 && good.stdout.contains("a valid mapping"))
    }

    /// A dropped column (a personnummer) reaches nothing: not the database, not a staging
    /// table, not a report — not even beside another rule's finding on its row — nor a log.
    @Test func aDroppedColumnsValuesReachNothing() throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop()
        try Self.editedSkolonMapping(drop, "users.yaml") { $0.replacingOccurrences(of: "fields:\n", with: "drop: [personnummer]\nfields:\n") }
        let numbers = (1...4).map { "19\(70 + $0)0101-\(1000 + $0)" }
        let rows = [TestDrop.usersHeader + ",personnummer",
                    Fixture.user("p1") + "," + numbers[0], Fixture.user("p2", email: "fel") + "," + numbers[1],
                    Fixture.user("p3", unit: "99999999") + "," + numbers[2], Fixture.user("p4") + "," + numbers[3] + ",extra"]
        let users = try TestDrop.gzip(rows.joined(separator: "\n") + "\n")
        try users.write(to: drop.inbox().appendingPathComponent("users_20261101T020000Z.csv.gz"))
        let orders = try TestDrop.gzip(([TestDrop.ordersHeader] + (1...4).map { Fixture.order("o\($0)", person: "p\($0)") })
            .joined(separator: "\n") + "\n")
        try orders.write(to: drop.inbox().appendingPathComponent("distribution_orders_20261101T020000Z.csv.gz"))
        try """
            file,rows,sha256
            users_20261101T020000Z.csv.gz,4,\(Digest.sha256Hex(users))
            distribution_orders_20261101T020000Z.csv.gz,4,\(Digest.sha256Hex(orders))

            """.write(to: drop.inbox().appendingPathComponent("manifest_20261101T020000Z.csv"), atomically: true, encoding: .utf8)
        let run = try binary.run(["run", "--config", drop.configPath, "--now", "2026-11-01T05:00:00Z", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 1)
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz")
        #expect(Set(rejects.dropFirst().map { $0[4] }).isSuperset(of: ["field.email", "scope.school_unit", "csv.cell_count"]))
        var everything = run.stdout + run.stderr + rejects.flatMap { $0 }.joined(separator: ",")
        everything += try drop.report("receipt_20261101T020000Z.csv").flatMap { $0 }.joined(separator: ",")
        let bytes = try drop.storedBytes()
        for number in numbers {
            #expect(!everything.contains(number) && !everything.contains(String(number.prefix(8))), "\(number) leaked")
            #expect(bytes.range(of: Data(number.utf8)) == nil, "\(number) is in the database file")
        }
        // A column cannot be both dropped and read.
        let both = try MappingTests.folder(["users.yaml": MappingTests.legacyUsers.replacingOccurrences(
            of: "fields:\n", with: "drop: [Förnamn]\nfields:\n")])
        #expect(Mapping.check(folder: both).contains { $0.description.contains("'Förnamn' is dropped but also read") })
    }

    /// SDS's rule: an invalid optional value is left out and the row kept, with a warning,
    /// instead of rejecting the person with their memberships and licenses.
    @Test func anInvalidOptionalValueCanBeDroppedWithAWarning() throws {
        let drop = try TestDrop()
        try Self.editedSkolonMapping(drop, "users.yaml") {
            $0.replacingOccurrences(of: "    min: 0\n    max: 13\n", with: "    min: 0\n    max: 13\n    invalid: drop_value\n")
        }
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1", grade: "sju"), Fixture.user("p2", grade: "8")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        let summary = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.appliedWithWarnings])
        #expect(try drop.rows("SELECT person_id, grade FROM accounts ORDER BY person_id").map { "\($0["person_id"] as String) \($0["grade"] as String? ?? "-")" }
                == ["p1 -", "p2 8"])
        #expect(try drop.count("SELECT COUNT(*) FROM memberships") == 1, "the person keeps what hangs on them")
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz")
        #expect(rejects.count == 2 && rejects[1][2] == "grade" && rejects[1][3] == "sju" && rejects[1][4] == "field.integer")
        #expect(rejects[1][5].hasPrefix("Varning") && rejects[1][6].hasPrefix("Warning"))
        #expect(try drop.receipt("20261101T020000Z")["users"]?[2...6] == ["applied_with_warnings", "users", "2", "2", "0"])
        #expect(try drop.count("SELECT COUNT(*) FROM findings WHERE warning = 1") == 1)
        // A real error beside it makes the delivery applied_with_rejects.
        try drop.deliver("20261102T020000Z", users: [Fixture.user("p1", grade: "sju"), Fixture.user("p2", email: "fel")],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        #expect(try drop.run(at: instant("2026-11-02T05:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        // Only optional fields may drop a value.
        let required = try MappingTests.folder(["users.yaml": MappingTests.legacyUsers.replacingOccurrences(
            of: "email: { column: E-post, type: email }", with: "email: { column: E-post, type: email, invalid: drop_value }")])
        #expect(Mapping.check(folder: required).contains { $0.description.contains("drop_value is for optional fields") })
    }

    /// Constants, transforms, defaults and a lookup from a source's own school ids to
    /// skolenhetskoder, with the scope check still on the looked-up code.
    @Test func constantsTransformsDefaultsAndLookups() throws {
        let students = """
            version: 1
            kind: users
            file: "elever_{ts}.csv"
            delimiter: ";"
            fields:
              person_id: { column: Id }
              role: { constant: student, type: enum, values: { student: student } }
              given_name: { column: Förnamn }
              family_name: { column: Efternamn }
              email: { column: E-post, type: email, transform: [lower] }
              school_unit_code:
                column: Skola
                lookup: { Ekskolan: "12345678", Björkskolan: "23456789" }
                pattern: "^[0-9]{8}$"
                references: organisation.school_units
              grade: { column: Årskurs, type: integer, default: "0" }
            """
        let mapping = try Mapping.load(folder: MappingTests.folder(["users.yaml": students]))
        let users = try #require(mapping.feeds(.users).first)
        var reader = CSVReader(delimiter: users.source.delimiter)
        var records: [CSVRecord] = []
        let text = "Id;Förnamn;Efternamn;E-post;Skola;Årskurs\n1;Åsa;Berg;Asa.Berg@Skola.SE;Ekskolan;\n2;Bo;Ek;bo@skola.se;Lindskolan;7\n"
            + "3;Cia;Ros;cia@skola.se;Björkskolan;8\n"
        Array(text.utf8).withUnsafeBytes { reader.feed($0) { if case .record(let record) = $0 { records.append(record) } } }
        let validator = try RecordValidator.make(mapping: users, file: "elever.csv", header: records[0].fields,
                                                 schoolUnits: ["12345678"], products: [], organisation: "org1")
        var findings: [Finding] = []
        #expect(validator.validate(records[1], findings: &findings) == ["1", "student", "Åsa", "Berg", "asa.berg@skola.se", "12345678", "0", nil])
        #expect(validator.validate(records[2], findings: &findings) == nil)
        #expect(validator.validate(records[3], findings: &findings) == nil)
        #expect(findings.map { [$0.rule.rawValue, $0.column, $0.value] } ==
                [["field.lookup", "Skola", "Lindskolan"], ["scope.school_unit", "Skola", "Björkskolan"]])
        let both = try MappingTests.folder(["users.yaml": students.replacingOccurrences(
            of: "role: { constant: student,", with: "role: { column: Roll, constant: student,")])
        #expect(Mapping.check(folder: both).contains { $0.description.contains("either read from a column or a constant") })
    }

    /// A mapping can select rows: those left out are counted, not rejected, and remove only
    /// what they leave out.
    @Test func selectedRowsOnlyAndTheRestCountedNotRejected() throws {
        let drop = try TestDrop()
        let users = [Fixture.user("p1"), Fixture.user("t1", role: "teacher")]
        let orders = [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "t1")]
        try drop.deliver("20261101T020000Z", users: users, groups: [Fixture.group("g1")], memberships: ["g1,p1", "g1,t1"],
                         orders: orders)
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 2)
        // The school now sends its students only.
        try Self.editedSkolonMapping(drop, "users.yaml") { $0.replacingOccurrences(of: "fields:\n", with: "select: { role: [student] }\nfields:\n") }
        try drop.deliver("20261102T020000Z", users: users + [Fixture.user("t2", role: "teacher")], groups: [Fixture.group("g1")],
                         memberships: ["g1,p1", "g1,t1"], orders: orders + [Fixture.order("o3", person: "t2")])
        let summary = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        let delivery = try #require(summary.organisations[0].deliveries.first)
        #expect(delivery.outcome == .applied, "no findings: left out, not rejected")
        #expect(delivery.filtered == ["users": 2, "memberships": 1, "distribution_orders": 2])
        let receipt = try drop.receipt("20261102T020000Z")
        #expect(receipt["users"]?[4...9] == ["3", "1", "0", "0", "0", "1"])
        #expect(receipt["distribution_orders"]?[4...6] == ["3", "1", "0"])
        #expect(try drop.rows("SELECT person_id FROM accounts").map { $0["person_id"] as String } == ["p1"])
        #expect(try drop.count("SELECT COUNT(*) FROM memberships") == 1)
        #expect(!drop.files("org1", "outbox").contains("rejects_20261102T020000Z.csv.gz"))
        let wrong = try MappingTests.folder(["users.yaml": MappingTests.legacyUsers.replacingOccurrences(
            of: "fields:\n", with: "select: { eppn: [x] }\nfields:\n")])
        #expect(Mapping.check(folder: wrong).contains { $0.description.contains("selects on a field the mapping does not read") })
    }
}
