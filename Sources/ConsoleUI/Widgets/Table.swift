/// A column of a table: its title, how wide, how aligned.
public struct TableColumn: Sendable, Equatable {
    public enum Width: Sendable, Equatable {
        case fixed(Int)
        /// Shares the remaining width by weight, never narrower than `min`.
        case flex(weight: Int, min: Int)
    }

    public var title: String
    public var width: Width
    public var align: CellBuffer.Alignment
    /// Columns with a lower priority are dropped first when the terminal is too narrow.
    public var priority: Int

    public init(_ title: String, _ width: Width, align: CellBuffer.Alignment = .left, priority: Int = 5) {
        self.title = title
        self.width = width
        self.align = align
        self.priority = priority
    }
}

/// One row: its cells and an optional style (e.g. danger for a failed job).
public struct TableRow: Sendable, Equatable {
    public var cells: [String]
    public var style: Style?
    /// Per-cell style overrides (index → style).
    public var cellStyles: [Int: Style]

    public init(_ cells: [String], style: Style? = nil, cellStyles: [Int: Style] = [:]) {
        self.cells = cells
        self.style = style
        self.cellStyles = cellStyles
    }
}

/// Scroll position and selection of a table, kept by the app state.
public struct TableCursor: Sendable, Equatable {
    public var selected: Int
    public var offset: Int
    public var marked: Set<Int>

    public init(selected: Int = 0, offset: Int = 0, marked: Set<Int> = []) {
        self.selected = selected
        self.offset = offset
        self.marked = marked
    }

    /// Moves the selection by `delta` within `count` rows and keeps it visible in `visible` rows.
    public mutating func move(_ delta: Int, count: Int, visible: Int) {
        guard count > 0 else {
            selected = 0
            offset = 0
            return
        }
        selected = max(0, min(count - 1, selected + delta))
        reveal(count: count, visible: visible)
    }

    /// Moves only `offset`: the selected row into the `visible` rows, and no blank rows after the
    /// last row. A selection outside the rows (none, e.g. -1) stays as it is.
    public mutating func scroll(count: Int, visible: Int) {
        let v = max(1, visible)
        if (0..<count).contains(selected) {
            if selected < offset { offset = selected }
            if selected >= offset + v { offset = selected - v + 1 }
        }
        offset = max(0, min(offset, count - v))
    }

    /// Clamps the selection into the rows, then scrolls to it.
    public mutating func reveal(count: Int, visible: Int) {
        guard count > 0 else {
            selected = 0
            offset = 0
            return
        }
        selected = max(0, min(count - 1, selected))
        scroll(count: count, visible: visible)
    }
}

/// A table with a header, sort indicator, selection bar, marks and a scroll position.
public struct Table: Widget, StatefulWidget {
    public var columns: [TableColumn]
    public var rows: [TableRow]
    public var cursor: TableCursor
    public var sortColumn: Int?
    public var sortAscending: Bool
    public var focused: Bool
    public var emptyMessage: String
    /// The listing index of `rows[0]`, for the row zones, when the caller passes only a window of rows.
    public var firstRowIndex: Int
    /// Columns the operator chose to hide (indices into `columns`): never drawn, never counted as dropped.
    public var hidden: Set<Int>

    public init(
        columns: [TableColumn], rows: [TableRow], cursor: TableCursor = TableCursor(), sortColumn: Int? = nil,
        sortAscending: Bool = true, focused: Bool = true, emptyMessage: String = "nothing to show", firstRowIndex: Int = 0,
        hidden: Set<Int> = []
    ) {
        self.columns = columns
        self.rows = rows
        self.cursor = cursor
        self.sortColumn = sortColumn
        self.sortAscending = sortAscending
        self.focused = focused
        self.emptyMessage = emptyMessage
        self.firstRowIndex = firstRowIndex
        self.hidden = hidden
    }

    /// Rows that fit under the header.
    public static func visibleRows(in rect: Rect) -> Int { max(0, rect.height - 1) }

    /// The sign at the end of the header when columns were dropped: " +2" says two did not fit.
    static func droppedSign(_ dropped: Int) -> String { dropped > 0 ? " +\(dropped)" : "" }

    /// The x offset and width of each shown column (dropped columns are absent). When some are
    /// dropped, the header's last cells are kept for the sign that says how many.
    public func layout(width: Int) -> [(index: Int, x: Int, width: Int)] {
        let chosen = columns.indices.filter { !hidden.contains($0) }
        var shown = chosen
        var width = width
        func need(_ idx: [Int]) -> Int {
            idx.reduce(0) { total, i in
                switch columns[i].width {
                case .fixed(let w): return total + w
                case .flex(_, let m): return total + m
                }
            } + max(0, idx.count - 1) + 2 // gaps and the mark column
        }
        while need(shown) > width, shown.count > 1 {
            let victim = shown.enumerated().min { a, b in
                (columns[a.element].priority, -a.offset) < (columns[b.element].priority, -b.offset)
            }!.offset
            if shown.count == chosen.count { width -= DisplayWidth.of(Self.droppedSign(chosen.count)) }
            shown.remove(at: victim)
        }
        let fixed = shown.reduce(0) { t, i in if case .fixed(let w) = columns[i].width { return t + w } else { return t } }
        let weights = shown.reduce(0) { t, i in if case .flex(let w, _) = columns[i].width { return t + w } else { return t } }
        let free = max(0, width - 2 - max(0, shown.count - 1) - fixed)
        let flexMin = shown.reduce(0) { t, i in if case .flex(_, let m) = columns[i].width { return t + m } else { return t } }
        // Each flexible column gets its minimum, and the room beyond all minimums by weight: the
        // columns after them keep their width (AGE was squeezed to nothing at 80 columns).
        var extra = max(0, free - flexMin)
        var x = 2
        var out: [(Int, Int, Int)] = []
        var weightLeft = weights
        for i in shown {
            var w: Int
            switch columns[i].width {
            case .fixed(let f): w = f
            case .flex(let weight, let m):
                let share = weightLeft > 0 ? extra * weight / weightLeft : 0
                w = m + share
                extra -= share
                weightLeft -= weight
            }
            w = max(0, min(w, width - x))
            out.append((i, x, w))
            x += w + 1
        }
        return out
    }

    /// Draws from `cursor` as it is (the caller has already scrolled it).
    public func render(into buffer: inout CellBuffer, rect: Rect) {
        draw(into: &buffer, rect: rect, cursor: cursor)
    }

    /// Draws from `state` instead of `cursor`, first scrolling it so the selected row shows.
    public func render(into buffer: inout CellBuffer, rect: Rect, state: inout TableCursor) {
        state.scroll(count: rows.count, visible: Self.visibleRows(in: rect))
        draw(into: &buffer, rect: rect, cursor: state)
    }

    private func draw(into buffer: inout CellBuffer, rect: Rect, cursor: TableCursor) {
        guard rect.height > 0, rect.width > 2 else { return }
        let cols = layout(width: rect.width)
        buffer.fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), " ", Style(.header, bg: nil, [.bold, .underline]))
        for (i, x, w) in cols {
            buffer.put(
                columns[i].title, in: Rect(x: rect.x + x, y: rect.y, width: w, height: 1), Style(.header, [.bold, .underline]),
                align: columns[i].align)
            // The sort mark goes just before the name (in the gap before the column when the name
            // fills it): the name keeps all its width.
            if sortColumn == i {
                let name = min(DisplayWidth.of(columns[i].title), w)
                let offset = columns[i].align == .right ? w - name : columns[i].align == .center ? (w - name) / 2 : 0
                let mark = String(sortAscending ? buffer.glyphs.arrowUp : buffer.glyphs.arrowDown)
                buffer.put(mark, x: rect.x + x + offset - 1, y: rect.y, Style(.accent, [.bold, .underline]))
            }
        }
        let sign = Self.droppedSign(columns.indices.filter { !hidden.contains($0) }.count - cols.count)
        if !sign.isEmpty {
            let w = DisplayWidth.of(sign)
            buffer.put(sign, in: Rect(x: rect.maxX - w, y: rect.y, width: w, height: 1), Style(.muted, [.bold, .underline]), align: .right)
        }
        let visible = Self.visibleRows(in: rect)
        if rows.isEmpty {
            if visible > 0 {
                buffer.put(emptyMessage, in: Rect(x: rect.x + 2, y: rect.y + 1, width: rect.width - 2, height: 1), Style(.muted, [.italic]))
            }
            return
        }
        let end = min(rows.count, cursor.offset + visible)
        for (line, r) in (cursor.offset..<end).enumerated() {
            let y = rect.y + 1 + line
            let row = rows[r]
            let selected = r == cursor.selected
            let base = row.style ?? .plain
            buffer.fill(Rect(x: rect.x, y: y, width: rect.width, height: 1), " ", base)
            buffer.recordZone(Rect(x: rect.x, y: y, width: rect.width, height: 1), .row(firstRowIndex + r))
            if cursor.marked.contains(r) { buffer.put(String(buffer.glyphs.mark), x: rect.x, y: y, Style(.accent, [.bold])) }
            for (i, x, w) in cols where i < row.cells.count {
                buffer.put(
                    row.cells[i], in: Rect(x: rect.x + x, y: y, width: w, height: 1), row.cellStyles[i] ?? base,
                    align: columns[i].align, pad: false)
            }
            if selected {
                let focused = self.focused
                buffer.restyle(Rect(x: rect.x, y: y, width: rect.width, height: 1)) { s in
                    var t = s
                    t.bg = .selection
                    if focused { t.attrs.insert(.bold) }
                    return t
                }
            }
        }
    }
}
