import Foundation
import Testing
@testable import RosterDrop

/// `rosterdrop validate`: files a school mailed in, checked with no database or drop folder.
struct ValidateTests {
    @Test func filesMailedInAreCheckedAsARunWouldAndReportedUnderTheirOwnNames() throws {
        let binary = try Executable("rosterdrop")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try ([TestDrop.usersHeader, Fixture.user("p1", email: "fel"), Fixture.user("p2", unit: "99999999"), Fixture.user("p3")]
            .joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("elever.csv"), atomically: true, encoding: .utf8)
        try ([TestDrop.ordersHeader, Fixture.order("o1", person: "p1"), Fixture.order("o3", person: "p3", product: "123")]
            .joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("distribution_orders_export.csv"),
                                                   atomically: true, encoding: .utf8)
        let products = folder.appendingPathComponent("products.csv")
        try "product_id,title\n\(TestDrop.productA),Matte\n".write(to: products, atomically: true, encoding: .utf8)
        let result = try binary.run(["validate", "--mappings", TestDrop.skolonMapping, "--school-units", "12345678",
                                     "--products", products.path, "--json", "users=\(folder.path)/elever.csv",
                                     folder.appendingPathComponent("distribution_orders_export.csv").path])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try JSONDecoder().decode(OfflineValidation.Result.self, from: Data(result.stdout.utf8))
        #expect(Set(summary.rows.keys) == ["users", "distribution_orders"])
        #expect(summary.rows["users"]?.received == 3 && summary.rows["users"]?.rejected == 2)
        #expect(summary.findings == ["field.email": 1, "scope.school_unit": 1, "reference.person_rejected": 1, "reference.product": 1])
        #expect(summary.examples["field.email"] == ["elever.csv:2"])
        let report = try #require(summary.report)
        #expect(report == folder.appendingPathComponent("rejects_elever.csv.gz").path)
        var bytes = Data()
        try gunzipFile(atPath: report, limit: 1 << 20) { bytes.append(contentsOf: $0) }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("file,line,column,value,rule,message_sv,message_en\r\n"))
        #expect(text.contains("elever.csv,2,email,fel,field.email,E-postadressen är inte giltig. Rätta den i Skolon."))
        #expect(text.contains("distribution_orders_export.csv,3,product_id,123,reference.product"))
        // Nothing else was written: no database, no drop folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
                == ["distribution_orders_export.csv", "elever.csv", "products.csv", "rejects_elever.csv.gz"])
        // Without school units or a catalogue, those checks are left out; an unnamed file is asked about.
        let loose = try binary.run(["validate", "--mappings", TestDrop.skolonMapping, "--json", "--out", folder.appendingPathComponent("out").path,
                                    "users=\(folder.path)/elever.csv"])
        let looseSummary = try JSONDecoder().decode(OfflineValidation.Result.self, from: Data(loose.stdout.utf8))
        #expect(looseSummary.findings == ["field.email": 1])
        let unknown = try binary.run(["validate", "--mappings", TestDrop.skolonMapping, folder.appendingPathComponent("elever.csv").path])
        #expect(unknown.status == 1 && unknown.stderr.contains("which file is elever.csv?"))
    }
}
