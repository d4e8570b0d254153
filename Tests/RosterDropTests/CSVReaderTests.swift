import Testing
@testable import RosterDrop

/// A small deterministic generator (SplitMix64), so random chunkings repeat run to run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Reads `bytes` fed in pieces of the given lengths (cycled), returning every event.
func readCSVEvents(_ bytes: [UInt8], chunks: [Int] = [], delimiter: UInt8 = UInt8(ascii: ","),
             encoding: TextEncoding = .utf8) -> [CSVEvent] {
    var reader = CSVReader(delimiter: delimiter, encoding: encoding)
    var events: [CSVEvent] = []
    var start = 0
    var chunkIndex = 0
    while start < bytes.count {
        let length = chunks.isEmpty ? bytes.count : chunks[chunkIndex % chunks.count]
        chunkIndex += 1
        let end = min(start + length, bytes.count)
        bytes[start..<end].withUnsafeBytes { reader.feed($0) { events.append($0) } }
        start = end
    }
    reader.finish { events.append($0) }
    return events
}

func readCSVEvents(_ text: String, chunks: [Int] = [], delimiter: UInt8 = UInt8(ascii: ",")) -> [CSVEvent] {
    readCSVEvents(Array(text.utf8), chunks: chunks, delimiter: delimiter)
}

private func record(_ line: Int, _ fields: String...) -> CSVEvent {
    .record(CSVRecord(line: line, fields: fields))
}

private func problem(_ line: Int, _ kind: CSVProblem.Kind) -> CSVEvent {
    .problem(CSVProblem(line: line, kind: kind))
}

/// A time limit turns a decoding loop that never ends into a failure instead of a hung run.
@Suite(.timeLimit(.minutes(1)))
struct CSVReaderTests {
    @Test func plainRecordsCarryTheirLineNumbers() {
        var reader = CSVReader()
        var events: [CSVEvent] = []
        Array("id,name\n1,Ada\n2,Bo\n".utf8).withUnsafeBytes { reader.feed($0) { events.append($0) } }
        reader.finish { events.append($0) }
        #expect(events == [record(1, "id", "name"), record(2, "1", "Ada"), record(3, "2", "Bo")])
        #expect(reader.header == ["id", "name"])
    }

    @Test func quotedFieldsHoldDelimitersQuotesAndEmptyValues() {
        let events = readCSVEvents("a,b,c\n\"x,y\",\"say \"\"hi\"\"\",\"\"\n,,\n")
        #expect(events == [record(1, "a", "b", "c"), record(2, "x,y", "say \"hi\"", ""), record(3, "", "", "")])
    }

    @Test func quotedNewlinesAdvanceTheLineCounter() {
        let text = "id,note\n1,\"two\nlines\"\n2,\"crlf\r\ninside\"\r\n3,plain\n"
        #expect(readCSVEvents(text) == [
            record(1, "id", "note"),
            record(2, "1", "two\nlines"),
            record(4, "2", "crlf\r\ninside"),  // the line break inside quotes is data, kept as is
            record(6, "3", "plain"),
        ])
    }

    @Test func crlfLineEndsAndAFinalRecordWithoutLineEnd() {
        #expect(readCSVEvents("a,b\r\n1,2\r\n3,4") == [record(1, "a", "b"), record(2, "1", "2"), record(3, "3", "4")])
        #expect(readCSVEvents("a,b\r\n1,\"2\"") == [record(1, "a", "b"), record(2, "1", "2")])
        #expect(readCSVEvents("a,b\r\n1,2\r") == [record(1, "a", "b"), record(2, "1", "2")])
        #expect(readCSVEvents("a,b\n1,") == [record(1, "a", "b"), record(2, "1", "")])
    }

    @Test func aCarriageReturnNotBeforeALineFeedIsData() {
        #expect(readCSVEvents("a,b\nx\ry,z\n") == [record(1, "a", "b"), record(2, "x\ry", "z")])
    }

    @Test func emptyLinesAreSkippedButCounted() {
        let text = "\na,b\n\n\r\n1,2\n\n\n3,4\n\n"
        #expect(readCSVEvents(text) == [record(2, "a", "b"), record(5, "1", "2"), record(8, "3", "4")])
        // A quoted empty field is a record, not an empty line.
        #expect(readCSVEvents("a\n\"\"\n\nb\n") == [record(1, "a"), record(2, ""), record(4, "b")])
    }

    @Test func byteOrderMarkIsSkipped() {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("id,namn\n1,Åsa\n".utf8)
        let expected = [record(1, "id", "namn"), record(2, "1", "Åsa")]
        #expect(readCSVEvents(bytes) == expected)
        #expect(readCSVEvents(bytes, chunks: [1]) == expected)
        #expect(readCSVEvents(bytes, chunks: [2, 5]) == expected)
        // Only at the very start: later it is an ordinary (zero-width) character.
        #expect(readCSVEvents(Array("a\n\u{FEFF}b\n".utf8)) == [record(1, "a"), record(2, "\u{FEFF}b")])
    }

    @Test func partialByteOrderMarkIsParsedAsData() {
        // EF BB followed by something else is not a BOM, and not valid UTF-8 either.
        let bytes: [UInt8] = [0xEF, 0xBB, 0x41, 0x0A, 0x42, 0x0A]
        #expect(readCSVEvents(bytes, chunks: [1]) == [problem(1, .invalidEncoding), record(2, "B")])
        #expect(readCSVEvents([0xEF], chunks: [1]) == [problem(1, .invalidEncoding)])
        // Windows-1252 shows the same bytes as text.
        #expect(readCSVEvents([0xEF, 0xBB, 0x41], chunks: [1], encoding: .windows1252) == [record(1, "ï»A")])
    }

    @Test func wrongCellCountIsAProblemInsteadOfARecord() {
        let events = readCSVEvents("a,b,c\n1,2,3\n1,2\n1,2,3,4\n\"x,y\",2,3\n")
        #expect(events == [
            record(1, "a", "b", "c"),
            record(2, "1", "2", "3"),
            problem(3, .wrongCellCount(expected: 3, found: 2)),
            problem(4, .wrongCellCount(expected: 3, found: 4)),
            record(5, "x,y", "2", "3"),
        ])
    }

    @Test func strayQuoteInAnUnquotedFieldSkipsTheLine() {
        let events = readCSVEvents("a,b\n1,2\"x\",y\n3,4\n")
        #expect(events == [record(1, "a", "b"), problem(2, .strayQuote), record(3, "3", "4")])
    }

    @Test func textAfterAClosingQuoteIsAStrayQuote() {
        let events = readCSVEvents("a,b\n\"1\"x,2\n\"3\" ,4\n\"5\"\r6\n7,8\r\n")
        #expect(events == [
            record(1, "a", "b"),
            problem(2, .strayQuote),
            problem(3, .strayQuote),
            problem(4, .strayQuote),  // a bare CR after the closing quote is not a line end
            record(5, "7", "8"),
        ])
    }

    @Test func strayQuoteInAMultiLineRecordIsReportedWhereTheRecordStarts() {
        let events = readCSVEvents("a,b\n\"one\ntwo\"oops,x\n1,2\n")
        #expect(events == [record(1, "a", "b"), problem(2, .strayQuote), record(4, "1", "2")])
    }

    @Test func unclosedQuoteIsOneProblemAtTheRecordsFirstLine() {
        let events = readCSVEvents("a,b\n1,2\n3,\"never closed\n4,5\n6,7\n")
        #expect(events == [record(1, "a", "b"), record(2, "1", "2"), problem(3, .unclosedQuote)])
        #expect(readCSVEvents("a\n\"") == [record(1, "a"), problem(2, .unclosedQuote)])
    }

    @Test func invalidUTF8IsAProblemForThatRecordOnly() {
        let bytes = Array("a,b\n".utf8) + [0xC3, 0x28, 0x2C, 0x78, 0x0A] + Array("\"é\",ok\n".utf8)
            + [0xE2, 0x82, 0x0A]  // a sequence cut short by the line end
            + Array("z,\"q\"\n".utf8)
        let events = readCSVEvents(bytes)
        #expect(events == [
            record(1, "a", "b"),
            problem(2, .invalidEncoding),
            record(3, "é", "ok"),
            problem(4, .invalidEncoding),
            record(5, "z", "q"),
        ])
    }

    @Test func overlongFormsSurrogatesAndOutOfRangeAreInvalidUTF8() {
        let invalid: [[UInt8]] = [
            [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0x80], [0xFF], [0xE2, 0x82],
        ]
        for bytes in invalid {
            #expect(readCSVEvents(Array("h\n".utf8) + bytes + [0x0A]) == [record(1, "h"), problem(2, .invalidEncoding)])
        }
        let valid = "\u{7F}\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFD}\u{FFFF}\u{10000}\u{10FFFF}"
        #expect(readCSVEvents("h\n\(valid)\n") == [record(1, "h"), record(2, valid)])
    }

    @Test func utf8CheckAgreesWithTheStandardLibrary() {
        var generator = SeededGenerator(state: 7)
        // Bytes drawn mostly from lead and continuation ranges, to hit the edge cases often.
        let alphabet: [UInt8] = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
                                 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF]
        var disagreements = 0
        var validSeen = 0
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            if expected { validSeen += 1 }
            if bytes.withUnsafeBufferPointer(CSVReader.isValidUTF8) != expected { disagreements += 1 }
        }
        #expect(disagreements == 0)
        #expect(validSeen > 500)  // both outcomes well represented
    }

    @Test func multiByteCharactersSplitAcrossChunks() {
        let text = "namn,ort\nÅsa,Göteborg 😀\n€,\"ß,ü\"\n"
        let expected = [record(1, "namn", "ort"), record(2, "Åsa", "Göteborg 😀"), record(3, "€", "ß,ü")]
        for chunks in [[1], [2], [3], [5, 1, 2]] {
            #expect(readCSVEvents(text, chunks: chunks) == expected)
        }
    }

    @Test func windows1252SwedishLettersAndEuroSign() {
        // "förnamn;ort\nÅsa;Västerås\nÖrjan;pris 5 €\n" as Excel writes it in a Swedish locale.
        let bytes: [UInt8] = Array("f".utf8) + [0xF6] + Array("rnamn;ort\n".utf8)
            + [0xC5] + Array("sa;V".utf8) + [0xE4] + Array("ster".utf8) + [0xE5] + Array("s\n".utf8)
            + [0xD6] + Array("rjan;pris 5 ".utf8) + [0x80, 0x0A]
        let events = readCSVEvents(bytes, chunks: [3], delimiter: UInt8(ascii: ";"), encoding: .windows1252)
        #expect(events == [record(1, "förnamn", "ort"), record(2, "Åsa", "Västerås"), record(3, "Örjan", "pris 5 €")])
    }

    @Test func windows1252UsesTheWholeTable() {
        let c1: [UInt8] = [0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8E,
                           0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9E, 0x9F]
        let bytes = c1 + [0x2C, 0xA0, 0xA9, 0xFF, 0x0A]
        #expect(readCSVEvents(bytes, encoding: .windows1252) == [record(1, "‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ", "\u{A0}©ÿ")])
    }

    @Test func windows1252UndefinedBytesAreInvalid() {
        for undefined: UInt8 in [0x81, 0x8D, 0x8F, 0x90, 0x9D] {
            let bytes = Array("a\n".utf8) + [0x78, undefined, 0x0A] + Array("b\n".utf8)
            #expect(readCSVEvents(bytes, encoding: .windows1252) == [record(1, "a"), problem(2, .invalidEncoding), record(3, "b")])
        }
    }

    @Test func firstRecordProblemLeavesHeaderToTheNextGoodRecord() {
        var reader = CSVReader()
        var events: [CSVEvent] = []
        Array("a,\"b\"x\nc,d\n1,2\n".utf8).withUnsafeBytes { reader.feed($0) { events.append($0) } }
        reader.finish { events.append($0) }
        #expect(events == [problem(1, .strayQuote), record(2, "c", "d"), record(3, "1", "2")])
        #expect(reader.header == ["c", "d"])
    }

    @Test func semicolonDelimiterLeavesCommasAlone() {
        #expect(readCSVEvents("a;b\n1,5;\"x;y\"\n", delimiter: UInt8(ascii: ";")) == [record(1, "a", "b"), record(2, "1,5", "x;y")])
    }

    @Test func emptyInputHasNoEvents() {
        #expect(readCSVEvents("").isEmpty)
        #expect(readCSVEvents("\n\r\n\n").isEmpty)
    }

    /// Every feature at once, so that any chunk boundary lands on something awkward.
    static let awkwardInput: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(
        "id,name,note\r\n1,\"Ann \"\"A\"\"\",\"x,y\"\r\n\r\n2,Bo,\"multi\r\nline\nnote\"\n3,\"\"\"\",\n"
            .utf8)
        + Array("4,bad\"quote,z\n5,\"closed\"x,z\r\n6,\"ok\",\"\"\r\n7,too,many,cells\n8,Åsa 😀,é\r\n".utf8)
        + [0x39, 0x2C, 0xFF, 0x2C, 0x7A, 0x0A]
        + Array("10,\"open\nnever \"\" closed".utf8)

    static let awkwardEvents: [CSVEvent] = [
        record(1, "id", "name", "note"),
        record(2, "1", "Ann \"A\"", "x,y"),
        record(4, "2", "Bo", "multi\r\nline\nnote"),
        record(7, "3", "\"", ""),
        problem(8, .strayQuote),
        problem(9, .strayQuote),
        record(10, "6", "ok", ""),
        problem(11, .wrongCellCount(expected: 3, found: 4)),
        record(12, "8", "Åsa 😀", "é"),
        problem(13, .invalidEncoding),
        problem(14, .unclosedQuote),
    ]

    @Test func wholeInputGivesTheExpectedEvents() {
        #expect(readCSVEvents(Self.awkwardInput) == Self.awkwardEvents)
    }

    @Test func oneByteAtATimeGivesIdenticalEvents() {
        #expect(readCSVEvents(Self.awkwardInput, chunks: [1]) == Self.awkwardEvents)
    }

    @Test(arguments: [1, 2, 3, 42, 2024])
    func randomChunkSizesGiveIdenticalEvents(seed: UInt64) {
        var generator = SeededGenerator(state: seed)
        let chunks = (0..<64).map { _ in Int.random(in: 1...9, using: &generator) }
        #expect(readCSVEvents(Self.awkwardInput, chunks: chunks) == Self.awkwardEvents)
    }

    @Test func everySplitPointGivesIdenticalEvents() {
        let input = Self.awkwardInput
        for split in 0...input.count {
            #expect(readCSVEvents(input, chunks: [max(split, 1), input.count]) == Self.awkwardEvents, "split at \(split)")
        }
    }
}

/// Control characters are noted while the bytes are scanned, whatever the chunk boundaries.
struct CSVControlCharacterTests {
    @Test func controlCharactersAreNotedPerRecordAtEverySplitPoint() {
        let text = "h1,h2\r\nplain,Åsa\r\na\u{0}b,c\r\n\"multi\nline\",d\r\ncr\rdata,e\r\nok,\u{7F}\r\nlast,row\r\n"
        let bytes = Array(text.utf8)
        for split in 1...bytes.count {
            let flags = readCSVEvents(bytes, chunks: [split]).compactMap { event -> Bool? in
                if case .record(let record) = event { return record.hasControlCharacters }
                return nil
            }
            #expect(flags == [false, false, true, true, true, true, false], "split \(split)")
        }
    }
}
