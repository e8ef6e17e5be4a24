import AgentOSCore
import ConsoleUI
import Foundation

// The console's shape: `ScreenRegistry` lists the screens; each screen (one file in this folder)
// gives its titles and aliases, its columns and rows from the snapshot, its drill-down, how it
// draws (in the console and on a wallboard), its key handling and the catalog actions it offers
// (by `ActionSpec.view`). Tabs, the `:` palette, keys 1–9, the help, the action menu and the
// wallboard all read the registry; nothing else lists screens.

/// A screen's identity (`jobs`, `queues` …); a tab's is the identity of the screen it shows first.
/// Each screen declares its own as a static member next to it (`ViewID.jobs`).
public struct ViewID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The tabs, in order (keys 1–9).
    public static var allCases: [ViewID] { ScreenRegistry.tabs }

    /// The tab's position (key `tabIndex + 1`).
    public var tabIndex: Int { ScreenRegistry.tabs.firstIndex(of: ScreenRegistry.screen(self).tab) ?? 0 }
    public var title: String { ScreenRegistry.screen(self).title }
    public var shortTitle: String { ScreenRegistry.screen(self).shortTitle }
    /// Names the command palette accepts (`:jobs`, `:q`, `:wk` …): the tab's and those of its panes.
    public var aliases: [String] { ScreenRegistry.panes(of: self).flatMap(\.aliases) }

    /// The tab a palette name (or a unique prefix of two letters or more) stands for.
    public static func named(_ name: String) -> ViewID? { screenNamed(name).map { ScreenRegistry.screen($0).tab } }

    /// The screen itself, which may be a tab's second pane (`:queues`, `:changes`).
    public static func screenNamed(_ name: String) -> ViewID? {
        let n = name.lowercased()
        let screens = ScreenRegistry.all
        let screen =
            screens.first { $0.aliases.contains(n) } ?? screens.first { s in s.aliases.contains { $0.hasPrefix(n) && n.count >= 2 } }
        return screen?.id
    }
}

/// The item a drill-down shows: the screen that lists it and its identity there.
public struct DetailTarget: Sendable, Equatable {
    public var screen: ViewID
    public var id: String
    public init(_ screen: ViewID, _ id: String) {
        self.screen = screen
        self.id = id
    }
}

/// A drill-down's title and lines.
public typealias DetailContent = (title: String, lines: [(text: String, style: Style)])

/// The content an open drill-down last showed, and the time of the data it came from.
public struct DetailMemory: Sendable {
    public var target: DetailTarget
    public var content: DetailContent
    public var seen: Date
}

/// One screen of the console. Only `id`, `title`, `aliases`, `columns` and `rows` are required;
/// the rest has defaults for a plain table screen without actions.
public protocol Screen: Sendable {
    var id: ViewID { get }
    /// The tab that shows it: its own, or an earlier screen's (Queues is the second pane of Jobs & Queue).
    var tab: ViewID { get }
    var title: String { get }
    /// The tab label when the long titles do not fit.
    var shortTitle: String { get }
    /// Names the command palette accepts; the first one names it in key map files (`view.jobs`).
    var aliases: [String] { get }
    /// Its label in the context line when its tab has several panes (`[jobs] queues`).
    var paneLabel: String { get }

    func columns(_ state: AppState) -> [TableColumn]
    /// The rows, built lazily (only the visible ones are built for a frame).
    func rows(_ snapshot: Snapshot, _ state: AppState) -> Screens.ListSource
    /// Where its selectable table sits inside the body (render, the mouse and paging use it).
    func tableRect(_ state: AppState, body: Rect) -> Rect
    /// Draws the body (once a snapshot is loaded).
    func render(_ state: AppState, _ b: inout CellBuffer, _ body: Rect)
    /// Draws the body on a wallboard: no cursor, large figures.
    func renderWallboard(_ state: AppState, _ b: inout CellBuffer, _ body: Rect)
    /// Adds its own part to the context `line`, from column `x` on (after the row count and the filter).
    func renderContext(_ state: AppState, _ b: inout CellBuffer, line: Rect, x: inout Int)

    /// Everything known about one of its rows (nil: its rows have no drill-down, or this item is not
    /// in the snapshot; an open drill-down then keeps what it last showed, `App.detailLines`).
    func detail(_ state: AppState, _ snapshot: Snapshot, id: String) -> DetailContent?
    /// What opening (or an event about) the drill-down of `id` must load.
    func detailLoads(id: String, after event: AgentEvent?) -> [Effect]
    /// Where the drill-down of `id` leads (`App.follow`).
    func links(_ state: AppState, _ snapshot: Snapshot, id: String) -> [Link]
    /// Its own key in the open drill-down of `id` (a job's `y`: its raw record); nil: not its key.
    func detailKey(_ key: Character, id: String, _ state: inout AppState) -> [Effect]?

    /// The catalog view whose actions it offers (nil: none).
    var actionView: ActionView? { get }
    /// Whether it offers a catalog action (by default: those whose `ActionSpec.view` is its `actionView`).
    func offers(_ spec: ActionSpec) -> Bool
    /// The actions of its menu, keys and help (by default: the catalog's it offers, prefilled).
    func actionEntries(_ state: AppState) -> [ActionEntry]
    /// The payload the selected row gives an action, and a note for the dialog.
    func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?)
    /// The help's and the menu's name for its actions.
    var actionsTitle: String { get }
    /// Its actions aim at the selected row (and marked rows make them bulk actions).
    var actionsAimAtSelection: Bool { get }

    /// Its own reaction to a key-map command (nil: the console's usual one).
    func run(_ command: Command, _ state: inout AppState) -> [Effect]?
    /// Its own reaction to any message (samples, histories), after the console's.
    func receive(_ msg: Msg, _ state: inout AppState) -> [Effect]
    /// The cursor moved by `delta` over `count` rows (Logs stops or resumes following).
    func cursorMoved(_ state: inout AppState, delta: Int, count: Int)
    /// The cursor stays on the last row (Logs while following).
    func pinsCursorToEnd(_ state: AppState) -> Bool
}

extension Screen {
    public var tab: ViewID { id }
    public var shortTitle: String { title }
    public var paneLabel: String { id.rawValue }

    public func tableRect(_ state: AppState, body: Rect) -> Rect { body }
    public func render(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        App.renderTable(state, &b, tableRect(state, body: body))
    }
    public func renderWallboard(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) { App.wallboardTable(state, &b, body) }
    public func renderContext(_ state: AppState, _ b: inout CellBuffer, line: Rect, x: inout Int) {}

    public func detail(_ state: AppState, _ snapshot: Snapshot, id: String) -> DetailContent? { nil }
    public func detailLoads(id: String, after event: AgentEvent?) -> [Effect] { [] }
    public func links(_ state: AppState, _ snapshot: Snapshot, id: String) -> [Link] { [] }
    public func detailKey(_ key: Character, id: String, _ state: inout AppState) -> [Effect]? { nil }

    public var actionView: ActionView? { nil }
    public func offers(_ spec: ActionSpec) -> Bool { spec.view == actionView }
    public func actionEntries(_ state: AppState) -> [ActionEntry] {
        let selected = App.selectedItemID(state)
        return ActionCatalog.all.filter(offers).map { spec in
            let (payload, note) = prefill(state, spec, selected: selected)
            return ActionEntry(
                key: state.keyMap.actionKey(spec.id, catalog: spec.key), spec: spec, title: spec.title, payload: payload,
                note: note, disabled: App.unavailability(state, spec, payload), forbidden: App.forbidden(state, spec))
        }
    }
    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) { ([:], nil) }
    public var actionsTitle: String { title }
    public var actionsAimAtSelection: Bool { true }

    public func run(_ command: Command, _ state: inout AppState) -> [Effect]? { nil }
    public func receive(_ msg: Msg, _ state: inout AppState) -> [Effect] { [] }
    public func cursorMoved(_ state: inout AppState, delta: Int, count: Int) {}
    public func pinsCursorToEnd(_ state: AppState) -> Bool { false }
}

/// A screen's own state beyond its list (Logs' follow mode, the Analytics window, loaded
/// histories); kept in `AppState` by type, made with `init()` on first use.
public protocol ScreenLocalState: Sendable {
    init()
}
