import Crypto
import Foundation
import Testing
import RosterDrop
@testable import RosterDropSamples

/// The seeded sample generator: reproducible bytes, honest manifests, and the cases it promises.
struct SampleGeneratorTests {
    /// A scratch folder per test, removed when the value goes away.
    private final class Scratch {
        let url: URL

        init(_ name: String) throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("rosterdrop-samples-\(name)-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(at: url) }
    }

    private func sha256Hex(of url: URL) throws -> String {
        SHA256.hash(data: try Data(contentsOf: url)).map { String(format: "%02x", $0) }.joined()
    }

    private func bytes(_ url: URL) throws -> Data {
        try Data(contentsOf: url)
    }

    @Test func sameSeedGivesByteIdenticalDemo() throws {
        let first = try Scratch("a"), second = try Scratch("b")
        let a = try DemoSamples.write(to: first.url, seed: 42)
        let b = try DemoSamples.write(to: second.url, seed: 42)
        #expect(a.filesWritten.count == 17)
        for (left, right) in zip(a.filesWritten, b.filesWritten) {
            #expect(left.lastPathComponent == right.lastPathComponent)
            #expect(try bytes(left) == bytes(right), "\(left.lastPathComponent) differs between runs")
        }
        let other = try Scratch("c")
        let c = try DemoSamples.write(to: other.url, seed: 43)
        #expect(try bytes(a.deliveries[0].manifest) != bytes(c.deliveries[0].manifest))
    }

    @Test func manifestAgreesWithTheFilesWritten() throws {
        let scratch = try Scratch("manifest")
        let summary = try DemoSamples.write(to: scratch.url, seed: 42)
        #expect(summary.deliveries.map(\.organisation) == ["exempel-kommun", "exempel-kommun", "friskolan-norr"])
        for delivery in summary.deliveries {
            let manifest = try ParsedFile(manifestPath: delivery.manifest.path)
            #expect(manifest.records.first?.fields == ["file", "rows", "sha256"])
            #expect(manifest.data.count == 4)
            for record in manifest.data {
                let url = delivery.inbox.appendingPathComponent(record.fields[0])
                let parsed = try ParsedFile(gzipPath: url.path)
                // A record with a wrong cell count is still one row of the file.
                let rows = parsed.data.count + parsed.problems.count
                #expect(String(rows) == record.fields[1])
                let digest = try sha256Hex(of: url)
                #expect(digest == record.fields[2])
            }
        }
        let catalogue = try String(contentsOf: summary.productsFile, encoding: .utf8)
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let committed = repository.appendingPathComponent("samples/products.csv")
        #expect(try String(contentsOf: committed, encoding: .utf8) == catalogue, "samples/products.csv is stale")
        // The shipped pre-integration state must match the generated users it is adopted by.
        let portalBefore = try String(contentsOf: summary.portalBeforeFile, encoding: .utf8)
        #expect(try String(contentsOf: repository.appendingPathComponent("samples/portal-before.sql"), encoding: .utf8)
                == portalBefore, "samples/portal-before.sql is stale: copy it from `rosterdrop-samples demo --out DIR`")
        for product in SampleCatalogue.products {
            let digits = product.productID.compactMap(\.wholeNumberValue)
            let sum = digits.enumerated().reduce(0) { $0 + $1.element * ($1.offset.isMultiple(of: 2) ? 1 : 3) }
            #expect(digits.count == 13 && sum % 10 == 0, "\(product.productID) is not a valid ISBN-13")
        }
    }

    @Test func firstDeliveryHoldsEachDeliberateBadCase() throws {
        let scratch = try Scratch("bad")
        let summary = try DemoSamples.write(to: scratch.url, seed: 42)
        let first = summary.deliveries[0]
        let users = try ParsedFile(gzipPath: try #require(first.file("users_")).path)
        #expect(users.data.contains { $0.fields[4].hasPrefix("=") })
        #expect(users.data.contains { $0.fields[5] == "99999999" })
        #expect(users.data.contains { $0.fields[1] == "rektor" })
        let ids = users.data.map { $0.fields[0] }
        #expect(Set(ids).count == ids.count - 1, "exactly one person id is duplicated")
        #expect(users.problems.contains { $0.kind == .wrongCellCount(expected: 8, found: 9) })

        let groups = try ParsedFile(gzipPath: try #require(first.file("groups_")).path)
        #expect(groups.problems.isEmpty)
        let multiline = try #require(groups.data.first { $0.fields[1].contains(",") && $0.fields[1].contains("\n") })
        let next = groups.data.first { $0.line > multiline.line }
        #expect(next?.line == multiline.line + 2, "the quoted newline spans two physical lines")

        let knownPeople = Set(ids)
        let memberships = try ParsedFile(gzipPath: try #require(first.file("memberships_")).path)
        #expect(memberships.data.filter { !knownPeople.contains($0.fields[1]) }.count == 1)

        let orders = try ParsedFile(gzipPath: try #require(first.file("distribution_orders_")).path)
        let catalogue = Set(SampleCatalogue.products.map(\.productID))
        #expect(orders.data.filter { !catalogue.contains($0.fields[2]) }.count == 1)
        #expect(orders.data.filter { $0.fields[4] == "2026/08/01" }.count == 1)
        #expect(orders.data.filter { $0.fields[5] < $0.fields[4] && !$0.fields[4].contains("/") }.count == 1)
        #expect(orders.data.contains { $0.fields[3] == "trial" })
        let unlicensed = Set(ids).subtracting(orders.data.map { $0.fields[1] })
        #expect((10...20).contains(unlicensed.count), "about a tenth of the users hold no order")

        // The next day keeps only the duplicated person id.
        let second = summary.deliveries[1]
        let nextUsers = try ParsedFile(gzipPath: try #require(second.file("users_")).path)
        let nextIDs = nextUsers.data.map { $0.fields[0] }
        #expect(Set(nextIDs).count == nextIDs.count - 1)
        #expect(nextUsers.problems.isEmpty)
        #expect(!nextUsers.data.contains { $0.fields[4].hasPrefix("=") || $0.fields[5] == "99999999" || $0.fields[1] == "rektor" })
        let nextOrders = try ParsedFile(gzipPath: try #require(second.file("distribution_orders_")).path)
        #expect(nextOrders.data.allSatisfy { catalogue.contains($0.fields[2]) && Set(nextIDs).contains($0.fields[1]) })
    }

    @Test func portalBeforeMatchesTheStory() throws {
        let scratch = try Scratch("portal")
        let summary = try DemoSamples.write(to: scratch.url, seed: 42)
        let sql = try String(contentsOf: summary.portalBeforeFile, encoding: .utf8)
        #expect(sql.contains("INSERT INTO organisations(id) VALUES ('exempel-kommun'), ('friskolan-norr');"))
        #expect(sql.contains("'Läsklubben'"))
        let emails = sql.split(separator: "\n").filter { $0.hasPrefix("  (10") && $0.contains("'portal'") }
            .compactMap { line in line.split(separator: "'").first { $0.contains("@") }.map(String.init) }
        #expect(emails.count == 6)
        let users = try ParsedFile(gzipPath: try #require(summary.deliveries[0].file("users_")).path)
        let orders = try ParsedFile(gzipPath: try #require(summary.deliveries[0].file("distribution_orders_")).path)
        let licensed = Set(orders.data.map { $0.fields[1] })
        let byEmail = Dictionary(users.data.filter { $0.fields.count == 8 }.map { ($0.fields[4].lowercased(), $0.fields[0]) },
                                 uniquingKeysWith: { first, _ in first })
        let matches = emails.map { byEmail[$0.lowercased()] }
        #expect(emails.allSatisfy { $0 != $0.lowercased() }, "pre-integration addresses differ in letter case")
        #expect(matches.filter { $0.map(licensed.contains) == true }.count == 4)
        #expect(matches.filter { $0.map(licensed.contains) == false }.count == 1)
        #expect(matches.filter { $0 == nil }.count == 1)
    }

    @Test func nationalSnapshotTwoChangesAboutOnePercent() throws {
        let scratch = try Scratch("national")
        let one = try NationalSnapshot(users: 2000, schools: 5, seed: 7, snapshot: 1).write(to: scratch.url)
        let two = try NationalSnapshot(users: 2000, schools: 5, seed: 7, snapshot: 2).write(to: scratch.url)
        let units = try String(contentsOf: scratch.url.appendingPathComponent("config-units.txt"), encoding: .utf8)
        #expect(units.split(separator: "\n").count == 5)

        var rowsByID: [[String: [String]]] = []
        for summary in [one, two] {
            let users = try ParsedFile(gzipPath: summary.inbox.appendingPathComponent(summary.files[0].file).path)
            let ids = Set(users.data.map { $0.fields[0] })
            #expect(ids.count == users.data.count)
            for file in summary.files.dropFirst(2) {
                let parsed = try ParsedFile(gzipPath: summary.inbox.appendingPathComponent(file.file).path)
                // person_id is the second column of both memberships and distribution orders.
                #expect(parsed.data.allSatisfy { ids.contains($0.fields[1]) })
            }
            rowsByID.append(Dictionary(users.data.map { ($0.fields[0], $0.fields) }, uniquingKeysWith: { first, _ in first }))
        }
        let (before, after) = (rowsByID[0], rowsByID[1])
        let removed = before.keys.filter { after[$0] == nil }.count
        let added = after.keys.filter { before[$0] == nil }.count
        let changed = before.filter { id, row in after[id].map { $0 != row } ?? false }.count
        let share = Double(removed + added + changed) / Double(before.count)
        #expect(share > 0.005 && share < 0.02, "snapshot 2 changed \(share * 100) % of users")
        #expect(added == two.changes.appended && removed == two.changes.removed)

        let again = try Scratch("national-again")
        _ = try NationalSnapshot(users: 2000, schools: 5, seed: 7, snapshot: 1).write(to: again.url)
        let manifest = DeliveryManifest.fileName(timestamp: one.timestamp)
        #expect(try bytes(one.inbox.appendingPathComponent(manifest))
            == bytes(again.url.appendingPathComponent("drop/riket/inbox/\(manifest)")))
    }
}

/// The CSV records (header included) of a gzip'd file, plus the reader's problems.
private struct ParsedFile {
    var records: [CSVRecord] = []
    var problems: [CSVProblem] = []

    /// Data records, header excluded.
    var data: [CSVRecord] { Array(records.dropFirst()) }

    init(gzipPath path: String) throws {
        var reader = CSVReader()
        var events: [CSVEvent] = []
        try gunzipFile(atPath: path, limit: 1 << 32) { chunk in reader.feed(chunk) { events.append($0) } }
        reader.finish { events.append($0) }
        for event in events {
            switch event {
            case .record(let record): records.append(record)
            case .problem(let problem): problems.append(problem)
            }
        }
    }
}

extension ParsedFile {
    /// Parses a plain (not gzip'd) CSV file such as a manifest.
    init(manifestPath path: String) throws {
        var reader = CSVReader()
        var events: [CSVEvent] = []
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.withUnsafeBytes { reader.feed($0) { events.append($0) } }
        reader.finish { events.append($0) }
        for event in events {
            if case .record(let record) = event { records.append(record) }
            if case .problem(let problem) = event { problems.append(problem) }
        }
    }
}
