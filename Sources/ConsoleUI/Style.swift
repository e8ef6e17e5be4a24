/// Semantic colours: widgets ask for what a thing means, the theme decides how it looks.
public enum ThemeToken: String, Sendable, CaseIterable, Codable {
    case background, text, muted, accent, selection, ok, warning, danger, critical, border, title, header
    case statusBar = "status_bar"
    case badge, banner, stale
    case chart1 = "chart_1"
    case chart2 = "chart_2"
    case chart3 = "chart_3"
    case chart4 = "chart_4"
    case chart5 = "chart_5"
    case chart6 = "chart_6"

    public static let chartSeries: [ThemeToken] = [.chart1, .chart2, .chart3, .chart4, .chart5, .chart6]
}

public struct TextAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let bold = TextAttributes(rawValue: 1)
    public static let dim = TextAttributes(rawValue: 2)
    public static let underline = TextAttributes(rawValue: 4)
    public static let reverse = TextAttributes(rawValue: 8)
    public static let italic = TextAttributes(rawValue: 16)
    public static let blink = TextAttributes(rawValue: 32)

    /// Every attribute with its name, in a fixed order (theme files and golden frames use these names).
    public static let named: [(String, TextAttributes)] = [
        ("bold", .bold), ("dim", .dim), ("underline", .underline), ("reverse", .reverse),
        ("italic", .italic), ("blink", .blink)
    ]

    public var names: [String] { Self.named.filter { contains($0.1) }.map(\.0) }
}

/// How a cell looks: a foreground token, an optional background token, attributes.
public struct Style: Sendable, Hashable, CustomStringConvertible {
    public var fg: ThemeToken
    public var bg: ThemeToken?
    public var attrs: TextAttributes

    public init(_ fg: ThemeToken = .text, bg: ThemeToken? = nil, _ attrs: TextAttributes = []) {
        self.fg = fg
        self.bg = bg
        self.attrs = attrs
    }

    public static let plain = Style()
    public func bold() -> Style {
        var s = self
        s.attrs.insert(.bold)
        return s
    }
    public func reversed() -> Style {
        var s = self
        s.attrs.insert(.reverse)
        return s
    }
    public func on(_ bg: ThemeToken) -> Style {
        var s = self
        s.bg = bg
        return s
    }

    /// Compact form for golden files: `danger/selection+bold`.
    public var description: String {
        var d = fg.rawValue
        if let bg { d += "/" + bg.rawValue }
        let names = attrs.names
        return names.isEmpty ? d : d + "+" + names.joined(separator: "+")
    }
}

/// Line drawing and chart glyphs, with an ASCII set for terminals without UTF-8.
public struct Glyphs: Sendable, Equatable {
    public var horizontal, vertical, topLeft, topRight, bottomLeft, bottomRight, teeDown, teeUp: Character
    public var ellipsis: String
    public var blocks: [Character] // sparkline levels, lowest first (8 in Unicode)
    public var full, empty: Character // gauges
    public var arrowUp, arrowDown, bullet, check, cross, mark: Character
    public var isUnicode: Bool

    public static let unicode = Glyphs(
        horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘",
        teeDown: "┬", teeUp: "┴", ellipsis: "…", blocks: ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"],
        full: "█", empty: "░", arrowUp: "▲", arrowDown: "▼", bullet: "●", check: "✓", cross: "✗",
        mark: "◆", isUnicode: true)
    public static let ascii = Glyphs(
        horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+",
        teeDown: "+", teeUp: "+", ellipsis: "~", blocks: ["_", ".", "-", "=", "+", "*", "#", "@"],
        full: "#", empty: ".", arrowUp: "^", arrowDown: "v", bullet: "*", check: "+", cross: "x",
        mark: "*", isUnicode: false)
}
