import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let taskTypes = ViewID(rawValue: "tasks")
}

/// Task types, as Flower shows them (D70): per pipeline stage's Celery task, over the Analytics
/// window (`w`, complete minutes), attempts per minute, success rate and runtime p50/p95/p99; the
/// drill-down draws the runtime histogram. The Analytics tab's second pane (`]`, or `:tasks`).
public struct TaskTypesScreen: Screen {
    public var id: ViewID { .taskTypes }
    public var tab: ViewID { .analytics }
    public var title: String { "Task types" }
    public var shortTitle: String { "Tasks" }
    public var aliases: [String] { ["tasks", "task-types", "tasktypes"] }

    /// The task types over the window the Analytics view shows.
    static func types(_ s: Snapshot, _ state: AppState) -> [Analytics.TaskType] {
        s.analytics.taskTypes(window: state[local: AnalyticsScreen.Local.self].window)
    }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("TASK", .flex(weight: 1, min: 18), priority: 9), TableColumn("OK", .fixed(7), align: .right, priority: 8),
            TableColumn("FAILED", .fixed(7), align: .right, priority: 8), TableColumn("/MIN", .fixed(7), align: .right, priority: 7),
            TableColumn("SUCCESS", .fixed(7), align: .right, priority: 9), TableColumn("P50", .fixed(7), align: .right, priority: 7),
            TableColumn("P95", .fixed(7), align: .right, priority: 6), TableColumn("P99", .fixed(7), align: .right, priority: 5)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        Screens.ListSource(Self.types(s, state), id: \.stage) { t in
            let rate = t.successRate
            return ListItem(
                id: t.stage,
                row: TableRow(
                    [
                        t.taskName, Fmt.count(t.succeeded), Fmt.count(t.failed), String(format: "%.1f", t.perMinute), Fmt.percent(rate),
                        t.p50Ms.map(Fmt.ms) ?? "-", t.p95Ms.map(Fmt.ms) ?? "-", t.p99Ms.map(Fmt.ms) ?? "-"
                    ], style: (rate ?? 1) < 0.9 ? Style(.danger) : Style(.text)),
                sort: [
                    .text(t.taskName), .number(Double(t.succeeded)), .number(Double(t.failed)), .number(t.perMinute), .number(rate ?? 1),
                    .number(t.p50Ms ?? 0), .number(t.p95Ms ?? 0), .number(t.p99Ms ?? 0)
                ],
                search: t.taskName)
        }
    }

    public func renderContext(_ state: AppState, _ b: inout CellBuffer, line: Rect, x: inout Int) {
        let window = state[local: AnalyticsScreen.Local.self].window
        x += b.put("  last \(window >= 60 ? "\(window / 60) h" : "\(window) min") (complete minutes, w changes)", x: x, y: line.y, Style(.muted))
    }

    public func run(_ command: Command, _ state: inout AppState) -> [Effect]? { AnalyticsScreen().run(command, &state) }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        guard let t = Self.types(s, state).first(where: { $0.stage == id }) else { return nil }
        var lines = [
            App.field("task", t.taskName), App.field("window", "\(Fmt.clock(t.from)) – \(Fmt.clock(t.to)) (\(t.windowMinutes) min)"),
            App.field("succeeded", Fmt.count(t.succeeded)), App.field("failed", Fmt.count(t.failed)),
            App.field("rate", String(format: "%.2f /min", t.perMinute)), App.field("success", Fmt.percent(t.successRate)),
            App.field("runtime", [t.p50Ms, t.p95Ms, t.p99Ms].map { $0.map(Fmt.ms) ?? "-" }.joined(separator: " / ") + "  (p50 / p95 / p99)"),
            ("", Style(.text)), ("Runtime histogram (succeeded attempts)", Style(.title, [.bold]))
        ]
        lines += Self.histogramLines(t.histogram, unicode: state.unicode)
        return ("Task type: \(t.taskName)", lines)
    }

    /// The histogram drawn by the Chart widget, 4 rows of 4-column bars, with the buckets' bounds
    /// and counts under it.
    public static func histogramLines(_ counts: [Int], unicode: Bool) -> [(text: String, style: Style)] {
        guard !counts.isEmpty else { return [("no runtimes", Style(.muted))] }
        let width = 6
        let style = Style(.chart3)
        var b = CellBuffer(width: counts.count * width, height: 4, glyphs: unicode ? .unicode : .ascii)
        b.render(Chart(counts.map(Double.init), style: style), in: b.bounds)
        var lines = (0..<4).map { (text: b.row($0), style: style) }
        let bounds = Analytics.taskHistogramBoundsMs
        let labels = counts.indices.map { i in i < bounds.count ? "<" + Fmt.ms(bounds[i]) : "≥" + Fmt.ms(bounds[bounds.count - 1]) }
        lines.append((labels.map { $0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined(), Style(.muted)))
        lines.append((counts.map { String($0).padding(toLength: width, withPad: " ", startingAt: 0) }.joined(), Style(.text)))
        return lines
    }
}
