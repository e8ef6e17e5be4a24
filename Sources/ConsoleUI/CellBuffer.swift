import AgentOSCore
import Synchronization

/// One terminal cell. A double-width character occupies its cell and a `continuation` cell after it.
/// A cell is plain data (no references): the character is one Unicode scalar, or the number of an
/// interned grapheme of several scalars above the Unicode range, so copying and comparing cells,
/// which the diff does for every cell of every frame, is integer work.
public struct Cell: Sendable, Equatable {
    private var code: UInt32
    public var style: Style
    public var continuation: Bool

    /// A cell of one scalar (the renderer's ASCII fast path).
    init(code: UInt32, _ style: Style) {
        self.code = code
        self.style = style
        continuation = false
    }

    public init(_ character: Character = " ", _ style: Style = .plain, continuation: Bool = false) {
        let scalars = character.unicodeScalars
        if scalars.count == 1, let only = scalars.first {
            code = only.value
        } else {
            code = Clusters.code(for: String(character))
        }
        self.style = style
        self.continuation = continuation
    }

    public var character: Character {
        get {
            if code < Clusters.base { return Character(Unicode.Scalar(code) ?? " ") }
            return Character(Clusters.string(code))
        }
        set { self = Cell(newValue, style, continuation: continuation) }
    }

    public static let blank = Cell()
}

/// Graphemes of several scalars (a letter with combining marks, an emoji sequence), numbered once
/// for the process. Rare on a console; bounded so hostile text cannot grow it without end.
enum Clusters {
    static let base: UInt32 = 0x11_0000
    static let limit = 65_536
    private static let table = Mutex<(codes: [String: UInt32], strings: [String])>(([:], []))

    static func code(for cluster: String) -> UInt32 {
        table.withLock { t in
            if let c = t.codes[cluster] { return c }
            // Full: the replacement character stands in.
            guard t.strings.count < limit else { return 0xFFFD }
            let c = base + UInt32(t.strings.count)
            t.codes[cluster] = c
            t.strings.append(cluster)
            return c
        }
    }

    static func string(_ code: UInt32) -> String {
        table.withLock { t in
            let i = Int(code - base)
            return i < t.strings.count ? t.strings[i] : "\u{FFFD}"
        }
    }
}

/// A grid of cells that widgets draw into. Pure: the terminal backend writes only the cells that
/// differ from the previous frame; tests read it back as text plus style runs.
public struct CellBuffer: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    public var glyphs: Glyphs
    /// The clickable zones recorded while drawing, in drawing order (see `recordZone`).
    public internal(set) var zones: [HitZone] = []

    public init(width: Int, height: Int, glyphs: Glyphs = .unicode) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.cells = Array(repeating: .blank, count: self.width * self.height)
        self.glyphs = glyphs
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Blanks every cell and forgets the zones (a new frame).
    public mutating func clear(_ style: Style = .plain) {
        let cell = Cell(" ", style)
        for i in cells.indices { cells[i] = cell }
        zones.removeAll()
    }

    public mutating func fill(_ rect: Rect, _ character: Character = " ", _ style: Style = .plain) {
        let r = clip(rect)
        guard !r.isEmpty else { return }
        let cell = Cell(character, style)
        for y in r.y..<r.maxY {
            let row = y * width
            for x in r.x..<r.maxX { cells[row + x] = cell }
        }
    }

    /// Writes `text` at (x, y), clipped to `maxWidth` columns (and the buffer). Every string is
    /// sanitised here, the one place text enters the screen: control, C1 and bidi characters come
    /// out as visible escapes, whoever called; without Unicode glyphs (`LANG=C`) everything comes
    /// out as ASCII of the same width. Returns the columns used.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, _ style: Style = .plain, maxWidth: Int? = nil) -> Int {
        guard y >= 0 && y < height && x < width else { return 0 }
        let clean = TextSanitizer.clean(text)
        let safe = glyphs.isUnicode ? clean : ASCIIFallback.transliterate(clean)
        let limit = min(maxWidth ?? width, width - max(0, x))
        var col = x
        var used = 0
        if DisplayWidth.isPrintableASCII(safe) {
            // One column per byte: no grapheme breaking, no width tables.
            let row = y * width
            for byte in safe.utf8 {
                if used + 1 > limit { break }
                if col >= 0 {
                    if cells[row + col].continuation, col > 0 { cells[row + col - 1] = Cell(" ", cells[row + col - 1].style) }
                    cells[row + col] = Cell(code: UInt32(byte), style)
                    if col + 1 < width && cells[row + col + 1].continuation { cells[row + col + 1] = Cell(code: 0x20, style) }
                }
                col += 1
                used += 1
            }
            return used
        }
        for character in safe {
            let w = DisplayWidth.of(character)
            if w == 0 {
                // A combining mark or zero-width character joins the previous cell.
                if col > x, col - 1 >= 0, col - 1 < width {
                    var prev = self[col - 1, y]
                    // Only when the two still make one grapheme (a zero-width character that Unicode does not
                    // attach to the one before is dropped: it has no cell of its own).
                    let joined = String(prev.character) + String(character)
                    if !prev.continuation, joined.count == 1 {
                        prev.character = Character(joined)
                        self[col - 1, y] = prev
                    }
                }
                continue
            }
            if used + w > limit { break }
            if col >= 0 {
                // Overwriting half of a wide character blanks its other half.
                if col < width, self[col, y].continuation, col > 0 { self[col - 1, y] = Cell(" ", self[col - 1, y].style) }
                self[col, y] = Cell(character, style)
                if w == 2 && col + 1 < width { self[col + 1, y] = Cell(" ", style, continuation: true) }
                if w == 1 && col + 1 < width && self[col + 1, y].continuation { self[col + 1, y] = Cell(" ", style) }
            }
            col += w
            used += w
        }
        return used
    }

    /// Writes `text` truncated with an ellipsis to exactly `width` columns, aligned and padded.
    public enum Alignment: Sendable { case left, right, center }

    @discardableResult
    public mutating func put(_ text: String, in rect: Rect, _ style: Style = .plain, align: Alignment = .left, pad: Bool = true) -> Int {
        guard rect.width > 0, rect.height > 0 else { return 0 }
        let safe = TextSanitizer.clean(text)
        let cut = DisplayWidth.truncate(safe, to: rect.width, ellipsis: glyphs.ellipsis)
        let w = DisplayWidth.of(cut)
        if pad { fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), " ", style) }
        let offset: Int
        switch align {
        case .left: offset = 0
        case .right: offset = rect.width - w
        case .center: offset = (rect.width - w) / 2
        }
        return put(cut, x: rect.x + offset, y: rect.y, style, maxWidth: rect.width - offset)
    }

    public mutating func hline(x: Int, y: Int, width w: Int, _ style: Style = Style(.border)) {
        fill(Rect(x: x, y: y, width: w, height: 1), glyphs.horizontal, style)
    }

    public mutating func vline(x: Int, y: Int, height h: Int, _ style: Style = Style(.border)) {
        fill(Rect(x: x, y: y, width: 1, height: h), glyphs.vertical, style)
    }

    /// A frame around `rect` with an optional title on the top edge.
    public mutating func box(_ rect: Rect, _ style: Style = Style(.border), title: String? = nil, titleStyle: Style = Style(.title, .bold)) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        hline(x: rect.x + 1, y: rect.y, width: rect.width - 2, style)
        hline(x: rect.x + 1, y: rect.maxY - 1, width: rect.width - 2, style)
        vline(x: rect.x, y: rect.y + 1, height: rect.height - 2, style)
        vline(x: rect.maxX - 1, y: rect.y + 1, height: rect.height - 2, style)
        set(rect.x, rect.y, glyphs.topLeft, style)
        set(rect.maxX - 1, rect.y, glyphs.topRight, style)
        set(rect.x, rect.maxY - 1, glyphs.bottomLeft, style)
        set(rect.maxX - 1, rect.maxY - 1, glyphs.bottomRight, style)
        if let title, rect.width > 4 {
            put(
                " " + DisplayWidth.truncate(title, to: rect.width - 6, ellipsis: glyphs.ellipsis) + " ", x: rect.x + 2, y: rect.y, titleStyle,
                maxWidth: rect.width - 4)
        }
    }

    private mutating func set(_ x: Int, _ y: Int, _ c: Character, _ style: Style) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        self[x, y] = Cell(c, style)
    }

    /// Applies `style` to every cell of `rect` (keeping the characters), e.g. a selection bar.
    public mutating func restyle(_ rect: Rect, _ transform: (Style) -> Style) {
        let r = clip(rect)
        guard !r.isEmpty else { return }
        for y in r.y..<r.maxY {
            for x in r.x..<r.maxX { self[x, y].style = transform(self[x, y].style) }
        }
    }

    public func clip(_ rect: Rect) -> Rect {
        let x0 = max(0, rect.x)
        let y0 = max(0, rect.y)
        let x1 = min(width, rect.maxX)
        let y1 = min(height, rect.maxY)
        return Rect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// Equal when they show the same: the zones are not drawn.
    public static func == (a: CellBuffer, b: CellBuffer) -> Bool {
        a.width == b.width && a.height == b.height && a.glyphs == b.glyphs && a.cells == b.cells
    }

    // MARK: reading back

    /// The text of row `y` (continuation cells omitted, trailing spaces kept).
    public func row(_ y: Int) -> String {
        var s = ""
        for x in 0..<width where !self[x, y].continuation { s.append(self[x, y].character) }
        return s
    }

    /// All rows, trailing spaces trimmed, for golden text files.
    public func text() -> String {
        (0..<height).map { y in
            var r = row(y)
            while r.last == " " { r.removeLast() }
            return r
        }.joined(separator: "\n")
    }

    /// Style runs per row (`y x0-x1 style`), skipping plain runs, for golden files.
    public func styleRuns() -> String {
        var lines: [String] = []
        for y in 0..<height {
            var x = 0
            while x < width {
                let style = self[x, y].style
                var end = x + 1
                while end < width && self[end, y].style == style { end += 1 }
                if style != .plain { lines.append("\(y) \(x)-\(end - 1) \(style)") }
                x = end
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Cells that differ from `previous` (all of them when the size changed), row-major.
    public func changes(since previous: CellBuffer?) -> [(x: Int, y: Int, cell: Cell)] {
        var out: [(x: Int, y: Int, cell: Cell)] = []
        guard let previous, previous.width == width, previous.height == height else {
            for y in 0..<height { for x in 0..<width where !self[x, y].continuation { out.append((x, y, self[x, y])) } }
            return out
        }
        for i in cells.indices where cells[i] != previous.cells[i] {
            let (y, x) = i.quotientAndRemainder(dividingBy: width)
            if cells[i].continuation {
                // The wide character owning this cell is redrawn instead.
                if x > 0, previous.cells[i - 1] == cells[i - 1] { out.append((x - 1, y, cells[i - 1])) }
                continue
            }
            out.append((x, y, cells[i]))
        }
        return out
    }
}
