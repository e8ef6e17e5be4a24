import AgentOSCore
import ConsoleUI
import Foundation

/// Where a drill-down leads (issue 20 item 3): `l` from a job to its log lines, `w` to its worker,
/// `J` from a worker or a queue to its jobs. A link opens another pane filtered on the item, or
/// another item's drill-down; each hop is remembered, shown as breadcrumbs, and `Esc` goes back.
public struct Link: Sendable, Equatable {
    public var key: Character
    public var label: String
    public var to: ViewID
    /// The destination's filter (plain text).
    public var filter: String?
    /// An item of `to` whose drill-down opens.
    public var open: String?

    public init(_ key: Character, _ label: String, to: ViewID, filter: String? = nil, open: String? = nil) {
        self.key = key
        self.label = label
        self.to = to
        self.filter = filter
        self.open = open
    }
}

/// Where the operator was before a link: the tab, pane and drill-down to go back to, and the
/// destination's list as it was (its filter comes back too).
public struct NavFrame: Sendable, Equatable {
    public var crumb: String
    var tab: ViewID
    var pane: ViewID
    var overlay: Overlay
    var detailOffset: Int
    var destination: ViewID
    var destinationList: ListState
    /// The drill-down the link opened (`Esc` on it goes back, not just closes it).
    var opened: DetailTarget?
}

extension App {
    /// How deep links go before the oldest hop is forgotten.
    static let navLimit = 20

    /// The links of the open drill-down.
    static func links(_ state: AppState, _ target: DetailTarget) -> [Link] {
        guard let s = state.snapshot else { return [] }
        return ScreenRegistry.screen(target.screen).links(state, s, id: target.id)
    }

    static func follow(_ state: inout AppState, _ link: Link, from target: DetailTarget, title: String) -> [Effect] {
        let frame = NavFrame(
            crumb: title, tab: state.view, pane: state.screen.id, overlay: state.overlay, detailOffset: state.detailOffset,
            destination: link.to, destinationList: state.screens[list: link.to], opened: link.open.map { DetailTarget(link.to, $0) })
        state.navStack.append(frame)
        if state.navStack.count > navLimit { state.navStack.removeFirst() }
        if let id = link.open { return open(&state, link.to, id) }
        show(&state, link.to)
        var list = state.screens[list: link.to]
        list.filter = FilterState(text: NSRegularExpression.escapedPattern(for: link.filter ?? ""))
        list.cursor = TableCursor()
        list.selectedID = nil
        state.screens[list: link.to] = list
        clampCursor(&state)
        return []
    }

    /// `Esc` after a link: the previous place, as it was.
    static func goBack(_ state: inout AppState) -> [Effect] {
        guard let frame = state.navStack.popLast() else { return [] }
        state.screens[list: frame.destination] = frame.destinationList
        state.screens.show(frame.pane, in: frame.tab)
        state.view = frame.tab
        state.overlay = frame.overlay
        state.detailOffset = frame.detailOffset
        clampCursor(&state)
        if case .detail(let target) = frame.overlay { return ScreenRegistry.screen(target.screen).detailLoads(id: target.id, after: nil) }
        return []
    }

    /// The breadcrumbs on the context line: where `Esc` goes back to, oldest first.
    static func breadcrumbs(_ state: AppState) -> String? {
        guard !state.navStack.isEmpty else { return nil }
        return (state.navStack.map(\.crumb) + ["Esc back"]).joined(separator: " › ")
    }
}
