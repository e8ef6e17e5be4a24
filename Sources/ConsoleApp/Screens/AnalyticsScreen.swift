import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let analytics = ViewID(rawValue: "analytics")
}

/// Throughput, success rate and stage latency over a window, and the error classes.
public struct AnalyticsScreen: Screen {
    public struct Local: ScreenLocalState {
        /// Minutes of history the charts show.
        public var window = 60
        public init() {}
    }

    /// The windows `w` steps through.
    public static let windows = [15, 60, 360]

    public var id: ViewID { .analytics }
    public var title: String { "Analytics" }
    public var aliases: [String] { ["analytics", "stats", "a"] }
    public var actionView: ActionView? { .analytics }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("ERROR CLASS", .flex(weight: 2, min: 16), priority: 9), TableColumn("COUNT", .fixed(6), align: .right, priority: 9),
            TableColumn("LAST SEEN", .fixed(9), align: .right, priority: 6)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        let now = state.now
        return Screens.ListSource(s.analytics.errorClasses, id: \.name) { e in
            ListItem(
                id: e.name, row: TableRow([e.name, Fmt.count(e.count), Fmt.age(since: e.lastSeen, now: now)], style: Style(.danger)),
                sort: [.text(e.name), .number(Double(e.count)), .number(-(e.lastSeen?.timeIntervalSince1970 ?? 0))],
                search: e.name)
        }
    }

    public func tableRect(_ state: AppState, body: Rect) -> Rect { areas(body).table }

    /// The charts over the error classes.
    func areas(_ body: Rect) -> (top: Rect, table: Rect) {
        let parts = Layout.vertical([.length(min(max(8, body.height / 2), body.height - 2)), .fill(1)]).split(body)
        return (parts[0], parts[1])
    }

    public func run(_ command: Command, _ state: inout AppState) -> [Effect]? {
        guard command == .window else { return nil }
        let all = Self.windows
        let window = state[local: Local.self].window
        state[local: Local.self].window = all[((all.firstIndex(of: window) ?? 0) + 1) % all.count]
        return []
    }

    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        spec.field("window") != nil ? (["window": .int(state[local: Local.self].window)], nil) : ([:], nil)
    }

    public func render(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        guard let s = state.snapshot else { return }
        let (top, table) = areas(body)
        let sides = Layout.horizontal([.length(top.width / 2), .fill(1)]).split(top)
        let (left, right) = (sides[0], sides[1])
        let series = s.analytics.completeMinutes(last: state[local: Local.self].window, now: state.now)
        let window = state[local: Local.self].window >= 60 ? "\(state[local: Local.self].window / 60) h" : "\(state[local: Local.self].window) min"
        b.put(
            "Throughput /min (last \(window), w changes)", x: left.x + 1, y: left.y, Style(.title, [.bold]),
            maxWidth: left.width - 1)
        b.render(
            Chart.sparkline(series.map { Double($0.completed) }, style: Style(.chart1)).fittingAll(),
            in: Rect(x: left.x + 1, y: left.y + 1, width: left.width - 2, height: 1))
        let peak = series.map(\.completed).max() ?? 0
        b.put("peak \(peak)/min · last \(series.last?.completed ?? 0)/min", x: left.x + 1, y: left.y + 2, Style(.muted), maxWidth: left.width - 1)
        let rate = s.analytics.successRate(last: state[local: Local.self].window, now: state.now)
        b.put("Success rate \(Fmt.percent(rate))", x: left.x + 1, y: left.y + 3, Style(.title, [.bold]), maxWidth: left.width - 1)
        b.render(
            Chart.sparkline(series.map { ($0.successRate ?? 1) * 100 }, maximum: 100, style: Style(.chart2)).fittingAll(),
            in: Rect(x: left.x + 1, y: left.y + 4, width: left.width - 2, height: 1))
        b.put("Stage latency p50 / p95", x: right.x + 1, y: right.y, Style(.title, [.bold]), maxWidth: right.width - 1)
        let bars = s.analytics.stageLatency.map {
            BarChart.Bar(Pipeline.shortName($0.stage), $0.p95Ms, display: "\(Fmt.ms($0.p50Ms)) / \(Fmt.ms($0.p95Ms))", style: Style(.chart3))
        }
        BarChart(bars).render(into: &b, rect: Rect(x: right.x + 1, y: right.y + 1, width: right.width - 2, height: right.height - 1))
        if table.height > 1 {
            b.hline(x: body.x, y: table.y - 1, width: body.width)
            b.put(" Error classes (last hour) ", x: body.x + 2, y: table.y - 1, Style(.title, [.bold]))
            App.renderTable(state, &b, table)
        }
    }

    public func renderWallboard(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        guard let s = state.snapshot else { return }
        let series = s.analytics.completeMinutes(last: state[local: Local.self].window, now: state.now)
        let halves = Layout.vertical([.fill(1), .fill(1)]).spacing(1).split(body)
        let last = series.last?.completed ?? 0
        b.put(
            "Throughput /min · now \(last) · peak \(series.map(\.completed).max() ?? 0)", x: halves[0].x + 1, y: halves[0].y,
            Style(.title, [.bold]), maxWidth: body.width - 2)
        let counts = series.map { Double($0.completed) }
        App.axisChart(
            counts, from: 0, to: max(1, counts.max() ?? 0), unit: "", style: Style(.chart1), &b,
            Rect(x: halves[0].x + 1, y: halves[0].y + 1, width: halves[0].width - 2, height: halves[0].height - 1))
        let rate = s.analytics.successRate(last: state[local: Local.self].window, now: state.now)
        b.put("Success rate · \(Fmt.percent(rate))", x: halves[1].x + 1, y: halves[1].y, Style(.title, [.bold]), maxWidth: body.width - 2)
        // The axis starts at the multiple of 10 under the worst minute: 96–99 % is not a solid block.
        let rates = series.map { ($0.successRate ?? 1) * 100 }
        let floor = max(0, (((rates.min() ?? 100) - 1) / 10).rounded(.down) * 10)
        App.axisChart(
            rates, from: floor, to: 100, unit: "%", style: Style(.chart2), &b,
            Rect(x: halves[1].x + 1, y: halves[1].y + 1, width: halves[1].width - 2, height: halves[1].height - 1))
    }
}
