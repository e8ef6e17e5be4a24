import AgentOSCore
import Foundation
import Testing

/// Issue 18 item 2 (D64): one sanitiser, the same visible form on every sink.
@Suite struct SanitiserSinkTests {
    /// OSC 52 (set the clipboard), as a forged bus field would carry it, with a C1 CSI and a bidi override.
    static let osc52 = "q\u{1b}]52;c;ZXZpbA==\u{07}\u{9b}2J\u{202E}gpj"
    static let osc52Shown = "q\\x1b]52;c;ZXZpbA==\\x07\\x9b2J<U+202E>gpj"

    @Test func controlsC1AndBidiBecomeVisibleEscapes() {
        #expect(TextSanitizer.clean(Self.osc52) == Self.osc52Shown)
        #expect(TextSanitizer.clean("a\u{0}b\u{7f}c\u{85}d") == "a\\x00b\\x7fc\\x85d")
        for bidi: Unicode.Scalar in [
            "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}", "\u{2066}", "\u{2067}", "\u{2068}", "\u{2069}", "\u{200E}", "\u{200F}",
            "\u{061C}"
        ] {
            let hex = String(bidi.value, radix: 16, uppercase: true)
            #expect(TextSanitizer.clean("x\(bidi)y") == "x<U+\(String(repeating: "0", count: 4 - hex.count))\(hex)>y")
        }
    }

    /// (A zero-width joiner is a format character: an emoji ZWJ sequence shows its `<U+200D>`.)
    @Test func printableUnicodeStaysAsItIs() {
        for text in ["渲染队列 ジョブ 작업", "done ✅ 🎬🎞️ 👍🏽", "naïve café – “quoted”", "עברית ومرحبا"] {
            #expect(TextSanitizer.clean(text) == text)
            let json = Array(CanonicalJSON.object(["k": .string(text)]).utf8)
            #expect((try? TextSanitizer.cleanJSON(json)) == json, "\(text)")
        }
    }

    /// A `--json` field stays valid JSON, decodes to the visible form, and holds no control byte,
    /// whether the encoder escaped the ESC (`\u001b`) or wrote a C1 or bidi character raw.
    @Test func jsonFieldsDecodeToTheVisibleForm() throws {
        let encoded = try JSONSerialization.data(
            withJSONObject: ["name": Self.osc52, Self.osc52: [1.5, "plain", true], "n": 3] as [String: Any], options: [.sortedKeys])
        let cleaned = try TextSanitizer.cleanJSON(Array(encoded))
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(cleaned)) as? [String: Any])
        #expect(decoded["name"] as? String == Self.osc52Shown)
        #expect((decoded[Self.osc52Shown] as? [Any])?.count == 3 && decoded["n"] as? Int == 3)
        let text = try #require(String(validating: cleaned, as: UTF8.self))
        #expect(text.unicodeScalars.allSatisfy { !TextSanitizer.isUnsafe($0.value) })
        #expect(!text.contains("\\u001b"), "an escaped ESC decodes to a raw one")
        #expect(throws: FastJSONSyntaxError.self) { try TextSanitizer.cleanJSON(Array("{\"a\":".utf8)) }
    }
}
