import Foundation
import Testing
@testable import RosterDrop

/// The version-2 mapping language: files, then kinds made from one or several of them —
/// several sources per kind, joins and their findings, and the errors a folder can have.
struct MappingSourcesTests {
    /// SDS v1's shape: separate students and teachers files, the role a constant per file.
    static let studentsAndTeachers: [String: String] = [
        "delivery.yaml": """
            version: 2
            source: registret
            manifest: "manifest_{ts}.csv"
            ids: organisation
            required: [students, teachers, orders]
            files:
              students: {file: "Student_{ts}.csv", add: {Role: student}}
              teachers: {file: "Teacher_{ts}.csv", add: {Role: teacher}}
              orders: {file: "orders_{ts}.csv"}
            """,
        "users.yaml": """
            version: 2
            kind: users
            from: [students, teachers]
            fields:
              person_id: {column: SIS ID, unique: true}
              role: {column: Role, type: enum, values: {student: student, teacher: teacher}}
              given_name: {column: First Name}
              family_name: {column: Last Name}
              email: {column: Username, type: email}
              school_unit_code: {column: School SIS ID, references: organisation.school_units}
            """,
        "distribution_orders.yaml": """
            version: 2
            kind: distribution_orders
            from: orders
            fields:
              order_id: {derive: [SIS ID, Product]}
              person_id: {column: SIS ID}
              product_id: {column: Product, references: catalogue.products}
              license_type: {constant: paid, type: enum, values: {paid: paid}}
              valid_from: {constant: "2026-08-01", type: date}
              valid_to: {constant: "2027-06-30", type: date}
            """,
    ]

    /// Writes plain (not gzip'd) files and a manifest that agrees with them.
    static func deliver(_ drop: TestDrop, _ ts: String, _ files: [String: [String]]) throws {
        var manifest = "file,rows,sha256\n"
        for (name, lines) in files.sorted(by: { $0.key < $1.key }) {
            let data = Data((lines.joined(separator: "\n") + "\n").utf8)
            try data.write(to: drop.inbox().appendingPathComponent(name))
            manifest += "\(name),\(lines.count - 1),\(Digest.sha256Hex(data))\n"
        }
        try manifest.write(to: drop.inbox().appendingPathComponent("manifest_\(ts).csv"), atomically: true, encoding: .utf8)
    }

    @Test func twoFilesMakeOneKindEachWithItsOwnRoleAndLines() throws {
        let folder = try MappingTests.folder(Self.studentsAndTeachers)
        let drop = try TestDrop(mapping: folder.path)
        let ts = "20261101T000000Z"
        let header = "SIS ID,First Name,Last Name,Username,School SIS ID"
        try Self.deliver(drop, ts, [
            "Student_\(ts).csv": [header, "1001,Åsa,Öberg,asa@skolan.se,12345678", "1002,Erik,Lind,erik@skolan.se,12345678",
                                  "1003,Bo,Ek,inte-en-adress,12345678"],
            "Teacher_\(ts).csv": [header, "2001,Maja,Sjö,maja@skolan.se,23456789", "1002,Erik,Lind,erik2@skolan.se,23456789"],
            "orders_\(ts).csv": ["SIS ID,Product", "1001,\(TestDrop.productA)", "2001,\(TestDrop.productA)",
                                 "1002,\(TestDrop.productA)"],
        ])
        _ = try drop.run()
        let roles = try drop.rows("SELECT person_id, role FROM accounts ORDER BY person_id").map { "\($0[0] as String)=\($0[1] as String)" }
        #expect(roles == ["org1/1001=student", "org1/2001=teacher"])
        let rejects = try drop.report("rejects_\(ts).csv.gz").dropFirst()
        // A finding names the file and physical line the row came from, in either file.
        #expect(rejects.contains { $0[0] == "Student_\(ts).csv" && $0[1] == "4" && $0[4] == "field.email" })
        let duplicates = rejects.filter { $0[4] == "unique.duplicate" }
        #expect(Set(duplicates.map { "\($0[0]):\($0[1])" }) == ["Student_\(ts).csv:3", "Teacher_\(ts).csv:3"])
        #expect(duplicates.allSatisfy { $0[5].contains("Student_\(ts).csv:3") && $0[5].contains("Teacher_\(ts).csv:3") })
        #expect(try drop.receipt(ts)["users"]?[4] == "5")
    }

    static let joined: [String: String] = [
        "delivery.yaml": """
            version: 2
            manifest: "manifest_{ts}.csv"
            ids: organisation
            required: [people, roles]
            files:
              people: {file: "people_{ts}.csv"}
              roles: {file: "roles_{ts}.csv", drop: [note]}
              orgs: {file: "orgs_{ts}.csv"}
            """,
        "users.yaml": """
            version: 2
            kind: users
            from: people
            join:
              - file: roles
                on: {id: user}
              - file: orgs
                on: {roles.org: id}
            fields:
              person_id: {column: id, unique: true}
              role: {column: roles.role, type: enum, values: {student: student, teacher: teacher}}
              given_name: {column: given}
              family_name: {column: family}
              email: {column: email, type: email}
              school_unit_code: {column: orgs.code, references: organisation.school_units}
            """,
    ]

    @Test func aJoinFindsEachRowsPartnerAndSaysWhenThereIsNoneOrSeveral() throws {
        let folder = try MappingTests.folder(Self.joined)
        let drop = try TestDrop(mapping: folder.path, settings: TestDrop.paidLicenses())
        let ts = "20261101T000000Z"
        try Self.deliver(drop, ts, [
            "people_\(ts).csv": ["id,given,family,email", "p1,Åsa,Öberg,a@s.se", "p2,Erik,Lind,e@s.se", "p3,Bo,Ek,b@s.se",
                                 "p4,Ulla,Ek,u@s.se"],
            "roles_\(ts).csv": ["user,org,role,note", "p1,o1,student,hemlig-anteckning", "p2,o2,teacher,",
                                "p3,o1,student,", "p3,o2,student,", "p4,o9,student,"],
            "orgs_\(ts).csv": ["id,code", "o1,12345678", "o2,23456789"],
        ])
        _ = try drop.run()
        #expect(Set(try drop.rows("SELECT person_id || ' ' || school_unit_code FROM accounts").map { $0[0] as String })
            == ["org1/p1 12345678", "org1/p2 23456789"])
        let rejects = try drop.report("rejects_\(ts).csv.gz").dropFirst()
        let several = try #require(rejects.first { $0[4] == "join.several_partners" })
        #expect(several[0] == "people_\(ts).csv" && several[1] == "4" && several[2] == "id" && several[3] == "p3")
        #expect(several[6].contains("roles_\(ts).csv") && several[6].contains("user"))
        let none = try #require(rejects.first { $0[4] == "join.no_partner" })
        // The key that found no partner came from roles: the finding names its line there.
        #expect(none[0] == "roles_\(ts).csv" && none[1] == "6" && none[2] == "org" && none[3] == "o9")
        // The partner's dropped column reached nothing.
        let stored = try drop.storedBytes()
        #expect(!String(decoding: stored, as: UTF8.self).contains("hemlig-anteckning"))
        // Every file of the delivery, partners included, is recorded and archived.
        #expect(try drop.count("SELECT COUNT(*) FROM delivery_files WHERE file LIKE ?", ["%_\(ts).csv"]) == 3)
        #expect(drop.files("org1", "archive").count == 4)
    }

    @Test(arguments: [
        ("users.yaml", "from: [pupils]", "'pupils' is not a file declared in delivery.yaml"),
        ("delivery.yaml", "  extra: {file: extra.csv}", "mixes fixed file names"),
        ("delivery.yaml", "  spare: {file: \"spare_{ts}.csv\"}", "is declared but no kind reads it"),
        ("users.yaml", "version: 1", "a mapping folder has one version"),
        ("users.yaml", "split: {column: x, separator: \"\"}", "must be one or more characters"),
    ])
    func aVersion2MappingsErrorsNameTheirPlace(_ file: String, _ line: String, _ words: String) throws {
        var files = Self.studentsAndTeachers
        if line.hasPrefix("version") {
            files[file] = files[file]?.replacingOccurrences(of: "version: 2", with: line)
        } else if line.hasPrefix("from") {
            files[file] = files[file]?.replacingOccurrences(of: "from: [students, teachers]", with: line)
        } else {
            files[file] = (files[file] ?? "") + "\n" + line + "\n"
        }
        let errors = Mapping.check(folder: try MappingTests.folder(files))
        #expect(errors.contains { $0.description.contains(words) }, "\(errors.map(\.description))")
        #expect(errors.allSatisfy { $0.description.contains("/") })
    }
}
