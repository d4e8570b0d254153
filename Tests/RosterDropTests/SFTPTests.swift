import Foundation
import Testing
@testable import RosterDrop

/// The pipeline over SFTP, against a real OpenSSH server on 127.0.0.1 started per test.
@Suite struct SFTPTests {
    static let first = "20261101T000000Z"

    /// A first delivery with a group, a membership and an order per user.
    static func deliverFirst(_ drop: TestDrop, org: String = "org1") throws {
        try drop.deliver(first, org: org, users: [Fixture.user("p1"), Fixture.user("p2", email: "bad-address")],
                         groups: [Fixture.group("g1")], memberships: ["g1,p1"],
                         orders: [Fixture.order("o1", person: "p1")])
    }

    @Test func theSpineRunsOverSFTP() throws {
        let server = try SSHServer()
        let drop = try TestDrop(remote: ["org1": { server.dropConfig(folder: $0.path) }])
        try Self.deliverFirst(drop)
        let summary = try drop.run()
        #expect(summary.organisations[0].error == nil)
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p1'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM memberships") == 1)
        // Reports were uploaded (under their final names, no temporary left) and the
        // delivery's files moved to archive/ on the server.
        #expect(drop.files("org1", "outbox") == ["receipt_\(Self.first).csv", "rejects_\(Self.first).csv.gz", "report_\(Self.first).html"])
        #expect(try drop.rejectRules(Self.first) == ["field.email"])
        #expect(drop.files("org1", "inbox").isEmpty)
        #expect(drop.files("org1", "archive").count == 5)
        // A replay of the same timestamp is answered, never overwriting the first receipt.
        try Self.deliverFirst(drop)
        let replay = try drop.run()
        #expect(replay.organisations[0].deliveries.map(\.outcome) == [.duplicate])
        #expect(drop.files("org1", "outbox").contains("receipt_\(Self.first)-2.csv"))
        #expect(drop.files("org1", "archive").count == 10)
    }

    @Test func anUnknownOrChangedHostKeyIsRefusedBeforeAnythingIsRead() throws {
        let server = try SSHServer()
        let wrong = try server.wrongKnownHosts()
        let empty = server.directory.appendingPathComponent("empty_known_hosts").path
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        for (knownHosts, says) in [(wrong, "does not match"), (empty, "is not in")] {
            let drop = try TestDrop(remote: ["org1": { server.dropConfig(folder: $0.path, knownHosts: knownHosts) }])
            try Self.deliverFirst(drop)
            let before = try drop.snapshot()
            let summary = try drop.run()
            let error = try #require(summary.organisations[0].error)
            #expect(error.contains(says))
            #expect(error.contains("127.0.0.1 port \(server.port)"))
            #expect(error.contains("ssh-ed25519 SHA256:"))
            #expect(try drop.snapshot(portalOnly: true) == before.components(separatedBy: "runs:")[0])
            #expect(drop.files("org1", "inbox").count == 5)
            #expect(drop.files("org1", "outbox").isEmpty)
        }
    }

    /// `internal-sftp -P rename`: the server refuses every rename, so no report can be put
    /// under its final name. The run says so; nothing is lost: the delivery is committed
    /// once, its files stay in the inbox, and once renames work it is answered, not applied again.
    @Test func renamesRefusedByTheServerLoseNothing() throws {
        let refusing = try SSHServer(sftpOptions: "-P rename")
        var drop = try TestDrop(remote: ["org1": { refusing.dropConfig(folder: $0.path) }])
        try Self.deliverFirst(drop)
        let summary = try drop.run()
        let error = try #require(summary.organisations[0].error)
        #expect(error.contains("rename"))
        #expect(drop.files("org1", "inbox").count == 5)
        #expect(drop.files("org1", "outbox").isEmpty, "no temporary upload is left behind")
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries WHERE answered_at IS NULL") == 1)
        let root = drop.root
        drop.removesRoot = false
        refusing.stop()

        // The same folder and database, now served by a server that allows renames.
        let server = try SSHServer()
        drop = try TestDrop(reusing: root, remote: ["org1": { server.dropConfig(folder: $0.path) }])
        let next = try drop.run()
        #expect(next.organisations[0].error == nil)
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts WHERE person_id = 'p1'") == 1)
        #expect(drop.files("org1", "inbox").isEmpty)
    }

    @Test func aServerThatIsDownIsReportedAndTheOtherOrganisationsStillRun() throws {
        let server = try SSHServer()
        let deadPort = try SSHServer.freePort()
        let drop = try TestDrop(organisations: [("org1", ["12345678"]), ("org2", ["45678901"]), ("org3", ["56789012"])],
                                remote: ["org1": { server.dropConfig(folder: $0.path, port: deadPort) },
                                         "org2": { server.dropConfig(folder: $0.path) }])
        try Self.deliverFirst(drop, org: "org1")
        for org in ["org2", "org3"] {
            try drop.deliver(Self.first, org: org, users: [Fixture.user("\(org)-p1", unit: org == "org2" ? "45678901" : "56789012")],
                             orders: [Fixture.order("\(org)-o1", person: "\(org)-p1")])
        }
        let summary = try drop.run()
        let byID = Dictionary(uniqueKeysWithValues: summary.organisations.map { ($0.id, $0) })
        let error = try #require(byID["org1"]?.error)
        #expect(error.contains("cannot connect to 127.0.0.1 port \(deadPort)"))
        #expect(error.contains("after 2 attempts"))
        #expect(byID["org2"]?.deliveries.map(\.outcome) == [.applied])
        #expect(byID["org3"]?.deliveries.map(\.outcome) == [.applied])
        #expect(drop.files("org1", "inbox").count == 5)
        #expect(!summary.succeeded)
    }

    /// A server that accepts the connection but never answers (SIGSTOP) is given up after the
    /// configured timeout instead of hanging the run.
    @Test func aHungServerTimesOut() throws {
        let server = try SSHServer()
        let drop = try TestDrop(remote: ["org1": { server.dropConfig(folder: $0.path) }])
        try Self.deliverFirst(drop)
        server.freeze()
        defer { server.stop() }
        let started = Date()
        let summary = try drop.run()
        let error = try #require(summary.organisations[0].error)
        #expect(error.contains("no answer within the timeout") || error.contains("handshake"))
        // connect_timeout 2 s, two attempts and a back-off: well under a minute, never stuck.
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(drop.files("org1", "inbox").count == 5)
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 0)
    }

    /// The manifest is written last: until it is there, the delivery's files (here one
    /// still half uploaded) are left alone; once it is, the delivery is applied.
    @Test func aDeliveryStillBeingUploadedWaitsForItsManifest() throws {
        let server = try SSHServer()
        let drop = try TestDrop(remote: ["org1": { server.dropConfig(folder: $0.path) }])
        try Self.deliverFirst(drop)
        let manifest = drop.inbox().appendingPathComponent("manifest_\(Self.first).csv")
        let saved = try Data(contentsOf: manifest)
        try FileManager.default.removeItem(at: manifest)
        let users = drop.inbox().appendingPathComponent("users_\(Self.first).csv.gz")
        let whole = try Data(contentsOf: users)
        try whole.prefix(whole.count / 2).write(to: users)
        let waiting = try drop.run()
        #expect(waiting.organisations[0].error == nil)
        #expect(waiting.organisations[0].deliveries.isEmpty)
        #expect(waiting.organisations[0].waiting == [Self.first])
        #expect(drop.files("org1", "outbox").isEmpty)
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries") == 0)
        try whole.write(to: users)
        try saved.write(to: manifest)
        let done = try drop.run()
        #expect(done.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        #expect(drop.files("org1", "inbox").isEmpty)
    }

    /// The link dies in the middle of a download, on every attempt: nothing is applied or
    /// archived. Once the link holds, the next run applies the delivery, once.
    @Test func aDownloadCutOffIsNeitherAppliedNorArchivedAndTheNextRunAppliesItOnce() throws {
        let server = try SSHServer()
        let proxy = try CuttingProxy(to: server.port, cutAfter: 48 * 1024)
        defer { proxy.close(); server.stop() }
        let knownHosts = try server.knownHosts(port: proxy.port)
        let drop = try TestDrop(remote: ["org1": { server.dropConfig(folder: $0.path, knownHosts: knownHosts, port: proxy.port) }])
        // Random names make a users file that gzip cannot squeeze under the cut.
        let people = (0..<4000).map { "p\($0)" }
        try drop.deliver(Self.first, users: people.map { Fixture.user($0, given: UUID().uuidString) },
                         orders: people.map { Fixture.order("o-\($0)", person: $0) })
        let usersFile = drop.inbox().appendingPathComponent("users_\(Self.first).csv.gz")
        let size = try FileManager.default.attributesOfItem(atPath: usersFile.path)[.size] as? Int ?? 0
        try #require(size > 64 * 1024)
        let cut = try drop.run()
        let error = try #require(cut.organisations[0].error)
        #expect(error.contains("fetch"))
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 0)
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries") == 0)
        #expect(drop.files("org1", "inbox").count == 3)
        #expect(drop.files("org1", "archive").isEmpty)
        #expect(drop.files("org1", "outbox").isEmpty)

        proxy.cutting = false
        let next = try drop.run()
        #expect(next.organisations[0].error == nil)
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM accounts") == 4000)
        let again = try drop.run()
        #expect(again.organisations[0].deliveries.isEmpty)
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries") == 1)
    }

    /// A source without manifests: a file counts as complete once its size and mtime have
    /// stayed the same for `stable_seconds`, measured by the job's clock across runs (the
    /// server's clock does not matter); a file still growing is left for a later run.
    @Test func withoutAManifestFilesAreTakenOnceTheyStopChanging() throws {
        let mapping = FileManager.default.temporaryDirectory.appendingPathComponent("mapping-\(UUID().uuidString)")
        try FileManager.default.copyItem(atPath: TestDrop.skolonMapping, toPath: mapping.path)
        defer { try? FileManager.default.removeItem(at: mapping) }
        try "version: 1\nstable_seconds: 60\nrequired: [users, distribution_orders]\n"
            .write(to: mapping.appendingPathComponent("delivery.yaml"), atomically: true, encoding: .utf8)
        let server = try SSHServer()
        let drop = try TestDrop(mapping: mapping.path, remote: ["org1": { server.dropConfig(folder: $0.path) }])
        try drop.deliver(Self.first, users: [Fixture.user("p1")], orders: [], manifest: false)
        let orders = drop.inbox().appendingPathComponent("distribution_orders_\(Self.first).csv.gz")
        let start = Date(timeIntervalSince1970: 1_795_000_000)
        func run(after seconds: Double) throws -> OrganisationSummary {
            try drop.run(at: start.addingTimeInterval(seconds)).organisations[0]
        }
        #expect(try run(after: 0).waiting == [Self.first], "first seen now")
        #expect(try run(after: 30).waiting == [Self.first], "stable for 30 s only")
        // The orders file is still being written: it grew, so its clock starts again.
        try TestDrop.gzip(TestDrop.ordersHeader + "\n" + Fixture.order("o1", person: "p1") + "\n").write(to: orders)
        #expect(try run(after: 70).waiting == [Self.first], "orders file changed since the last look")
        #expect(try run(after: 110).waiting == [Self.first], "stable for 40 s only")
        let done = try run(after: 131)
        #expect(done.error == nil)
        #expect(done.deliveries.map(\.outcome) == [.applied])
        #expect(try drop.count("SELECT COUNT(*) FROM licenses WHERE order_id = 'o1'") == 1)
        #expect(try drop.count("SELECT COUNT(*) FROM inbox_observations") == 2)
        _ = try run(after: 200)
        #expect(try drop.count("SELECT COUNT(*) FROM inbox_observations") == 0, "archived files are forgotten")
    }

    /// An outbox nobody may write into (an immutable directory, which stops root too): the
    /// run says so, and nothing is lost; once it is writable again the delivery is answered.
    @Test func aReadOnlyOutboxLosesNothing() throws {
        let server = try SSHServer()
        let drop = try TestDrop(remote: ["org1": { server.dropConfig(folder: $0.path) }])
        try Self.deliverFirst(drop)
        let outbox = drop.folder("org1", "outbox")
        try FileManager.default.createDirectory(at: outbox, withIntermediateDirectories: true)
        try #require(Self.chattr("+i", outbox.path), "chattr +i is needed to make a read-only outbox for root")
        defer { _ = Self.chattr("-i", outbox.path) }
        let summary = try drop.run()
        let error = try #require(summary.organisations[0].error)
        #expect(error.contains("publish rejects_\(Self.first).csv.gz"))
        #expect(error.contains("permission denied") || error.contains("refused"))
        #expect(drop.files("org1", "outbox").isEmpty)
        #expect(drop.files("org1", "inbox").count == 5)
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries WHERE answered_at IS NULL") == 1)
        #expect(Self.chattr("-i", outbox.path))
        let next = try drop.run()
        #expect(next.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        #expect(drop.files("org1", "outbox") == ["receipt_\(Self.first).csv", "rejects_\(Self.first).csv.gz", "report_\(Self.first).html"])
        #expect(try drop.count("SELECT COUNT(*) FROM deliveries") == 1)
    }

    private static func chattr(_ flag: String, _ path: String) -> Bool {
        var pid: pid_t = 0
        let arguments: [String] = ["/usr/bin/chattr", flag, path]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/usr/bin/chattr", nil, nil, argv, environ) == 0 else { return false }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return status == 0
    }

    /// A key with a passphrase: read from a file or an environment variable, never the config.
    @Test func aPassphraseComesFromAFileOrTheEnvironment() throws {
        let server = try SSHServer()
        let key = try server.encryptedIdentity(passphrase: "hemligt lösen")
        let good = server.directory.appendingPathComponent("passphrase").path
        try "hemligt lösen\n".write(toFile: good, atomically: true, encoding: .utf8)
        let bad = server.directory.appendingPathComponent("wrong-passphrase").path
        try "fel\n".write(toFile: bad, atomically: true, encoding: .utf8)
        func config(_ folder: URL, _ passphrase: String) -> String {
            """
                drop: sftp://\(server.user)@127.0.0.1:\(server.port)\(folder.path)
                sftp:
                  identity_file: \(key)
                  known_hosts: \(server.knownHosts)
                  \(passphrase)
                  retries: 0
            """
        }
        let wrong = try TestDrop(remote: ["org1": { config($0, "passphrase_file: \(bad)") }])
        try Self.deliverFirst(wrong)
        let refused = try #require(try wrong.run().organisations[0].error)
        #expect(refused.contains("refused the key"))
        #expect(!refused.contains("fel"), "the passphrase never appears in messages")
        let unset = try TestDrop(remote: ["org1": { config($0, "passphrase_env: ROSTERDROP_TEST_UNSET_PASSPHRASE") }])
        try Self.deliverFirst(unset)
        #expect(try unset.run().organisations[0].error?.contains("ROSTERDROP_TEST_UNSET_PASSPHRASE is not set") == true)
        let right = try TestDrop(remote: ["org1": { config($0, "passphrase_file: \(good)") }])
        try Self.deliverFirst(right)
        let summary = try right.run()
        #expect(summary.organisations[0].error == nil)
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
    }

    /// Remote names are data: a name with a control character or a leading dot is never
    /// listed, fetched or moved; the delivery next to it is processed as usual.
    @Test func unsafeRemoteNamesAreLeftAlone() throws {
        let server = try SSHServer()
        let drop = try TestDrop(remote: ["org1": { server.dropConfig(folder: $0.path) }])
        try Self.deliverFirst(drop)
        let odd = ["users_\(Self.first)\n.csv.gz", ".manifest_\(Self.first).csv", "x\u{7F}y"]
        for name in odd { try Data("x".utf8).write(to: drop.inbox().appendingPathComponent(name)) }
        let summary = try drop.run()
        #expect(summary.organisations[0].error == nil)
        #expect(summary.organisations[0].deliveries.map(\.outcome) == [.appliedWithRejects])
        #expect(Set(drop.files("org1", "inbox")) == Set(odd))
    }

    /// The state a lost rename answer leaves (the file already in archive/, gone from the
    /// inbox): archiving again is done, not an error that stops the organisation's run.
    @Test func archivingAFileAlreadyMovedIsDone() throws {
        let server = try SSHServer()
        let folder = server.directory.appendingPathComponent("drop")
        let drop = try server.dropFolder(folder)
        try Data("x".utf8).write(to: folder.appendingPathComponent("archive/users_1.csv"))
        #expect(try drop.archive("users_1.csv") == "users_1.csv")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("archive").path) == ["users_1.csv"])
    }

    /// A server that refuses fsync (`internal-sftp -P fsync`) still gets its report, under its
    /// final name, with no temporary file left; a refused upload leaves none either.
    @Test func publishingLeavesNoTemporaryFileBehind() throws {
        let local = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).csv")
        try Data(repeating: 65, count: 100_000).write(to: local)
        defer { try? FileManager.default.removeItem(at: local) }
        for (options, succeeds) in [("-P fsync", true), ("-P write", false)] {
            let server = try SSHServer(sftpOptions: options)
            let folder = server.directory.appendingPathComponent("drop")
            let outbox = folder.appendingPathComponent("outbox")
            let drop = try server.dropFolder(folder)
            let published = try? drop.publish(local, as: "receipt_1.csv", in: .outbox)
            #expect((published != nil) == succeeds, "\(options)")
            let left = try FileManager.default.contentsOfDirectory(atPath: outbox.path)
            #expect(left == (succeeds ? ["receipt_1.csv"] : []), "\(options): \(left)")
            if succeeds { #expect(try Data(contentsOf: outbox.appendingPathComponent("receipt_1.csv")) == Data(contentsOf: local)) }
        }
    }

    /// While the job works locally between SFTP steps, keepalives keep the connection from
    /// looking dead to firewalls: bytes flow through an idle connection every `keepalive`
    /// seconds, and none without them.
    @Test func keepalivesFlowOnAnIdleConnection() throws {
        let server = try SSHServer()
        let proxy = try CuttingProxy(to: server.port, cutAfter: 0)
        proxy.cutting = false
        defer { proxy.close(); server.stop() }
        let knownHosts = try server.knownHosts(port: proxy.port)
        let folder = server.directory.appendingPathComponent("drop")
        for (keepalive, flows) in [(1, true), (600, false)] {
            let drop = try server.dropFolder(folder, port: proxy.port, knownHosts: knownHosts, keepalive: keepalive)
            #expect(try drop.list(.inbox).isEmpty)
            let before = proxy.clientBytes
            Thread.sleep(forTimeInterval: 3.5)
            let idle = proxy.clientBytes - before
            #expect((idle > 0) == flows, "keepalive \(keepalive) s: \(idle) bytes sent while idle")
            #expect(try drop.list(.inbox).isEmpty)
        }
    }

    @Test func badSFTPSettingsAreConfigErrorsNamingTheKey() throws {
        let server = try SSHServer()
        let cases: [(String, String)] = [
            ("sftp://127.0.0.1/drop", "drop"),
            ("sftp://u@127.0.0.1:99999/drop", "drop"),
            ("sftp://u@127.0.0.1/../etc", "drop"),
        ]
        for (url, key) in cases {
            let error = #expect(throws: ConfigurationError.self) {
                _ = try TestDrop(remote: ["org1": { _ in
                    "    drop: \(url)\n    sftp:\n      identity_file: \(server.identityFile)\n      known_hosts: \(server.knownHosts)"
                }]).run()
            }
            #expect(error?.key?.hasSuffix(key) == true, "\(url)")
        }
        let missingKey = #expect(throws: ConfigurationError.self) {
            _ = try TestDrop(remote: ["org1": { _ in
                "    drop: sftp://u@127.0.0.1/drop\n    sftp:\n      identity_file: /nonexistent/key\n      known_hosts: \(server.knownHosts)"
            }]).run()
        }
        #expect(missingKey?.key?.hasSuffix("identity_file") == true)
        let noTrust = #expect(throws: ConfigurationError.self) {
            _ = try TestDrop(remote: ["org1": { _ in
                "    drop: sftp://u@127.0.0.1/drop\n    sftp:\n      identity_file: \(server.identityFile)"
            }]).run()
        }
        #expect(noTrust?.key?.hasSuffix("known_hosts") == true)
    }
}
