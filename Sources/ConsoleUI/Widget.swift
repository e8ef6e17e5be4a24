/// Something that draws itself into a rectangle of a `CellBuffer` (after ratatui's `Widget`).
/// A widget is a value built for one frame; it draws only inside `rect` and reads nothing else.
public protocol Widget: Sendable {
    func render(into buffer: inout CellBuffer, rect: Rect)
}

/// A widget whose scroll and selection state the caller keeps between frames (after ratatui's
/// `StatefulWidget`): drawing reads the state and may update it, e.g. scroll to the selection.
public protocol StatefulWidget: Sendable {
    associatedtype State
    func render(into buffer: inout CellBuffer, rect: Rect, state: inout State)
}

extension CellBuffer {
    /// Draws `widget` into `rect` (reads as a list when a frame is laid out part by part).
    public mutating func render(_ widget: some Widget, in rect: Rect) {
        widget.render(into: &self, rect: rect)
    }

    public mutating func render<W: StatefulWidget>(_ widget: W, in rect: Rect, state: inout W.State) {
        widget.render(into: &self, rect: rect, state: &state)
    }
}

/// A border with an optional title on its top edge (ratatui's `Block`).
public struct Panel: Widget {
    public var title: String?
    public var style: Style
    public var titleStyle: Style
    /// Drawn over other things (a drill-down, a dialog): the panel first blanks its rectangle in this
    /// style and records a `.cover` zone, so what lies under it neither shows nor takes a click
    /// (ratatui's `Clear` under a `Block`). Nil: only the border is drawn.
    public var cover: Style?

    public init(title: String? = nil, style: Style = Style(.border), titleStyle: Style = Style(.title, [.bold]), cover: Style? = nil) {
        self.title = title
        self.style = style
        self.titleStyle = titleStyle
        self.cover = cover
    }

    /// The rectangle inside the border of a panel drawn in `rect`.
    public static func inner(_ rect: Rect) -> Rect { rect.inset(1) }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        if let cover {
            buffer.fill(rect, " ", cover)
            buffer.recordZone(rect, .cover)
        }
        buffer.box(rect, style, title: title, titleStyle: titleStyle)
    }
}
