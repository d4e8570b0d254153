import Foundation
import Testing
@testable import RosterDrop

/// `metrics_file`: Prometheus' text format for node_exporter's textfile collector.
struct MetricsTests {
    /// The file's samples, `name{labels}` to value.
    static func samples(_ path: String) throws -> [String: Double] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    @Test func everyRunWritesTheLedgersFiguresWholeAndCountersKeepCounting() throws {
        let drop = try TestDrop()
        let metrics = drop.root.appendingPathComponent("textfile/rosterdrop.prom")
        try FileManager.default.createDirectory(at: metrics.deletingLastPathComponent(), withIntermediateDirectories: true)
        try drop.prependConfig("metrics_file: textfile/rosterdrop.prom")

        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1"), Fixture.user("p2", email: "nej")],
                         orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(dryRun: true, at: instant("2026-11-01T04:00:00Z"))
        #expect(!FileManager.default.fileExists(atPath: metrics.path), "a dry run records nothing")
        _ = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        let first = try Self.samples(metrics.path)
        let org = "{organisation=\"org1\"}"
        let receipt = try drop.receipt("20261101T020000Z")
        #expect(first["rosterdrop_rows_received_total\(org)"] == receipt.values.reduce(0) { $0 + Double($1[4])! })
        #expect(first["rosterdrop_rows_rejected_total\(org)"] == 1)
        #expect(first["rosterdrop_deliveries_total{organisation=\"org1\",outcome=\"applied_with_rejects\"}"] == 1)
        #expect(first["rosterdrop_last_run_timestamp_seconds\(org)"] == instant("2026-11-01T05:00:00Z").timeIntervalSince1970)
        #expect(first["rosterdrop_last_success_timestamp_seconds\(org)"] == instant("2026-11-01T05:00:00Z").timeIntervalSince1970)
        #expect(first["rosterdrop_last_run_ok\(org)"] == 1)
        #expect(first["rosterdrop_held_deliveries\(org)"] == 0)
        #expect((first["rosterdrop_run_duration_seconds\(org)"] ?? -1) >= 0)
        let text = try String(contentsOf: metrics, encoding: .utf8)
        #expect(text.contains("# TYPE rosterdrop_rows_received_total counter"))
        #expect(text.contains("# HELP rosterdrop_held_deliveries Deliveries held for an operator now."))

        // A second delivery: the counters go on from the ledger, not from this run alone.
        try drop.deliver("20261102T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        _ = try drop.run(at: instant("2026-11-02T05:00:00Z"))
        let second = try Self.samples(metrics.path)
        #expect(second["rosterdrop_rows_received_total\(org)"] == first["rosterdrop_rows_received_total\(org)"]! + 2)
        #expect(second["rosterdrop_deliveries_total{organisation=\"org1\",outcome=\"applied\"}"] == 1)
        #expect(second["rosterdrop_deliveries_total{organisation=\"org1\",outcome=\"applied_with_rejects\"}"] == 1)
        // Written whole and renamed: nothing but the file in the collector's folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: metrics.deletingLastPathComponent().path) == ["rosterdrop.prom"])
    }

    @Test func aMetricsFileThatCannotBeWrittenDoesNotFailTheRun() throws {
        let drop = try TestDrop()
        try drop.prependConfig("metrics_file: no-such-folder/rosterdrop.prom")
        try drop.deliver("20261101T020000Z", users: [Fixture.user("p1")], orders: [Fixture.order("o1", person: "p1")])
        let summary = try drop.run(at: instant("2026-11-01T05:00:00Z"))
        #expect(summary.succeeded && summary.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(throws: ConfigurationError.self) {
            try "database: x.sqlite\nmetrics_file: m.txt\norganisations: []\n".write(toFile: drop.configPath, atomically: true, encoding: .utf8)
            _ = try JobConfiguration.load(path: drop.configPath)
        }
    }
}
