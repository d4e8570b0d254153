import Foundation
import GRDB
@testable import RosterDrop
@testable import RosterDropSamples

/// The demo's story set up as `make demo` sets it up — samples, the shipped config, the
/// catalogue and the portal before the integration — in a temporary folder.
final class DemoRun {
    let root: URL
    let demo: DemoSummary
    let configPath: String
    let database: String

    /// `extraConfig` is appended to the shipped config's organisations.
    init(extraConfig: String = "") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        demo = try DemoSamples.write(to: root)
        let config = try String(contentsOf: TestDrop.repository.appendingPathComponent("samples/config.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "../mappings/", with: TestDrop.repository.path + "/mappings/") + extraConfig
        configPath = root.appendingPathComponent("config.yaml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        database = root.appendingPathComponent("portal.sqlite").path
        _ = try ProductCatalogue.importCSV(at: demo.productsFile.path, into: PortalDatabase(path: database))
        let before = try String(contentsOf: demo.portalBeforeFile, encoding: .utf8)
        try DatabaseQueue(path: database).write { try $0.execute(sql: before) }
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// The demo's later delivery, put in exempel-kommun's inbox (manifest last) as demo.sh does.
    func deliverLater() throws {
        let later = root.appendingPathComponent("later/exempel-kommun")
        let inbox = root.appendingPathComponent("drop/exempel-kommun/inbox")
        let names = try FileManager.default.contentsOfDirectory(atPath: later.path).sorted { a, _ in !a.hasPrefix("manifest_") }
        for name in names {
            try FileManager.default.copyItem(at: later.appendingPathComponent(name), to: inbox.appendingPathComponent(name))
        }
    }

    /// The Excel sheets mailed in, uploaded to skolan-excel's inbox with their dates, as demo.sh does.
    func uploadSheets() throws {
        let mailed = root.appendingPathComponent("mailed-in/skolan-excel")
        let inbox = root.appendingPathComponent("drop/skolan-excel/inbox")
        for name in try FileManager.default.contentsOfDirectory(atPath: mailed.path) where name.hasSuffix(".csv") {
            let source = mailed.appendingPathComponent(name)
            let target = inbox.appendingPathComponent(name)
            try FileManager.default.copyItem(at: source, to: target)
            let date = try FileManager.default.attributesOfItem(atPath: source.path)[.modificationDate]
            try FileManager.default.setAttributes([.modificationDate: date as Any], ofItemAtPath: target.path)
        }
    }

    var storyPerson: String {
        get throws {
            try String(contentsOf: root.appendingPathComponent("story-person.txt"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    func outbox(_ organisation: String) -> URL { root.appendingPathComponent("drop/\(organisation)/outbox") }
}
