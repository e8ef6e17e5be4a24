/// Text for a terminal without UTF-8 (`LANG=C`): every character becomes ASCII of the same width,
/// so a string is drawn in exactly the columns it was measured in. A terminal in such a locale
/// drops or mangles what it cannot encode, and a line one column short leaves debris of the frame
/// before (`·` in "5 rows · filtered" was dropped, moving the rest of the line left).
public enum ASCIIFallback {
    /// The characters the console writes itself, by their nearest ASCII look-alike.
    static let table: [Character: Character] = [
        "·": ".", "…": "~", "→": ">", "←": "<", "↑": "^", "↓": "v", "—": "-", "–": "-", "×": "x", "█": "#", "░": ".",
        "✓": "+", "✗": "x", "●": "*", "○": "o", "◆": "*", "▲": "^", "▼": "v", "⏸": "=", "│": "|", "─": "-", "┌": "+",
        "┐": "+", "└": "+", "┘": "+", "┬": "+", "┴": "+", "▁": "_", "▂": ".", "▃": "-", "▄": "=", "▅": "+", "▆": "*",
        "▇": "#", "‘": "'", "’": "'", "“": "\"", "”": "\"", "•": "*", "≥": ">", "≤": "<", "µ": "u", "°": "o"
    ]

    /// `text` in ASCII, column for column: known characters by their look-alike, others of one
    /// column as `?`, of two as `??`; zero-width ones (combining marks) are left out, as they take
    /// no column. Printable ASCII comes back as it is.
    public static func transliterate(_ text: String) -> String {
        if DisplayWidth.isPrintableASCII(text) { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            if c.isASCII {
                out.append(c)
                continue
            }
            switch DisplayWidth.of(c) {
            case 0: continue
            case 1: out.append(table[c] ?? "?")
            default: out.append("??")
            }
        }
        return out
    }
}
