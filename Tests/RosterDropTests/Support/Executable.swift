import Foundation

/// Runs one of the package's built executables and captures what it printed.
struct Executable {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    let url: URL

    init(url: URL) {
        self.url = url
    }

    /// Finds `name` beside the test bundle, or in the package's debug build folder.
    init(_ name: String) throws {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [
            besideTests.appendingPathComponent(name),
            besideTests.deletingLastPathComponent().appendingPathComponent(name),
            TestDrop.repository.appendingPathComponent(".build/debug/\(name)"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw ExecutableMissing(name: name)
        }
        url = found
    }

    struct ExecutableMissing: Error, CustomStringConvertible {
        var name: String
        var description: String { "\(name) is not built; run `swift build` (make test does) first" }
    }

    func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting, so a chatty process cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
