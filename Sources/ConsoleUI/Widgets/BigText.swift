/// Figures in a 3×5 block font, scaled by whole cells: read from across a room (the wallboard).
public struct BigText: Widget {
    public var text: String
    public var style: Style
    public var scale: Int

    public init(_ text: String, style: Style = Style(.text, [.bold]), scale: Int = 1) {
        self.text = text
        self.style = style
        self.scale = max(1, scale)
    }

    /// Rows of the font, `#` filled; unknown characters draw as blanks.
    static let font: [Character: [String]] = [
        "0": ["###", "# #", "# #", "# #", "###"], "1": [" # ", "## ", " # ", " # ", "###"], "2": ["###", "  #", "###", "#  ", "###"],
        "3": ["###", "  #", "###", "  #", "###"], "4": ["# #", "# #", "###", "  #", "  #"], "5": ["###", "#  ", "###", "  #", "###"],
        "6": ["###", "#  ", "###", "# #", "###"], "7": ["###", "  #", "  #", "  #", "  #"], "8": ["###", "# #", "###", "# #", "###"],
        "9": ["###", "# #", "###", "  #", "###"], "%": ["# #", "  #", " # ", "#  ", "# #"], "/": ["  #", "  #", " # ", "#  ", "#  "],
        ".": ["   ", "   ", "   ", "   ", " # "], "-": ["   ", "   ", "###", "   ", "   "], ":": ["   ", " # ", "   ", " # ", "   "],
        "k": ["#  ", "# #", "## ", "# #", "# #"], "M": ["# #", "###", "###", "# #", "# #"], " ": ["   ", "   ", "   ", "   ", "   "],
        "?": ["###", "  #", " ##", "   ", " # "]
    ]

    public static let glyphHeight = 5

    /// Columns `text` needs at `scale` (glyphs 3 wide, one column between them).
    public static func width(_ text: String, scale: Int) -> Int {
        let n = text.count
        return n == 0 ? 0 : n * 3 * scale + (n - 1) * scale
    }

    public static func height(scale: Int) -> Int { glyphHeight * scale }

    /// The largest scale at which `text` fits `rect` (0: not even at 1).
    public static func fittingScale(_ text: String, in rect: Rect, maximum: Int = 8) -> Int {
        var s = maximum
        while s > 0 && (width(text, scale: s) > rect.width || height(scale: s) > rect.height) { s -= 1 }
        return s
    }

    /// Draws centred in `rect`.
    public func render(into buffer: inout CellBuffer, rect: Rect) {
        let w = Self.width(text, scale: scale)
        let h = Self.height(scale: scale)
        guard w <= rect.width, h <= rect.height else { return }
        let box = rect.centered(width: w, height: h)
        let fill = String(buffer.glyphs.full)
        for (i, c) in text.enumerated() {
            let rows = Self.font[c] ?? Self.font[" "]!
            let gx = box.x + i * 4 * scale
            for (ry, row) in rows.enumerated() {
                for (rx, pixel) in row.enumerated() where pixel == "#" {
                    for dy in 0..<scale {
                        buffer.put(String(repeating: fill, count: scale), x: gx + rx * scale, y: box.y + ry * scale + dy, style)
                    }
                }
            }
        }
    }
}
