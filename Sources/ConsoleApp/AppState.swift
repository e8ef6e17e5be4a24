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

/// The whole console state. `update` changes it; `render` draws it. Both are pure.
public struct AppState: Sendable {
    /// The tab shown.
    public var view: ViewID = .dashboard
    /// Each screen's list, by screen.
    public var lists: [ViewID: ListState] = [:]
    /// The pane each tab shows (a tab with one screen: itself).
    public var panes: [ViewID: ViewID] = [:]
    /// Each screen's own state, by its type (`ScreenLocalState`).
    private var locals: [ObjectIdentifier: any ScreenLocalState] = [:]
    public var holder = SnapshotHolder()
    public var sequencer = EventSequencer()
    public var connection: ConnectionState
    public var operatorInfo: OperatorInfo
    public var overlay: Overlay = .none
    /// The drill-down's first shown row (j/k, PgDn/PgUp, g/G scroll it).
    public var detailOffset = 0
    public var notices: [Notice] = []
    public var now: Date
    public var width: Int
    public var height: Int
    /// When the data on screen was last confirmed current (snapshot load or an applied event).
    public var dataAsOf: Date?
    /// When the last snapshot was loaded (the console re-reads it every `App.refreshInterval`).
    public var loadedAt: Date?
    public var reloadPending = false
    /// A change (an invalidation, a gap) came after the last load began: a tick reloads once
    /// `App.minReloadSpacing` has passed since the last load.
    public var reloadDue = false
    public var counters = Counters()
    public var quitting = false
    public var unicode = true
    public var keyMap = KeyMap.standard
    /// `--readonly` (and the wallboard): every action hidden, the status line says READ-ONLY.
    public var readOnly = false
    /// `--wallboard`: no cursor, the chosen views in turn, large figures.
    public var wallboard: Wallboard?
    /// How often the console re-reads the cached snapshot while events flow (corrects drift).
    public var refreshInterval: TimeInterval = App.refreshInterval
    /// Who the console's actions run as (the runtime sets it from the backend).
    public var actor: Actor
    /// Actions the backend cannot perform, with the reason (embedded: the live-only ones).
    public var actionUnavailable: [String: String] = [:]
    /// Dispatched actions awaiting their report, by request id.
    public var actionsInFlight: [UUID: ActionRequest] = [:]
    /// Bulk actions on marked rows still running: one notice when each has finished.
    public var bulkRuns: [BulkRun] = []
    /// The last action that failed (`!` sends it again with the same idempotency key).
    public var lastFailedAction: ActionRequest?
    /// Counter for the dialogs' impact measurements.
    public var actionToken = 0
    /// Request ids (lowercase) this console sent lately: their `action.executed` events need no second notice.
    public var ownRequestIDs: [String] = []

    public struct Counters: Sendable, Equatable {
        public var eventsApplied = 0
        public var eventsStale = 0
        public var unknownEvents = 0
        public var malformedEvents = 0
        public var gaps = 0
        public var reloads = 0
    }

    public init(connection: ConnectionState, operatorInfo: OperatorInfo, now: Date, width: Int = 80, height: Int = 24) {
        self.connection = connection
        self.operatorInfo = operatorInfo
        self.actor = Actor(user: operatorInfo.user)
        self.now = now
        self.width = width
        self.height = height
    }

    public var snapshot: Snapshot? { holder.current }

    /// The screen shown: the tab's active pane.
    public var screen: any Screen { ScreenRegistry.screen(panes[view] ?? view) }

    public subscript(list screen: ViewID) -> ListState {
        get { lists[screen] ?? ListState() }
        set { lists[screen] = newValue }
    }

    /// The shown screen's list.
    public var current: ListState {
        get { self[list: screen.id] }
        set { self[list: screen.id] = newValue }
    }

    /// A screen's own state (`state[local: LogsScreen.Local.self].follow`).
    public subscript<Local: ScreenLocalState>(local type: Local.Type) -> Local {
        get { locals[ObjectIdentifier(type)] as? Local ?? Local() }
        set { locals[ObjectIdentifier(type)] = newValue }
    }

    /// Rows of the body area (the screen minus tabs, header lines and the status line).
    public var bodyHeight: Int { max(1, height - 4) }

    public mutating func notify(_ text: String, _ level: Notice.Level = .info) {
        notices.append(Notice(text, level, at: now))
        if notices.count > 20 { notices.removeFirst(notices.count - 20) }
    }
}
