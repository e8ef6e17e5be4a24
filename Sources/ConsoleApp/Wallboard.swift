import AgentOSCore
import ConsoleUI
import Foundation

/// `--wallboard`: a read-only console for a screen on the wall. It shows the chosen views in turn,
/// without a cursor, with large figures and charts (each screen's `renderWallboard`), and a
/// staleness banner while the data is not current.
public struct Wallboard: Sendable, Equatable {
    public var views: [ViewID]
    /// Seconds each view stays.
    public var interval: TimeInterval
    public var index = 0
    public var shownSince: Date?
    /// Space stops and restarts the cycle.
    public var paused = false

    public init(views: [ViewID], interval: TimeInterval) {
        self.views = views.isEmpty ? [.dashboard] : views
        self.interval = max(1, interval)
    }

    public static let defaultViews: [ViewID] = [.dashboard, .workers, .analytics, .jobs]
}

extension App {
    /// A wallboard console: read-only, the first chosen view.
    public static func startWallboard(_ state: inout AppState, _ wallboard: Wallboard) {
        state.wallboard = wallboard
        state.readOnly = true
        state.view = wallboard.views[0]
        state.overlay = .none
    }

    /// On each tick: the next view when this one has been shown for the interval.
    static func cycleWallboard(_ state: inout AppState) {
        guard var w = state.wallboard else { return }
        defer { state.wallboard = w }
        guard let since = w.shownSince else {
            w.shownSince = state.now
            return
        }
        guard !w.paused, w.views.count > 1, state.now.timeIntervalSince(since) >= w.interval else { return }
        w.index = (w.index + 1) % w.views.count
        w.shownSince = state.now
        state.view = w.views[w.index]
    }

    /// The wallboard takes only quit, pause (space) and next/previous view.
    static func wallboardKey(_ state: inout AppState, _ key: Key) -> [Effect] {
        guard var w = state.wallboard else { return [] }
        let command = state.keyMap.command(for: key)
        if key == .ctrl("c") || command == .quit {
            state.quitting = true
            return [.quit]
        }
        if key == .char(" ") {
            w.paused.toggle()
        } else if command == .nextView || command == .nextPane || command == .previousView || command == .previousPane {
            let step = command == .nextView || command == .nextPane ? 1 : w.views.count - 1
            w.index = (w.index + step) % w.views.count
            w.shownSince = state.now
            state.view = w.views[w.index]
        } else if command == .reload {
            state.wallboard = w
            return state.sync.reload()
        }
        state.wallboard = w
        return []
    }

    /// Why the data on a wallboard is not current (nil: it is): the event stream or a backend
    /// is down, or no fresh data arrived for three refresh intervals.
    public static func staleness(_ state: AppState) -> String? {
        let c = state.connection
        let asOf = state.sync.dataAsOf.map { " · data as of \(Fmt.clock($0))" } ?? ""
        if case .down(_, let retry, let attempts) = c.events {
            let since = c.downSince.map { Fmt.age(state.now.timeIntervalSince($0)) } ?? "?"
            return "STALE · event stream down \(since) (attempt \(attempts), retry in \(Fmt.ms(Double(retry))))\(asOf)"
        }
        if case .down = c.redis { return "STALE · redis unreachable\(asOf)" }
        if case .down = c.postgres { return "STALE · postgres unreachable\(asOf)" }
        if let at = state.sync.dataAsOf, state.now.timeIntervalSince(at) > max(15, 3 * state.refreshInterval) {
            return "STALE · no fresh data for \(Fmt.age(state.now.timeIntervalSince(at)))\(asOf)"
        }
        return nil
    }

    // MARK: drawing

    static func renderWallboard(_ state: AppState, _ w: Wallboard, _ b: inout CellBuffer) {
        let frame = FrameLayout(width: state.width, height: state.height)
        // The header: what is shown, where, and when.
        let header = frame.wallboardHeader
        b.fill(header, " ", Style(.text, bg: .statusBar))
        var x = header.x + b.put(" AgentOS ", x: header.x, y: header.y, Style(.title, bg: .statusBar, [.bold]))
        x += b.put(" \(state.connection.environment.uppercased()) ", x: x, y: header.y, Style(.text, bg: .badge, [.bold]))
        x += b.put("  \(state.view.title)", x: x, y: header.y, Style(.accent, bg: .statusBar, [.bold]))
        x += b.put("  \(w.index + 1)/\(w.views.count)\(w.paused ? " paused" : "")", x: x, y: header.y, Style(.muted, bg: .statusBar))
        let clock = Fmt.clock(state.now) + " "
        b.put(clock, x: header.maxX - DisplayWidth.of(clock), y: header.y, Style(.text, bg: .statusBar, [.bold]))

        var body = frame.wallboardBody
        if let why = staleness(state) {
            // Big enough to notice from the door: three rows where there is room.
            let rows = state.height >= 30 ? 3 : 1
            let parts = Layout.vertical([.length(rows), .fill(1)]).split(body)
            let (banner, rest) = (parts[0], parts[1])
            b.fill(banner, " ", Style(.stale, bg: .banner, [.bold]))
            b.put(
                why, in: Rect(x: banner.x + 1, y: banner.y + rows / 2, width: banner.width - 2, height: 1), Style(.stale, bg: .banner, [.bold]),
                align: .center)
            body = rest
        }
        if state.snapshot == nil {
            b.put("waiting for the first snapshot…", in: body.centered(width: 40, height: 1), Style(.muted), align: .center)
        } else {
            state.screen.renderWallboard(state, &b, body)
        }
        renderStatus(state, &b, frame.status)
    }

    /// One big figure per tile: label above, the number in the block font (plain bold text where even that does not fit).
    static func bigTiles(_ tiles: [(label: String, value: String, style: Style)], _ b: inout CellBuffer, _ area: Rect) {
        guard !tiles.isEmpty, area.height > 1 else { return }
        // As many columns as keep a tile at least 26 cells wide, at most all in one row.
        let columns = max(1, min(tiles.count, area.width / 26))
        let rowsNeeded = (tiles.count + columns - 1) / columns
        let rows = Layout.vertical(Array(repeating: .fill(1), count: rowsNeeded)).split(area)
        let inRow = Layout.horizontal(Array(repeating: .fill(1), count: columns)).spacing(1)
        let cells = tiles.indices.map { i in inRow.split(rows[i / columns])[i % columns] }
        // One scale for all tiles, so equal figures look equal.
        var scale = 8
        for (tile, cell) in zip(tiles, cells) {
            scale = min(scale, BigText.fittingScale(tile.value, in: cell.inset(top: 1, left: 1, bottom: 0, right: 1)))
        }
        for (tile, cell) in zip(tiles, cells) {
            guard cell.height > 0 else { continue }
            b.put(tile.label, in: Rect(x: cell.x + 1, y: cell.y, width: cell.width - 2, height: 1), Style(.muted, [.bold]), align: .center)
            let figure = cell.inset(top: 1, left: 1, bottom: 0, right: 1)
            if scale > 0 {
                BigText(tile.value, style: tile.style, scale: scale).render(into: &b, rect: figure)
            } else if figure.height > 0 {
                b.put(tile.value, in: Rect(x: figure.x, y: figure.y, width: figure.width, height: 1), tile.style.bold(), align: .center)
            }
        }
    }

    /// A screen's table without a selection bar: its first rows, or its last (`fromEnd`).
    static func wallboardTable(_ state: AppState, _ b: inout CellBuffer, _ body: Rect, fromEnd: Bool = false) {
        let list = Screens.listing(state)
        let visible = Table.visibleRows(in: body)
        let start = fromEnd ? max(0, list.count - visible) : 0
        let rows = (start..<min(list.count, start + visible)).map { list.item($0).row }
        Table(columns: Screens.columns(state), rows: rows, cursor: TableCursor(selected: -1), focused: false, emptyMessage: "nothing here yet")
            .render(into: &b, rect: body)
    }

    /// 1234 → "1234", 12345 → "12k", 1234567 → "1.2M": figures that fit a tile.
    static func short(_ n: Int) -> String {
        if n < 10_000 { return String(n) }
        if n < 1_000_000 { return "\(n / 1000)k" }
        return String(format: "%.1fM", Double(n) / 1_000_000)
    }
}
