import Foundation
@testable import RosterDrop

/// A small portal as it stood before an organisation's integration, for lifecycle tests:
/// three accounts of its own (Anna and Bo can be adopted by e-mail, Cecilia never is), their
/// licenses (Cecilia's product is not in the catalogue), and a class made in the portal.
enum PortalBefore {
    static let unknownProduct = "9789100000009"

    static func write(into drop: TestDrop, organisation: String = "org1") throws {
        try drop.execute("INSERT INTO organisations (id) VALUES (?) ON CONFLICT DO NOTHING", [organisation])
        try drop.execute("""
            INSERT INTO accounts (id, organisation_id, email, given_name, family_name, role, school_unit_code, identity_source,
                                  created_at, updated_at)
            VALUES (1000, ?1, 'Anna.Lind@Exempel.se', 'Anna', 'Lind', 'student', '12345678', 'portal', '2025-01-01', '2025-01-01'),
                   (1001, ?1, 'Bo.Ek@Exempel.se', 'Bo', 'Ek', 'teacher', '23456789', 'portal', '2025-01-01', '2025-01-01'),
                   (1002, ?1, 'Cecilia.Ros@Exempel.se', 'Cecilia', 'Ros', 'student', '12345678', 'portal', '2025-01-01', '2025-01-01')
            """, [organisation])
        try drop.execute("""
            INSERT INTO licenses (id, organisation_id, account_id, product_id, license_type, valid_from, valid_to, source,
                                  created_at, updated_at)
            VALUES (5000, ?1, 1000, '\(TestDrop.productA)', 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-01-01', '2025-01-01'),
                   (5001, ?1, 1001, '\(TestDrop.productB)', 'trial', '2026-08-01', '2026-12-31', 'portal', '2025-01-01', '2025-01-01'),
                   (5002, ?1, 1002, '\(unknownProduct)', 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-01-01', '2025-01-01')
            """, [organisation])
        try drop.execute("""
            INSERT INTO groups (id, organisation_id, name, type, school_unit_code, source, created_at, updated_at)
            VALUES (700, ?1, 'Klass 7A (gammal)', 'class', '12345678', 'manual', '2025-01-01', '2025-01-01');
            INSERT INTO memberships (group_id, account_id) VALUES (700, 1000), (700, 1002);
            """, [organisation])
    }
}

/// An instant from `2026-11-18T05:00:00Z`.
func instant(_ text: String) -> Date {
    guard let date = JobClock.parseISO(text) else { fatalError("not an instant: \(text)") }
    return date
}
