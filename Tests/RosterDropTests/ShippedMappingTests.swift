import Foundation
import Testing
@testable import RosterDrop
@testable import RosterDropSamples

/// The three shipped legacy mappings, end to end: a school's export in each shape, made by
/// the seeded generator, is applied, reported, and re-delivered a day later with adds,
/// leavers and a class change — by the mapping folder alone.
struct ShippedMappingTests {
    static let day1 = Date(timeIntervalSince1970: 1_795_000_000)
    static let day2 = day1.addingTimeInterval(86_400)
    static let products = [TestDrop.productA, TestDrop.productB]

    /// Licenses by rule for the shapes that send none.
    static let rules = TestDrop.paidLicenses(schoolUnits: SchoolExport.schoolUnits)

    static func drop(_ shape: SchoolExport.Shape) throws -> TestDrop {
        try TestDrop(organisations: [("org1", SchoolExport.schoolUnits)],
                     mapping: TestDrop.repository.appendingPathComponent("mappings/\(shape.rawValue)").path,
                     settings: TestDrop.noHolds + (shape == .excel ? "" : "\n" + rules))
    }

    /// Writes `export` into the inbox as the school would, its files last changed an hour
    /// before `date` (so they count as complete), for a run at `date`.
    static func deliver(_ export: SchoolExport, _ shape: SchoolExport.Shape, to drop: TestDrop, at date: Date) throws -> [String] {
        let stamp = Mapping.timestamp(of: date.addingTimeInterval(-3600))
        let names = try export.write(shape, to: drop.inbox(), timestamp: stamp, products: products,
                                     validFrom: "2026-08-01", validTo: "2027-06-30")
        for name in names {
            try FileManager.default.setAttributes([.modificationDate: date.addingTimeInterval(-3600)],
                                                  ofItemAtPath: drop.inbox().appendingPathComponent(name).path)
        }
        return names
    }

    /// Runs as the schedule would: a first look notes the files' sizes, a run ten minutes
    /// later finds them unchanged (`stable_seconds`) and reads them.
    static func settle(_ drop: TestDrop, at date: Date) throws -> RunSummary {
        let first = try drop.run(at: date)
        #expect(first.organisations.first?.deliveries.isEmpty == true, "not read before it has kept its size")
        return try drop.run(at: date.addingTimeInterval(600))
    }

    /// The portal's memberships as (school unit, group name, person id as delivered).
    static func memberships(_ drop: TestDrop) throws -> Set<[String]> {
        Set(try drop.rows("""
            SELECT g.school_unit_code, g.name, a.person_id FROM memberships m
            JOIN groups g ON g.id = m.group_id JOIN accounts a ON a.id = m.account_id
            """).map { row -> [String] in
            let person: String = row[2]
            return [row[0], row[1], String(person.dropFirst("org1/".count))]
        })
    }

    static func groupIDs(_ drop: TestDrop) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try drop.rows("SELECT school_unit_code || ' ' || name, external_id FROM groups")
            .map { ($0[0] as String, $0[1] as String) })
    }

    @Test(arguments: SchoolExport.Shape.allCases)
    func aSchoolsExportIsAppliedAndItsChangesFollow(_ shape: SchoolExport.Shape) throws {
        let drop = try Self.drop(shape)
        let first = SchoolExport.roster(day: 1)
        _ = try Self.deliver(first, shape, to: drop, at: Self.day1)
        let summary = try Self.settle(drop, at: Self.day1)
        let delivery = try #require(summary.organisations.first?.deliveries.first)
        #expect(summary.organisations.first?.error == nil)
        #expect(delivery.outcome == .applied || delivery.outcome == .appliedWithWarnings, "\(shape): \(delivery.outcome)")
        #expect(drop.files("org1", "inbox").isEmpty, "every file was taken")
        // Everyone the export lists is in the portal, under the organisation's own ids.
        let people = Set(first.people.map { "org1/\($0.id)" })
        #expect(Set(try drop.rows("SELECT person_id FROM accounts").map { $0[0] as String }) == people)
        #expect(try Self.memberships(drop) == first.memberships(shape))
        #expect(try drop.count("SELECT COUNT(*) FROM licenses") >= first.people.count)
        let groups = try Self.groupIDs(drop)
        #expect(groups.count == Set(first.memberships(shape).map { $0[0] + " " + $0[1] }).count)
        let stamp = delivery.timestamp
        let receipt = try drop.receipt(stamp)
        #expect(receipt["users"]?[5] == String(first.people.count))
        if shape == .sds {
            // The administrator is left out by `select:`, counted, not rejected.
            #expect(delivery.filtered?["users"] == 1)
            #expect(receipt["users"]?[4] == String(first.people.count + 1))
            #expect(((try? drop.rejectRules(stamp)) ?? []).allSatisfy { $0 != "field.enum" })
        }

        // A week later: two have left, two arrived, one changed class.
        let second = SchoolExport.roster(day: 2)
        _ = try Self.deliver(second, shape, to: drop, at: Self.day2)
        let next = try Self.settle(drop, at: Self.day2)
        let changed = try #require(next.organisations.first?.deliveries.first)
        #expect(changed.outcome == .applied || changed.outcome == .appliedWithWarnings, "\(shape): \(changed.outcome)")
        #expect(Set(try drop.rows("SELECT person_id FROM accounts WHERE organisation_id = 'org1'").map { $0[0] as String })
            == Set(second.people.map { "org1/\($0.id)" }))
        #expect(try Self.memberships(drop) == second.memberships(shape))
        // Classes keep their ids: a new export is not a new set of groups.
        let after = try Self.groupIDs(drop)
        for (name, id) in groups where after[name] != nil { #expect(after[name] == id, "\(name) kept its id") }

        // The dropped columns' values reached nothing: not the database, not a report.
        let secrets = (first.people + second.people + [first.administrator]).flatMap { [$0.personnummer, $0.password] }
        var stored = try drop.storedBytes()
        for name in drop.files("org1", "outbox") {
            stored += try drop.report(name).flatMap { $0 }.joined(separator: ",").data(using: .utf8) ?? Data()
        }
        let text = String(decoding: stored, as: UTF8.self)
        for secret in secrets where shape != .classColumn || !secret.hasPrefix("Hemligt") {
            #expect(!text.contains(secret))
        }
    }

    @Test func anExcelSheetsBadRowsAreReportedByTheirSwedishColumnsAndLines() throws {
        let drop = try Self.drop(.excel)
        var export = SchoolExport.roster(day: 1)
        export.people[1].email = "inte-en-adress"
        export.people[2].grade = nil
        export.people[3].schoolUnit = "99999999"
        _ = try Self.deliver(export, .excel, to: drop, at: Self.day1)
        let summary = try Self.settle(drop, at: Self.day1)
        let stamp = try #require(summary.organisations.first?.deliveries.first?.timestamp)
        let rejects = try drop.report("rejects_\(stamp).csv.gz").dropFirst()
        let email = try #require(rejects.first { $0[4] == "field.email" })
        #expect(email[0] == "elever.csv" && email[1] == "3" && email[2] == "E-post")
        #expect(email[5].contains("i skolans elevregister"))
        let scope = rejects.filter { $0[4] == "scope.school_unit" }
        // The person's row, and the class derived from it, each say where and why.
        #expect(scope.contains { $0[0] == "elever.csv" && $0[1] == "5" && $0[2] == "Skolenhetskod" })
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = ?", ["org1/\(export.people[1].id)"]) == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = ?", ["org1/\(export.people[0].id)"]) == 1)
    }

    @Test func anSDSExportMailedInIsValidatedOfflineWithNoDatabaseOrDropFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sds-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let export = SchoolExport.roster(day: 1)
        let names = try export.write(.sds, to: folder, timestamp: "", products: Self.products, validFrom: "2026-08-01",
                                     validTo: "2027-06-30")
        // A grade SDS allows and the portal has no number for: the value is dropped, with a warning.
        let roles = folder.appendingPathComponent("roles.csv")
        let text = try String(contentsOf: roles, encoding: .utf8)
        let student = export.people[1].id
        try text.components(separatedBy: "\r\n").map { line in
            line.hasPrefix(student + ",") ? line.replacingOccurrences(of: ",07,", with: ",kg,") : line
        }.joined(separator: "\r\n").write(to: roles, atomically: true, encoding: .utf8)
        let result = try OfflineValidation(mappings: TestDrop.repository.appendingPathComponent("mappings/sds-v2.1"),
                                           files: names.map { (name: nil, url: folder.appendingPathComponent($0)) },
                                           schoolUnits: SchoolExport.schoolUnits).run()
        #expect(result.rows["users"]?.accepted == export.people.count)
        #expect(result.rows["memberships"]?.accepted == export.memberships(.sds).count)
        #expect(result.findings["field.integer"] == 1)
        // The finding names where the value is: roles.csv, its line and its own column.
        #expect(result.examples["field.integer"] == ["roles.csv:3"])
    }

    @Test func aUserWhoseRoleRowIsMissingIsRejectedAndKeptNotLeftOut() throws {
        let drop = try Self.drop(.sds)
        let export = SchoolExport.roster(day: 1)
        _ = try Self.deliver(export, .sds, to: drop, at: Self.day1)
        _ = try Self.settle(drop, at: Self.day1)
        let student = try #require(export.people.first { !$0.teacher })
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = ?", ["org1/\(student.id)"]) == 1)
        // The next export lost the student's roles row: the join finds no partner. The row
        // is rejected with that finding — not left out by `select:` — so the account stays.
        _ = try Self.deliver(export, .sds, to: drop, at: Self.day2)
        let roles = drop.inbox().appendingPathComponent("roles.csv")
        let kept = try String(contentsOf: roles, encoding: .utf8).components(separatedBy: "\r\n")
            .filter { !$0.hasPrefix(student.id + ",") }.joined(separator: "\r\n")
        try kept.write(to: roles, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Self.day2.addingTimeInterval(-3600)], ofItemAtPath: roles.path)
        let summary = try Self.settle(drop, at: Self.day2)
        let delivery = try #require(summary.organisations.first?.deliveries.first)
        #expect(delivery.filtered?["users"] == 1, "only the administrator is left out")
        let rejects = try drop.report("rejects_\(delivery.timestamp).csv.gz").dropFirst()
        #expect(rejects.contains { $0[0] == "users.csv" && $0[2] == "sourcedId" && $0[3] == student.id && $0[4] == "join.no_partner" })
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = ?", ["org1/\(student.id)"]) == 1)
    }
}
