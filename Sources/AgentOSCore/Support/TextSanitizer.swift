/// Makes untrusted text (job names, errors, log lines, config values, worker names, banner text)
/// safe to draw on a terminal: every control and format character becomes a visible escape.
///
/// - C0 controls (U+0000–001F) except those a layout chooses to keep → `^@`…`^_` style is ambiguous
///   with real carets, so they are shown as `\x1b`-style hex escapes; TAB becomes spaces when asked.
/// - DEL (U+007F) and C1 controls (U+0080–009F, including the single-byte CSI 0x9B) → `\x7f`, `\x9b`.
/// - Bidi controls and other invisible format characters (U+200B–200F, U+202A–202E, U+2060–2064,
///   U+2066–2069, U+FEFF, U+061C) → `<U+202E>`.
/// - Invalid UTF-8 bytes → `\xff`.
/// The result never contains ESC, a C1 control or a bidi override, whatever the input.
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

    /// True when the scalar must not reach the terminal as is.
    public static func isUnsafe(_ v: UInt32) -> Bool {
        switch v {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069, 0xFEFF, 0x061C, 0x180E: return true
        case 0xFFF9...0xFFFB: return true // interlinear annotation controls
        default: return false
        }
    }

    static func append(_ scalar: Unicode.Scalar, to out: inout String.UnicodeScalarView, _ options: Options) {
        let v = scalar.value
        guard isUnsafe(v) else { out.append(scalar); return }
        switch v {
        case 0x0A where options.keepNewlines: out.append(scalar)
        case 0x09:
            if let width = options.tabWidth { out.append(contentsOf: String(repeating: " ", count: width).unicodeScalars) }
            else { out.append(contentsOf: "\\t".unicodeScalars) }
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
