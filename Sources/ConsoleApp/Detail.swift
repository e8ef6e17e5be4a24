import AgentOSCore
import ConsoleUI
import Foundation

extension App {
    /// The drill-down pane over the body: what the item's screen tells about it.
    static func renderDetail(_ state: AppState, _ target: DetailTarget, _ b: inout CellBuffer, _ body: Rect) {
        guard body.width > 10, body.height > 3, let s = state.snapshot else { return }
        let (title, lines) = detailLines(state, s, target)
        let inner = detailText(body)
        // Wrapped once: the count places the view, the rows are drawn as they are.
        let wrapped = TextPane.wrapped(lines, width: inner.width, wrap: true)
        let rows = wrapped.count
        let offset = min(max(0, state.detailOffset), max(0, rows - inner.height))
        // Longer than the pane: where we are, and how to move.
        let position = rows > inner.height ? " — \(offset + 1)-\(min(rows, offset + inner.height)) of \(rows), j/k scroll" : ""
        b.render(Panel(title: title + position + " — Esc to close", style: Style(.accent), cover: Style(.text, bg: .background)), in: body)
        TextPane(lines: wrapped.map { (text: $0.0, style: $0.1) }, offset: offset, follow: false, wrap: false).render(into: &b, rect: inner)
    }

    /// Moves the drill-down's view for a movement command; false: not a movement command.
    static func scrollDetail(_ state: inout AppState, _ target: DetailTarget, _ command: Command) -> Bool {
        let inner = detailText(FrameLayout(state).body)
        let rows = state.snapshot.map { TextPane.wrapped(detailLines(state, $0, target).1, width: inner.width, wrap: true).count } ?? 0
        return scroll(&state.detailOffset, command, page: max(1, inner.height - 1), maxOffset: max(0, rows - inner.height))
    }

    /// Moves the help's rows for a movement command; false: not a movement command.
    static func scrollHelp(_ state: inout AppState, _ command: Command) -> Bool {
        let body = FrameLayout(state).body
        let maxOffset = HelpOverlay(helpSections(state)).maxOffset(in: body)
        return scroll(&state.helpOffset, command, page: max(1, body.height - 5), maxOffset: maxOffset)
    }

    /// An overlay's first shown row moved by a movement key, within 0…maxOffset.
    static func scroll(_ offset: inout Int, _ command: Command, page: Int, maxOffset: Int) -> Bool {
        var moved = min(offset, maxOffset)
        switch command {
        case .down: moved += 1
        case .up: moved -= 1
        case .pageDown: moved += page
        case .pageUp: moved -= page
        case .top: moved = 0
        case .bottom: moved = maxOffset
        default: return false
        }
        offset = min(max(0, moved), maxOffset)
        return true
    }

    /// Where the drill-down's text goes: inside the panel's border, a column from each side.
    static func detailText(_ body: Rect) -> Rect { Panel.inner(body).inset(left: 1, right: 1) }

    /// `name:` in a column of 14, the value after it; a longer name keeps all its letters (a result's
    /// `transcript_words` was cut into its value).
    static func field(_ name: String, _ value: String, _ style: Style = Style(.text)) -> (text: String, style: Style) {
        let label = name + ":"
        return ((label.count < 14 ? label.padding(toLength: 14, withPad: " ", startingAt: 0) : label + " ") + value, style)
    }

    /// The drill-down's title and lines, from the screen that lists the item; once the item has
    /// left the snapshot, what it last showed, marked as such, until the drill-down is closed.
    static func detailLines(_ state: AppState, _ s: Snapshot, _ target: DetailTarget) -> DetailContent {
        let screen = ScreenRegistry.screen(target.screen)
        if var content = screen.detail(state, s, id: target.id) {
            // Where it leads, after what it is.
            let links = screen.links(state, s, id: target.id)
            if !links.isEmpty {
                content.lines.append(("", .plain))
                content.lines.append((links.map { "\($0.key) \($0.label)" }.joined(separator: " · "), Style(.muted)))
            }
            return content
        }
        guard let memory = state.detailMemory, memory.target == target else {
            return ("\(target.id)", [("no longer in the snapshot", Style(.muted))])
        }
        let mark = "last known, as of \(Fmt.clock(memory.seen)): no longer in the snapshot (it left the recent window)"
        return (memory.content.title + " (last known)", [(mark, Style(.warning, [.bold])), ("", .plain)] + memory.content.lines)
    }

    /// After every message: what an open drill-down shows now, kept for when its item is gone.
    static func rememberDetail(_ state: inout AppState) {
        guard case .detail(let target) = state.overlay, let s = state.snapshot else {
            state.detailMemory = nil
            return
        }
        if let content = ScreenRegistry.screen(target.screen).detail(state, s, id: target.id) {
            state.detailMemory = DetailMemory(target: target, content: content, seen: state.sync.dataAsOf ?? state.now)
        }
    }
}
