import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Found by a review of the mapping changes: ids in their stored form, values the mapping
/// supplies itself, and reports showing ids as delivered.
struct MappingReviewTests {
    /// A rejected users row protects the person it names from removal — also when the
    /// mapping transforms person_id (`transform: [lower]`): the protection must use the
    /// stored (transformed) id, not the delivered cell.
    @Test(arguments: [false, true])
    func aRejectedRowProtectsItsPersonWhenTheIdIsTransformed(_ transformed: Bool) throws {
        let drop = try TestDrop(settings: TestDrop.noHolds)
        if transformed {
            try MappingDefectTests.editedSkolonMapping(drop, "users.yaml") {
                $0.replacingOccurrences(of: "    unique: true\n  role:", with: "    unique: true\n    transform: [lower]\n  role:")
            }
        }
        let p1 = transformed ? "P1" : "p1", p2 = transformed ? "P2" : "p2"
        try drop.deliver("20261101T000000Z", users: [Fixture.user(p1), Fixture.user(p2)],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p2'") == 1)
        // p2's row now has a broken e-mail (and its order is gone): the row is rejected, so
        // p2's account must stay, as it does without the transform.
        try drop.deliver("20261102T000000Z", users: [Fixture.user(p1), Fixture.user(p2, email: "not-an-address")],
                         orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        #expect(try drop.rejectRules("20261102T000000Z") == ["field.email"])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p2'") == 1)
    }

    /// With `ids: organisation`, a person id never reaches a school's report namespaced: a
    /// memberships mapping with `person_id: unique: true` (one class per pupil) reports the
    /// repeated id as delivered, not as `org1/p1`.
    @Test func duplicatePersonIdsOutsideTheKeyAreShownAsDelivered() throws {
        let drop = try TestDrop(settings: TestDrop.noHolds)
        try MappingDefectTests.editedSkolonMapping(drop, "delivery.yaml") { $0 + "ids: organisation\n" }
        let mapping = try #require(try String(contentsOfFile: drop.configPath, encoding: .utf8)
            .split(separator: "\n").first { $0.contains("mappings:") }?.split(separator: " ").last.map(String.init))
        let memberships = URL(fileURLWithPath: mapping).appendingPathComponent("memberships.yaml")
        let text = try String(contentsOf: memberships, encoding: .utf8)
        let edited = text.replacingOccurrences(of: "    references: users.person_id", with: "    references: users.person_id\n    unique: true")
        #expect(edited != text)
        try edited.write(to: memberships, atomically: true, encoding: .utf8)
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1"), Fixture.user("p2")],
                         groups: [Fixture.group("g1"), Fixture.group("g2", name: "7B")], memberships: ["g1,p1", "g2,p1", "g1,p2"],
                         orders: [Fixture.order("o1", person: "p1"), Fixture.order("o2", person: "p2")])
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let rejects = try drop.report("rejects_20261101T000000Z.csv.gz").dropFirst()
        let duplicates = rejects.filter { $0[4] == "unique.duplicate" }
        #expect(duplicates.count == 2)
        #expect(duplicates.map { $0[3] } == ["p1", "p1"])
    }

    /// A text value with a control character is refused unless the field allows them —
    /// also when it comes from the mapping (a `default`, `constant` or `lookup` value)
    /// rather than from the record (`CSVRecord.hasControlCharacters` only covers the record).
    @Test func controlCharactersFromADefaultAreStillRefused() throws {
        let drop = try TestDrop(settings: TestDrop.noHolds)
        try MappingDefectTests.editedSkolonMapping(drop, "users.yaml") {
            $0.replacingOccurrences(of: "  eppn:\n    column: eppn\n", with: "  eppn:\n    column: eppn\n    default: \"x\\ty\"\n")
        }
        try drop.deliver("20261101T000000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        // A value the mapping supplies is checked when the mapping is read, so none can
        // slip past the per-record check: the mapping is refused, naming the key.
        #expect { _ = try drop.run(at: instant("2026-11-01T05:00:00Z")) } throws: { error in
            "\(error)".contains("fields.eppn.default") && "\(error)".contains("a control character")
        }
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 0)
    }

    /// `rosterdrop mapping check` says a mapping is valid when a constant (or a lookup
    /// result) can never pass its own field's checks: every row would be rejected.
    @Test func mappingCheckRefusesConstantsAndLookupsTheirFieldRefuses() throws {
        let users = MappingTests.legacyUsers
            .replacingOccurrences(of: "  role:\n    column: Roll\n", with: "  role:\n    constant: Student\n")
        #expect(users != MappingTests.legacyUsers)
        let folder = try MappingTests.folder(["users.yaml": users])
        #expect(!Mapping.check(folder: folder).isEmpty, "constant Student is not one of the enum's values")
    }
}
