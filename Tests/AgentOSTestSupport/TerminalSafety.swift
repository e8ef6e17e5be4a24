/// The tests' oracle for text that reaches a terminal, written from Unicode properties and the
/// escape-sequence grammar rather than from the sanitiser's tables (TextSanitizer is judged by it).
///
/// A scalar is unsafe in a terminal cell when it is not a glyph of a width the console and the
/// terminal agree on, the line that tmux and ratatui-style renderers draw:
/// - control (Cc): C0, DEL, C1 (ESC, CSI 0x9B, NEL…) drive the terminal;
/// - format (Cf): bidi embeddings/overrides/isolates and marks, soft hyphen, zero-width characters,
///   BOM, tags U+E0000–E007F: invisible, reorder or hide what is around them;
/// - line/paragraph separator (Zl, Zp, U+2028/2029): line breaks to some terminals and to copy-paste;
/// - surrogate, private use (Co), unassigned (Cn, noncharacters included): no width both sides know.
/// Variation selectors and combining marks (Mn) stay: they join their base in one cell, and
/// DisplayWidth, not the sanitiser, answers for the width of the result.
public enum TerminalSafety {
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        let p = scalar.properties
        switch p.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: return true
        default: return p.isBidiControl || p.isNoncharacterCodePoint
        }
    }

    public static func unsafeScalars(_ text: String) -> [Unicode.Scalar] {
        text.unicodeScalars.filter(isUnsafe)
    }

    /// Scalars that trip the oracle, for fuzz inputs (each in one category above).
    public static let hostileScalars: [Unicode.Scalar] = [
        "\u{1B}", "\u{9B}", "\u{85}", "\u{7F}", "\u{0}", "\u{AD}", "\u{200D}", "\u{202E}", "\u{2066}", "\u{2069}", "\u{061C}", "\u{FEFF}",
        "\u{2028}", "\u{2029}", "\u{E0001}", "\u{E0041}", "\u{E007F}", "\u{E000}", "\u{F0000}", "\u{10FFFD}", "\u{0378}",
        "\u{110BD}", "\u{1D173}", "\u{0600}", Unicode.Scalar(0xFFFF)!, Unicode.Scalar(0xFDD0)! // literals may not hold noncharacters
    ]

    /// What a curses renderer may write for `xterm-256color`: cursor motion, erase, SGR and the
    /// alternate screen and keypad modes, plus CR, LF, BS and TAB. Anything else (OSC, DCS, APC, PM,
    /// SOS, RIS, a report request, a C1 control, another C0 control, invalid UTF-8, a printed scalar
    /// the oracle calls unsafe) came from the text. Returns one line per violation.
    public static func outputViolations(_ bytes: [UInt8]) -> [String] {
        guard let text = String(validating: bytes, as: UTF8.self) else { return ["the output is not valid UTF-8"] }
        let s = Array(text.unicodeScalars)
        var out: [String] = []
        func context(_ i: Int) -> String { String(String.UnicodeScalarView(s[max(0, i - 8)..<min(s.count, i + 24)])).debugDescription }
        var i = 0
        while i < s.count {
            let c = s[i]
            switch c.value {
            case 0x1B:
                guard i + 1 < s.count else {
                    out.append("a lone ESC at the end")
                    i += 1
                    continue
                }
                let next = s[i + 1]
                if next == "[" {
                    var j = i + 2
                    var params = ""
                    while j < s.count, (0x30...0x3F).contains(s[j].value) {
                        params.unicodeScalars.append(s[j])
                        j += 1
                    }
                    guard j < s.count, (0x40...0x7E).contains(s[j].value) else {
                        out.append("a malformed CSI at \(i): \(context(i))")
                        i = j
                        continue
                    }
                    if !allowedCSI(params: params, final: Character(s[j])) {
                        out.append("CSI \(params.debugDescription) \(s[j]) at \(i): \(context(i))")
                    }
                    i = j + 1
                } else if next == "(" || next == ")" {
                    if i + 2 >= s.count || !["B", "0"].contains(s[i + 2]) { out.append("a charset designation at \(i): \(context(i))") }
                    i += 3
                } else {
                    if !["7", "8", "=", ">", "M"].contains(next) { out.append("ESC \(next.escaped(asASCII: true)) at \(i): \(context(i))") }
                    i += 2
                }
            case 0x0D, 0x0A, 0x08, 0x09: i += 1
            default:
                if isUnsafe(c) { out.append("U+\(String(c.value, radix: 16, uppercase: true)) at \(i): \(context(i))") }
                i += 1
            }
        }
        return out
    }

    static func allowedCSI(params: String, final: Character) -> Bool {
        let numeric = params.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ";") }
        switch final {
        case "m", "H", "J", "K", "A", "B", "C", "D", "E", "F", "G", "d", "X", "P", "@", "L", "M", "S", "T", "b", "r": return numeric
        case "h", "l": return ["?1", "?7", "?12", "?25", "?1049", "4"].contains(params) // keypad, autowrap, cursor, alternate screen, insert
        case "t": return params == "22;0;0" || params == "23;0;0" // xterm's smcup/rmcup save and restore the title
        default: return false
        }
    }
}
