import Foundation
import Testing
@testable import RosterDrop

/// Mapping files: strict loading, and each field rule on single rows.
struct MappingTests {
    static func folder(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mapping-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let base = ["delivery.yaml": "version: 1\nmanifest: \"manifest_{ts}.csv\"\nrequired: [users]\n"]
        for (name, text) in base.merging(files, uniquingKeysWith: { $1 }) {
            try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return url
    }

    static let legacyUsers = """
        version: 1
        kind: users
        file: "elever_{ts}.csv"
        encoding: windows-1252
        delimiter: ";"
        fields:
          person_id: { column: Personnummer-id, pattern: "^[0-9]{4}$", unique: true }
          role:
            column: Roll
            type: enum
            case_insensitive: true
            values: { Elev: student, Lärare: teacher }
          given_name: { column: Förnamn, max_length: 5 }
          family_name: { column: Efternamn, min_length: 2 }
          email: { column: E-post, type: email }
          school_unit_code: { column: Skolenhet, references: organisation.school_units }
          grade: { column: Årskurs, type: integer, min: 1, max: 9 }
        """

    static func validate(_ row: String, mapping: Feed) throws -> (values: [String?]?, rules: [String]) {
        let header = "Personnummer-id;Roll;Förnamn;Efternamn;E-post;Skolenhet;Årskurs"
        var reader = CSVReader(delimiter: mapping.source.delimiter, encoding: mapping.source.encoding)
        var records: [CSVRecord] = []
        let bytes = Self.windows1252(header + "\r\n" + row + "\r\n")
        bytes.withUnsafeBytes { reader.feed($0) { if case .record(let record) = $0 { records.append(record) } } }
        reader.finish { if case .record(let record) = $0 { records.append(record) } }
        let validator = try RecordValidator.make(mapping: mapping, file: "elever.csv", header: records[0].fields,
                                                 schoolUnits: ["12345678"], products: [], organisation: "org1")
        var findings: [Finding] = []
        let values = validator.validate(records[1], findings: &findings)
        return (values, findings.map(\.rule.rawValue))
    }

    static func windows1252(_ text: String) -> [UInt8] {
        text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
    }

    @Test func aLegacyExportIsReadThroughItsOwnMappingFile() throws {
        let mapping = try Mapping.load(folder: Self.folder(["users.yaml": Self.legacyUsers]))
        let users = try #require(mapping.feeds(.users).first)
        #expect(users.source.encoding == .windows1252)
        #expect(users.source.delimiter == UInt8(ascii: ";"))
        let result = try Self.validate("1234;ELEV;Åsa;Öberg;asa@skola.se;12345678;7", mapping: users)
        #expect(result.rules == [])
        #expect(result.values == ["1234", "student", "Åsa", "Öberg", "asa@skola.se", "12345678", "7", nil])
    }

    @Test(arguments: [
        ("1234;Elev;Åsa;Öberg;asa@skola.se;12345678;7", [String]()),
        ("12a4;Elev;Åsa;Öberg;asa@skola.se;12345678;7", ["field.pattern"]),
        (";Elev;Åsa;Öberg;asa@skola.se;12345678;7", ["field.required"]),
        ("1234;Rektor;Åsa;Öberg;asa@skola.se;12345678;7", ["field.enum"]),
        ("1234;Elev;Åsa-Lena;Öberg;asa@skola.se;12345678;7", ["field.length"]),
        ("1234;Elev;Åsa;Ö;asa@skola.se;12345678;7", ["field.length"]),
        ("1234;Elev;Åsa;Öberg;asa@@skola;12345678;7", ["field.email"]),
        ("1234;Elev;Åsa;Öberg;asa@skola.se;99999999;7", ["scope.school_unit"]),
        ("1234;Elev;Åsa;Öberg;asa@skola.se;12345678;sju", ["field.integer"]),
        ("1234;Elev;Åsa;Öberg;asa@skola.se;12345678;10", ["field.range"]),
        ("1234;Elev;Åsa;Öberg;=1+1;12345678;0", ["field.email", "field.range"]),
    ])
    func eachFieldRule(_ row: String, _ expected: [String]) throws {
        let mapping = try Mapping.load(folder: Self.folder(["users.yaml": Self.legacyUsers]))
        let result = try Self.validate(row, mapping: try #require(mapping.feeds(.users).first))
        #expect(result.rules == expected)
        #expect((result.values == nil) == !expected.isEmpty)
    }

    @Test func datesAreParsedInTheirDeclaredFormatAndOrdered() throws {
        let format = try #require(DateFormat("d/M/yyyy"))
        #expect(format.isoDate("1/8/2026") == "2026-08-01")
        #expect(format.isoDate("31/12/2026") == "2026-12-31")
        #expect(format.isoDate("31/4/2026") == nil)
        #expect(format.isoDate("29/2/2025") == nil)
        #expect(format.isoDate("29/2/2024") == "2024-02-29")
        #expect(format.isoDate("2026-08-01") == nil)
        #expect(DateFormat("yyyy-MM-dd")?.isoDate("2026-8-01") == nil)
        #expect(DateFormat("yyyy-MM") == nil)
        #expect(DateFormat("yyyy-MM-dd HH") == nil)
    }

    @Test func simplePatternsMatchLikeRegularExpressions() throws {
        let cases: [(String, String, Bool)] = [
            ("^[0-9]{8}$", "12345678", true), ("^[0-9]{8}$", "1234567", false), ("^[0-9]{8}$", "123456789", false),
            ("^[A-Za-z0-9_-]{1,64}$", "abc-DEF_1", true), ("^[A-Za-z0-9_-]{1,64}$", "", false),
            ("^[A-Za-z0-9_-]{1,64}$", "a b", false), ("^[0-9]+$", "1", true), ("^S[0-9]{3}$", "S123", true),
            ("^S[0-9]{3}$", "X123", false), ("^(ab|cd)$", "cd", true), ("^[0-9]{2}[0-9]$", "123", true),
        ]
        for (source, value, expected) in cases {
            #expect(try Pattern(source).matches(value) == expected, "\(source) on \(value)")
        }
    }

    @Test(arguments: [
        ("users.yaml", "version: 1\nkind: users\nfile: \"u_{ts}.csv\"\nfields:\n  person_id: { colum: x }\n", 5, "colum"),
        ("users.yaml", "version: 1\nkind: users\nfile: \"u_{ts}.csv\"\nfields:\n  person_id: { type: uuid }\n", 5, "unknown type"),
        ("users.yaml", "version: 1\nkind: users\nfile: \"u_{ts}.csv\"\nfields:\n  person_id: { pattern: \"[0-9\" }\n", 5, "regular expression"),
        ("users.yaml", "version: 3\nkind: users\n", 1, "not supported"),
        ("users.yaml", "version: 1\nkind: users\nfile: \"u_{ts}.csv\"\nfields:\n  person_id: {}\n", 4, "role"),
        ("users.yaml", "version: 1\nkind: users\nfile: \"u_{ts}.csv\"\nextra: 1\nfields: {}\n", 4, "unknown key"),
        ("delivery.yaml", "version: 1\nrequired: [pupils]\nmanifest: \"m_{ts}.csv\"\n", 2, "pupils"),
        ("delivery.yaml", "version: 1\nmanifest: \"m_{ts}.csv\"\nstable_seconds: 60\n", 3, "not both"),
    ])
    func aBadMappingIsRefusedWithFileAndLine(_ name: String, _ text: String, _ line: Int, _ words: String) throws {
        let folder = try Self.folder([name: text])
        do {
            _ = try Mapping.load(folder: folder)
            Issue.record("the mapping was accepted")
        } catch let error as ConfigurationError {
            #expect(error.file.hasSuffix(name))
            #expect(error.line == line)
            #expect(error.description.contains(words))
        }
    }

    @Test func theShippedSkolonMappingLoads() throws {
        let mapping = try Mapping.load(folder: URL(fileURLWithPath: TestDrop.skolonMapping))
        #expect(mapping.kinds == EntityKind.allCases)
        #expect(mapping.sources.map(\.name) == ["users", "groups", "memberships", "distribution_orders"])
        #expect(mapping.delivery.required == ["users", "distribution_orders"])
        #expect(mapping.feeds(.users).first?.fileName(timestamp: "20261101T000000Z") == "users_20261101T000000Z.csv.gz")
    }

    @Test func aConfigErrorNamesTheKeyAndLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).yaml").path
        try "database: x.sqlite\norganisations:\n  - id: org1\n    school_units: [\"1234\"]\n    drop: d\n    mappings: m\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            _ = try JobConfiguration.load(path: path)
        } throws: { error in
            let error = error as? ConfigurationError
            return error?.line == 4 && error?.key == "organisations[0].school_units"
        }
        try "database: x.sqlite\norganisation: []\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            _ = try JobConfiguration.load(path: path)
        } throws: { error in
            (error as? ConfigurationError)?.line == 2 && (error as? ConfigurationError)?.key == "organisation"
        }
    }
}
