import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let dashboard = ViewID(rawValue: "dashboard")
}

/// The fleet at a glance: health, jobs by status, flow, action figures, queue depths with their
/// trend, and the active alerts; its actions are the quick actions.
public struct DashboardScreen: Screen {
    /// Recent depth samples per queue (the sparklines), newest last.
    public struct Local: ScreenLocalState {
        public var queueDepths: [String: [Double]] = [:]
        public init() {}
    }

    public var id: ViewID { .dashboard }
    public var title: String { "Dashboard" }
    public var shortTitle: String { "Dash" }
    /// Its rows are the open alerts, so `:alert <id>` opens one (D76).
    public var aliases: [String] { ["dashboard", "dash", "home", "d", "alerts", "alert"] }
    public var actionsTitle: String { "Dashboard quick actions" }
    /// Quick actions aim where the console chooses (the busiest queue, the top alert), not at marks.
    public var actionsAimAtSelection: Bool { false }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("SEV", .fixed(8), priority: 8), TableColumn("WHEN", .fixed(5), align: .right, priority: 6),
            TableColumn("SOURCE", .flex(weight: 1, min: 10), priority: 4), TableColumn("ALERT", .flex(weight: 3, min: 16), priority: 9),
            TableColumn("STATE", .fixed(8), priority: 5)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        let now = state.now
        return Screens.ListSource(s.alerts.filter { $0.status == .active || $0.status == .acked }, id: { String($0.id) }) { a in
            let style = a.status == .acked ? Style(.muted) : Self.severityStyle(a.severity)
            return ListItem(
                id: String(a.id),
                row: TableRow(
                    [
                        a.severity.rawValue, Fmt.age(since: a.ts, now: now), a.source, a.count > 1 ? "\(a.title) ×\(a.count)" : a.title,
                        a.status.rawValue
                    ],
                    style: style),
                sort: [
                    .number(Double(AlertSeverity.allCases.firstIndex(of: a.severity)!)), .number(-a.ts.timeIntervalSince1970),
                    .text(a.source), .text(a.title), .text(a.status.rawValue)
                ],
                search: "\(a.severity.rawValue) \(a.source) \(a.title) \(a.message) \(a.status.rawValue)")
        }
    }

    public func tableRect(_ state: AppState, body: Rect) -> Rect {
        // Health, jobs, flow, action figures, the queue header and one row per queue above the alerts.
        let top = min(body.height - 2, 5 + (state.snapshot?.queues.count ?? 6) + 2)
        return Layout.vertical([.length(top), .fill(1)]).split(body)[1]
    }

    public func actionEntries(_ state: AppState) -> [ActionEntry] {
        QuickAction.allCases.map { quick in
            let (payload, title, blocked) = quick.resolve(state)
            return ActionEntry(
                key: state.keyMap.actionKey(quick.action, catalog: quick.key), spec: quick.spec, title: title,
                helpTitle: quick.helpTitle, payload: payload,
                disabled: App.unavailability(state, quick.spec, payload) ?? blocked, forbidden: App.forbidden(state, quick.spec))
        }
    }

    /// Keeps the last two minutes of queue depths for the trend lines (one sample per tick), for
    /// the queues of the current snapshot only: names gone from it are forgotten, so snapshots
    /// naming ever new queues cannot grow the map without bound (D64).
    public func receive(_ msg: Msg, _ state: inout AppState) -> [Effect] {
        guard case .tick = msg, let queues = state.snapshot?.queues else { return [] }
        for q in queues {
            var history = state[local: Local.self].queueDepths[q.name, default: []]
            history.append(Double(q.pending))
            if history.count > 120 { history.removeFirst(history.count - 120) }
            state[local: Local.self].queueDepths[q.name] = history
        }
        if state[local: Local.self].queueDepths.count > queues.count {
            let current = Set(queues.map(\.name))
            state[local: Local.self].queueDepths = state[local: Local.self].queueDepths.filter { current.contains($0.key) }
        }
        return []
    }

    /// The alert the acknowledge quick action aims at: the selected one when it is active, else
    /// the first active alert as listed.
    static func topAlert(_ state: AppState) -> Alert? {
        guard let s = state.snapshot else { return nil }
        let active = { (id: String) in s.alerts.first { String($0.id) == id && $0.status == .active } }
        guard state.screen.id == .dashboard else { return s.alerts.first { $0.status == .active } }
        if let id = App.selectedItemID(state), let a = active(id) { return a }
        let listed = Screens.listing(state)
        for i in 0..<listed.count { if let a = active(listed.id(i)) { return a } }
        return nil
    }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        guard let id = Int(id) else { return nil }
        guard let a = s.alerts.first(where: { $0.id == id }) else { return nil }
        return (
            "Alert #\(id)",
            [
                App.field("severity", a.severity.rawValue, DashboardScreen.severityStyle(a.severity)), App.field("raised", ISOTime.format(a.ts)),
                App.field("source", a.source), App.field("status", a.status.rawValue), App.field("acked by", a.ackedBy ?? "-"),
                ("", .plain), (a.title, Style(.text, [.bold])), (a.message, Style(.text))
            ]
        )
    }

    public func render(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
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
            b.put("  " + banner.message, x: x, y: y, DashboardScreen.severityStyle(banner.level), maxWidth: body.maxX - x)
        }
        y += 1
        // Jobs by status, throughput and success rate.
        x = body.x + 1
        x += b.put("Jobs   ", x: x, y: y, Style(.title, [.bold]))
        for status in [JobStatus.queued, .running, .retrying, .failed, .completed, .cancelled] {
            x += b.put("\(status.rawValue) ", x: x, y: y, Style(.muted))
            x += b.put("\(Fmt.count(s.jobs.count(status)))  ", x: x, y: y, JobsScreen.style(status).bold())
        }
        y += 1
        x = body.x + 1
        let perMinute = s.analytics.perMinute(last: 5, now: state.now)
        let success = s.analytics.successRate(last: s.analytics.windowMinutes, now: state.now)
        let up = s.workers.filter { $0.status.isUp }.count
        let busy = s.workers.reduce(0) { $0 + $1.active }
        let slots = s.workers.reduce(0) { $0 + $1.concurrency }
        x += b.put("Flow   ", x: x, y: y, Style(.title, [.bold]))
        x += b.put("\(Int(perMinute.rounded()))/min  success \(Fmt.percent(success))  ", x: x, y: y, Style(.text))
        x += b.put("workers \(up)/\(s.workers.count) up", x: x, y: y, up == s.workers.count ? Style(.ok) : Style(.danger, [.bold]))
        x += b.put("  busy \(busy)/\(slots)", x: x, y: y, Style(.text))
        if s.system.maintenance.enabled {
            b.put("  MAINTENANCE: \(s.system.maintenance.message ?? "")", x: x, y: y, Style(.warning, [.bold]), maxWidth: body.maxX - x)
        }
        y += 1
        Self.renderActionFigures(s, &b, x: body.x + 1, y: y, maxX: body.maxX)
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
        // The queues stop above the alerts; those that do not fit are counted, not drawn over.
        let alerts = tableRect(state, body: body)
        let queuesEnd = alerts.height > 1 ? alerts.y - 1 : body.maxY
        let fitting = s.queues.count > queuesEnd - y ? max(0, queuesEnd - y - 1) : s.queues.count
        for (i, q) in s.queues.prefix(fitting).enumerated() {
            let style = q.paused ? Style(.warning) : q.pending > 100 ? Style(.danger, [.bold]) : Style(.text)
            b.put(q.name + (q.paused ? " ⏸" : ""), in: Rect(x: body.x + 2, y: y, width: nameW, height: 1), style)
            b.put(Fmt.count(q.pending), in: Rect(x: body.x + 2 + nameW, y: y, width: numW, height: 1), style, align: .right)
            b.put(String(q.reserved), in: Rect(x: body.x + 3 + nameW + numW, y: y, width: 4, height: 1), Style(.accent), align: .right)
            b.put(
                String(q.failed), in: Rect(x: body.x + 4 + nameW + numW + 4, y: y, width: 5, height: 1),
                q.failed > 0 ? Style(.danger) : Style(.muted), align: .right)
            let history = state[local: Local.self].queueDepths[q.name] ?? [Double(q.pending)]
            Chart.sparkline(history, style: Style(ThemeToken.chartSeries[i % ThemeToken.chartSeries.count]))
                .render(into: &b, rect: Rect(x: sparkX, y: y, width: max(0, min(60, body.maxX - sparkX - 1)), height: 1))
            y += 1
        }
        if fitting < s.queues.count, y < queuesEnd {
            b.put("+\(s.queues.count - fitting) more queues (2 ] lists them all)", x: body.x + 2, y: y, Style(.muted), maxWidth: body.width - 3)
        }
        if alerts.height > 1 {
            b.put("Alerts", x: body.x + 1, y: alerts.y - 1, Style(.title, [.bold]))
            App.renderTable(state, &b, alerts)
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

    public func renderWallboard(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        guard let s = state.snapshot else { return }
        let perMinute = s.analytics.perMinute(last: 5, now: state.now)
        let up = s.workers.filter { $0.status.isUp }.count
        let failed = s.jobs.count(.failed)
        let rate = s.analytics.successRate(last: s.analytics.windowMinutes, now: state.now)
        let tiles: [(label: String, value: String, style: Style)] = [
            ("QUEUED", App.short(s.jobs.count(.queued)), Style(.accent, [.bold])),
            ("RUNNING", App.short(s.jobs.count(.running)), Style(.ok, [.bold])),
            ("FAILED", App.short(failed), failed > 0 ? Style(.danger, [.bold]) : Style(.ok, [.bold])),
            ("DONE / MIN", App.short(Int(perMinute.rounded())), Style(.chart1, [.bold])),
            (
                "SUCCESS", rate.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
                (rate ?? 1) < 0.9 ? Style(.warning, [.bold]) : Style(.ok, [.bold])
            ),
            ("WORKERS UP", "\(up)/\(s.workers.count)", up == s.workers.count ? Style(.ok, [.bold]) : Style(.danger, [.bold]))
        ]
        // Alerts are always shown (a room must see them), at the bottom; the figures take the rest,
        // with the throughput trend under them where there is room.
        let groups = App.alertGroups(s.alerts)
        let alertRows = groups.isEmpty ? 0 : 1 + min(groups.count, max(1, body.height / 4))
        let split = Layout.vertical([.fill(1), .length(alertRows)]).split(body)
        let (upper, alerts) = (split[0], split[1])
        App.renderAlerts(groups, now: state.now, &b, alerts)
        let tilesHeight = upper.height >= 24 ? upper.height * 3 / 5 : upper.height
        let parts = Layout.vertical([.length(tilesHeight), .fill(1)]).split(upper)
        let (top, chart) = (parts[0], parts[1])
        App.bigTiles(tiles, &b, top)
        guard chart.height >= 3 else { return }
        let series = s.analytics.completeMinutes(last: 60, now: state.now).map { Double($0.completed) }
        b.put("Throughput /min", x: chart.x + 1, y: chart.y, Style(.title, [.bold]))
        App.axisChart(
            series, from: 0, to: max(1, series.max() ?? 0), unit: "", style: Style(.chart1), &b,
            Rect(x: chart.x + 1, y: chart.y + 1, width: chart.width - 2, height: chart.height - 2))
    }

    static func severityStyle(_ s: AlertSeverity) -> Style {
        switch s {
        case .info: return Style(.accent)
        case .warning: return Style(.warning)
        case .error: return Style(.danger)
        case .critical: return Style(.critical, [.bold])
        }
    }
}

/// The Dashboard's quick actions: catalog actions aimed by the console (the busiest queue, the
/// top alert), each with its usual checks and dialog.
public enum QuickAction: String, CaseIterable, Sendable {
    case cacheRefresh, maintenanceOn, maintenanceOff, pauseBusiestQueue, restartAllWorkers, ackTopAlert

    /// Its key on the Dashboard.
    public var key: String {
        switch self {
        case .cacheRefresh: return "c"
        case .maintenanceOn: return "M"
        case .maintenanceOff: return "N"
        case .pauseBusiestQueue: return "P"
        case .restartAllWorkers: return "W"
        case .ackTopAlert: return "a"
        }
    }

    /// The catalog action it runs.
    public var action: ActionName {
        switch self {
        case .cacheRefresh: return .systemCacheRefresh
        case .maintenanceOn: return .systemMaintenanceOn
        case .maintenanceOff: return .systemMaintenanceOff
        case .pauseBusiestQueue: return .queuePause
        case .restartAllWorkers: return .workerRestartAll
        case .ackTopAlert: return .systemAlertAck
        }
    }

    public var spec: ActionSpec { ActionCatalog.spec(action) }

    /// The help's line.
    public var helpTitle: String {
        switch self {
        case .cacheRefresh: return "Refresh the SSOT cache"
        case .maintenanceOn: return "Maintenance mode on"
        case .maintenanceOff: return "Maintenance mode off"
        case .pauseBusiestQueue: return "Pause busiest queue"
        case .restartAllWorkers: return "Restart all workers"
        case .ackTopAlert: return "Ack the top alert"
        }
    }

    /// The payload for the current state, a note for the dialog, or why there is nothing to aim at.
    func resolve(_ state: AppState) -> (payload: [String: PayloadValue], title: String, blocked: String?) {
        let title = spec.title
        switch self {
        case .cacheRefresh, .maintenanceOn, .maintenanceOff:
            return ([:], title, nil)
        case .restartAllWorkers:
            return ([:], "Restart all workers (rolling)", nil)
        case .pauseBusiestQueue:
            let busiest = state.snapshot?.queues.filter { !$0.paused }.max { ($0.pending, $1.name) < ($1.pending, $0.name) }
            guard let q = busiest else { return ([:], "Pause the busiest queue", "no active queue to pause") }
            return (["queue": .string(q.name)], "Pause the busiest queue (\(q.name), \(Fmt.count(q.pending)) pending)", nil)
        case .ackTopAlert:
            guard let alert = DashboardScreen.topAlert(state) else { return ([:], "Acknowledge the top alert", "no active alert to acknowledge") }
            return (["id": .int(alert.id)], "Acknowledge the top alert (#\(alert.id) \(alert.title))", nil)
        }
    }
}
