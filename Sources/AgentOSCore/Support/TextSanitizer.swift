/// Makes untrusted text (job names, errors, log lines, config values, worker names, banner text)
/// safe to draw on a terminal: every scalar that is not a plain glyph of known width becomes a
/// visible escape.
///
/// - C0 controls (U+0000–001F) except those a layout chooses to keep → `^@`…`^_` style is ambiguous
///   with real carets, so they are shown as `\x1b`-style hex escapes; TAB becomes spaces when asked.
/// - DEL (U+007F) and C1 controls (U+0080–009F, including the single-byte CSI 0x9B) → `\x7f`, `\x9b`.
/// - Format characters (Cf: soft hyphen, bidi marks, embeddings, overrides and isolates, zero-width
///   characters, BOM, tags U+E0000–E007F…), the line and paragraph separators (U+2028/2029),
///   private-use and unassigned scalars (no width a terminal and this console agree on) → `<U+202E>`.
/// - Invalid UTF-8 bytes → `\xff`.
/// The result never contains ESC, a C1 control or a bidi override, whatever the input. The tests
/// judge it by an oracle built from Unicode properties (AgentOSTestSupport/TerminalSafety.swift).
public enum TextSanitizer {
    public struct Options: Sendable {
        /// Keep newlines (multi-line panes handle them); otherwise `\n` is shown as `\n`.
        public var keepNewlines: Bool
        /// Spaces per TAB, or nil to show `\t`.
        public var tabWidth: Int?

        public init(keepNewlines: Bool = false, tabWidth: Int? = 4) {
            self.keepNewlines = keepNewlines
            self.tabWidth = tabWidth
        }

        public static let singleLine = Options()
        public static let multiLine = Options(keepNewlines: true)
    }

    /// Sanitises a string (already valid Unicode).
    public static func clean(_ text: String, _ options: Options = .singleLine) -> String {
        // Fast path: printable ASCII only.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { append(scalar, to: &out, options) }
        return String(out)
    }

    /// Sanitises raw bytes that may not be valid UTF-8.
    public static func clean(bytes: [UInt8], _ options: Options = .singleLine) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return clean(text, options) }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            if let (scalar, length) = decodeScalar(bytes, at: i) {
                append(scalar, to: &out, options)
                i += length
            } else {
                out.append(contentsOf: hexEscape(bytes[i]).unicodeScalars)
                i += 1
            }
        }
        return String(out)
    }

    /// True when the scalar must not reach the terminal as is: the ranges of Unicode 16's Cc, Cf,
    /// Zl, Zp and Co categories, and any scalar Unicode has not assigned.
    public static func isUnsafe(_ v: UInt32) -> Bool {
        switch v {
        case 0x00...0x1F, 0x7F...0x9F: return true // C0, DEL, C1
        case 0x00AD, 0x0600...0x0605, 0x061C, 0x06DD, 0x070F, 0x0890...0x0891, 0x08E2, 0x180E: return true // soft hyphen, Arabic, Mongolian
        case 0x200B...0x200F, 0x2028...0x202E, 0x2060...0x2064, 0x2066...0x206F: return true // zero-width, separators, bidi
        case 0xFEFF, 0xFFF9...0xFFFB: return true // BOM, interlinear annotation controls
        case 0x110BD, 0x110CD, 0x13430...0x1343F, 0x1BCA0...0x1BCA3, 0x1D173...0x1D17A: return true
        case 0xE0001, 0xE0020...0xE007F: return true // tags
        case 0xE000...0xF8FF, 0xF0000...0xFFFFD, 0x100000...0x10FFFD: return true // private use
        case 0xD800...0xDFFF, 0x110000...: return true // not scalars
        case 0x20...0x7E: return false
        default: return Unicode.Scalar(v)?.properties.generalCategory == .unassigned
        }
    }

    static func append(_ scalar: Unicode.Scalar, to out: inout String.UnicodeScalarView, _ options: Options) {
        let v = scalar.value
        guard isUnsafe(v) else {
            out.append(scalar)
            return
        }
        switch v {
        case 0x0A where options.keepNewlines: out.append(scalar)
        case 0x09:
            if let width = options.tabWidth {
                out.append(contentsOf: String(repeating: " ", count: width).unicodeScalars)
            } else {
                out.append(contentsOf: "\\t".unicodeScalars)
            }
        case 0x0A: out.append(contentsOf: "\\n".unicodeScalars)
        case 0x0D: out.append(contentsOf: "\\r".unicodeScalars)
        case 0x00...0x1F, 0x7F...0x9F: out.append(contentsOf: hexEscape(UInt8(v)).unicodeScalars)
        default:
            let hex = String(v, radix: 16, uppercase: true)
            out.append(contentsOf: "<U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex)>".unicodeScalars)
        }
    }

    static func hexEscape(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
    }

    /// Decodes one UTF-8 scalar strictly (no overlongs, no surrogates); nil if invalid.
    static func decodeScalar(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let c = b[i]
        if c < 0x80 { return (Unicode.Scalar(c), 1) }
        func cont(_ k: Int) -> UInt32? {
            guard i + k < b.count, b[i + k] & 0xC0 == 0x80 else { return nil }
            return UInt32(b[i + k] & 0x3F)
        }
        if c >= 0xC2 && c <= 0xDF, let c1 = cont(1) {
            return Unicode.Scalar(UInt32(c & 0x1F) << 6 | c1).map { ($0, 2) }
        }
        if c >= 0xE0 && c <= 0xEF, let c1 = cont(1), let c2 = cont(2) {
            let v = UInt32(c & 0x0F) << 12 | c1 << 6 | c2
            guard v >= 0x800 else { return nil }
            return Unicode.Scalar(v).map { ($0, 3) }
        }
        if c >= 0xF0 && c <= 0xF4, let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) {
            let v = UInt32(c & 0x07) << 18 | c1 << 12 | c2 << 6 | c3
            guard v >= 0x10000 && v <= 0x10FFFF else { return nil }
            return Unicode.Scalar(v).map { ($0, 4) }
        }
        return nil
    }
}
