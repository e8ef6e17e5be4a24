import AgentOSCore
import ConsoleUI
import Foundation

/// The pure update: folds one message into the state and returns the effects to perform (data,
/// never performed here). The console's part routes: data messages to `state.sync`, action
/// reports to `state.actions` (Actions/), keys to the overlays, the key map and the shown
/// screen; then every screen folds the message into its own state (`Screen.receive`).
public enum App {
    /// How often the console re-reads the cached snapshot while events flow (corrects drift).
    public static let refreshInterval: TimeInterval = 5
    /// Invalidations (every action on the backend sends one) reload the snapshot at most this often: the
    /// events carry the rows that changed, the reload only the aggregates, and two hundred consoles
    /// reloading on every action of a burst would load Redis for nothing (docs/DECISIONS.md, D40).
    public static let minReloadSpacing: TimeInterval = 1

    /// The console's own fold, then every screen's (`Screen.receive`).
    public static func update(_ state: inout AppState, _ msg: Msg) -> [Effect] {
        var effects = consoleUpdate(&state, msg)
        for screen in ScreenRegistry.all { effects += screen.receive(msg, &state) }
        rememberDetail(&state)
        return effects
    }

    static func consoleUpdate(_ state: inout AppState, _ msg: Msg) -> [Effect] {
        switch msg {
        case .key(let key):
            return handleKey(&state, key)
        case .resize(let w, let h):
            state.width = max(1, w)
            state.height = max(1, h)
            clampCursor(&state)
            return []
        case .tick(let date):
            state.now = date
            state.notices.removeAll { date.timeIntervalSince($0.at) > 8 }
            cycleWallboard(&state)
            return state.sync.tick(date) + remeasureImpact(&state)
        case .snapshotLoaded(let snapshot):
            if let refused = state.sync.loaded(snapshot, now: state.now) {
                state.notify(refused, .warning)
            } else if state.sync.reloadAsked {
                state.notify("reloaded: generation \(snapshot.generation)", .success)
            }
            state.sync.reloadAsked = false
            clampCursor(&state)
            return remeasureImpact(&state) + state.sync.catchUp()
        case .snapshotFailed(let reason):
            state.sync.loadFailed(now: state.now)
            state.sync.reloadAsked = false
            state.notify("snapshot not refreshed: \(reason)", .error)
            return []
        case .jobHistory, .jobRecord, .configHistory:
            return [] // the screens that show them keep them
        case .connection(let redis, let postgres, let reads):
            if let redis { state.connection.redis = redis }
            if let postgres { state.connection.postgres = postgres }
            // Falling back from the replica to the master is said once, then shown on the status line.
            if let reads, reads.fellBack, state.connection.redisReads?.fellBack != true { state.notify(reads.text, .warning) }
            state.connection.redisReads = reads
            return []
        case .bus(let message):
            return handleBus(&state, message)
        case .actionFinished(let report):
            return actionFinished(&state, report)
        case .impactMeasured(let token, let result):
            return impactMeasured(&state, token: token, result)
        case .previewed(let token, let report):
            return previewed(&state, token: token, report)
        case .jobsFound(let query, let result):
            return jobsFound(&state, query, result)
        }
    }

    // MARK: events

    static func handleBus(_ state: inout AppState, _ message: BusMessage) -> [Effect] {
        switch message {
        case .connected(let gapPossible):
            let wasDown = state.connection.isStale
            var downReason = ""
            if case .down(let reason, _, _) = state.connection.events { downReason = reason }
            state.connection.events = .up
            state.connection.downSince = nil
            // A failover is named on the status line after the banner clears, so nobody misses it.
            if downReason.hasPrefix("redis failover") {
                state.notify("\(downReason) · reloaded", .warning)
            } else if wasDown {
                state.notify("event stream reconnected", .success)
            }
            return gapPossible || state.snapshot == nil || wasDown ? state.sync.resync() : []
        case .disconnected(let reason, let retry):
            let attempts: Int
            if case .down(_, _, let n) = state.connection.events { attempts = n + 1 } else { attempts = 1 }
            if !state.connection.isStale { state.connection.downSince = state.now }
            state.connection.events = .down(reason: reason, retryInMillis: retry, attempts: attempts)
            return []
        case .changedElsewhere:
            return state.sync.reloadUnlessPending()
        case .sessionEnded(let kick):
            return sessionEnded(&state, kick)
        case .overflowed(let dropped):
            state.notify("event buffer full: \(dropped) event(s) dropped · reloading", .warning)
            return state.sync.resync()
        case .refused(let refused):
            if state.sync.refused(source: refused.source) {
                state.notify("ignored a message on the bus: \(refused) (said once per source; counted)", .warning)
            }
            return []
        case .malformed(let failure):
            state.sync.counters.malformedEvents += 1
            state.notify("skipped a malformed event: \(failure.description)", .warning)
            return []
        case .event(let envelope):
            switch state.sync.admit(envelope) {
            case .stale:
                return []
            case .gap:
                // The event's own effects (a session ended here) count as much as the reload.
                return apply(&state, envelope) + state.sync.reloadUnlessPending()
            case .apply:
                return apply(&state, envelope)
            }
        }
    }

    /// system.session_terminate on this console: from now on nothing runs (every dialog closes, every
    /// key but the acknowledgement is refused), a dialog says who ended it and why, and the reason is
    /// said again on the terminal after it quits.
    static func sessionEnded(_ state: inout AppState, _ kick: SessionKick) -> [Effect] {
        guard state.sessionEnded == nil else { return [] }
        state.sessionEnded = kick
        state.endedBecause = kick.sentence
        state.overlay = .none
        return [.sessionEnded(kick)]
    }

    @discardableResult
    static func apply(_ state: inout AppState, _ envelope: EventEnvelope) -> [Effect] {
        if case .sessionKick(let kick) = envelope.event, !kick.sessionID.isEmpty, kick.sessionID == state.actions.actor.sessionID {
            return sessionEnded(&state, kick)
        }
        guard state.sync.apply(envelope, now: state.now) else { return [] }
        switch envelope.event {
        case .actionExecuted(let notice) where !state.actions.sentHere(notice.requestID):
            state.notify(
                "\(notice.user) ran \(notice.action)\(notice.target.map { " on \($0)" } ?? ""): \(notice.outcome)",
                notice.outcome == "success" ? .success : .warning)
        case .cacheInvalidated:
            return state.sync.invalidated(now: state.now)
        case .maintenance(let m):
            state.notify(m.enabled ? "maintenance mode ON" : "maintenance mode off", m.enabled ? .warning : .info)
        default:
            break
        }
        if case .detail(let target) = state.overlay {
            return ScreenRegistry.screen(target.screen).detailLoads(id: target.id, after: envelope.event)
        }
        return []
    }

    // MARK: keys

    static func handleKey(_ state: inout AppState, _ key: Key) -> [Effect] {
        if state.sessionEnded != nil {
            // Ended from outside: the operator acknowledges (Enter, q, Esc or Ctrl-C) and the console quits.
            guard [.enter, .char("q"), .escape, .ctrl("c")].contains(key) else { return [] }
            state.quitting = true
            return [.quit]
        }
        if case .mouse(let m) = key { return mouseEvent(&state, m) }
        if state.wallboard != nil { return wallboardKey(&state, key) }
        // Text entry first: the filter and the palette take printable keys.
        if state.current.filter.editing { return editFilter(&state, key) }
        if case .palette(let text) = state.overlay { return editPalette(&state, key, text) }
        // The action overlays take their keys before the key map.
        switch state.overlay {
        case .actionMenu(let menu): return menuKey(&state, key, menu)
        case .actionForm(let form): return formKey(&state, key, form)
        case .confirm(let dialog): return confirmKey(&state, key, dialog)
        case .columns(let picker): return columnPickerKey(&state, key, picker)
        default: break
        }

        let command = state.keyMap.command(for: key)
        if command == .back {
            // After a link, Esc goes back to where the operator was (its drill-down open again);
            // a drill-down opened since closes first.
            if let frame = state.navStack.last, state.overlay == .none || state.overlay == frame.opened.map(Overlay.detail) {
                return goBack(&state)
            }
            if state.overlay != .none {
                state.overlay = .none
                return []
            }
            if state.current.filter.isActive {
                state.current.filter = FilterState()
                clampCursor(&state)
            }
            return []
        }
        if case .detail(let target) = state.overlay {
            // The drill-down scrolls with the movement keys and acts on its item (the selection):
            // action keys, the menu and retry work there.
            if let command, scrollDetail(&state, target, command) { return [] }
            if command == .actionMenu || command == .retryAction || command == .copyID { return run(&state, command!) }
            if case .char(let c) = key, let effects = ScreenRegistry.screen(target.screen).detailKey(c, id: target.id, &state) {
                return effects
            }
            if case .char(let c) = key, let link = links(state, target).first(where: { $0.key == c }), let s = state.snapshot {
                let title = ScreenRegistry.screen(target.screen).detail(state, s, id: target.id)?.title ?? target.id
                return follow(&state, link, from: target, title: title)
            }
            if command == nil, let effects = actionKey(&state, key) { return effects }
        }
        if state.overlay == .help, let command, scrollHelp(&state, command) { return [] }
        if state.overlay != .none {
            // Overlays close with their own key or q; Ctrl-C always quits.
            if key == .ctrl("c") {
                state.quitting = true
                return [.quit]
            }
            if command == .help || command == .quit || command == .open { state.overlay = .none }
            return []
        }

        // Global keys win; then the view's action keys (from the catalog) on the selection.
        guard let command = state.keyMap.command(for: key) else { return actionKey(&state, key) ?? [] }
        return run(&state, command)
    }

    /// Performs a key-map command.
    public static func run(_ state: inout AppState, _ command: Command) -> [Effect] {
        if let effects = state.screen.run(command, &state) { return effects }
        let visible = visibleRows(state)
        let tabs = ScreenRegistry.tabs
        switch command {
        case .quit:
            state.quitting = true
            return [.quit]
        case .view(let v):
            switchTo(&state, v)
        case .nextView:
            switchTo(&state, tabs[(state.view.tabIndex + 1) % tabs.count])
        case .previousView:
            switchTo(&state, tabs[(state.view.tabIndex + tabs.count - 1) % tabs.count])
        case .help:
            state.overlay = .help
            state.helpOffset = 0
        case .palette:
            state.overlay = .palette("")
        case .filter:
            state.current.filter.editing = true
        case .back:
            break
        case .down:
            move(&state, 1, visible)
        case .up:
            move(&state, -1, visible)
        case .pageDown:
            move(&state, max(1, visible - 1), visible)
        case .pageUp:
            move(&state, -max(1, visible - 1), visible)
        case .top:
            move(&state, -Int.max / 2, visible)
        case .bottom:
            move(&state, Int.max / 2, visible)
        case .sortNext:
            let count = Screens.columns(state).count
            guard count > 0 else { break }
            // Hidden columns are not sorted by.
            let hidden = hiddenColumnIndices(state)
            var next = (state.current.sortColumn ?? -1) + 1
            while next < count && hidden.contains(next) { next += 1 }
            state.current.sortColumn = next >= count ? nil : next
            state.current.sortAscending = true
        case .sortReverse:
            if state.current.sortColumn != nil { state.current.sortAscending.toggle() }
        case .mark:
            let list = Screens.listing(state)
            let selected = state.current.cursor.selected
            guard selected < list.count else { break }
            let id = list.id(selected)
            if state.current.markedIDs.contains(id) { state.current.markedIDs.remove(id) } else { state.current.markedIDs.insert(id) }
            move(&state, 1, visible)
            clampCursor(&state)
        case .markAll:
            // Every row the filter shows; when they are all marked already, the marks go.
            let list = Screens.listing(state)
            let shown = Set((0..<list.count).map(list.id))
            state.current.markedIDs = shown.isSubset(of: state.current.markedIDs) ? [] : state.current.markedIDs.union(shown)
        case .copyID:
            return copySelectedID(&state)
        case .nextPane, .previousPane:
            let panes = ScreenRegistry.panes(of: state.view).map(\.id)
            guard let i = panes.firstIndex(of: state.screen.id) else { break }
            let pane = panes[command == .nextPane ? min(i + 1, panes.count - 1) : max(i - 1, 0)]
            if pane != panes[i] {
                // Each pane keeps its own selection, marks, sort and filter.
                state.screens.show(pane, in: state.view)
                clampCursor(&state)
            }
        case .follow, .nextBookmark, .window:
            break // the screens that have them
        case .reload:
            return askReload(&state)
        case .actionMenu:
            return openActionMenu(&state)
        case .retryAction:
            return retryLastFailed(&state)
        case .toggleHints:
            state.hintsShown.toggle()
            clampCursor(&state)
        case .columns:
            openColumnPicker(&state)
        case .open:
            if let target = Screens.detailTarget(state) {
                state.overlay = .detail(target)
                state.detailOffset = 0
                return state.screen.detailLoads(id: target.id, after: nil)
            }
        }
        return []
    }

    /// `Y`: the open drill-down's id, or the selected row's, to the clipboard through the terminal;
    /// without the opt-in, how to get it.
    static func copySelectedID(_ state: inout AppState) -> [Effect] {
        let id: String?
        if case .detail(let target) = state.overlay {
            id = target.id
        } else {
            let list = Screens.listing(state)
            id = state.current.cursor.selected < list.count ? list.id(state.current.cursor.selected) : nil
        }
        guard let id else { return [] }
        guard state.clipboard else {
            state.notify("copying needs the opt-in: --osc52 (osc52: true, AGENTOS_OSC52=1)", .warning)
            return []
        }
        state.notify("copied \(id)", .success)
        return [.copyToClipboard(id)]
    }

    /// R, Ctrl-R and `:reload`: a reload the operator sees start and end.
    static func askReload(_ state: inout AppState) -> [Effect] {
        state.notify("reloading the snapshot…")
        state.sync.reloadAsked = true
        return state.sync.reload()
    }

    static func switchTo(_ state: inout AppState, _ view: ViewID) {
        state.view = view
        state.overlay = .none
        clampCursor(&state)
    }

    static func move(_ state: inout AppState, _ delta: Int, _ visible: Int) {
        let list = Screens.listing(state)
        let count = list.count
        state.current.cursor.move(delta, count: count, visible: visible)
        state.current.selectedID = count == 0 ? nil : list.id(state.current.cursor.selected)
        state.screen.cursorMoved(&state, delta: delta, count: count)
    }

    /// Once per frame, after a batch of messages: keeps the selection on the same item when rows
    /// were inserted or re-sorted above it (and at the end of the logs while following).
    public static func settle(_ state: inout AppState) {
        clampCursor(&state)
    }

    static func clampCursor(_ state: inout AppState) {
        let list = Screens.listing(state)
        let count = list.count
        let selected = state.current.cursor.selected
        if state.screen.pinsCursorToEnd(state) {
            state.current.cursor.selected = max(0, count - 1)
        } else if let id = state.current.selectedID, !(selected < count && list.id(selected) == id), let i = list.position(of: id) {
            // The selection stays on its item; the viewport does not scroll by itself, so rows
            // arriving at the top stay visible.
            state.current.cursor.selected = i
        }
        state.current.cursor.reveal(count: count, visible: visibleRows(state))
        state.current.selectedID = count == 0 ? nil : list.id(state.current.cursor.selected)
    }

    static func visibleRows(_ state: AppState) -> Int { Table.visibleRows(in: Screens.tableRect(state)) }

    static func editFilter(_ state: inout AppState, _ key: Key) -> [Effect] {
        switch key {
        case .escape:
            state.current.filter = FilterState()
        case .enter:
            state.current.filter.editing = false
        case .backspace:
            if state.current.filter.text.isEmpty { state.current.filter.editing = false } else { state.current.filter.text.removeLast() }
        case .char(let c):
            state.current.filter.text.append(c)
        default:
            return []
        }
        state.current.cursor = TableCursor()
        clampCursor(&state)
        return []
    }
}
