/// How many colours the terminal offers.
public enum ColorDepth: String, Sendable, Equatable, CaseIterable {
    case monochrome
    case eight = "8"
    case sixteen = "16"
    case full256 = "256"

    public static func from(colors: Int) -> ColorDepth {
        colors >= 256 ? .full256 : colors >= 16 ? .sixteen : colors >= 8 ? .eight : .monochrome
    }
}

/// A concrete colour: an index for the terminal (-1 = the terminal's default) plus attributes
/// that stand in for colour where there is too little of it.
public struct Ink: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var fg: Int
    public var bg: Int
    public var attrs: TextAttributes
    public init(fg: Int = -1, bg: Int = -1, attrs: TextAttributes = []) {
        self.fg = fg
        self.bg = bg
        self.attrs = attrs
    }

    /// Compact form for golden files: `fg=39 bg=-1 bold+reverse`.
    public var description: String {
        let a = attrs.names
        return "fg=\(fg) bg=\(bg)" + (a.isEmpty ? "" : " " + a.joined(separator: "+"))
    }
}

/// A colour as a theme file writes it: the terminal's default, a 256-colour index (0–15 are the
/// ANSI colours, also by name), or `#rrggbb` (drawn with the nearest of the 256).
public enum ThemeColor: Sendable, Equatable, Hashable, CustomStringConvertible {
    case terminalDefault
    case index(Int)
    case rgb(UInt8, UInt8, UInt8)

    /// The ANSI names, in index order; `grey`/`gray` is bright black.
    public static let names = [
        "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
        "bright-black", "bright-red", "bright-green", "bright-yellow", "bright-blue", "bright-magenta", "bright-cyan",
        "bright-white"
    ]

    /// Parses `default`, a name, `#rrggbb` or `0`…`255`; nil when it is none of these.
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "_", with: "-")
        if t == "default" || t == "none" || t == "-1" {
            self = .terminalDefault
        } else if let i = Self.names.firstIndex(of: t) {
            self = .index(i)
        } else if t == "grey" || t == "gray" {
            self = .index(8)
        } else if t.hasPrefix("#"), t.count == 7, let v = UInt32(t.dropFirst(), radix: 16) {
            self = .rgb(UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff))
        } else if let n = Int(t), (0...255).contains(n) {
            self = .index(n)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .terminalDefault: return "default"
        case .index(let i): return String(i)
        case .rgb(let r, let g, let b):
            let hex = [r, g, b].map { v in
                let s = String(v, radix: 16)
                return s.count == 1 ? "0" + s : s
            }
            return "#" + hex.joined()
        }
    }

    /// The 256-colour index (-1: the terminal's default).
    public var index256: Int {
        switch self {
        case .terminalDefault: return -1
        case .index(let i): return i
        case .rgb(let r, let g, let b): return Self.nearest256(Int(r), Int(g), Int(b))
        }
    }

    /// The nearest of the 16 ANSI colours (-1: the terminal's default).
    public var index16: Int {
        switch self {
        case .terminalDefault: return -1
        case .index(let i) where i < 16: return i
        case .index(let i):
            let (r, g, b) = Self.rgbOf256(i)
            return Self.nearest(r, g, b, in: 0..<16)
        case .rgb(let r, let g, let b): return Self.nearest(Int(r), Int(g), Int(b), in: 0..<16)
        }
    }

    /// xterm's RGB for the 16 ANSI colours.
    static let ansi: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
        (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
        (255, 0, 255), (0, 255, 255), (255, 255, 255)
    ]
    static let cubeLevels = [0, 95, 135, 175, 215, 255]

    /// xterm's RGB of a 256-colour index.
    static func rgbOf256(_ i: Int) -> (Int, Int, Int) {
        if i < 16 { return ansi[max(0, i)] }
        if i >= 232 {
            let v = 8 + (i - 232) * 10
            return (v, v, v)
        }
        let n = i - 16
        return (cubeLevels[n / 36], cubeLevels[n / 6 % 6], cubeLevels[n % 6])
    }

    static func nearest(_ r: Int, _ g: Int, _ b: Int, in range: Range<Int>) -> Int {
        range.min { a, c in distance(rgbOf256(a), (r, g, b)) < distance(rgbOf256(c), (r, g, b)) } ?? 0
    }

    static func distance(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Int {
        // Weighted for the eye (green matters most).
        let dr = a.0 - b.0
        let dg = a.1 - b.1
        let db = a.2 - b.2
        return 3 * dr * dr + 4 * dg * dg + 2 * db * db
    }

    /// The nearest colour of the 6×6×6 cube and the grey ramp (16–255), as terminals draw them.
    static func nearest256(_ r: Int, _ g: Int, _ b: Int) -> Int {
        nearest(r, g, b, in: 16..<256)
    }
}

/// How one token looks: colours for 256-colour terminals, optional explicit 16- and 8-colour
/// choices (otherwise the nearest ANSI colour), attributes at every depth, extra attributes where
/// only 8 colours exist, and the attributes that stand in for colour in monochrome.
public struct TokenStyle: Sendable, Equatable {
    public var fg: ThemeColor?
    public var bg: ThemeColor?
    public var fg16: ThemeColor?
    public var bg16: ThemeColor?
    public var fg8: ThemeColor?
    public var bg8: ThemeColor?
    public var attrs: TextAttributes
    public var attrs8: TextAttributes
    public var mono: TextAttributes

    public init(
        fg: ThemeColor? = nil, bg: ThemeColor? = nil, fg16: ThemeColor? = nil, bg16: ThemeColor? = nil, fg8: ThemeColor? = nil,
        bg8: ThemeColor? = nil, attrs: TextAttributes = [], attrs8: TextAttributes = [], mono: TextAttributes = []
    ) {
        self.fg = fg
        self.bg = bg
        self.fg16 = fg16
        self.bg16 = bg16
        self.fg8 = fg8
        self.bg8 = bg8
        self.attrs = attrs
        self.attrs8 = attrs8
        self.mono = mono
    }
}

/// A theme: what every semantic token looks like. Widgets never name colours; the palette made
/// from a theme and the terminal's colour depth turns their styles into inks.
public struct Theme: Sendable, Equatable {
    public var name: String
    public var description: String
    public var tokens: [ThemeToken: TokenStyle]
    /// Attributes only, whatever the terminal offers (the monochrome theme).
    public var monochrome: Bool
    /// The background of cells that ask for none (nil: the terminal's own), e.g. a light theme's white.
    public var canvas: ThemeColor?

    public init(name: String, description: String = "", tokens: [ThemeToken: TokenStyle], monochrome: Bool = false, canvas: ThemeColor? = nil) {
        self.name = name
        self.description = description
        self.tokens = tokens
        self.monochrome = monochrome
        self.canvas = canvas
    }

    public subscript(token: ThemeToken) -> TokenStyle {
        get { tokens[token] ?? TokenStyle() }
        set { tokens[token] = newValue }
    }

    /// The built-in default dark theme (themes/default.yaml says the same; a test keeps them equal).
    /// A missing or bad theme file falls back to it.
    public static let builtinDefault: Theme = {
        func t(
            _ fg: Int, _ fg16: Int, _ fg8: Int, bg: Int? = nil, bg16: Int? = nil, bg8: Int? = nil, attrs8: TextAttributes = [],
            mono: TextAttributes = []
        ) -> TokenStyle {
            TokenStyle(
                fg: .index(fg), bg: bg.map(ThemeColor.index), fg16: .index(fg16), bg16: bg16.map(ThemeColor.index),
                fg8: .index(fg8), bg8: bg8.map(ThemeColor.index), attrs8: attrs8, mono: mono)
        }
        let d = ThemeColor.terminalDefault
        return Theme(
            name: "default", description: "Dark, the built-in default",
            tokens: [
                .background: TokenStyle(fg: d, bg: .index(234), fg16: d, bg16: .index(0), fg8: d, bg8: d),
                .text: TokenStyle(fg: d, fg16: d, fg8: d),
                .muted: t(245, 8, 7, attrs8: .dim, mono: .dim),
                .accent: t(39, 12, 4, mono: .bold),
                .selection: TokenStyle(fg: d, bg: .index(237), fg16: d, bg16: .index(8), fg8: d, bg8: d, attrs8: .reverse, mono: .reverse),
                .ok: t(41, 10, 2),
                .warning: t(214, 11, 3, mono: .underline),
                .danger: t(203, 9, 1, attrs8: .bold, mono: .bold),
                .critical: t(201, 13, 5, attrs8: .bold, mono: [.bold, .underline]),
                .border: t(240, 8, 7),
                .title: t(75, 14, 6, mono: .bold),
                .header: t(252, 15, 7, mono: .bold),
                .statusBar: t(252, 15, 7, bg: 235, bg16: 0, bg8: 4, mono: .reverse),
                .badge: t(231, 15, 7, bg: 25, bg16: 4, bg8: 4, mono: [.reverse, .bold]),
                .banner: t(231, 15, 7, bg: 88, bg16: 1, bg8: 1, mono: [.reverse, .bold]),
                .stale: t(231, 15, 7),
                .chart1: t(39, 12, 4), .chart2: t(41, 10, 2), .chart3: t(214, 11, 3), .chart4: t(170, 13, 5), .chart5: t(203, 9, 1),
                .chart6: t(117, 14, 6)
            ])
    }()

    /// This theme with the environment badge in `color` (production looks different from staging).
    public func withBadge(_ color: ThemeColor) -> Theme {
        var copy = self
        var badge = copy[.badge]
        badge.bg = color
        badge.bg16 = nil
        badge.bg8 = nil
        let (r, g, b) = ThemeColor.rgbOf256(max(0, color.index256))
        // Dark text on a light badge, white on a dark one.
        let light = (r * 299 + g * 587 + b * 114) / 1000 > 150
        badge.fg = light ? .index(16) : .index(231)
        badge.fg16 = light ? .index(0) : .index(15)
        badge.fg8 = light ? .index(0) : .index(7)
        badge.attrs.insert(.bold)
        copy[.badge] = badge
        return copy
    }
}

/// A theme resolved for one colour depth: inks per token.
public struct Palette: Sendable {
    public let depth: ColorDepth
    public let theme: Theme
    private let fg: [ThemeToken: Int]
    private let bg: [ThemeToken: Int]
    private let extra: [ThemeToken: TextAttributes]
    private let canvas: Int

    /// The built-in default theme at `depth`.
    public init(depth: ColorDepth) { self.init(theme: .builtinDefault, depth: depth) }

    public init(theme: Theme, depth: ColorDepth) {
        let depth = theme.monochrome ? .monochrome : depth
        self.depth = depth
        self.theme = theme
        var fg: [ThemeToken: Int] = [:]
        var bg: [ThemeToken: Int] = [:]
        var extra: [ThemeToken: TextAttributes] = [:]
        for token in ThemeToken.allCases {
            let s = theme[token]
            var attrs = s.attrs
            switch depth {
            case .full256:
                fg[token] = s.fg?.index256 ?? -1
                bg[token] = s.bg?.index256 ?? -1
            case .sixteen:
                fg[token] = (s.fg16 ?? s.fg)?.index16 ?? -1
                bg[token] = (s.bg16 ?? s.bg)?.index16 ?? -1
            case .eight:
                var f = -1
                if let explicit = s.fg8 { f = explicit.index16 } else if let c = s.fg16 ?? s.fg { f = c.index16 }
                // Eight colours have no bright half: bright black becomes a dimmed white, the rest their normal colour.
                if f == 8 && s.fg8 == nil {
                    f = 7
                    attrs.insert(.dim)
                } else if f >= 8 {
                    f -= 8
                }
                var g = -1
                if let explicit = s.bg8 { g = explicit.index16 } else if let c = s.bg16 ?? s.bg { g = c.index16 }
                if g == 8 && s.bg8 == nil { g = 0 } else if g >= 8 { g -= 8 }
                fg[token] = f
                bg[token] = g
                attrs.formUnion(s.attrs8)
            case .monochrome:
                attrs.formUnion(s.mono)
            }
            if !attrs.isEmpty { extra[token] = attrs }
        }
        self.fg = fg
        self.bg = bg
        self.extra = extra
        switch depth {
        case .full256: canvas = theme.canvas?.index256 ?? -1
        case .sixteen: canvas = theme.canvas?.index16 ?? -1
        case .eight: canvas = theme.canvas.map { $0.index16 >= 8 ? $0.index16 - 8 : $0.index16 } ?? -1
        case .monochrome: canvas = -1
        }
    }

    public func ink(for style: Style) -> Ink {
        var attrs = style.attrs
        attrs.formUnion(extra[style.fg] ?? [])
        var background = canvas
        if let b = style.bg {
            let c = bg[b] ?? -1
            if c != -1 { background = c }
            attrs.formUnion(extra[b] ?? [])
        }
        return Ink(fg: fg[style.fg] ?? -1, bg: background, attrs: attrs)
    }
}

extension CellBuffer {
    /// Runs of equal inks per row (`y x0-x1 fg=… bg=… attrs`), skipping the terminal's plain
    /// default, for golden files of what a theme really puts on the screen.
    public func inkRuns(_ palette: Palette) -> String {
        var lines: [String] = []
        let plain = Ink()
        for y in 0..<height {
            var x = 0
            while x < width {
                let ink = palette.ink(for: self[x, y].style)
                var end = x + 1
                while end < width && palette.ink(for: self[end, y].style) == ink { end += 1 }
                if ink != plain { lines.append("\(y) \(x)-\(end - 1) \(ink)") }
                x = end
            }
        }
        return lines.joined(separator: "\n")
    }
}
