import AgentOSCore
import ConsoleUI
import Foundation

/// A sortable value of a cell.
public enum SortValue: Sendable, Comparable {
    case number(Double)
    case text(String)

    public static func < (a: SortValue, b: SortValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y
        case (.text(let x), .text(let y)): return x.localizedStandardCompare(y) == .orderedAscending
        case (.number, .text): return true
        case (.text, .number): return false
        }
    }
}

/// One listed item: its identity (for drill-down and actions), the row, the sort keys, and the
/// text the filter searches.
public struct ListItem: Sendable {
    public var id: String
    public var row: TableRow
    public var sort: [SortValue]
    public var search: String
}

/// What each view lists, as pure functions of the state.
public enum Screens {
    public static func columns(_ state: AppState) -> [TableColumn] {
        switch (state.view, state.current.pane) {
        case (.dashboard, _):
            return [
                TableColumn("SEV", .fixed(8), priority: 8), TableColumn("WHEN", .fixed(5), align: .right, priority: 6),
                TableColumn("SOURCE", .flex(weight: 1, min: 10), priority: 4), TableColumn("ALERT", .flex(weight: 3, min: 16), priority: 9),
                TableColumn("STATE", .fixed(8), priority: 5)
            ]
        case (.jobs, 0):
            return [
                TableColumn("ID", .fixed(8), priority: 9), TableColumn("NAME", .flex(weight: 3, min: 12), priority: 6),
                TableColumn("STAGE", .fixed(10), priority: 8), TableColumn("STATUS", .fixed(9), priority: 9),
                TableColumn("PROG", .fixed(4), align: .right, priority: 7), TableColumn("TRY", .fixed(3), align: .right, priority: 3),
                TableColumn("WORKER", .flex(weight: 1, min: 10), priority: 2), TableColumn("OWNER", .fixed(9), priority: 4),
                TableColumn("AGE", .fixed(4), align: .right, priority: 5)
            ]
        case (.jobs, _):
            return [
                TableColumn("QUEUE", .flex(weight: 2, min: 14), priority: 9), TableColumn("PENDING", .fixed(7), align: .right, priority: 9),
                TableColumn("RESERVED", .fixed(8), align: .right, priority: 8), TableColumn("FAILED", .fixed(6), align: .right, priority: 8),
                TableColumn("STATE", .fixed(6), priority: 7), TableColumn("RATE/MIN", .fixed(8), align: .right, priority: 4),
                TableColumn("CONSUMERS", .fixed(9), align: .right, priority: 5), TableColumn("OLDEST", .fixed(6), align: .right, priority: 6)
            ]
        case (.system, _):
            return [
                TableColumn("PID", .fixed(7), align: .right, priority: 9), TableColumn("USER", .fixed(10), priority: 4),
                TableColumn("STATE", .fixed(19), priority: 8), TableColumn("TIME", .fixed(5), align: .right, priority: 7),
                TableColumn("QUERY", .flex(weight: 1, min: 20), priority: 9)
            ]
        case (.workers, _):
            return [
                TableColumn("WORKER", .flex(weight: 2, min: 14), priority: 9), TableColumn("STAGE", .fixed(10), priority: 7),
                TableColumn("STATUS", .fixed(10), priority: 9), TableColumn("POOL", .fixed(5), align: .right, priority: 8),
                TableColumn("DONE", .fixed(6), align: .right, priority: 5), TableColumn("FAIL", .fixed(5), align: .right, priority: 6),
                TableColumn("LOAD", .fixed(4), align: .right, priority: 4), TableColumn("MEM", .fixed(5), align: .right, priority: 3),
                TableColumn("BEAT", .fixed(4), align: .right, priority: 8)
            ]
        case (.managers, _):
            return [
                TableColumn("MANAGER", .fixed(11), priority: 9), TableColumn("STATUS", .fixed(8), priority: 9),
                TableColumn("ON", .fixed(3), priority: 7), TableColumn("SCHEDULE", .fixed(12), priority: 6),
                TableColumn("CONC", .fixed(4), align: .right, priority: 2),
                TableColumn("LAST", .fixed(5), align: .right, priority: 8), TableColumn("NEXT", .fixed(5), align: .right, priority: 5),
                TableColumn("RUNS", .fixed(5), align: .right, priority: 3), TableColumn("RESULT", .flex(weight: 1, min: 12), priority: 4)
            ]
        case (.logs, _):
            return [
                TableColumn("TIME", .fixed(8), priority: 8), TableColumn("LEVEL", .fixed(8), priority: 9),
                TableColumn("SOURCE", .fixed(18), priority: 6), TableColumn("MESSAGE", .flex(weight: 1, min: 20), priority: 9)
            ]
        case (.config, _):
            return [
                TableColumn("KEY", .flex(weight: 2, min: 16), priority: 9), TableColumn("TYPE", .fixed(8), priority: 5),
                TableColumn("VALUE", .flex(weight: 1, min: 10), priority: 9), TableColumn("DEFAULT", .flex(weight: 1, min: 8), priority: 4),
                TableColumn("VER", .fixed(3), align: .right, priority: 6), TableColumn("BY", .fixed(8), priority: 3)
            ]
        case (.analytics, _):
            return [
                TableColumn("ERROR CLASS", .flex(weight: 2, min: 16), priority: 9), TableColumn("COUNT", .fixed(6), align: .right, priority: 9),
                TableColumn("LAST SEEN", .fixed(9), align: .right, priority: 6)
            ]
        }
    }

    /// The rows of a view without building them: a count, each row's identity, and the full item
    /// on demand (only the visible rows are built for a frame).
    public struct ListSource {
        public let count: Int
        public let id: (Int) -> String
        public let item: (Int) -> ListItem

        static var empty: ListSource {
            ListSource(count: 0, id: { _ in "" }, item: { _ in ListItem(id: "", row: TableRow([]), sort: [], search: "") })
        }

        init(count: Int, id: @escaping (Int) -> String, item: @escaping (Int) -> ListItem) {
            self.count = count
            self.id = id
            self.item = item
        }

        init<C: RandomAccessCollection>(_ elements: C, id: @escaping (C.Element) -> String, item: @escaping (C.Element) -> ListItem)
        where C.Index == Int {
            let base = elements.startIndex
            self.init(count: elements.count, id: { id(elements[base + $0]) }, item: { item(elements[base + $0]) })
        }
    }

    /// The shown rows: the source and the order of its indices after the filter and the sort.
    public struct Listing {
        public let source: ListSource
        public let order: [Int]
        public var count: Int { order.count }
        public func id(_ position: Int) -> String { source.id(order[position]) }
        public func item(_ position: Int) -> ListItem { source.item(order[position]) }
        public func position(of id: String) -> Int? { order.firstIndex { source.id($0) == id } }
    }

    /// Filtered and sorted; rows are built in full only when a filter or a sort needs them.
    public static func listing(_ state: AppState) -> Listing {
        let source = self.source(state)
        let filter = state.current.filter
        let sortColumn = state.current.sortColumn
        guard filter.isActive || sortColumn != nil else { return Listing(source: source, order: Array(0..<source.count)) }
        var order = Array(0..<source.count)
        var built: [ListItem] = []
        built.reserveCapacity(source.count)
        for i in order { built.append(source.item(i)) }
        if filter.isActive {
            let match = filter.matcher()
            order = order.filter { match(built[$0].search) }
        }
        if let col = sortColumn {
            let asc = state.current.sortAscending
            order = order.sorted { a, b in
                let x = col < built[a].sort.count ? built[a].sort[col] : .text("")
                let y = col < built[b].sort.count ? built[b].sort[col] : .text("")
                if x == y { return a < b }
                return asc ? x < y : y < x
            }
        }
        return Listing(source: source, order: order)
    }

    /// Every shown item, built (tests and small lists; frames use `listing`).
    public static func items(_ state: AppState) -> [ListItem] {
        let l = listing(state)
        return l.order.map(l.source.item)
    }

    public static func rowCount(_ state: AppState) -> Int { listing(state).count }

    public static func detailTarget(_ state: AppState) -> DetailTarget? {
        let list = listing(state)
        let i = state.current.cursor.selected
        guard i >= 0 && i < list.count else { return nil }
        let id = list.id(i)
        switch (state.view, state.current.pane) {
        case (.dashboard, _): return Int(id).map { .alert($0) }
        case (.jobs, 0): return .job(id)
        case (.jobs, _): return .queue(id)
        case (.workers, _): return .worker(id)
        case (.managers, _): return .manager(id)
        case (.logs, _): return Int(id).map { .log($0) }
        case (.config, _): return .config(id)
        case (.system, _), (.analytics, _): return nil
        }
    }

    static func jobStyle(_ s: JobStatus) -> Style {
        switch s {
        case .failed: return Style(.danger)
        case .retrying: return Style(.warning)
        case .running: return Style(.accent)
        case .completed: return Style(.ok)
        case .cancelled: return Style(.muted)
        case .pending, .queued: return Style(.text)
        }
    }

    static func workerStyle(_ s: WorkerStatus) -> Style {
        switch s {
        case .offline: return Style(.danger, [.bold])
        case .paused, .draining, .restarting, .starting: return Style(.warning)
        case .stopped: return Style(.muted)
        case .online: return Style(.text)
        }
    }

    static func levelStyle(_ l: LogLevel) -> Style {
        switch l {
        case .debug: return Style(.muted)
        case .info: return Style(.text)
        case .warning: return Style(.warning)
        case .error: return Style(.danger)
        case .critical: return Style(.critical, [.bold])
        }
    }

    static func severityStyle(_ s: AlertSeverity) -> Style {
        switch s {
        case .info: return Style(.accent)
        case .warning: return Style(.warning)
        case .error: return Style(.danger)
        case .critical: return Style(.critical, [.bold])
        }
    }

    static func source(_ state: AppState) -> ListSource {
        guard let s = state.snapshot else { return .empty }
        let now = state.now
        switch (state.view, state.current.pane) {
        case (.dashboard, _):
            return ListSource(s.alerts.filter { $0.status == .active || $0.status == .acked }, id: { String($0.id) }) { a in
                let style = a.status == .acked ? Style(.muted) : severityStyle(a.severity)
                return ListItem(
                    id: String(a.id),
                    row: TableRow(
                        [a.severity.rawValue, Fmt.age(since: a.ts, now: now), a.source, a.title, a.status.rawValue],
                        style: style),
                    sort: [
                        .number(Double(AlertSeverity.allCases.firstIndex(of: a.severity)!)), .number(-a.ts.timeIntervalSince1970),
                        .text(a.source), .text(a.title), .text(a.status.rawValue)
                    ],
                    search: "\(a.severity.rawValue) \(a.source) \(a.title) \(a.message) \(a.status.rawValue)")
            }
        case (.jobs, 0):
            return ListSource(s.jobs.recent, id: \.id) { j in
                let progress = j.status == .running ? "\(Int((j.progress * 100).rounded()))%" : j.status == .completed ? "100%" : "-"
                return ListItem(
                    id: j.id,
                    row: TableRow(
                        [
                            Fmt.shortID(j.id), j.name, Pipeline.shortName(j.stage), j.status.rawValue, progress,
                            String(j.attempts), j.workerID ?? "-", j.owner, Fmt.age(since: j.createdAt, now: now)
                        ],
                        style: jobStyle(j.status)),
                    sort: [
                        .text(j.id), .text(j.name), .number(Double(Pipeline.stages.firstIndex(of: j.stage) ?? 99)),
                        .number(Double(JobStatus.allCases.firstIndex(of: j.status)!)), .number(j.progress), .number(Double(j.attempts)),
                        .text(j.workerID ?? ""), .text(j.owner), .number(-j.createdAt.timeIntervalSince1970)
                    ],
                    search:
                        "\(j.id) \(j.name) \(j.stage) \(j.queue) \(j.status.rawValue) \(j.owner) \(j.workerID ?? "") \(j.errorClass ?? "") \(j.error ?? "")"
                )
            }
        case (.jobs, _):
            return ListSource(s.queues, id: \.name) { q in
                let style = q.paused ? Style(.warning) : q.pending > 100 ? Style(.danger) : Style(.text)
                return ListItem(
                    id: q.name,
                    row: TableRow(
                        [
                            q.name, Fmt.count(q.pending), String(q.reserved), String(q.failed), q.paused ? "paused" : "active",
                            q.rateLimit.map(String.init) ?? "-", String(q.consumers), Fmt.age(q.oldestAgeSeconds)
                        ],
                        style: style, cellStyles: q.failed > 0 ? [3: Style(.danger)] : [:]),
                    sort: [
                        .text(q.name), .number(Double(q.pending)), .number(Double(q.reserved)), .number(Double(q.failed)),
                        .text(q.paused ? "paused" : "active"), .number(Double(q.rateLimit ?? Int.max)), .number(Double(q.consumers)),
                        .number(q.oldestAgeSeconds ?? 0)
                    ],
                    search: "\(q.name) \(q.stage) \(q.paused ? "paused" : "active")")
            }
        case (.system, _):
            return ListSource(s.system.database.running, id: { String($0.pid) }) { q in
                let style = q.state.hasPrefix("idle in transaction") ? Style(.warning) : q.durationSeconds > 30 ? Style(.danger) : Style(.text)
                return ListItem(
                    id: String(q.pid), row: TableRow([String(q.pid), q.user, q.state, Fmt.age(q.durationSeconds), q.query], style: style),
                    sort: [.number(Double(q.pid)), .text(q.user), .text(q.state), .number(q.durationSeconds), .text(q.query)],
                    search: "\(q.pid) \(q.user) \(q.state) \(q.query)")
            }
        case (.workers, _):
            return ListSource(s.workers, id: \.id) { w in
                ListItem(
                    id: w.id,
                    row: TableRow(
                        [
                            w.id, Pipeline.shortName(w.stage), w.status.rawValue, "\(w.active)/\(w.concurrency)",
                            Fmt.count(w.processed), String(w.failed), String(format: "%.2f", w.load), Fmt.bytes(w.rssBytes),
                            w.status == .offline || w.status == .stopped ? Fmt.age(w.heartbeatAgeSeconds) : Fmt.age(w.heartbeatAgeSeconds ?? 0)
                        ],
                        style: workerStyle(w.status)),
                    sort: [
                        .text(w.id), .number(Double(Pipeline.stages.firstIndex(of: w.stage) ?? 99)), .text(w.status.rawValue),
                        .number(Double(w.active)), .number(Double(w.processed)), .number(Double(w.failed)), .number(w.load),
                        .number(Double(w.rssBytes)), .number(w.heartbeatAgeSeconds ?? 0)
                    ],
                    search: "\(w.id) \(w.hostname) \(w.stage) \(w.status.rawValue) \(w.queues.joined(separator: " "))")
            }
        case (.managers, _):
            return ListSource(s.managers, id: \.id) { m in
                let style = m.status == .failed ? Style(.danger) : m.status == .running ? Style(.text) : Style(.warning)
                return ListItem(
                    id: m.id,
                    row: TableRow(
                        [
                            m.id, m.status.rawValue, m.enabled ? "yes" : "no", m.schedule, String(m.concurrency),
                            Fmt.age(since: m.lastRunAt, now: now),
                            m.nextRunAt.map { $0 > now ? "in " + Fmt.age($0.timeIntervalSince(now)) : "due" } ?? "-",
                            String(m.runs), m.lastError ?? m.lastResult ?? ""
                        ], style: style),
                    sort: [
                        .text(m.id), .text(m.status.rawValue), .text(m.enabled ? "yes" : "no"), .text(m.schedule), .number(Double(m.concurrency)),
                        .number(m.lastRunAt?.timeIntervalSince1970 ?? 0), .number(m.nextRunAt?.timeIntervalSince1970 ?? 0),
                        .number(Double(m.runs)), .text(m.lastResult ?? "")
                    ],
                    search: "\(m.id) \(m.kind) \(m.status.rawValue) \(m.schedule) \(m.lastResult ?? "") \(m.lastError ?? "")")
            }
        case (.logs, _):
            return ListSource(s.logs.recent, id: { String($0.id) }) { l in
                ListItem(
                    id: String(l.id), row: TableRow([Fmt.clock(l.ts), l.level.rawValue, l.source, l.message], style: levelStyle(l.level)),
                    sort: [
                        .number(l.ts.timeIntervalSince1970), .number(Double(LogLevel.allCases.firstIndex(of: l.level)!)), .text(l.source),
                        .text(l.message)
                    ],
                    search: "\(l.level.rawValue) \(l.source) \(l.message) \(l.jobID ?? "")")
            }
        case (.config, _):
            return ListSource(s.config, id: \.key) { c in
                let changed = c.value != c.defaultValue
                return ListItem(
                    id: c.key,
                    row: TableRow(
                        [c.key, c.type.rawValue, c.value.description, c.defaultValue.description, String(c.version), c.updatedBy],
                        style: c.locked ? Style(.muted) : nil, cellStyles: changed ? [2: Style(.accent, [.bold])] : [:]),
                    sort: [
                        .text(c.key), .text(c.type.rawValue), .text(c.value.description), .text(c.defaultValue.description),
                        .number(Double(c.version)), .text(c.updatedBy)
                    ],
                    search: "\(c.key) \(c.type.rawValue) \(c.value) \(c.description) \(c.updatedBy)")
            }
        case (.analytics, _):
            return ListSource(s.analytics.errorClasses, id: \.name) { e in
                ListItem(
                    id: e.name, row: TableRow([e.name, Fmt.count(e.count), Fmt.age(since: e.lastSeen, now: now)], style: Style(.danger)),
                    sort: [.text(e.name), .number(Double(e.count)), .number(-(e.lastSeen?.timeIntervalSince1970 ?? 0))],
                    search: e.name)
            }
        }
    }

    /// The rectangle of the selectable table of the current view (same as `Render` uses).
    public static func tableRect(_ state: AppState) -> Rect {
        let body = Layout.body(width: state.width, height: state.height)
        switch state.view {
        case .dashboard:
            let top = Layout.dashboardTop(body: body, queues: state.snapshot?.queues.count ?? 6)
            return Rect(x: body.x, y: body.y + top, width: body.width, height: body.height - top)
        case .system:
            let top = min(8, body.height / 2)
            return Rect(x: body.x, y: body.y + top, width: body.width, height: body.height - top)
        case .config:
            return body.inset(bottom: min(3, body.height / 3))
        case .analytics:
            let top = min(max(8, body.height / 2), body.height - 2)
            return Rect(x: body.x, y: body.y + top, width: body.width, height: body.height - top)
        default:
            return body
        }
    }
}

/// Screen regions shared by update (row counts) and render.
public enum Layout {
    /// Between the tab line + context line and the status line.
    public static func body(width: Int, height: Int) -> Rect {
        Rect(x: 0, y: 2, width: width, height: max(0, height - 3))
    }

    /// Rows the dashboard uses above its alerts table.
    public static func dashboardTop(body: Rect, queues: Int) -> Int {
        min(body.height - 2, 5 + queues + 2)
    }
}
