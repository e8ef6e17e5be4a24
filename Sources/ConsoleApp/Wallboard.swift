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
        // Whatever the room must know first, full width: stale data, an outage, maintenance.
        for (text, style) in roomBanners(state) {
            // Big enough to notice from the door: three rows where there is room.
            let rows = state.height >= 30 ? 3 : 1
            let parts = Layout.vertical([.length(rows), .fill(1)]).split(body)
            let (banner, rest) = (parts[0], parts[1])
            b.fill(banner, " ", style)
            b.put(text, in: Rect(x: banner.x + 1, y: banner.y + rows / 2, width: banner.width - 2, height: 1), style, align: .center)
            body = rest
        }
        if state.snapshot == nil {
            b.put("waiting for the first snapshot…", in: body.centered(width: 40, height: 1), Style(.muted), align: .center)
        } else {
            state.screen.renderWallboard(state, &b, body)
        }
        renderStatus(state, &b, frame.status)
    }

    /// The banners over a wallboard, most urgent first: stale data, services down, maintenance.
    static func roomBanners(_ state: AppState) -> [(text: String, style: Style)] {
        var banners: [(text: String, style: Style)] = []
        if let why = staleness(state) { banners.append((why, Style(.stale, bg: .banner, [.bold]))) }
        guard let s = state.snapshot else { return banners }
        let down = s.system.services.filter { $0.status == .down }
        if !down.isEmpty {
            let names = down.map { $0.detail.isEmpty ? $0.name : "\($0.name) (\($0.detail))" }.joined(separator: ", ")
            banners.append(("OUTAGE · \(names) down", Style(.stale, bg: .banner, [.bold])))
        }
        let m = s.system.maintenance
        if m.enabled {
            let message = (m.message ?? "").isEmpty ? "" : " · \(m.message ?? "")"
            let since = m.since.map { " · for \(Fmt.age(since: $0, now: state.now))" } ?? ""
            let by = m.by.map { " by \($0)" } ?? ""
            banners.append(("MAINTENANCE\(message)\(since)\(by)", Style(.warning, [.bold, .reverse])))
        }
        return banners
    }

    /// Tiles in the grid that gives the largest figures (one scale for all tiles, so equal figures
    /// look equal); wider grids win ties.
    static func tileGrid(_ tiles: [(label: String, value: String, style: Style)], in area: Rect) -> (cells: [Rect], scale: Int) {
        var best: (cells: [Rect], scale: Int) = ([], -1)
        for columns in stride(from: tiles.count, through: 1, by: -1) {
            let rowsNeeded = (tiles.count + columns - 1) / columns
            let rows = Layout.vertical(Array(repeating: .fill(1), count: rowsNeeded)).split(area)
            let inRow = Layout.horizontal(Array(repeating: .fill(1), count: columns)).spacing(1)
            let cells = tiles.indices.map { i in inRow.split(rows[i / columns])[i % columns] }
            let scale = zip(tiles, cells).map { BigText.fittingScale($0.value, in: $1.inset(top: 1, left: 1, bottom: 0, right: 1)) }.min() ?? 0
            if scale > best.scale { best = (cells, scale) }
        }
        return best
    }

    /// One big figure per tile: label above, the number in the block font (plain bold text where even that does not fit).
    static func bigTiles(_ tiles: [(label: String, value: String, style: Style)], _ b: inout CellBuffer, _ area: Rect) {
        guard !tiles.isEmpty, area.height > 1 else { return }
        let (cells, scale) = tileGrid(tiles, in: area)
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

    /// Active alerts as a room reads them: one line per `Alert.key` (source and kind), with how many
    /// fired and the age of the oldest.
    struct AlertGroup: Equatable {
        var severity: AlertSeverity
        var title: String
        var count: Int
        var oldest: Date
    }

    /// The most severe first, then the order the snapshot lists them in.
    static func alertGroups(_ alerts: [Alert]) -> [AlertGroup] {
        var groups: [AlertGroup] = []
        var index: [String: Int] = [:]
        for a in alerts where a.status == .active {
            // An alert counts its own repeats (`Alert.count`); alerts of one key from older
            // sources that did not group them are added up here.
            let key = a.key
            if let i = index[key] {
                groups[i].count += a.count
                groups[i].oldest = min(groups[i].oldest, a.ts)
                groups[i].severity = max(groups[i].severity, a.severity)
            } else {
                index[key] = groups.count
                groups.append(AlertGroup(severity: a.severity, title: a.title, count: a.count, oldest: a.ts))
            }
        }
        return groups.enumerated().sorted { ($0.element.severity, $1.offset) > ($1.element.severity, $0.offset) }.map(\.element)
    }

    /// The alert lines under a title; the last line says how many more did not fit.
    static func renderAlerts(_ groups: [AlertGroup], now: Date, _ b: inout CellBuffer, _ area: Rect) {
        guard area.height > 0, !groups.isEmpty else { return }
        b.put("Alerts · \(groups.count) active", x: area.x + 1, y: area.y, Style(.title, [.bold]), maxWidth: area.width - 2)
        let lines = area.height - 1
        let shown = groups.count > lines ? max(0, lines - 1) : groups.count
        for (i, g) in groups.prefix(shown).enumerated() {
            let times = g.count > 1 ? "  ×\(g.count)" : ""
            b.put(
                "\(b.glyphs.bullet) \(g.severity.rawValue.uppercased())  \(g.title)\(times)  \(Fmt.age(since: g.oldest, now: now))",
                in: Rect(x: area.x + 1, y: area.y + 1 + i, width: area.width - 2, height: 1), DashboardScreen.severityStyle(g.severity).bold())
        }
        if shown < groups.count, lines > 0 {
            b.put("+\(groups.count - shown) more", x: area.x + 1, y: area.y + 1 + shown, Style(.muted), maxWidth: area.width - 2)
        }
    }

    /// A trend chart with its axis: the top and bottom values in a gutter on the left, so a chart
    /// that does not start at zero says so.
    static func axisChart(
        _ values: [Double], from floor: Double, to top: Double, unit: String, style: Style, _ b: inout CellBuffer, _ area: Rect
    ) {
        guard area.height > 0, area.width > 8 else { return }
        func label(_ v: Double) -> String { (v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v)) + unit }
        let gutter = max(DisplayWidth.of(label(top)), DisplayWidth.of(label(floor))) + 1
        b.put(label(top), x: area.x, y: area.y, Style(.muted))
        if area.height > 1 { b.put(label(floor), x: area.x, y: area.maxY - 1, Style(.muted)) }
        Chart.area(values, maximum: top, minimum: floor, style: style).fittingAll()
            .render(into: &b, rect: Rect(x: area.x + gutter, y: area.y, width: area.width - gutter, height: area.height))
    }

    /// A screen's table without a selection bar: its first rows, or its last (`fromEnd`).
    static func wallboardTable(_ state: AppState, _ b: inout CellBuffer, _ body: Rect, fromEnd: Bool = false) {
        let list = Screens.listing(state)
        let visible = Table.visibleRows(in: body)
        let start = fromEnd ? max(0, list.count - visible) : 0
        let rows = (start..<min(list.count, start + visible)).map { list.item($0).row }
        Table(
            columns: Screens.columns(state), rows: rows, cursor: TableCursor(selected: -1), focused: false, emptyMessage: "nothing here yet",
            hidden: hiddenColumnIndices(state)
        )
        .render(into: &b, rect: body)
    }

    /// 1234 → "1234", 12345 → "12k", 1234567 → "1.2M": figures that fit a tile.
    static func short(_ n: Int) -> String {
        if n < 10_000 { return String(n) }
        if n < 1_000_000 { return "\(n / 1000)k" }
        return String(format: "%.1fM", Double(n) / 1_000_000)
    }
}
