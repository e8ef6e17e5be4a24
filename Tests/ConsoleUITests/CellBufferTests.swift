import AgentOSCore
import AgentOSTestSupport
import Testing

@testable import ConsoleUI

@Suite struct CellBufferTests {
    @Test func putClipsAndHandlesWideCharacters() {
        var b = CellBuffer(width: 10, height: 2)
        #expect(b.put("ab中文xyz!!", x: 0, y: 0) == 10)
        #expect(b.row(0) == "ab中文xyz!")
        #expect(b[3, 0].continuation && b[5, 0].continuation)
        // A wide character that does not fit in the last column is not split.
        #expect(b.put("123456789中", x: 0, y: 1) == 9)
        #expect(b.row(1) == "123456789 ")
        // Overwriting the second half of a wide character blanks the first half.
        b.put("Z", x: 3, y: 0)
        #expect(b.row(0) == "ab Z文xyz!")
    }

    @Test func combiningMarksJoinTheirBase() {
        var b = CellBuffer(width: 6, height: 1)
        b.put("e\u{301}x", x: 0, y: 0)
        #expect(b[0, 0].character == "e\u{301}" && b[1, 0].character == "x")
    }

    /// Regression (RELIABILITY check 11, fuzzed job names): a zero-width character that does not
    /// combine with the cell before it crashed `put` ("Can't form a Character from a String
    /// containing more than one extended grapheme cluster"). Every scalar after every kind of base.
    @Test func aZeroWidthCharacterThatDoesNotCombineNeverCrashes() {
        var b = CellBuffer(width: 8, height: 1)
        let zeroWidth = (UInt32(0x20)...0x3FFFF).compactMap { v -> Unicode.Scalar? in
            guard let scalar = Unicode.Scalar(v), !TextSanitizer.isUnsafe(v), DisplayWidth.of(scalar) == 0 else { return nil }
            return scalar
        }
        for base in ["a", "中", "\u{1F600}", "e\u{301}", "\u{0E01}", "\u{1100}", "\u{AC00}"] {
            for scalar in zeroWidth {
                let v = scalar.value
                b.put(base + String(scalar) + "z", x: 0, y: 0)
                #expect(b.row(0).contains("z"), "\(base) U+\(String(v, radix: 16))")
            }
        }
        #expect(zeroWidth.count > 100)
    }

    @Test func everyPutIsSanitized() {
        var b = CellBuffer(width: 60, height: 1)
        b.put("job\u{1b}]52;c;aGk=\u{07}\u{9b}31m\u{202e}evil", x: 0, y: 0)
        let text = b.row(0)
        #expect(TerminalSafety.unsafeScalars(text).isEmpty)
        #expect(text.hasPrefix("job\\x1b]52;c;aGk=\\x07\\x9b31m<U+202E>evil"))
    }

    @Test func truncationUsesTheEllipsisOfTheGlyphSet() {
        var u = CellBuffer(width: 8, height: 1)
        u.put("abcdefghijk", in: Rect(x: 0, y: 0, width: 8, height: 1))
        #expect(u.row(0) == "abcdefg…")
        var a = CellBuffer(width: 8, height: 1, glyphs: .ascii)
        a.put("abcdefghijk", in: Rect(x: 0, y: 0, width: 8, height: 1), align: .right)
        #expect(a.row(0) == "abcdefg~")
        a.put("ab", in: Rect(x: 0, y: 0, width: 8, height: 1), align: .right)
        #expect(a.row(0) == "      ab")
    }

    @Test func boxAndStyleRuns() {
        var b = CellBuffer(width: 12, height: 3)
        b.box(b.bounds, title: "Jobs")
        #expect(b.text() == "┌─ Jobs ───┐\n│          │\n└──────────┘")
        #expect(b.styleRuns().contains("0 2-7 title+bold"), "\(b.styleRuns())")
        var a = CellBuffer(width: 6, height: 2, glyphs: .ascii)
        a.box(a.bounds)
        #expect(a.text() == "+----+\n+----+")
    }

    @Test func changesListOnlyWhatDiffers() {
        var a = CellBuffer(width: 5, height: 2)
        a.put("hello", x: 0, y: 0)
        var b = a
        b.put("J", x: 0, y: 1, Style(.danger))
        let diff = b.changes(since: a)
        #expect(diff.count == 1 && diff[0].x == 0 && diff[0].y == 1 && diff[0].cell.style.fg == .danger)
        #expect(b.changes(since: nil).count == 10)
        #expect(b.changes(since: CellBuffer(width: 4, height: 2)).count == 10, "a resize redraws everything")
    }

    @Test func rectSplits() {
        let r = Rect(x: 0, y: 0, width: 80, height: 24)
        let cols = Layout.horizontal([.fill(1), .fill(1), .fill(2)]).spacing(1).split(r)
        #expect(cols.map(\.width) == [20, 19, 39] && cols[1].x == 21 && cols[2].x == 41)
        let parts = Layout.vertical([.length(3), .fill(1)]).split(r)
        #expect(parts[0].height == 3 && parts[1].y == 3 && parts[1].height == 21)
        #expect(r.centered(width: 40, height: 10) == Rect(x: 20, y: 7, width: 40, height: 10))
    }
}

@Suite struct SanitizerTests {
    static let corpus: [[UInt8]] = [
        Array("\u{1b}[31mred\u{1b}[0m".utf8), // CSI
        Array("\u{1b}]0;title\u{07}".utf8), // OSC 0
        Array("\u{1b}]8;;http://x\u{1b}\\link".utf8), // OSC 8 hyperlink
        Array("\u{1b}]52;c;ZXZpbA==\u{07}".utf8), // OSC 52 clipboard
        Array("\u{1b}P1$r\u{1b}\\".utf8), // DCS
        [0x9b, 0x33, 0x31, 0x6d], // single-byte CSI (invalid UTF-8 alone)
        Array("\u{9b}31m".utf8), // C1 CSI as a code point
        Array("bell\u{07}cr\rnul\u{0}".utf8),
        Array("abc\u{202E}txt.exe".utf8), // RLO
        Array("\u{2066}\u{2067}\u{2068}\u{2069}".utf8), // isolates
        Array("zero\u{200B}width\u{FEFF}".utf8),
        Array("line\u{2028}para\u{2029}soft\u{AD}".utf8), // separators, soft hyphen
        Array("tag\u{E0001}\u{E0041}\u{E007F}".utf8), // tag characters
        Array("\u{E000}\u{F0000}\u{0378}".utf8) + [0xEF, 0xBF, 0xBF, 0xEF, 0xB7, 0x90], // private use, unassigned, noncharacters U+FFFF, U+FDD0
        [0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82], // invalid UTF-8
        [0xed, 0xa0, 0x80], // an encoded surrogate
        [0xc0, 0x80] // overlong NUL
    ]

    @Test(arguments: corpus)
    func corpusComesOutVisible(input: [UInt8]) {
        let out = TextSanitizer.clean(bytes: input)
        #expect(TerminalSafety.unsafeScalars(out).isEmpty, "\(out)")
        #expect(!out.utf8.contains(0x1b) && !out.utf8.contains(0x9b) && !out.utf8.contains(0x07))
    }

    @Test func visibleFormsAreReadable() {
        #expect(TextSanitizer.clean("a\u{1b}[2Jb") == "a\\x1b[2Jb")
        #expect(TextSanitizer.clean("x\u{202E}y") == "x<U+202E>y")
        #expect(TextSanitizer.clean(bytes: [0x61, 0xff, 0x62]) == "a\\xffb")
        #expect(TextSanitizer.clean("l1\nl2\tend") == "l1\\nl2    end")
        #expect(TextSanitizer.clean("l1\nl2", .multiLine) == "l1\nl2")
        #expect(TextSanitizer.clean("plain ascii stays") == "plain ascii stays")
        #expect(TextSanitizer.clean("ünïcødé 中文 ✓") == "ünïcødé 中文 ✓")
    }

    @Test func randomInputNeverLeaksControls() {
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        for _ in 0..<20_000 {
            let bytes = (0..<Int(next() % 40)).map { _ in UInt8(truncatingIfNeeded: next()) }
            let out = TextSanitizer.clean(bytes: bytes)
            #expect(TerminalSafety.unsafeScalars(out).isEmpty, "\(bytes) -> \(out.debugDescription)")
        }
    }

    /// Every Unicode scalar, alone and between letters: the ones the Unicode-property oracle calls
    /// unsafe come out as an escape free of unsafe scalars, every other one unchanged.
    @Test func everyScalarIsEscapedExactlyWhenTheOracleSaysUnsafe() {
        var escaped = 0
        var kept = 0
        var wrong: [String] = []
        for v in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(v) else { continue }
            let text = "a" + String(scalar) + "b"
            let out = TextSanitizer.clean(text, .init(keepNewlines: false, tabWidth: nil))
            if TerminalSafety.isUnsafe(scalar) {
                escaped += 1
                if out == text || !TerminalSafety.unsafeScalars(out).isEmpty {
                    wrong.append("U+\(String(v, radix: 16, uppercase: true)) -> \(out.debugDescription)")
                }
            } else {
                kept += 1
                if out != text { wrong.append("U+\(String(v, radix: 16, uppercase: true)) changed to \(out.debugDescription)") }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) scalars disagree with the oracle, e.g. \(wrong.prefix(8))")
        #expect(escaped > 800_000 && kept > 140_000, "escaped \(escaped), kept \(kept)")
    }
}
