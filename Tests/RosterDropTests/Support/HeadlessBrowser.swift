import Foundation

/// A real headless Chromium (Debian's `chromium`, installed by `make test`), started per
/// page with its own profile folder and stopped when the page is read.
struct HeadlessBrowser {
    let executable: URL

    struct Missing: Error, CustomStringConvertible {
        var description: String { "no chromium on PATH: `make test` installs Debian's chromium package" }
    }

    struct Failed: Error, CustomStringConvertible {
        var status: Int32
        var stderr: String
        var description: String { "chromium exited \(status): \(stderr.suffix(2000))" }
    }

    init() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let names = ["chromium", "chromium-browser", "google-chrome"]
        let found = path.split(separator: ":").flatMap { folder in names.map { "\(folder)/\($0)" } }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let found else { throw Missing() }
        executable = URL(fileURLWithPath: found)
    }

    /// The page at `url` (fragment included) as the browser's DOM after its scripts ran.
    func dom(_ url: URL, fragment: String? = nil) throws -> String {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        var address = url.absoluteString
        if let fragment { address += "#" + fragment }
        // A container's /dev/shm is small: Chromium's shared memory goes to /tmp instead.
        var arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                         "--user-data-dir=\(profile.path)", "--dump-dom"]
        arguments.append(address)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read both pipes while it runs, so a large page cannot fill one and stall it.
        nonisolated(unsafe) var errorText = Data()
        let reader = Thread { errorText = errors.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: timer)
        let dom = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        while !reader.isFinished { usleep(1000) }
        guard process.terminationStatus == 0 else {
            throw Failed(status: process.terminationStatus, stderr: String(decoding: errorText, as: UTF8.self))
        }
        return String(decoding: dom, as: UTF8.self)
    }
}

/// Reading a dumped DOM: just enough to find the report's marked elements.
enum DOM {
    /// The text of each element whose opening tag has `attribute="value"`, keyed by value.
    static func values(_ dom: String, attribute: String) -> [String: String] {
        captures(dom, "<[a-z]+[^>]*\\b\(attribute)=\"([^\"]*)\"[^>]*>([^<]*)<")
    }

    /// `first`'s value to `second`'s, for each tag holding both, in this order.
    static func pairs(_ dom: String, _ first: String, _ second: String) -> [String: String] {
        captures(dom, "\\b\(first)=\"([^\"]*)\"[^>]*\\b\(second)=\"([^\"]*)\"")
    }

    /// The first capture group of every match of `pattern`, to its second.
    private static func captures(_ dom: String, _ pattern: String) -> [String: String] {
        let expression = try! NSRegularExpression(pattern: pattern)
        var found: [String: String] = [:]
        for match in expression.matches(in: dom, range: NSRange(dom.startIndex..., in: dom)) {
            guard let key = Range(match.range(at: 1), in: dom), let value = Range(match.range(at: 2), in: dom) else { continue }
            found[String(dom[key])] = String(dom[value])
        }
        return found
    }

    /// The opening tags of the rows of the table `id`'s body.
    static func rows(_ dom: String, table id: String) -> [String] {
        guard let start = dom.range(of: "<table id=\"\(id)\""),
              let body = dom.range(of: "<tbody>", range: start.upperBound..<dom.endIndex),
              let end = dom.range(of: "</tbody>", range: body.upperBound..<dom.endIndex) else { return [] }
        let pattern = try! NSRegularExpression(pattern: "<tr[^>]*>")
        let text = String(dom[body.upperBound..<end.lowerBound])
        return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range, in: text).map { String(text[$0]) }
        }
    }

    /// The rows of table `id` the page shows (no `hidden` attribute).
    static func shownRows(_ dom: String, table id: String) -> [String] {
        rows(dom, table: id).filter { !$0.contains(" hidden") }
    }
}
