import Foundation
import Logging

/// Files that answer something — a delivery, an integration start, a notice — built locally
/// before they are committed.
struct Answer {
    /// What is answered: `delivery`, `integration_start`, `accounts_at_risk`, `discard`.
    var kind: String
    var deliveryID: Int64?
    /// Each file's wanted name (`receipt_<ts>.csv`) and where it was built.
    var files: [(name: String, local: URL)]
    /// Inbox files to move to the archive once the files are published.
    var archive: [String] = []
}

/// Publishes answers exactly once.
///
/// An answer is stored in the same transaction as what it answers, with its files and the
/// names they will have — the first names free in the outbox and among answers still
/// waiting — and is published after the commit: each file put under exactly its name, the
/// inbound files archived, and the answer marked published. A run stopped anywhere in
/// between publishes what is left on the next run; a file already under its name was
/// published by the stopped run, and is not published twice (no `-2` copy).
struct AnswerOffice {
    let organisation: String
    let folder: any DropFolder
    let logger: Logger?

    /// Stores `answer` inside the caller's transaction; returns its id and final names.
    func store(_ answer: Answer, db: any StoreSession, at now: String) throws -> (id: Int64, names: [String]) {
        let names = try freeNames(answer.files.map(\.name), db: db)
        let id = try db.insertReturningID(sql: """
            INSERT INTO answers (organisation_id, delivery_id, kind, created_at, archive) VALUES (?, ?, ?, ?, ?) RETURNING id
            """, arguments: [organisation, answer.deliveryID, answer.kind, now, answer.archive.joined(separator: "\n")])
        for (position, (file, name)) in zip(answer.files, names).enumerated() {
            let content = try Data(contentsOf: file.local, options: .alwaysMapped)
            try db.execute(sql: "INSERT INTO answer_files (answer_id, position, name, content) VALUES (?, ?, ?, ?)",
                           arguments: [id, position, name, content])
        }
        return (id, names)
    }

    /// The first suffix (`-2`, `-3`, …) under which every wanted name is free: in the outbox,
    /// and among the files of answers not yet published.
    private func freeNames(_ wanted: [String], db: any StoreSession) throws -> [String] {
        var taken = Set(try folder.list(.outbox).map(\.name))
        taken.formUnion(try String.fetchAll(db, sql: """
            SELECT f.name FROM answer_files f JOIN answers a ON a.id = f.answer_id
            WHERE a.organisation_id = ? AND a.published_at IS NULL
            """, arguments: [organisation]))
        for attempt in 1...10_000 {
            let names = wanted.map { DropFileName.candidate($0, attempt: attempt) }
            if names.allSatisfy({ !taken.contains($0) }) { return names }
        }
        throw DropFolderError(location: folder.location, operation: "publish \(wanted.first ?? "")", reason: "no free name")
    }

    /// Publishes every answer of the organisation still waiting, oldest first; returns the
    /// names of the files they published.
    @discardableResult
    func publishPending(_ database: PortalDatabase, scratch: URL, at now: () -> String) throws -> [Int64: [String]] {
        let pending = try database.read { db in
            try StoreRow.fetchAll(db, sql: """
                SELECT id, delivery_id, archive FROM answers WHERE organisation_id = ? AND published_at IS NULL ORDER BY id
                """, arguments: [organisation])
        }
        var published: [Int64: [String]] = [:]
        for row in pending {
            let id: Int64 = row["id"]
            let deliveryID: Int64? = row["delivery_id"]
            let archive = (row["archive"] as String).split(separator: "\n").map(String.init)
            let files = try database.read { db in
                try StoreRow.fetchAll(db, sql: "SELECT name, content FROM answer_files WHERE answer_id = ? ORDER BY position",
                                      arguments: [id]).map { ($0["name"] as String, $0["content"] as Data) }
            }
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            var names: [String] = []
            for (name, content) in files {
                let local = scratch.appendingPathComponent("answer-\(id)-\(name)")
                do {
                    try content.write(to: local)
                } catch {
                    throw DropFolderError(location: scratch.path, operation: "write \(name)", reason: "cannot write the answer locally")
                }
                defer { try? FileManager.default.removeItem(at: local) }
                if !(try folder.place(local, as: name, in: .outbox)) {
                    logger?.info("answer already published", metadata: ["organisation": "\(organisation)", "file": "\(name)"])
                }
                names.append(name)
            }
            FaultPoint.hit("answer-published")
            var archived: [String] = []
            for name in archive { archived.append(try folder.archive(name)) }
            let stamp = now()
            try database.write { db in
                try db.execute(sql: "UPDATE answers SET published_at = ? WHERE id = ?", arguments: [stamp, id])
                try db.execute(sql: "DELETE FROM answer_files WHERE answer_id = ?", arguments: [id])
                if let deliveryID {
                    try db.execute(sql: "UPDATE deliveries SET answered_at = ? WHERE id = ? AND answered_at IS NULL",
                                   arguments: [stamp, deliveryID])
                }
                try Retention.placed(organisation: organisation, area: .outbox, names: names, at: stamp, db)
                try Retention.placed(organisation: organisation, area: .archive, names: archived, at: stamp, db)
            }
            published[id] = names
        }
        return published
    }

    /// Publishes `answer` at once, recording nothing (dry runs), under names free in the
    /// outbox and not reserved by an answer still waiting: a dry run must never take the
    /// name a stopped run's answer will be published under.
    func publishNow(_ answer: Answer, db: any StoreSession) throws -> [String] {
        let names = try freeNames(answer.files.map(\.name), db: db)
        return try zip(answer.files, names).map { file, name in
            try folder.publish(file.local, as: name, in: .outbox)
        }
    }
}
