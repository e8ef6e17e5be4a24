import ConsoleUI

/// The console's frame, cut by ConsoleUI's constraint `Layout`: the tab line, the context line,
/// the body the screens draw in, the key hint bar (when shown) and the status line. Render, update (how many rows a page is), the
/// drill-down's scrolling and the wallboard take their areas from here, so none recomputes them.
public struct FrameLayout: Sendable, Equatable {
    public let tabs: Rect
    public let context: Rect
    public let body: Rect
    public let status: Rect
    /// The key hint bar (nil: hidden).
    public let hints: Rect?
    /// A wallboard's header (where the tabs are) and its body, which takes the context line too.
    public let wallboardHeader: Rect
    public let wallboardBody: Rect

    public init(width: Int, height: Int, hints: Bool = false) {
        let screen = Rect(x: 0, y: 0, width: width, height: height)
        let console = Layout.vertical([.length(1), .length(1), .fill(1), .length(hints ? 1 : 0), .length(1)]).split(screen)
        (tabs, context, body, status) = (console[0], console[1], console[2], console[4])
        self.hints = hints ? console[3] : nil
        let wallboard = Layout.vertical([.length(1), .fill(1), .length(1)]).split(screen)
        (wallboardHeader, wallboardBody) = (wallboard[0], wallboard[1])
    }

    /// The frame `state` is drawn in: the hint bar when shown, not on a wallboard, and not on a
    /// terminal under `hintsMinHeight` rows, where the body needs every row.
    public init(_ state: AppState) {
        self.init(width: state.width, height: state.height, hints: state.hintsShown && state.wallboard == nil && state.height >= Self.hintsMinHeight)
    }

    public static let hintsMinHeight = 16

    /// The line the `:` palette writes in: the body's last row, just above the status line.
    public var prompt: Rect { Layout.vertical([.fill(1), .length(1)]).split(body)[1] }
}
