import AgentOSCore

/// The view tabs across the top: ` 1 Dashboard │ 2 Jobs … `.
public struct Tabs: Widget {
    public var titles: [String]
    public var shortTitles: [String]
    public var selected: Int

    public init(_ titles: [String], short: [String]? = nil, selected: Int) {
        self.titles = titles
        self.shortTitles = short ?? titles.map { $0.split(separator: " ").first.map(String.init) ?? $0 }
        self.selected = selected
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        guard rect.height > 0 else { return }
        buffer.fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), " ", Style(.muted))
        var x = rect.x
        for (i, label) in labels(width: rect.width).enumerated() {
            let style = i == selected ? Style(.accent, bg: .selection, [.bold]) : Style(.muted)
            let used = buffer.put(label, x: x, y: rect.y, style, maxWidth: rect.maxX - x)
            buffer.recordZone(Rect(x: x, y: rect.y, width: used, height: 1), .tab(i))
            x += used
            if x >= rect.maxX { break }
        }
    }

    /// The labels as drawn in `width` columns.
    func labels(width: Int) -> [String] {
        // Long titles first; when they do not fit, short ones (the number and the first word).
        let long = titles.enumerated().map { " \($0.offset + 1) \($0.element) " }
        let short = shortTitles.enumerated().map { i, t in " \(i + 1) \(t) " }
        let fits = { (labels: [String]) in labels.reduce(0) { $0 + DisplayWidth.of($1) } <= width }
        var labels = fits(long) ? long : short
        if !fits(labels) {
            // Still too wide: every tab gets an equal share, its name cut to fit.
            let budget = max(4, width / max(1, titles.count))
            labels = shortTitles.enumerated().map { i, word in
                let number = " \(i + 1) "
                return number + DisplayWidth.prefix(word, fitting: max(0, budget - DisplayWidth.of(number) - 1)).0 + " "
            }
        }
        return labels
    }
}

/// A status line made of left and right segments.
public struct StatusBar: Widget {
    public struct Segment: Sendable {
        public var text: String
        public var style: Style
        public init(_ text: String, _ style: Style = Style(.text, bg: .statusBar)) {
            self.text = text
            self.style = style
        }
    }

    public var left: [Segment]
    public var right: [Segment]

    public init(left: [Segment], right: [Segment] = []) {
        self.left = left
        self.right = right
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        guard rect.height > 0 else { return }
        buffer.fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), " ", Style(.text, bg: .statusBar))
        let rightWidth = right.reduce(0) { $0 + DisplayWidth.of($1.text) + 1 }
        var x = rect.x
        for s in left {
            let room = rect.maxX - rightWidth - x
            guard room > 0 else { break }
            x += buffer.put(s.text, x: x, y: rect.y, s.style, maxWidth: room) + 1
        }
        var rx = rect.maxX - rightWidth
        for s in right where rx >= x {
            rx += buffer.put(s.text, x: rx, y: rect.y, s.style) + 1
        }
    }
}

/// A centred dialog: a title, lines of text, an optional input line and buttons. It records a
/// `.cover` zone over its box, a `.button` zone per button and the zones of `lineTargets`.
public struct Modal: Widget {
    public var title: String
    public var lines: [(text: String, style: Style)]
    /// What a click on a line means (line index → target), e.g. the entries of a menu.
    public var lineTargets: [Int: HitTarget]
    public var input: (label: String, value: String)?
    public var buttons: [String]
    public var focusedButton: Int
    public var tone: ThemeToken

    public init(
        title: String, lines: [(text: String, style: Style)], input: (label: String, value: String)? = nil,
        buttons: [String], focusedButton: Int, tone: ThemeToken = .accent, lineTargets: [Int: HitTarget] = [:]
    ) {
        self.title = title
        self.lines = lines
        self.lineTargets = lineTargets
        self.input = input
        self.buttons = buttons
        self.focusedButton = focusedButton
        self.tone = tone
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        let contentWidth = max(
            lines.map { DisplayWidth.of($0.text) }.max() ?? 0, DisplayWidth.of(title) + 4,
            buttons.reduce(0) { $0 + DisplayWidth.of($1) + 5 }, input == nil ? 0 : 40)
        let width = min(rect.width - 2, max(30, contentWidth + 4))
        let height = min(rect.height - 2, lines.count + (input == nil ? 0 : 2) + 4)
        guard width > 6, height > 3 else { return }
        let box = rect.centered(width: width, height: height)
        buffer.render(
            Panel(title: title, style: Style(tone, [.bold]), titleStyle: Style(tone, [.bold]), cover: Style(.text, bg: .background)), in: box)
        var y = box.y + 1
        for (i, line) in lines.enumerated() where y < box.maxY - 2 {
            let row = Rect(x: box.x + 2, y: y, width: box.width - 4, height: 1)
            buffer.put(line.text, in: row, line.style, pad: false)
            if let target = lineTargets[i] { buffer.recordZone(row, target) }
            y += 1
        }
        if let input, y < box.maxY - 2 {
            y += 1
            let label = input.label + " "
            let lw = buffer.put(label, x: box.x + 2, y: y, Style(.text, [.bold]))
            let field = Rect(x: box.x + 2 + lw, y: y, width: box.width - 4 - lw, height: 1)
            buffer.put(input.value + "_", in: field, Style(.text, bg: .selection, [.underline]))
        }
        let labels = buttons.map { "[ \($0) ]" }
        let total = labels.reduce(0) { $0 + DisplayWidth.of($1) + 2 }
        var x = box.maxX - 2 - total
        for (i, label) in labels.enumerated() {
            let style = i == focusedButton ? Style(tone, bg: .selection, [.bold, .reverse]) : Style(.text)
            let used = buffer.put(label, x: x, y: box.maxY - 2, style)
            buffer.recordZone(Rect(x: x, y: box.maxY - 2, width: used, height: 1), .button(buttons[i]))
            x += used + 2
        }
    }
}

/// Lines of text with wrapping, a scroll offset and follow mode (stick to the end).
public struct TextPane: Widget {
    public var lines: [(text: String, style: Style)]
    public var offset: Int
    public var follow: Bool
    public var wrap: Bool

    public init(lines: [(text: String, style: Style)], offset: Int = 0, follow: Bool = false, wrap: Bool = true) {
        self.lines = lines
        self.offset = offset
        self.follow = follow
        self.wrap = wrap
    }

    /// Display rows after wrapping to `width`.
    public static func wrapped(_ lines: [(text: String, style: Style)], width: Int, wrap: Bool) -> [(String, Style)] {
        guard width > 0 else { return [] }
        var out: [(String, Style)] = []
        for (text, style) in lines {
            let clean = TextSanitizer.clean(text)
            guard wrap, DisplayWidth.of(clean) > width else {
                out.append((clean, style))
                continue
            }
            var rest = Substring(clean)
            while !rest.isEmpty {
                let (head, _) = DisplayWidth.prefix(String(rest), fitting: width)
                let take = head.isEmpty ? String(rest.prefix(1)) : head
                out.append((take, style))
                rest = rest.dropFirst(take.count)
            }
        }
        return out
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        guard rect.height > 0 else { return }
        let rows = Self.wrapped(lines, width: rect.width, wrap: wrap)
        let maxOffset = max(0, rows.count - rect.height)
        let start = follow ? maxOffset : min(max(0, offset), maxOffset)
        for (i, row) in rows.dropFirst(start).prefix(rect.height).enumerated() {
            buffer.put(row.0, in: Rect(x: rect.x, y: rect.y + i, width: rect.width, height: 1), row.1)
        }
    }
}

/// The help overlay: key bindings grouped in sections, laid out in columns, scrolled by `offset`
/// rows when they do not all fit (the title then says which rows show).
public struct HelpOverlay: Widget {
    public struct Section: Sendable {
        public var title: String
        public var entries: [(keys: String, help: String)]
        public init(_ title: String, _ entries: [(keys: String, help: String)]) {
            self.title = title
            self.entries = entries
        }
    }

    /// One row of the help: a section's title, a binding, or the blank between sections.
    enum Row {
        case title(String)
        case entry(keys: String, help: String)
        case blank
    }

    public var sections: [Section]
    public var offset: Int

    public init(_ sections: [Section], offset: Int = 0) {
        self.sections = sections
        self.offset = offset
    }

    var rows: [Row] {
        sections.enumerated().flatMap { i, section in
            (i == 0 ? [] : [Row.blank]) + [Row.title(section.title)] + section.entries.map { Row.entry(keys: $0.keys, help: $0.help) }
        }
    }

    /// The box, and the columns inside it.
    static func geometry(_ rect: Rect) -> (box: Rect, columns: [Rect]) {
        let box = rect.inset(top: 1, left: 2, bottom: 1, right: 2)
        let inner = box.inset(top: 1, left: 2, bottom: 1, right: 2)
        let columnCount = max(1, min(3, inner.width / 34))
        return (box, Layout.horizontal(Array(repeating: .fill(1), count: columnCount)).spacing(2).split(inner))
    }

    /// The largest useful offset in `rect`: the last rows at the end of the last column.
    public func maxOffset(in rect: Rect) -> Int {
        let columns = Self.geometry(rect).columns
        return max(0, rows.count - columns.count * (columns.first?.height ?? 0))
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        let (box, columns) = Self.geometry(rect)
        guard box.width > 20, box.height > 4, let height = columns.first?.height, height > 0 else { return }
        let all = rows
        let capacity = columns.count * height
        let start = min(max(0, offset), maxOffset(in: rect))
        let shown = all[start..<min(all.count, start + capacity)]
        let position = all.count > capacity ? " — \(start + 1)-\(start + shown.count) of \(all.count), j/k scroll" : ""
        buffer.render(
            Panel(title: "Help\(position) — Esc to close", style: Style(.accent), cover: Style(.text, bg: .background)), in: box)
        for (i, row) in shown.enumerated() {
            let c = columns[i / height]
            let y = c.y + i % height
            switch row {
            case .title(let title):
                buffer.put(title, in: Rect(x: c.x, y: y, width: c.width, height: 1), Style(.title, [.bold]))
            case .entry(let keys, let help):
                let kw = min(12, c.width / 3)
                buffer.put(keys, in: Rect(x: c.x, y: y, width: kw, height: 1), Style(.accent, [.bold]))
                buffer.put(help, in: Rect(x: c.x + kw + 1, y: y, width: c.width - kw - 1, height: 1), Style(.text))
            case .blank:
                break
            }
        }
    }
}
