import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let workers = ViewID(rawValue: "workers")
}

/// The workers: status, pool, load and heartbeat.
public struct WorkersScreen: Screen {
    public var id: ViewID { .workers }
    public var title: String { "Agents & Workers" }
    public var shortTitle: String { "Workers" }
    public var aliases: [String] { ["workers", "worker", "agents", "wk", "w"] }
    public var actionView: ActionView? { .workers }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("WORKER", .flex(weight: 2, min: 14), priority: 9), TableColumn("STAGE", .fixed(10), priority: 7),
            TableColumn("STATUS", .fixed(10), priority: 9), TableColumn("POOL", .fixed(5), align: .right, priority: 8),
            TableColumn("DONE", .fixed(6), align: .right, priority: 5), TableColumn("FAIL", .fixed(5), align: .right, priority: 6),
            TableColumn("LOAD", .fixed(4), align: .right, priority: 4), TableColumn("MEM", .fixed(5), align: .right, priority: 3),
            TableColumn("BEAT", .fixed(4), align: .right, priority: 8)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        return Screens.ListSource(s.workers, id: \.id) { w in
            ListItem(
                id: w.id,
                row: TableRow(
                    [
                        w.id, Pipeline.shortName(w.stage), w.status.rawValue, "\(w.active)/\(w.concurrency)",
                        Fmt.count(w.processed), String(w.failed), String(format: "%.2f", w.load), Fmt.bytes(w.rssBytes),
                        w.status == .offline || w.status == .stopped ? Fmt.age(w.heartbeatAgeSeconds) : Fmt.age(w.heartbeatAgeSeconds ?? 0)
                    ],
                    style: Self.style(w.status)),
                sort: [
                    .text(w.id), .number(Double(Pipeline.order(w.stage))), .text(w.status.rawValue),
                    .number(Double(w.active)), .number(Double(w.processed)), .number(Double(w.failed)), .number(w.load),
                    .number(Double(w.rssBytes)), .number(w.heartbeatAgeSeconds ?? 0)
                ],
                search: "\(w.id) \(w.hostname) \(w.stage) \(w.status.rawValue) \(w.queues.joined(separator: " "))")
        }
    }

    /// A row's actions aim at it; restarting all follows the filter when it shows one stage.
    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        var p: [String: PayloadValue] = [:]
        var note: String?
        if let id, spec.field("id") != nil { p["id"] = .string(id) }
        if spec.id == .workerRestartAll {
            let shown = Screens.items(state).compactMap { item in state.snapshot?.workers.first { $0.id == item.id }?.stage }
            if state.current.filter.isActive, let stage = shown.first, shown.allSatisfy({ $0 == stage }) {
                p["stage"] = .string(stage)
                note = "follows the filter: only the workers of stage \(stage)"
            } else {
                note =
                    state.current.filter.isActive
                    ? "every worker of every stage (the filter shows more than one stage)" : "every worker of every stage"
            }
        }
        return (p, note)
    }

    public func links(_ state: AppState, _ s: Snapshot, id: String) -> [Link] {
        [Link("J", "its jobs", to: .jobs, filter: id), Link("l", "its log lines", to: .logs, filter: id)]
    }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        guard let w = s.workers.first(where: { $0.id == id }) else { return nil }
        let running = s.jobs.recent.filter { $0.workerID == id && $0.status == .running }
        var lines = [
            App.field("worker", w.id), App.field("host", w.hostname), App.field("pid", w.pid.map(String.init) ?? "-"), App.field("stage", w.stage),
            App.field("queues", w.queues.joined(separator: ", ")), App.field("status", w.status.rawValue, WorkersScreen.style(w.status).bold()),
            App.field("pool", "\(w.active) busy of \(w.concurrency)" + (w.autoscaleMax.map { " (autoscale \(w.autoscaleMin ?? 0)-\($0))" } ?? "")),
            App.field("processed", Fmt.count(w.processed)), App.field("failed", Fmt.count(w.failed)),
            App.field("load", String(format: "%.2f", w.load)),
            App.field("memory", Fmt.bytes(w.rssBytes)), App.field("heartbeat", Fmt.age(w.heartbeatAgeSeconds) + " ago"),
            App.field("version", w.version), App.field("started", w.startedAt.map { ISOTime.format($0) } ?? "-"),
            ("", .plain), ("Running", Style(.title, [.bold]))
        ]
        lines += running.map { ("\(Fmt.shortID($0.id))  \(Int(($0.progress * 100).rounded()))%  \($0.name)", Style(.accent)) }
        return ("Worker \(id)", lines)
    }

    /// A tile per worker, coloured by its state, with its busy slots.
    public func renderWallboard(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        guard let s = state.snapshot, !s.workers.isEmpty else { return }
        let up = s.workers.filter { $0.status.isUp }.count
        b.put(
            "\(up) of \(s.workers.count) workers up", in: Rect(x: body.x, y: body.y, width: body.width, height: 1),
            up == s.workers.count ? Style(.ok, [.bold]) : Style(.danger, [.bold]), align: .center)
        let area = body.inset(top: 1)
        let columns = max(1, min(s.workers.count, area.width / 22))
        let rowCount = (s.workers.count + columns - 1) / columns
        let tileHeight = max(1, min(5, area.height / max(1, rowCount)))
        let cells = Layout.horizontal(Array(repeating: .fill(1), count: columns)).spacing(1).split(area)
        for (i, worker) in s.workers.enumerated() {
            let col = i % columns
            let row = i / columns
            let tile = Rect(
                x: cells[col].x, y: area.y + row * tileHeight, width: cells[col].width, height: max(1, tileHeight - (tileHeight > 2 ? 1 : 0)))
            guard tile.maxY <= area.maxY else { break }
            let token: ThemeToken = !worker.status.isUp ? .danger : worker.status == .online ? .ok : .warning
            let style = Style(token, bg: .background, [.bold])
            b.fill(tile, " ", style)
            b.put(worker.id, in: Rect(x: tile.x + 1, y: tile.y, width: tile.width - 2, height: 1), style)
            let detail = "\(worker.status.rawValue)  \(worker.active)/\(worker.concurrency) busy"
            if tile.height > 1 {
                b.put(detail, in: Rect(x: tile.x + 1, y: tile.y + 1, width: tile.width - 2, height: 1), Style(.text, bg: .background))
            } else {
                b.put(" " + worker.status.rawValue, in: Rect(x: tile.maxX - 10, y: tile.y, width: 10, height: 1), style, align: .right)
            }
        }
    }

    static func style(_ s: WorkerStatus) -> Style {
        switch s {
        case .offline: return Style(.danger, [.bold])
        case .paused, .draining, .restarting, .starting: return Style(.warning)
        case .stopped: return Style(.muted)
        case .online: return Style(.text)
        }
    }
}
