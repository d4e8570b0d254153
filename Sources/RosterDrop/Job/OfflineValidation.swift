import Foundation
import Logging

/// `rosterdrop validate`: files a school mailed in, checked exactly as a run would check
/// them — the same reader, rules and reject report — with no portal database and no drop
/// folder. A throwaway folder holds a scratch database and an inbox for the one delivery.
public struct OfflineValidation {
    public var mappings: URL
    /// The files, each with the mapping's name for it when the caller gave one
    /// (`users=elever.csv`; in a version-1 mapping the names are the kinds).
    public var files: [(name: String?, url: URL)]
    /// The skolenhetskoder rows may name; empty: not checked.
    public var schoolUnits: [String]
    /// A `product_id,title` catalogue; nil: products are not checked.
    public var products: String?
    /// Where the reject report goes; nil: beside the first file.
    public var out: URL?

    public init(mappings: URL, files: [(name: String?, url: URL)], schoolUnits: [String] = [], products: String? = nil,
                out: URL? = nil) {
        self.mappings = mappings
        self.files = files
        self.schoolUnits = schoolUnits
        self.products = products
        self.out = out
    }

    /// What the files hold, for the one-screen summary.
    public struct Result: Sendable, Codable {
        /// Per kind: rows received, accepted, rejected.
        public var rows: [String: EntityCounts]
        /// Per rule: how many findings, and where the first ones are (`file:line`).
        public var findings: [String: Int]
        public var examples: [String: [String]]
        /// The reject report written, when there were findings.
        public var report: String?
        public var outcome: DeliveryOutcome
        /// Where the data comes from, as messages name it (the mapping's `source:`).
        public var source: String?
    }

    /// The stamp the files are read under: deliveries are named by it, reports show the
    /// files' own names.
    static let stamp = "20000101T000000Z"

    public func run() throws -> Result {
        var mapping = try Mapping.load(folder: mappings)
        mapping.delivery.manifest = nil
        mapping.delivery.stableSeconds = 0
        mapping.delivery.required = []
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("rosterdrop-validate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let inbox = work.appendingPathComponent("drop/inbox")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        var originalNames: [String: String] = [:]
        var given: Set<String> = []
        for (named, url) in files {
            if let named, mapping.source(named) == nil {
                throw ValidationInputError(message: "'\(named)' is not one of the mapping's files (\(mapping.sources.map(\.name).joined(separator: ", ")))")
            }
            guard let source = named.flatMap(mapping.source) ?? self.source(of: url.lastPathComponent, in: mapping) else {
                throw ValidationInputError(message: """
                    which file is \(url.lastPathComponent)? Name it like the mapping's files \
                    (\(mapping.sources.map(\.pattern).joined(separator: ", "))) or pass NAME=FILE \
                    (names: \(mapping.sources.map(\.name).joined(separator: ", ")))
                    """)
            }
            let name = source.fileName(timestamp: Self.stamp)
            if let other = originalNames[name] {
                throw ValidationInputError(message: "\(other) and \(url.lastPathComponent) are both \(source.name) files: give one file of each")
            }
            originalNames[name] = url.lastPathComponent
            given.insert(source.name)
            try copy(url, to: inbox.appendingPathComponent(name), gzip: source.gzip)
        }
        let database = work.appendingPathComponent("portal.sqlite").path
        let portal = try PortalDatabase(path: database)
        if let products { _ = try ProductCatalogue.importCSV(at: products, into: portal) }
        var organisation = OrganisationConfiguration(id: "validate", schoolUnits: schoolUnits.isEmpty ? ["00000000"] : schoolUnits,
                                                     drop: .local(work.appendingPathComponent("drop").path), mapping: mapping)
        organisation.checksSchoolUnits = !schoolUnits.isEmpty
        organisation.checksProducts = products != nil
        let configuration = JobConfiguration(file: "validate", database: .sqlite(path: database), scratch: work.appendingPathComponent("scratch").path,
                                             timeZone: JobClock.defaultTimeZone, retention: RetentionPolicy(),
                                             organisations: [organisation])
        var quiet = Logger(label: "rosterdrop-validate")
        quiet.logLevel = .error
        let summary = try SyncJob(configuration: configuration, dryRun: true, logger: quiet).run()
        if let error = summary.organisations.first?.error { throw ValidationInputError(message: error) }
        guard let delivery = summary.organisations.first?.deliveries.first else {
            throw ValidationInputError(message: "no file was read")
        }
        let kinds = Set(mapping.feeds.filter { given.contains($0.source.name) }.map(\.kind.rawValue))
        var result = Result(rows: delivery.counts.filter { kinds.contains($0.key) }, findings: [:], examples: [:], report: nil,
                            outcome: delivery.outcome, source: mapping.delivery.sourceName)
        if let rejects = delivery.rejects {
            let report = try rewrite(work.appendingPathComponent("drop/outbox").appendingPathComponent(rejects),
                                     names: originalNames, result: &result)
            result.report = report.path
        }
        return result
    }

    /// The mapping's file whose name pattern the name fits, its timestamp ignored
    /// (`users_export.csv.gz` is a users file for `users_{ts}.csv.gz`).
    private func source(of name: String, in mapping: Mapping) -> SourceFile? {
        let fits = mapping.sources.filter { file in
            if file.isFixed { return name == file.pattern }
            let parts = file.pattern.components(separatedBy: "{ts}")
            let suffix = parts.count > 1 ? parts[1] : ""
            let bare = suffix.hasSuffix(".gz") ? String(suffix.dropLast(3)) : suffix
            return name.hasPrefix(parts[0]) && (name.hasSuffix(suffix) || (!bare.isEmpty && name.hasSuffix(bare)))
        }
        return fits.count == 1 ? fits[0] : nil
    }

    /// Copies a file into the inbox, gzip'd when the mapping reads gzip and it is not.
    private func copy(_ source: URL, to target: URL, gzip: Bool) throws {
        guard let handle = FileHandle(forReadingAtPath: source.path) else {
            throw ValidationInputError(message: "\(source.path) cannot be read")
        }
        defer { try? handle.close() }
        let magic = try handle.read(upToCount: 2) ?? Data()
        try handle.seek(toOffset: 0)
        if !gzip || magic == Data([0x1F, 0x8B]) {
            try FileManager.default.copyItem(at: source, to: target)
            return
        }
        let writer = try GzipWriter(path: target.path)
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            try chunk.withUnsafeBytes { try writer.write($0) }
        }
        try writer.close()
    }

    /// Writes the reject report with the files' own names, never over an existing file, and
    /// counts its findings by rule.
    private func rewrite(_ report: URL, names: [String: String], result: inout Result) throws -> URL {
        let rows = try CSVReader.records(atPath: report.path, limit: 1 << 32)
        let folder = out ?? files[0].url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let first = files[0].url.lastPathComponent
        let base = "rejects_\(first.split(separator: ".").first.map(String.init) ?? first)"
        var target = folder.appendingPathComponent("\(base).csv.gz")
        var attempt = 1
        while FileManager.default.fileExists(atPath: target.path) {
            attempt += 1
            target = folder.appendingPathComponent("\(base)-\(attempt).csv.gz")
        }
        let writer = try GzipWriter(path: target.path)
        for (index, row) in rows.enumerated() {
            var cells = row
            if index > 0, !cells.isEmpty {
                cells[0] = names[cells[0]] ?? cells[0]
                let rule = cells.count > 4 ? cells[4] : ""
                result.findings[rule, default: 0] += 1
                if result.examples[rule, default: []].count < 3 {
                    result.examples[rule, default: []].append(cells[1].isEmpty ? cells[0] : "\(cells[0]):\(cells[1])")
                }
            }
            // Cells were neutralised when the report was written; they are written back as read.
            try writer.write(CSVWriter.line(cells))
        }
        try writer.close()
        return target
    }
}

/// Files given to `validate` that cannot be taken as a delivery.
public struct ValidationInputError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
