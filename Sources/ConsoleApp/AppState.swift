import AgentOSCore
import ConsoleUI
import Foundation

/// A screen's list: cursor, sort, filter, selection and marks.
public struct ListState: Sendable, Equatable {
    public var cursor = TableCursor()
    public var sortColumn: Int?
    public var sortAscending = true
    public var filter = FilterState()
    /// The selected item's identity: the selection stays on it when rows move.
    public var selectedID: String?
    /// Marked items (for bulk actions), by identity.
    public var markedIDs: Set<String> = []
    public init() {}
}

/// Every screen's own state: its list, the pane each tab shows, and what a screen keeps beyond
/// its list (`ScreenLocalState`, by type).
public struct ScreenStates: Sendable {
    var lists: [ViewID: ListState] = [:]
    /// The pane each tab shows (a tab with one screen: itself).
    var panes: [ViewID: ViewID] = [:]
    private var locals: [ObjectIdentifier: any ScreenLocalState] = [:]

    public init() {}

    public subscript(list screen: ViewID) -> ListState {
        get { lists[screen] ?? ListState() }
        set { lists[screen] = newValue }
    }

    /// The screen a tab shows.
    public func pane(of tab: ViewID) -> ViewID { panes[tab] ?? tab }

    mutating func show(_ pane: ViewID, in tab: ViewID) { panes[tab] = pane }

    public subscript<Local: ScreenLocalState>(local type: Local.Type) -> Local {
        get { locals[ObjectIdentifier(type)] as? Local ?? Local() }
        set { locals[ObjectIdentifier(type)] = newValue }
    }
}

/// The whole console state, nested: the data (`sync`), the actions on their way (`actions`),
/// each screen's state (`screens`), and what is on the terminal (tab, overlay, notices, size).
/// `update` changes it; `render` draws it. Both are pure.
public struct AppState: Sendable {
    /// The tab shown.
    public var view: ViewID = .dashboard
    public var screens = ScreenStates()
    public var sync = SyncState()
    public var actions: ActionFlow
    public var connection: ConnectionState
    public var operatorInfo: OperatorInfo
    public var overlay: Overlay = .none
    /// The drill-down's first shown row (j/k, PgDn/PgUp, g/G scroll it).
    public var detailOffset = 0
    /// The help's first shown row (the same keys scroll it when it does not fit).
    public var helpOffset = 0
    /// What the open drill-down last showed: kept when its item leaves the snapshot (a storm pushes
    /// a job out of the recent window), so the operator still reads it, marked as last known.
    public var detailMemory: DetailMemory?
    public var notices: [Notice] = []
    public var now: Date
    public var width: Int
    public var height: Int
    public var quitting = false
    /// The command palette's history.
    public var palette = PaletteState()
    /// The places links left, newest last (`Esc` goes back one).
    public var navStack: [NavFrame] = []
    /// Why the console stopped when the operator did not ask (said on the terminal after it is
    /// restored; the process exits non-zero).
    public var endedBecause: String?
    /// `system.session_terminate` ended this console: nothing runs any more, a dialog says who and
    /// why, and the acknowledging key quits.
    public var sessionEnded: SessionKick?
    public var unicode = true
    /// The operator opted in to OSC 52 (`--osc52`): `Y` copies the selected id.
    public var clipboard = false
    public var keyMap = KeyMap.standard
    /// The one-line key hint bar above the status line (k9s style): `H` and `hints:` hide it.
    public var hintsShown = true
    /// Per screen, the names of the columns the operator hid (`ctrl-w`; `hidden_columns:` in the configuration file).
    public var hiddenColumns: [ViewID: Set<String>] = [:]
    /// `--readonly` (and the wallboard): every action hidden, the status line says READ-ONLY.
    public var readOnly = false
    /// A live console with no bus key (D66): nothing on the bus is authenticated, and the status line says BUS UNSIGNED.
    public var busUnsigned = false
    /// D71: a live console on a shared PostgreSQL login: its RBAC is advisory (the server enforces nothing).
    public var rbacAdvisory = false
    /// `--wallboard`: no cursor, the chosen views in turn, large figures.
    public var wallboard: Wallboard?

    public init(connection: ConnectionState, operatorInfo: OperatorInfo, now: Date, width: Int = 80, height: Int = 24) {
        self.connection = connection
        self.operatorInfo = operatorInfo
        self.actions = ActionFlow(actor: Actor(user: operatorInfo.user))
        self.now = now
        self.width = width
        self.height = height
    }

    public var snapshot: Snapshot? { sync.snapshot }

    // The runtime, the CLI and the benchmarks set these.
    public var sequencer: EventSequencer {
        get { sync.sequencer }
        set { sync.sequencer = newValue }
    }
    public var refreshInterval: TimeInterval {
        get { sync.refreshInterval }
        set { sync.refreshInterval = newValue }
    }
    public var actor: Actor {
        get { actions.actor }
        set { actions.actor = newValue }
    }
    public var actionUnavailable: [String: String] {
        get { actions.unavailable }
        set { actions.unavailable = newValue }
    }

    /// The screen shown: the tab's active pane.
    public var screen: any Screen { ScreenRegistry.screen(screens.pane(of: view)) }

    /// The shown screen's list.
    public var current: ListState {
        get { screens[list: screen.id] }
        set { screens[list: screen.id] = newValue }
    }

    /// A screen's own state (`state[local: LogsScreen.Local.self].follow`).
    public subscript<Local: ScreenLocalState>(local type: Local.Type) -> Local {
        get { screens[local: type] }
        set { screens[local: type] = newValue }
    }

    public mutating func notify(_ text: String, _ level: Notice.Level = .info) {
        notices.append(Notice(text, level, at: now))
        if notices.count > 20 { notices.removeFirst(notices.count - 20) }
    }
}
