import ConsoleUI

/// How many colours the terminal offers, and what each token becomes.
public enum ColorDepth: Sendable, Equatable {
    case monochrome, eight, sixteen, full256

    public static func from(colors: Int) -> ColorDepth {
        colors >= 256 ? .full256 : colors >= 16 ? .sixteen : colors >= 8 ? .eight : .monochrome
    }
}

/// A concrete colour: an index for the terminal (-1 = the terminal's default) plus attributes
/// that stand in for colour where there is too little of it.
public struct Ink: Sendable, Equatable, Hashable {
    public var fg: Int
    public var bg: Int
    public var attrs: TextAttributes
    public init(fg: Int = -1, bg: Int = -1, attrs: TextAttributes = []) {
        self.fg = fg
        self.bg = bg
        self.attrs = attrs
    }
}

/// The default dark theme, with fallbacks to 16 and 8 colours and to attributes only.
/// (Theme files under themes/ map the same tokens; this is the built-in default.)
public struct Palette: Sendable {
    public let depth: ColorDepth
    private let fg: [ThemeToken: Int]
    private let bg: [ThemeToken: Int]
    private let extra: [ThemeToken: TextAttributes]

    public init(depth: ColorDepth) {
        self.depth = depth
        switch depth {
        case .full256:
            fg = [.text: -1, .muted: 245, .accent: 39, .ok: 41, .warning: 214, .danger: 203, .critical: 201, .border: 240, .title: 75,
                  .header: 252, .statusBar: 252, .badge: 231, .banner: 231, .stale: 231, .selection: -1, .background: -1,
                  .chart1: 39, .chart2: 41, .chart3: 214, .chart4: 170, .chart5: 203, .chart6: 117]
            bg = [.selection: 237, .statusBar: 235, .badge: 25, .banner: 88, .background: 234]
            extra = [:]
        case .sixteen:
            fg = [.text: -1, .muted: 8, .accent: 12, .ok: 10, .warning: 11, .danger: 9, .critical: 13, .border: 8, .title: 14,
                  .header: 15, .statusBar: 15, .badge: 15, .banner: 15, .stale: 15, .selection: -1, .background: -1,
                  .chart1: 12, .chart2: 10, .chart3: 11, .chart4: 13, .chart5: 9, .chart6: 14]
            bg = [.selection: 8, .statusBar: 0, .badge: 4, .banner: 1, .background: 0]
            extra = [:]
        case .eight:
            fg = [.text: -1, .muted: 7, .accent: 4, .ok: 2, .warning: 3, .danger: 1, .critical: 5, .border: 7, .title: 6,
                  .header: 7, .statusBar: 7, .badge: 7, .banner: 7, .stale: 7, .selection: -1, .background: -1,
                  .chart1: 4, .chart2: 2, .chart3: 3, .chart4: 5, .chart5: 1, .chart6: 6]
            bg = [.statusBar: 4, .badge: 4, .banner: 1]
            // Eight colours have no grey: selection becomes reverse video, muted dims.
            extra = [.muted: .dim, .selection: .reverse, .critical: .bold, .danger: .bold]
        case .monochrome:
            fg = [:]
            bg = [:]
            extra = [.muted: .dim, .selection: .reverse, .danger: .bold, .critical: [.bold, .underline], .warning: .underline,
                     .accent: .bold, .title: .bold, .statusBar: .reverse, .badge: [.reverse, .bold], .banner: [.reverse, .bold], .header: .bold]
        }
    }

    public func ink(for style: Style) -> Ink {
        var attrs = style.attrs
        attrs.formUnion(extra[style.fg] ?? [])
        var background = -1
        if let b = style.bg {
            background = bg[b] ?? -1
            attrs.formUnion(extra[b] ?? [])
        }
        return Ink(fg: fg[style.fg] ?? -1, bg: background, attrs: attrs)
    }
}
