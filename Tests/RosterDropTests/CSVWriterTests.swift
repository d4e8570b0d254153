import Testing
@testable import RosterDrop

struct CSVWriterTests {
    @Test func plainFieldsAreNotQuoted() {
        #expect(CSVWriter.line(["id", "Åsa Öberg", "", "a b"]) == "id,Åsa Öberg,,a b\r\n")
        #expect(CSVWriter.line([]) == "\r\n")
    }

    @Test func fieldsThatNeedQuotesAreQuoted() {
        #expect(CSVWriter.line(["x,y", "say \"hi\"", "a\nb", "c\rd", "e\r\nf", "\""])
            == "\"x,y\",\"say \"\"hi\"\"\",\"a\nb\",\"c\rd\",\"e\r\nf\",\"\"\"\"\r\n")
    }

    @Test func quotingFollowsTheDelimiter() {
        #expect(CSVWriter.line(["1,5", "x;y", "z"], delimiter: ";") == "1,5;\"x;y\";z\r\n")
        #expect(CSVWriter.line(["a\tb", "c"], delimiter: "\t") == "\"a\tb\"\tc\r\n")
    }

    @Test func quoteFollowedByACombiningMarkIsStillDoubled() {
        #expect(CSVWriter.line(["a\"\u{301}b"]) == "\"a\"\"\u{301}b\"\r\n")
    }

    @Test func awkwardFieldsSurviveARoundTripThroughTheReader() {
        let rows: [[String]] = [
            ["id", "name", "note"],
            ["1", "Ann \"The Hammer\" Berg", "x,y"],
            ["2", "", "line one\r\nline two\nline three"],
            ["3", "\"", "\"\""],
            ["4", " leading and trailing ", "=SUM(A1)"],
            ["5", "Åsa 😀 é\u{301}", "\r"],
            ["6", ",", ""],
        ]
        let text = rows.map { CSVWriter.line($0) }.joined()
        let expectedLines = [1, 2, 3, 6, 7, 8, 9]
        let expected = zip(expectedLines, rows).map { CSVEvent.record(CSVRecord(line: $0, fields: $1)) }
        #expect(readCSVEvents(text) == expected)
        #expect(readCSVEvents(text, chunks: [1]) == expected)

        let semicolonText = rows.map { CSVWriter.line($0, delimiter: ";") }.joined()
        #expect(readCSVEvents(semicolonText, chunks: [2, 3], delimiter: UInt8(ascii: ";")) == expected)
    }
}
