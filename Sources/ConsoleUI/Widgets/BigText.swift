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

/// A multi-row column chart of the last values (eighth blocks on top), scaled to the largest:
/// the wallboard's big trend lines.
public struct AreaChart: Widget {
    public var values: [Double]
    public var maximum: Double?
    public var style: Style

    public init(_ values: [Double], maximum: Double? = nil, style: Style = Style(.chart1)) {
        self.values = values
        self.maximum = maximum
        self.style = style
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        guard rect.width > 0, rect.height > 0 else { return }
        // Stretch a short series over the width: each value gets whole columns.
        let shown = Array(values.suffix(rect.width))
        guard !shown.isEmpty else { return }
        let per = max(1, rect.width / shown.count)
        let top = max(maximum ?? (shown.max() ?? 0), 1e-9)
        let levels = buffer.glyphs.blocks
        let eighths = rect.height * levels.count
        let start = rect.maxX - shown.count * per
        for (i, v) in shown.enumerated() {
            let filled = v <= 0 ? 0 : max(1, Int((min(v, top) / top) * Double(eighths) + 0.5))
            for dx in 0..<per {
                let x = start + i * per + dx
                for row in 0..<rect.height {
                    let below = row * levels.count
                    let here = min(levels.count, filled - below)
                    guard here > 0 else { break }
                    buffer.put(String(levels[here - 1]), x: x, y: rect.maxY - 1 - row, style)
                }
            }
        }
    }
}
