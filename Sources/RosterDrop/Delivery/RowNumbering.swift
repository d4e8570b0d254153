/// Numbers the rows of one kind across the files that make them, and finds a row's file
/// and physical line again for findings.
///
/// Staging and the in-memory checks identify a row by one number. With one file per kind
/// (the Skolon layout) that number is simply the row's line. When several files make a
/// kind (a students file and a teachers file), each file's lines are offset past the one
/// before; when a record becomes several rows (`split:`), its line is shifted left to make
/// room for the value's position. Row numbers stay below 2³¹ (`DeliveryIndex` packs them).
final class RowNumbering: @unchecked Sendable {
    struct Segment: Sendable {
        var start: Int
        var file: String
        /// The mapping's name for the file (`files:`), to find the feed that read it.
        var source = ""
        /// Bits left for a record's values (0: one row per record).
        var shift: Int

        func row(line: Int, part: Int = 0) -> Int { start + (line << shift | part) }
    }

    static let limit = 1 << 31
    /// Values one cell may split into (`split:`), so a row number has room for them.
    static let partsPerRecord = 1 << 8

    private var segments: [EntityKind: [Segment]] = [:]
    private var next: [EntityKind: Int] = [:]

    /// Opens the next file of `kind`.
    func begin(_ kind: EntityKind, file: String, source: String = "", splits: Bool) -> Segment {
        let segment = Segment(start: next[kind] ?? 0, file: file, source: source, shift: splits ? 8 : 0)
        segments[kind, default: []].append(segment)
        return segment
    }

    /// Closes the file `segment` numbers, whose last line was `lastLine`.
    func end(_ kind: EntityKind, _ segment: Segment, lastLine: Int) {
        next[kind] = segment.row(line: lastLine + 1)
    }

    /// The file and physical line of `kind`'s row `row`.
    func locate(_ kind: EntityKind, _ row: Int) -> (file: String, line: Int) {
        guard let segment = segments[kind]?.last(where: { $0.start <= row }) else { return ("", row) }
        return (segment.file, (row - segment.start) >> segment.shift)
    }

    /// The delivered name of the file `source` made `kind`'s rows from, when it was read.
    func file(of kind: EntityKind, source: String) -> String? {
        segments[kind]?.first { $0.source == source }?.file
    }

    /// `rows` shown as lines for a finding's detail: bare when one file holds them all.
    func describe(_ kind: EntityKind, _ rows: [Int]) -> String {
        let places = rows.prefix(10).map { locate(kind, $0) }
        let oneFile = Set(places.map(\.file)).count <= 1
        let shown = places.map { oneFile ? String($0.line) : "\($0.file):\($0.line)" }
        return shown.joined(separator: ", ") + (rows.count > 10 ? ", …" : "")
    }
}
