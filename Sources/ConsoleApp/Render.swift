import AgentOSCore
import ConsoleUI
import Foundation

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
            return b
        }
        Tabs(ViewID.allCases.map(\.title), short: ViewID.allCases.map(\.shortTitle), selected: state.view.rawValue).render(
            into: &b, rect: Rect(x: 0, y: 0, width: state.width, height: 1))
        renderContext(state, &b)
        let body = Layout.body(width: state.width, height: state.height)
        if state.snapshot == nil {
            b.put("loading the snapshot…", in: body.centered(width: 30, height: 1), Style(.muted), align: .center)
        } else {
            switch state.view {
            case .dashboard: renderDashboard(state, &b, body)
            case .system: renderSystem(state, &b, body)
            case .config: renderConfig(state, &b, body)
            case .analytics: renderAnalytics(state, &b, body)
            default: renderTable(state, &b, Screens.tableRect(state))
            }
        }
        renderStatus(state, &b)
        switch state.overlay {
        case .none: break
        case .help: HelpOverlay(helpSections(state)).render(into: &b, rect: body)
        case .palette(let text): renderPalette(text, &b, state)
        case .detail(let target): renderDetail(state, target, &b, body)
        case .actionMenu(let menu): renderActionMenu(state, menu, &b, body)
        case .actionForm(let form): renderActionForm(state, form, &b, body)
        case .confirm(let dialog): renderConfirm(state, dialog, &b, body)
        }
        return b
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
            sortAscending: view.sortAscending, focused: state.overlay == .none, emptyMessage: empty
        )
        .render(into: &b, rect: rect)
    }

    // MARK: context and status lines

    static func renderContext(_ state: AppState, _ b: inout CellBuffer) {
        let line = Rect(x: 0, y: 1, width: state.width, height: 1)
        if state.connection.isStale {
            var text = " STALE "
            if case .down(let reason, let retry, let attempts) = state.connection.events {
                let since = state.connection.downSince.map { Fmt.age(state.now.timeIntervalSince($0)) } ?? "?"
                text += "event stream down \(since) (attempt \(attempts), retry in \(Fmt.ms(Double(retry)))) · \(reason)"
            }
            if let asOf = state.dataAsOf { text += " · data as of \(Fmt.clock(asOf))" }
            b.put(text, in: line, Style(.stale, bg: .banner, [.bold]))
            return
        }
        b.fill(line, " ", .plain)
        var x = 0
        x += b.put(" \(state.view.title)", x: x, y: 1, Style(.title, [.bold]))
        if state.view == .jobs {
            x += b.put("  ", x: x, y: 1)
            x += b.put(state.current.pane == 0 ? "[jobs]" : " jobs ", x: x, y: 1, state.current.pane == 0 ? Style(.accent, [.bold]) : Style(.muted))
            x += b.put(
                state.current.pane == 1 ? "[queues]" : " queues ", x: x, y: 1, state.current.pane == 1 ? Style(.accent, [.bold]) : Style(.muted))
        }
        let count = Screens.listing(state).count
        let position = count == 0 ? "0 rows" : "\(Fmt.count(state.current.cursor.selected + 1))/\(Fmt.count(count))"
        x += b.put("  \(position)", x: x, y: 1, Style(.muted))
        if !state.current.cursor.marked.isEmpty { x += b.put("  \(state.current.cursor.marked.count) marked", x: x, y: 1, Style(.accent)) }
        let filter = state.current.filter
        if filter.editing || filter.isActive {
            x += b.put("  /\(filter.text)\(filter.editing ? "_" : "")", x: x, y: 1, Style(.accent, [.bold]))
        }
        if state.view == .logs {
            x += b.put(state.followLogs ? "  following" : "  paused (f to follow)", x: x, y: 1, state.followLogs ? Style(.ok) : Style(.warning))
        }
        if let m = state.snapshot?.system.maintenance, m.enabled {
            x += b.put("  MAINTENANCE", x: x, y: 1, Style(.warning, [.bold, .reverse]))
        }
        if let notice = state.notices.last {
            let token: ThemeToken = notice.level == .error ? .danger : notice.level == .warning ? .warning : notice.level == .success ? .ok : .accent
            let room = state.width - x - 2
            if room > 10 {
                let text = DisplayWidth.truncate(notice.text, to: room, ellipsis: b.glyphs.ellipsis)
                b.put(text + " ", x: state.width - DisplayWidth.of(text) - 1, y: 1, Style(token))
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

    static func renderStatus(_ state: AppState, _ b: inout CellBuffer) {
        let c = state.connection
        let bar = Style(.text, bg: .statusBar)
        var left: [StatusBar.Segment] = [
            .init(" \(state.operatorInfo.user) (\(state.operatorInfo.role))", Style(.text, bg: .statusBar, [.bold])),
            .init(" \(c.environment.uppercased()) ", Style(.text, bg: .badge, [.bold])),
            .init(c.mode, bar)
        ]
        if state.readOnly { left.insert(.init(" READ-ONLY ", Style(.warning, bg: .statusBar, [.bold, .reverse])), at: 2) }
        // Nobody sits at a wallboard: the room goes to the links and the age of the data.
        if state.wallboard != nil { left.removeFirst() }
        func dot(_ name: String, _ link: ConnectionState.Link) -> StatusBar.Segment {
            let (glyph, style) = linkDot(link)
            return .init("\(name) \(state.unicode ? glyph : (link == .up ? "+" : "x"))", style)
        }
        if c.mode != "embedded" {
            left.append(dot("redis", c.redis))
            left.append(dot("pg", c.postgres))
        }
        left.append(dot("events", c.events))
        let age = state.dataAsOf.map { Fmt.age(state.now.timeIntervalSince($0)) } ?? "-"
        // The hints come from the active key map (a wallboard takes only quit).
        let hint = state.wallboard == nil ? state.keyMap.hint(.help, "help") : state.keyMap.hint(.quit, "quit")
        let right: [StatusBar.Segment] =
            [.init("data \(age)", c.isStale ? Style(.danger, bg: .statusBar, [.bold]) : bar)]
            + (hint.map { [StatusBar.Segment($0, Style(.muted, bg: .statusBar))] } ?? [])
            + [.init(Fmt.clock(state.now) + " ", bar)]
        StatusBar(left: left, right: right).render(into: &b, rect: Rect(x: 0, y: state.height - 1, width: state.width, height: 1))
    }

    static func renderPalette(_ text: String, _ b: inout CellBuffer, _ state: AppState) {
        let y = state.height - 2
        let line = Rect(x: 0, y: y, width: state.width, height: 1)
        b.fill(line, " ", Style(.text, bg: .selection))
        let w = b.put(":" + text + "_", x: 1, y: y, Style(.accent, bg: .selection, [.bold]))
        let hints = App.paletteCompletions(text).prefix(6).joined(separator: "  ")
        b.put(hints, x: w + 3, y: y, Style(.muted, bg: .selection), maxWidth: max(0, state.width - w - 4))
    }

    // MARK: dashboard

    static func renderDashboard(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        guard let s = state.snapshot else { return }
        var y = body.y
        // Health of every service.
        var x = body.x + 1
        x += b.put("Health ", x: x, y: y, Style(.title, [.bold]))
        for svc in s.system.services {
            let token: ThemeToken = svc.status == .ok ? .ok : svc.status == .degraded ? .warning : svc.status == .down ? .danger : .muted
            x += b.put("\(b.glyphs.bullet) ", x: x, y: y, Style(token, [.bold]))
            x += b.put("\(svc.name)  ", x: x, y: y, Style(.text))
        }
        if let banner = s.system.broadcast {
            b.put("  " + banner.message, x: x, y: y, Screens.severityStyle(banner.level), maxWidth: body.maxX - x)
        }
        y += 1
        // Jobs by status, throughput and success rate.
        x = body.x + 1
        x += b.put("Jobs   ", x: x, y: y, Style(.title, [.bold]))
        for status in [JobStatus.queued, .running, .retrying, .failed, .completed, .cancelled] {
            x += b.put("\(status.rawValue) ", x: x, y: y, Style(.muted))
            x += b.put("\(Fmt.count(s.jobs.count(status)))  ", x: x, y: y, Screens.jobStyle(status).bold())
        }
        y += 1
        x = body.x + 1
        let lastMinutes = s.analytics.throughput.suffix(5)
        let perMinute = lastMinutes.isEmpty ? 0 : Double(lastMinutes.reduce(0) { $0 + $1.completed }) / Double(lastMinutes.count)
        let up = s.workers.filter { $0.status.isUp }.count
        let busy = s.workers.reduce(0) { $0 + $1.active }
        let slots = s.workers.reduce(0) { $0 + $1.concurrency }
        x += b.put("Flow   ", x: x, y: y, Style(.title, [.bold]))
        x += b.put("\(Int(perMinute.rounded()))/min  success \(Fmt.percent(s.analytics.successRate))  ", x: x, y: y, Style(.text))
        x += b.put("workers \(up)/\(s.workers.count) up", x: x, y: y, up == s.workers.count ? Style(.ok) : Style(.danger, [.bold]))
        x += b.put("  busy \(busy)/\(slots)", x: x, y: y, Style(.text))
        if s.system.maintenance.enabled {
            b.put("  MAINTENANCE: \(s.system.maintenance.message ?? "")", x: x, y: y, Style(.warning, [.bold]), maxWidth: body.maxX - x)
        }
        y += 1
        renderActionFigures(s, &b, x: body.x + 1, y: y, maxX: body.maxX)
        y += 2
        // Queue depths with trend sparklines.
        let nameW = 20
        let numW = 8
        b.put("QUEUE", x: body.x + 2, y: y - 1, Style(.header, [.bold]))
        b.put("PENDING", in: Rect(x: body.x + 2 + nameW, y: y - 1, width: numW, height: 1), Style(.header, [.bold]), align: .right)
        b.put("RUN", in: Rect(x: body.x + 3 + nameW + numW, y: y - 1, width: 4, height: 1), Style(.header, [.bold]), align: .right)
        b.put("FAIL", in: Rect(x: body.x + 4 + nameW + numW + 4, y: y - 1, width: 5, height: 1), Style(.header, [.bold]), align: .right)
        let sparkX = body.x + 6 + nameW + numW + 9
        b.put("TREND", x: sparkX, y: y - 1, Style(.header, [.bold]))
        for (i, q) in s.queues.enumerated() where y < body.maxY {
            let style = q.paused ? Style(.warning) : q.pending > 100 ? Style(.danger, [.bold]) : Style(.text)
            b.put(q.name + (q.paused ? " ⏸" : ""), in: Rect(x: body.x + 2, y: y, width: nameW, height: 1), style)
            b.put(Fmt.count(q.pending), in: Rect(x: body.x + 2 + nameW, y: y, width: numW, height: 1), style, align: .right)
            b.put(String(q.reserved), in: Rect(x: body.x + 3 + nameW + numW, y: y, width: 4, height: 1), Style(.accent), align: .right)
            b.put(
                String(q.failed), in: Rect(x: body.x + 4 + nameW + numW + 4, y: y, width: 5, height: 1),
                q.failed > 0 ? Style(.danger) : Style(.muted), align: .right)
            let history = state.queueHistory[q.name] ?? [Double(q.pending)]
            Sparkline(history, style: Style(ThemeToken.chartSeries[i % ThemeToken.chartSeries.count]))
                .render(into: &b, rect: Rect(x: sparkX, y: y, width: max(0, min(60, body.maxX - sparkX - 1)), height: 1))
            y += 1
        }
        let rect = Screens.tableRect(state)
        if rect.height > 1 {
            b.put("Alerts", x: body.x + 1, y: rect.y - 1, Style(.title, [.bold]))
            renderTable(state, &b, rect)
        }
    }

    /// The action key figures (the exporter's, from the same audit rows): p99 and denials of the
    /// last 5 minutes, backend failures, and the SSOT cache hit rate.
    static func renderActionFigures(_ s: Snapshot, _ b: inout CellBuffer, x start: Int, y: Int, maxX: Int) {
        let a = s.system.actions
        var x = start
        x += b.put("Actions", x: x, y: y, Style(.title, [.bold]))
        x += b.put(" p99 \(a.windowSeconds / 60)m ", x: x, y: y, Style(.muted))
        x += b.put(a.p99Ms.map { Fmt.ms($0) } ?? "-", x: x, y: y, Style(.text, [.bold]))
        x += b.put("  denials ", x: x, y: y, Style(.muted))
        x += b.put(Fmt.count(a.denials), x: x, y: y, a.denials > 0 ? Style(.warning, [.bold]) : Style(.text, [.bold]))
        x += b.put("  failed ", x: x, y: y, Style(.muted))
        x += b.put(Fmt.count(a.failures), x: x, y: y, a.failures > 0 ? Style(.danger, [.bold]) : Style(.text, [.bold]))
        x += b.put(" of \(Fmt.count(a.finished))", x: x, y: y, Style(.muted))
        guard x + 16 < maxX else { return }
        x += b.put("  cache hit ", x: x, y: y, Style(.muted))
        b.put(Fmt.percent(ActionFigures.hitRate(s.system.cache)), x: x, y: y, Style(.text, [.bold]))
    }

    // MARK: system controls

    static func renderSystem(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        guard let s = state.snapshot else { return }
        let table = Screens.tableRect(state)
        let top = Rect(x: body.x, y: body.y, width: body.width, height: table.y - body.y)
        let cols = top.columns([1, 1, 1], gap: 1)
        var lines: [[(String, Style)]] = [[], [], []]
        lines[0].append(("Services", Style(.title, [.bold])))
        for svc in s.system.services {
            let token: ThemeToken = svc.status == .ok ? .ok : svc.status == .degraded ? .warning : svc.status == .down ? .danger : .muted
            lines[0].append(
                ("\(b.glyphs.bullet) \(svc.name) \(svc.status.rawValue) \(svc.latencyMs.map { String(format: "%.2fms", $0) } ?? "")", Style(token)))
        }
        let a = s.system.actions
        // Actions of the last 5 minutes, most important first (the column is narrow at 80 columns).
        lines[0].append(
            (
                "p99 \(a.p99Ms.map { Fmt.ms($0) } ?? "-") · \(Fmt.count(a.denials)) denied · \(Fmt.count(a.failures)) failed of \(Fmt.count(a.finished)) (\(a.windowSeconds / 60)m)",
                a.failures > 0 ? Style(.danger) : a.denials > 0 ? Style(.warning) : Style(.text)
            ))
        lines[1].append(("Runtime", Style(.title, [.bold])))
        let m = s.system.maintenance
        lines[1].append(
            (m.enabled ? "maintenance ON \(m.by.map { "by \($0)" } ?? "")" : "maintenance off", m.enabled ? Style(.warning, [.bold]) : Style(.ok)))
        lines[1].append(("broadcast: \(s.system.broadcast?.message ?? "none")", Style(.text)))
        let cache = s.system.cache
        let lookups = cache.hits + cache.misses
        lines[1].append(
            (
                "cache gen \(cache.generation), built \(String(format: "%.1f", cache.buildMs)) ms, age \(Fmt.age(state.now.timeIntervalSince(s.generatedAt)))",
                Style(.text)
            ))
        lines[1].append(
            ("hit rate \(lookups == 0 ? "-" : Fmt.percent(Double(cache.hits) / Double(lookups))) (\(cache.hits)/\(lookups))", Style(.text)))
        lines[1].append(
            (
                "sessions: \(s.system.sessions.count) console(s)"
                    + (s.system.sessions.isEmpty ? "" : ": " + s.system.sessions.map { "\($0.user)@\($0.host)" }.joined(separator: ", ")),
                Style(.text)
            ))
        let backup = s.system.backups.max { $0.createdAt < $1.createdAt }
        lines[1].append(
            (
                backup.map {
                    "backups: \(s.system.backups.count), latest \(Fmt.age(since: $0.createdAt, now: state.now)) ago (\(Fmt.bytes($0.sizeBytes)))"
                } ?? "backups: none yet",
                backup == nil ? Style(.muted) : Style(.text)
            ))
        lines[2].append(("Breakers", Style(.title, [.bold])))
        for br in s.system.breakers.prefix(6) {
            let style = br.state == .closed ? Style(.ok) : br.state == .open ? Style(.danger, [.bold]) : Style(.warning)
            lines[2].append(("\(br.service): \(br.state.rawValue)", style))
        }
        lines[2].append(
            (
                "db: \(s.system.database.connections) conns, \(s.system.database.idleInTransaction) idle in tx",
                s.system.database.idleInTransaction > 0 ? Style(.warning) : Style(.text)
            ))
        for (i, col) in cols.enumerated() {
            for (j, line) in lines[i].prefix(col.height).enumerated() {
                b.put(line.0, in: Rect(x: col.x + 1, y: col.y + j, width: col.width - 1, height: 1), line.1)
            }
        }
        if table.height > 1 {
            b.hline(x: body.x, y: table.y - 1, width: body.width)
            b.put(" Database activity ", x: body.x + 2, y: table.y - 1, Style(.title, [.bold]))
            renderTable(state, &b, table)
        }
    }

    // MARK: configuration

    static func renderConfig(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        let table = Screens.tableRect(state)
        renderTable(state, &b, table)
        let list = Screens.listing(state)
        guard let s = state.snapshot, state.current.cursor.selected < list.count,
            let entry = s.config.first(where: { $0.key == list.id(state.current.cursor.selected) })
        else { return }
        let y = table.maxY
        guard y < body.maxY else { return }
        b.hline(x: body.x, y: y, width: body.width)
        var constraints: [String] = []
        if let lo = entry.constraints.min { constraints.append("min \(lo)") }
        if let hi = entry.constraints.max { constraints.append("max \(hi)") }
        if let allowed = entry.constraints.allowed { constraints.append("one of " + allowed.joined(separator: ", ")) }
        if let p = entry.constraints.pattern { constraints.append("matches \(p)") }
        b.put(entry.description, x: body.x + 1, y: y + 1, Style(.text), maxWidth: body.width - 2)
        if y + 2 < body.maxY {
            let info =
                (constraints.isEmpty ? "" : constraints.joined(separator: " · ") + " · ") + "v\(entry.version) by \(entry.updatedBy)"
                + (entry.locked ? " · LOCKED" : "")
            b.put(info, x: body.x + 1, y: y + 2, Style(.muted), maxWidth: body.width - 2)
        }
    }

    // MARK: analytics

    static func renderAnalytics(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        guard let s = state.snapshot else { return }
        let table = Screens.tableRect(state)
        let top = Rect(x: body.x, y: body.y, width: body.width, height: table.y - body.y)
        let (left, right) = top.splitLeft(top.width / 2)
        let since = state.now.addingTimeInterval(-Double(state.analyticsWindow) * 60)
        let series = s.analytics.throughput.filter { $0.minute >= since }
        let window = state.analyticsWindow >= 60 ? "\(state.analyticsWindow / 60) h" : "\(state.analyticsWindow) min"
        b.put(
            "Throughput /min (last \(window), w changes)", x: left.x + 1, y: left.y, Style(.title, [.bold]),
            maxWidth: left.width - 1)
        Sparkline(series.map { Double($0.completed) }, style: Style(.chart1))
            .render(into: &b, rect: Rect(x: left.x + 1, y: left.y + 1, width: left.width - 2, height: 1))
        let peak = series.map(\.completed).max() ?? 0
        b.put("peak \(peak)/min · last \(series.last?.completed ?? 0)/min", x: left.x + 1, y: left.y + 2, Style(.muted), maxWidth: left.width - 1)
        let done = series.reduce(0) { $0 + $1.completed }
        let failed = series.reduce(0) { $0 + $1.failed }
        let rate = done + failed == 0 ? nil : Double(done) / Double(done + failed)
        b.put("Success rate \(Fmt.percent(rate))", x: left.x + 1, y: left.y + 3, Style(.title, [.bold]), maxWidth: left.width - 1)
        Sparkline(series.map { ($0.successRate ?? 1) * 100 }, maximum: 100, style: Style(.chart2))
            .render(into: &b, rect: Rect(x: left.x + 1, y: left.y + 4, width: left.width - 2, height: 1))
        b.put("Stage latency p50 / p95", x: right.x + 1, y: right.y, Style(.title, [.bold]), maxWidth: right.width - 1)
        let bars = s.analytics.stageLatency.map {
            BarChart.Bar(Pipeline.shortName($0.stage), $0.p95Ms, display: "\(Fmt.ms($0.p50Ms)) / \(Fmt.ms($0.p95Ms))", style: Style(.chart3))
        }
        BarChart(bars).render(into: &b, rect: Rect(x: right.x + 1, y: right.y + 1, width: right.width - 2, height: right.height - 1))
        if table.height > 1 {
            b.hline(x: body.x, y: table.y - 1, width: body.width)
            b.put(" Error classes (last hour) ", x: body.x + 2, y: table.y - 1, Style(.title, [.bold]))
            renderTable(state, &b, table)
        }
    }
}
