import AgentOSCore
import Foundation
import Testing

/// `JSONTree.parse` (FastJSONParser's tape, D82) gives the trees Foundation's `JSONDecoder` gives through
/// `JSONTree.init(from:)`, the former implementation, and refuses bad input naming the byte.
@Suite struct JSONTreeParseTests {
    /// The former `JSONTree.parse`.
    static func foundation(_ bytes: [UInt8]) throws -> JSONTree {
        try JSONDecoder().decode(JSONTree.self, from: Data(bytes))
    }

    static func parseError(_ bytes: [UInt8]) -> FastJSONSyntaxError? {
        do {
            _ = try JSONTree.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        #"{"a": [1, -2, 3.5, -0.25, 1.5e3, true, false, null, "x"], "b": {}, "c": [], "d": {"e": {"f": [[]]}}}"#,
        #"  {"esc": "q\" b\\ s\/ \b\f\n\r\t", "u": "\u00e9\u4e2d\ud83d\ude00 \uD834\uDD1E", "raw": "é中😀", "big": 123456789012345678901234}  "#,
        #"[0, 10, -10, 9223372036854775807, -9223372036854775808, 9223372036854775808, 1.0e-3, "", " "]"#,
        // Whole numbers written as fractions or with exponents are Ints; the rest Doubles.
        #"[2.0, 1.5e3, 1e2, 0.1e1, -0, -0.0, -0.0e5, 0e-999, 1e18, 1.0e19, 1.0000000000000000000001, 9007199254740993.0]"#,
        #"[0.5, 1e-320, 4.9e-324, 2.5e-324, 12345678901234567e3, 1e300]"#,
        // Too small for a Double: Foundation's integer path reads 0.
        #"[1e-400, -2e-400, 1.5e-400, 123e-400]"#,
        // Duplicate keys (the first wins) and trailing commas, as Foundation.
        #"{"a": 1, "a": 2, "b": {"c": "x", "c": [1]}, "d": [1, 2,], "e": {"f": 1,},}"#,
        "{\"na\\u006de\": \"\\u0000\", \"tab\": \"a\\tb\"}",
        "\u{FEFF}{\"bom\": true}"
    ])
    func parsesAsFoundation(_ text: String) throws {
        let bytes = Array(text.utf8)
        #expect(try JSONTree.parse(bytes) == (try Self.foundation(bytes)))
    }

    @Test func utf16TextParsesAsFoundation() throws {
        for encoding: String.Encoding in [.utf16LittleEndian, .utf16BigEndian] {
            let bytes = Array(#"{"é": [1, 2.5, "😀"]}"#.data(using: encoding)!)
            #expect(try JSONTree.parse(bytes) == (try Self.foundation(bytes)))
            #expect(try JSONTree.parse(bytes) == .object(["é": .array([.int(1), .double(2.5), .string("😀")])]))
        }
    }

    @Test func treesHaveTheExpectedCases() throws {
        let tree = try JSONTree.parse(
            Array(#"{"n": [2, 2.0, 1.5e3, 2.5, -0.0], "s": "\ud83d\ude00\n", "a": 1, "a": 2, "x": [null, true, false]}"#.utf8))
        #expect(tree["n"] == .array([.int(2), .int(2), .int(1500), .double(2.5), .int(0)]))
        #expect(tree["s"] == .string("😀\n"))
        #expect(tree["a"] == .int(1))
        #expect(tree["x"] == .array([.null, .bool(true), .bool(false)]))
    }

    @Test func nestingIsLimitedTo512Levels() throws {
        let deepest = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(try JSONTree.parse(Array(deepest.utf8)) == (try Self.foundation(Array(deepest.utf8))))
        let tooDeep = Array((String(repeating: "[", count: 513) + String(repeating: "]", count: 513)).utf8)
        #expect(throws: (any Error).self) { try Self.foundation(tooDeep) }
        let error = try #require(Self.parseError(tooDeep))
        #expect(error.offset == 512)
        #expect(error.description.contains("byte 512"), "\(error)")
    }

    /// Refused, as Foundation refuses them, with the byte where it broke.
    @Test(arguments: [
        ("", 0), ("{", 1), ("{\"a\" 1}", 5), ("tru", 3), ("nul", 3), ("01", 1), ("-", 1), ("\"abc", 0), ("\"\\x\"", 2),
        ("\"\\ud800\"", 7), ("\"\\udc00\"", 1), ("[1] 2", 4), ("{1: 2}", 1), ("[1e400]", 1), ("{\"a\": -1E400}", 6), ("[1,,2]", 3)
    ])
    func badJSONIsRefusedNamingTheByte(_ text: String, _ offset: Int) throws {
        let bytes = Array(text.utf8)
        #expect(throws: (any Error).self) { try Self.foundation(bytes) }
        let error = try #require(Self.parseError(bytes), "\(text) was accepted")
        #expect(error.offset == offset, "\(text): \(error)")
        #expect(error.description.hasSuffix("(byte \(offset))"), "\(error)")
    }

    @Test func invalidUTF8IsRefusedNamingTheByte() throws {
        for (bytes, offset) in [([0x22, 0xFF, 0xFE, 0x22], 1), ([0x5B, 0x22, 0x61, 0xC3, 0x28, 0x22, 0x5D], 3), ([0x22, 0xED, 0xA0, 0x80, 0x22], 1)]
            as [([UInt8], Int)]
        {
            #expect(throws: (any Error).self) { try Self.foundation(bytes) }
            let error = try #require(Self.parseError(bytes))
            #expect(error.offset == offset, "\(bytes): \(error)")
            #expect(error.description.contains("UTF-8"), "\(error)")
        }
    }

    /// Text after the value is refused (Foundation lets a trailing NUL through; this parser does not).
    @Test func textAfterTheValueIsRefused() throws {
        let error = try #require(Self.parseError([0x31, 0x20, 0x00]))
        #expect(error.offset == 2)
        let garbage = try #require(Self.parseError(Array(#"{"a": 1} x"#.utf8)))
        #expect(garbage.offset == 9)
        #expect(garbage.description.contains("after top-level value"), "\(garbage)")
    }
}
