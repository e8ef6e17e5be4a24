import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let system = ViewID(rawValue: "system")
}

/// Services, runtime, breakers and the database's running queries.
public struct SystemScreen: Screen {
    public var id: ViewID { .system }
    public var title: String { "System Controls" }
    public var shortTitle: String { "System" }
    public var aliases: [String] { ["system", "controls", "sys", "s"] }
    public var actionView: ActionView? { .system }

    /// Ending a console session aims at a session: the Sessions pane offers it.
    public func offers(_ spec: ActionSpec) -> Bool { spec.view == .system && spec.id != .systemSessionTerminate }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("PID", .fixed(7), align: .right, priority: 9), TableColumn("USER", .fixed(10), priority: 4),
            TableColumn("STATE", .fixed(19), priority: 8), TableColumn("TIME", .fixed(5), align: .right, priority: 7),
            TableColumn("QUERY", .flex(weight: 1, min: 20), priority: 9)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        return Screens.ListSource(s.system.database.running, id: { String($0.pid) }) { q in
            let style = q.state.hasPrefix("idle in transaction") ? Style(.warning) : q.durationSeconds > 30 ? Style(.danger) : Style(.text)
            return ListItem(
                id: String(q.pid), row: TableRow([String(q.pid), q.user, q.state, Fmt.age(q.durationSeconds), q.query], style: style),
                sort: [.number(Double(q.pid)), .text(q.user), .text(q.state), .number(q.durationSeconds), .text(q.query)],
                search: "\(q.pid) \(q.user) \(q.state) \(q.query)")
        }
    }

    public func tableRect(_ state: AppState, body: Rect) -> Rect { areas(body).table }

    /// The three panels of figures over the database's running queries.
    func areas(_ body: Rect) -> (top: Rect, table: Rect) {
        let parts = Layout.vertical([.length(min(8, body.height / 2)), .fill(1)]).split(body)
        return (parts[0], parts[1])
    }

    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        guard let id, let pid = Int(id), spec.field("pid") != nil else { return ([:], nil) }
        return (["pid": .int(pid)], nil)
    }

    public func render(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        guard let s = state.snapshot else { return }
        let (top, table) = areas(body)
        let cols = Layout.horizontal([.fill(1), .fill(1), .fill(1)]).spacing(1).split(top)
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
                    + (s.system.sessions.isEmpty ? "" : ": " + s.system.sessions.map { "\($0.user)@\($0.host)" }.joined(separator: ", "))
                    + (state.keyMap.hint(.nextPane, "lists them").map { " (\($0))" } ?? ""),
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
            App.renderTable(state, &b, table)
        }
    }
}
