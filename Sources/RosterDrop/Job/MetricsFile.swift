import Foundation
import Prometheus

/// The job's metrics in Prometheus' text format, for node_exporter's textfile collector
/// (`metrics_file`), written whole after every run: built beside the file, then renamed
/// over it, so the collector never reads half a file.
///
/// Everything comes from the ledger, so the counters keep counting across runs and a
/// restarted job loses nothing: per organisation, the last run and last success (as Unix
/// times), the last run's duration and result, rows received and rejected and deliveries by
/// outcome (counters since the organisation's first delivery; a held delivery's rows are
/// counted once it is applied), and deliveries held for an operator now.
/// Labels are organisation ids and outcomes only.
enum MetricsFile {
    static func write(_ database: PortalDatabase, organisations: [String], to path: String) throws {
        let text = try database.read { db in try render(db, organisations: organisations) }
        let url = URL(fileURLWithPath: path)
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try Data(text.utf8).write(to: partial)
            let handle = try FileHandle(forWritingTo: partial)
            try handle.synchronize()
            try handle.close()
            guard rename(partial.path, url.path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw DropFolderError(location: url.deletingLastPathComponent().path, operation: "write \(url.lastPathComponent)",
                                  reason: "cannot write the metrics file (\(error.localizedDescription))")
        }
    }

    static func render(_ db: any StoreSession, organisations: [String]) throws -> String {
        let registry = PrometheusCollectorRegistry()
        let known = Set(organisations)
        func gauge(_ name: String, unit: String = "", _ help: String, _ labels: [(String, String)]) -> Gauge {
            registry.makeGauge(descriptor: named(name, unit: unit, help: help), labels: labels)
        }
        func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
            registry.makeCounter(descriptor: named(name, unit: "total", help: help), labels: labels)
        }
        for row in try StoreRow.fetchAll(db, sql: "SELECT * FROM organisation_runs ORDER BY organisation_id") {
            let id: String = row["organisation_id"]
            guard known.contains(id) else { continue }
            let labels = [("organisation", id)]
            if let at = JobClock.parseISO(row["last_run_at"]) {
                gauge("last_run", unit: "timestamp_seconds", "When the organisation was last run (Unix time).", labels)
                    .set(at.timeIntervalSince1970)
            }
            gauge("last_run_ok", "1 when the organisation's last run succeeded, else 0.", labels)
                .set(Int64((row["last_run_ok"] as Bool) ? 1 : 0))
            if let text = row["last_success_at"] as String?, let at = JobClock.parseISO(text) {
                gauge("last_success", unit: "timestamp_seconds", "When the organisation's last successful run ended (Unix time).",
                      labels).set(at.timeIntervalSince1970)
            }
            gauge("run_duration", unit: "seconds", "How long the organisation's last run took.", labels)
                .set(row["last_duration_seconds"] as Double)
        }
        for row in try StoreRow.fetchAll(db, sql: """
            SELECT d.organisation_id AS id, SUM(c.received) AS received, SUM(c.rejected) AS rejected
            FROM delivery_counts c JOIN deliveries d ON d.id = c.delivery_id
            WHERE d.outcome NOT IN ('duplicate', 'discarded', 'held') GROUP BY d.organisation_id ORDER BY 1
            """) where known.contains(row["id"]) {
            let labels = [("organisation", row["id"] as String)]
            counter("rows_received", "Rows received in the organisation's deliveries.", labels).increment(by: row["received"] as Int64)
            counter("rows_rejected", "Rows rejected in the organisation's deliveries.", labels).increment(by: row["rejected"] as Int64)
        }
        for row in try StoreRow.fetchAll(db, sql: """
            SELECT organisation_id AS id, outcome, COUNT(*) AS n FROM deliveries GROUP BY 1, 2 ORDER BY 1, 2
            """) where known.contains(row["id"]) {
            counter("deliveries", "Deliveries answered, by outcome.", [("organisation", row["id"]), ("outcome", row["outcome"])])
                .increment(by: row["n"] as Int64)
        }
        for id in organisations {
            let held = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM holds WHERE organisation_id = ? AND state = 'held'",
                                          arguments: [id]) ?? 0
            gauge("held_deliveries", "Deliveries held for an operator now.", [("organisation", id)]).set(held)
        }
        return registry.emitToString()
    }

    private static func named(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rosterdrop", metricName: name, unitName: unit, helpText: help)
    }
}
