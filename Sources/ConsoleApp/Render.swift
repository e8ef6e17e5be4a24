import AgentOSCore
import ConsoleUI
import Foundation

/// The frame around the screens: the tab line and the context line (from the registry), the
/// shown screen's body (`Screen.render`), the status line and the overlays.
extension App {
    /// Draws the whole screen for `state`. Pure: the same state gives the same cells.
    public static func render(_ state: AppState) -> CellBuffer {
        var b = CellBuffer(width: state.width, height: state.height, glyphs: state.unicode ? .unicode : .ascii)
        guard state.width >= 20, state.height >= 6 else {
            b.put("terminal too small", x: 0, y: 0, Style(.warning))
            return b
        }
        if let wallboard = state.wallboard {
            renderWallboard(state, wallboard, &b)
            renderSessionEnded(state, &b)
            return b
        }
        let frame = FrameLayout(state)
        b.render(tabs(state), in: frame.tabs)
        renderContext(state, &b, frame.context)
        let body = frame.body
        if state.snapshot == nil {
            b.put("loading the snapshot…", in: body.centered(width: 30, height: 1), Style(.muted), align: .center)
        } else {
            state.screen.render(state, &b, body)
        }
        if let hints = frame.hints { renderHints(state, &b, hints) }
        renderStatus(state, &b, frame.status)
        switch state.overlay {
        case .none: break
        case .help: HelpOverlay(helpSections(state), offset: state.helpOffset).render(into: &b, rect: body)
        case .palette(let text): renderPalette(text, state, &b, frame.prompt)
        case .detail(let target): renderDetail(state, target, &b, body)
        case .actionMenu(let menu): renderActionMenu(state, menu, &b, body)
        case .actionForm(let form): renderActionForm(state, form, &b, body)
        case .confirm(let dialog): renderConfirm(state, dialog, &b, body)
        case .columns(let picker): renderColumnPicker(state, picker, &b, body)
        }
        renderSessionEnded(state, &b)
        return b
    }

    /// This console's session was ended from outside: the dialog covers everything until the
    /// operator acknowledges it.
    static func renderSessionEnded(_ state: AppState, _ b: inout CellBuffer) {
        guard let kick = state.sessionEnded else { return }
        var lines: [(text: String, style: Style)] = [("This console session was ended by \(kick.by ?? "an administrator").", Style(.text, [.bold]))]
        if let reason = kick.reason { lines.append(("Reason: \(reason)", Style(.text))) }
        lines.append(("Session \(kick.sessionID): actions are no longer accepted here.", Style(.muted)))
        lines.append(("", .plain))
        lines.append(("Enter acknowledges and quits.", Style(.muted)))
        Modal(title: "Session ended", lines: lines, buttons: ["Quit"], focusedButton: 0, tone: .danger)
            .render(into: &b, rect: Rect(x: 0, y: 0, width: state.width, height: state.height))
    }

    /// The tab line: one tab per registered tab.
    static func tabs(_ state: AppState) -> Tabs {
        let tabs = ScreenRegistry.tabs
        return Tabs(tabs.map(\.title), short: tabs.map(\.shortTitle), selected: state.view.tabIndex)
    }

    /// Builds only the visible rows of the listing.
    static func renderTable(_ state: AppState, _ b: inout CellBuffer, _ rect: Rect, listing: Screens.Listing? = nil) {
        let view = state.current
        let list = listing ?? Screens.listing(state)
        let empty = view.filter.isActive ? "no rows match \(view.filter.text)" : "nothing here yet"
        let visible = Table.visibleRows(in: rect)
        let start = min(view.cursor.offset, max(0, list.count - 1))
        let end = min(list.count, start + visible)
        let window = start < end ? Array(start..<end) : []
        let rows = window.map { list.item($0).row }
        let marked = view.markedIDs.isEmpty ? [] : Set(window.enumerated().filter { view.markedIDs.contains(list.id($0.element)) }.map(\.offset))
        let cursor = TableCursor(selected: view.cursor.selected - start, offset: 0, marked: marked)
        Table(
            columns: Screens.columns(state), rows: rows, cursor: cursor, sortColumn: view.sortColumn,
            sortAscending: view.sortAscending, focused: state.overlay == .none, emptyMessage: empty, firstRowIndex: start,
            hidden: hiddenColumnIndices(state)
        )
        .render(into: &b, rect: rect)
    }

    // MARK: context and status lines

    static func renderContext(_ state: AppState, _ b: inout CellBuffer, _ line: Rect) {
        let y = line.y
        if state.connection.isStale {
            var text = " STALE "
            if case .down(let reason, let retry, let attempts) = state.connection.events {
                let since = state.connection.downSince.map { Fmt.age(state.now.timeIntervalSince($0)) } ?? "?"
                text += "event stream down \(since) (attempt \(attempts), retry in \(Fmt.ms(Double(retry)))) · \(reason)"
            }
            if let asOf = state.sync.dataAsOf { text += " · data as of \(Fmt.clock(asOf))" }
            b.put(text, in: line, Style(.stale, bg: .banner, [.bold]))
            return
        }
        b.fill(line, " ", .plain)
        var x = line.x
        x += b.put(" \(state.view.title)", x: x, y: y, Style(.title, [.bold]))
        let panes = ScreenRegistry.panes(of: state.view)
        if panes.count > 1 {
            x += b.put("  ", x: x, y: y)
            let shown = state.screen.id
            for pane in panes {
                let label = pane.id == shown ? "[\(pane.paneLabel)]" : " \(pane.paneLabel) "
                x += b.put(label, x: x, y: y, pane.id == shown ? Style(.accent, [.bold]) : Style(.muted))
            }
        }
        let count = Screens.listing(state).count
        let position = count == 0 ? "0 rows" : "\(Fmt.count(state.current.cursor.selected + 1))/\(Fmt.count(count))"
        x += b.put("  \(position)", x: x, y: y, Style(.muted))
        let marked = state.current.markedIDs.count
        if marked > 0 { x += b.put("  \(Fmt.count(marked)) marked", x: x, y: y, Style(.accent, [.bold])) }
        let filter = state.current.filter
        if filter.editing || filter.isActive {
            x += b.put("  /\(filter.text)\(filter.editing ? "_" : "")", x: x, y: y, Style(.accent, [.bold]))
        }
        state.screen.renderContext(state, &b, line: line, x: &x)
        if let crumbs = breadcrumbs(state) { x += b.put("  \(crumbs)", x: x, y: y, Style(.muted), maxWidth: max(0, line.maxX - x - 1)) }
        if let m = state.snapshot?.system.maintenance, m.enabled {
            x += b.put("  MAINTENANCE", x: x, y: y, Style(.warning, [.bold, .reverse]))
        }
        if let notice = state.notices.last {
            let token: ThemeToken = notice.level == .error ? .danger : notice.level == .warning ? .warning : notice.level == .success ? .ok : .accent
            let room = line.maxX - x - 2
            if room > 10 {
                let text = DisplayWidth.truncate(notice.text, to: room, ellipsis: b.glyphs.ellipsis)
                b.put(text + " ", x: line.maxX - DisplayWidth.of(text) - 1, y: y, Style(token))
            }
        }
    }

    static func linkDot(_ link: ConnectionState.Link) -> (String, Style) {
        switch link {
        case .up: return ("●", Style(.ok, bg: .statusBar))
        case .down: return ("✗", Style(.danger, bg: .statusBar, [.bold]))
        case .unknown: return ("○", Style(.muted, bg: .statusBar))
        }
    }

    static func renderStatus(_ state: AppState, _ b: inout CellBuffer, _ line: Rect) {
        let c = state.connection
        let bar = Style(.text, bg: .statusBar)
        var left: [StatusBar.Segment] = [
            .init(" \(state.operatorInfo.user) (\(state.operatorInfo.role))", Style(.text, bg: .statusBar, [.bold])),
            .init(" \(c.environment.uppercased()) ", Style(.text, bg: .badge, [.bold])),
            .init(c.mode, bar)
        ]
        if state.readOnly { left.insert(.init(" READ-ONLY ", Style(.warning, bg: .statusBar, [.bold, .reverse])), at: 2) }
        if state.busUnsigned { left.insert(.init(" BUS UNSIGNED ", Style(.warning, bg: .statusBar, [.bold, .reverse])), at: min(left.count, 3)) }
        if state.rbacAdvisory {
            left.insert(.init(" RBAC advisory (shared login) ", Style(.warning, bg: .statusBar, [.bold, .reverse])), at: min(left.count, 3))
        }
        // Nobody sits at a wallboard: the room goes to the links and the age of the data.
        if state.wallboard != nil { left.removeFirst() }
        func dot(_ name: String, _ link: ConnectionState.Link) -> StatusBar.Segment {
            let (glyph, style) = linkDot(link)
            return .init("\(name) \(state.unicode ? glyph : (link == .up ? "+" : "x"))", style)
        }
        if c.mode != "embedded" {
            left.append(dot("redis", c.redis))
            left.append(dot("pg", c.postgres))
            if let reads = c.redisReads { left.append(.init(reads.text, Style(reads.fellBack ? .warning : .muted, bg: .statusBar))) }
        }
        left.append(dot("events", c.events))
        let age = state.sync.dataAsOf.map { Fmt.age(state.now.timeIntervalSince($0)) } ?? "-"
        // The hints come from the active key map (a wallboard takes only quit).
        let hint = state.wallboard == nil ? state.keyMap.hint(.help, "help") : state.keyMap.hint(.quit, "quit")
        let right: [StatusBar.Segment] =
            [.init("data \(age)", c.isStale ? Style(.danger, bg: .statusBar, [.bold]) : bar)]
            + (hint.map { [StatusBar.Segment($0, Style(.muted, bg: .statusBar))] } ?? [])
            + [.init(Fmt.clock(state.now) + " ", bar)]
        b.render(StatusBar(left: left, right: right), in: line)
    }

    /// The key hint bar (k9s style): what the keys do here, from the active key map and the view's
    /// catalog actions; `?` and `H` kept at the right end, the rest as many as fit.
    static func renderHints(_ state: AppState, _ b: inout CellBuffer, _ line: Rect) {
        b.fill(line, " ", .plain)
        func key(_ command: Command, _ word: String) -> (String, String)? {
            state.keyMap.keys(for: command).first.map { (KeyMap.describe($0), word) }
        }
        var items: [(String, String)?] = []
        switch state.overlay {
        case .detail(let target):
            items = [key(.back, "back"), key(.down, "scroll")]
            if [.jobs, .scheduled, .retries, .dead].contains(target.screen) { items.append(("y", "raw record")) }
            if let s = state.snapshot {
                items += ScreenRegistry.screen(target.screen).links(state, s, id: target.id).map { (String($0.key), $0.label) }
            }
            if !state.readOnly { items.append(key(.actionMenu, "actions")) }
        case .none:
            items = [key(.open, "open"), key(.filter, "filter"), key(.palette, "command"), key(.sortNext, "sort")]
            if state.screen.actionsAimAtSelection { items += [key(.mark, "mark"), key(.markAll, "mark all")] }
            if ScreenRegistry.panes(of: state.view).count > 1 { items.append(key(.nextPane, "next pane")) }
            if !state.readOnly {
                items.append(key(.actionMenu, "actions"))
                items += state.screen.actionEntries(state).filter { $0.disabled == nil && !$0.forbidden }.compactMap { entry in
                    entry.key.map { ($0, entry.title.lowercased()) }
                }
            }
        default:
            items = [key(.back, "close")]
        }
        let tail = [key(.help, "help"), key(.toggleHints, "hide hints")].compactMap { $0 }
        let width = { (item: (String, String)) in DisplayWidth.of("<\(item.0)> \(item.1)") + 2 }
        var room = line.width - 1 - tail.reduce(0) { $0 + width($1) }
        var x = line.x + 1
        func put(_ item: (String, String)) {
            x += b.put("<\(item.0)>", x: x, y: line.y, Style(.accent, [.bold]))
            x += b.put(" \(item.1)  ", x: x, y: line.y, Style(.muted))
        }
        for item in items.compactMap({ $0 }) where width(item) <= room {
            room -= width(item)
            put(item)
        }
        x = max(x, line.maxX - tail.reduce(0) { $0 + width($1) })
        for item in tail where x + width(item) <= line.maxX + 2 { put(item) }
    }

    static func renderPalette(_ text: String, _ state: AppState, _ b: inout CellBuffer, _ line: Rect) {
        b.fill(line, " ", Style(.text, bg: .selection))
        let w = b.put(":" + text + "_", x: line.x + 1, y: line.y, Style(.accent, bg: .selection, [.bold]))
        let hints = App.paletteCompletions(text, state).prefix(6).joined(separator: "  ")
        b.put(hints, x: line.x + w + 3, y: line.y, Style(.muted, bg: .selection), maxWidth: max(0, line.width - w - 4))
    }
}
