import Foundation
import GRDB
import Testing
@testable import RosterDrop

/// Deliveries a hostile or careless sender could make, each once a real defect.
struct AdversarialTests {
    /// A field or record past its bound is a finding, and the reader holds no more than the
    /// bound however long the input runs without a line break.
    @Test(arguments: [UInt8(0x30), UInt8(ascii: ","), UInt8(ascii: "\"")])
    func anEndlessRecordIsAFindingAndMemoryStaysFlat(_ filler: UInt8) {
        var reader = CSVReader(maxFieldBytes: 64 << 10, maxRecordBytes: 1 << 20)
        var events: [CSVEvent] = []
        let chunk = [UInt8](repeating: filler, count: 1 << 20)
        var peak = 0
        "a,b\nx,y\n".utf8.withContiguousStorageIfAvailable { bytes in
            reader.feed(UnsafeRawBufferPointer(bytes)) { events.append($0) }
        }
        for _ in 0..<64 {
            chunk.withUnsafeBytes { reader.feed($0) { events.append($0) } }
            peak = max(peak, reader.heldBytes)
        }
        reader.feed(UnsafeRawBufferPointer(start: nil, count: 0)) { events.append($0) }
        "\nz,w\n".utf8.withContiguousStorageIfAvailable { bytes in
            reader.feed(UnsafeRawBufferPointer(bytes)) { events.append($0) }
        }
        reader.finish { events.append($0) }
        #expect(peak < 2 << 20, "held \(peak) bytes for 64 MiB without a line break")
        let problems = events.compactMap { event -> CSVProblem? in
            if case .problem(let problem) = event { return problem }
            return nil
        }
        if filler == UInt8(ascii: "\"") {
            // An opened quote swallows the line breaks: the record never ends.
            #expect(problems.map(\.line) == [3])
        } else {
            #expect(problems == [CSVProblem(line: 3, kind: .tooLong(field: filler != UInt8(ascii: ",")))])
            #expect(events.last == .record(CSVRecord(line: 4, fields: ["z", "w"])), "the next record reads again")
        }
    }

    /// A record of exactly the limits is not too long: delimiters count, the line end not.
    @Test func aRecordOfExactlyTheLimitIsRead() {
        func read(_ text: String) -> [CSVEvent] {
            var reader = CSVReader(maxFieldBytes: 16, maxRecordBytes: 16)
            var events: [CSVEvent] = []
            Array(text.utf8).withUnsafeBytes { reader.feed($0) { events.append($0) } }
            reader.finish { events.append($0) }
            return events
        }
        #expect(read("a,b\n0123456,01234567\n").last == .record(CSVRecord(line: 2, fields: ["0123456", "01234567"])))
        #expect(read("a,b\n0123456,012345678\n").last == .problem(CSVProblem(line: 2, kind: .tooLong(field: false))))
        let field = String(repeating: "x", count: 16)
        #expect(read("h\n\(field)\n").last == .record(CSVRecord(line: 2, fields: [field])))
        #expect(read("h\n\(field)x\n").last == .problem(CSVProblem(line: 2, kind: .tooLong(field: true))))
    }

    /// The reported case: a small gzip of a huge run of zeros with no line break, under the
    /// decompressed-size limit, made the job hold the whole field. Now the row is a finding,
    /// the rest of the delivery is applied, and the job's peak memory stays small.
    @Test func aGzipOfHundredsOfMegabytesOfZerosIsAFindingNotAMemoryBlowUp() throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop()
        let header = TestDrop.usersHeader + "\n" + Fixture.user("p1") + "\n"
        let path = drop.inbox().appendingPathComponent("users_20261101T020000Z.csv.gz").path
        let writer = try GzipWriter(path: path)
        try writer.write(header)
        let zeros = [UInt8](repeating: 0x30, count: 1 << 20)
        for _ in 0..<384 { try zeros.withUnsafeBytes { try writer.write($0) } }
        try writer.write("\n" + Fixture.user("p2") + "\n")
        try writer.close()
        let users = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(users.count < 2 << 20, "a small upload")
        let orders = try TestDrop.gzip(TestDrop.ordersHeader + "\n" + Fixture.order("o1", person: "p1") + "\n"
                                       + Fixture.order("o2", person: "p2") + "\n")
        try orders.write(to: drop.inbox().appendingPathComponent("distribution_orders_20261101T020000Z.csv.gz"))
        try """
            file,rows,sha256
            users_20261101T020000Z.csv.gz,3,\(Digest.sha256Hex(users))
            distribution_orders_20261101T020000Z.csv.gz,2,\(Digest.sha256Hex(orders))

            """.write(to: drop.inbox().appendingPathComponent("manifest_20261101T020000Z.csv"), atomically: true, encoding: .utf8)

        // GNU time measures this one process's peak (make test installs it).
        let measured = drop.root.appendingPathComponent("peak-kb").path
        let result = try Executable(url: URL(fileURLWithPath: "/usr/bin/time")).run(
            ["-f", "%M", "-o", measured, binary.url.path, "run", "--config", drop.configPath, "--now", "2026-11-01T05:00:00Z",
             "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let peak = Int(try String(contentsOfFile: measured, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max
        #expect(peak < 200 * 1024, "peak \(peak / 1024) MB for a 384 MiB field")
        #expect(try drop.receipt("20261101T020000Z")["users"]?[2...6] == ["applied_with_rejects", "users", "3", "2", "1"])
        let rejects = try drop.report("rejects_20261101T020000Z.csv.gz")
        #expect(rejects.contains { $0[1] == "3" && $0[4] == "csv.too_long" && $0[3].isEmpty })
        #expect(try drop.rows("SELECT person_id FROM accounts ORDER BY 1").map { $0["person_id"] as String } == ["p1", "p2"])
    }

    /// The right digits and no real instant: refused and answered, and the deliveries after
    /// it are applied (before, it was applied and made every later one look stale).
    @Test func aTimestampThatIsNoRealInstantOrFarAheadIsRefused() throws {
        let drop = try TestDrop()
        try drop.deliver("20261399T250000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        try drop.deliver("20261105T020000Z", users: [Fixture.user("p2")], orders: [Fixture.order("o2", person: "p2")])
        let summary = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.refused, .refused])
        let impossible = try drop.report("rejects_20261399T250000Z.csv.gz")
        #expect(impossible.dropFirst().map { [$0[0], $0[3], $0[4]] } ==
                [["manifest_20261399T250000Z.csv", "20261399T250000Z", "delivery.timestamp"]])
        #expect(try drop.rejectRules("20261105T020000Z") == ["delivery.timestamp"])
        #expect(try drop.report("rejects_20261105T020000Z.csv.gz")[1][5].contains("framtiden"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 0)
        try drop.deliver("20261102T020000Z", users: [Fixture.user("p3")], orders: [Fixture.order("o3", person: "p3")])
        let real = try drop.run(at: instant("2026-11-02T06:00:00Z"))
        #expect(real.organisations[0].deliveries.map(\.outcome) == [.applied])
        // Within a day ahead of the job's clock is a clock's skew, not a lie.
        try drop.deliver("20261103T040000Z", users: [Fixture.user("p3")], orders: [Fixture.order("o3", person: "p3"),
                                                                                   Fixture.order("o4", person: "p3")])
        #expect(try drop.run(at: instant("2026-11-02T07:00:00Z")).organisations[0].deliveries.map(\.outcome) == [.applied])
    }

    /// Nothing to do: no delivery, no calendar work. The run says so in one summary line per
    /// organisation, logs nothing at info level, and writes nothing to the drop folder.
    @Test func aRunWithNothingToDoIsQuiet() throws {
        let binary = try Executable("rosterdrop")
        let drop = try TestDrop()
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        let now = ["--now", "2026-11-01T05:00:00Z"]
        _ = try binary.run(["run", "--config", drop.configPath] + now)
        let outbox = drop.files("org1", "outbox")
        let idle = try binary.run(["run", "--config", drop.configPath] + now)
        #expect(idle.status == 0)
        #expect(!idle.stderr.contains(" info "), "\(idle.stderr)")
        #expect(idle.stderr.contains("org1: no complete delivery"))
        #expect(drop.files("org1", "outbox") == outbox)
        #expect(try drop.count("SELECT COUNT(*) FROM calendar_events") == 0)
        // As scheduled (--quiet): nothing at all, so cron mails nothing.
        let scheduled = try binary.run(["run", "--config", drop.configPath, "--quiet"] + now)
        #expect(scheduled.status == 0 && scheduled.stderr.isEmpty, "\(scheduled.stderr)")
        try drop.deliver("20261101T030000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        let busy = try binary.run(["run", "--config", drop.configPath, "--quiet"] + now)
        #expect(busy.stderr.contains("20261101T030000Z  duplicate"), "a run that did something still says so")
    }
}
