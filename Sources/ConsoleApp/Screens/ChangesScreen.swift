import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let changes = ViewID(rawValue: "changes")
}

/// One thing that changed in the fleet: who did what, and when.
public struct FleetChange: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case action, config, worker, alert, maintenance, breaker, manager, broadcast
    }

    public var ts: Date
    public var kind: Kind
    /// The operator or service that made it ("" when nobody is named).
    public var who: String
    public var what: String
    public var style: Style
    /// Unique within one list: the kind and the changed item's identity.
    public var id: String

    /// Everything in the snapshot that changed within `window` seconds before `now`, newest first:
    /// operator actions (the audit), configuration versions, workers that started or went offline,
    /// alerts raised, maintenance, a broadcast, open breakers and manager runs.
    public static func recent(in s: Snapshot, now: Date, window: TimeInterval) -> [FleetChange] {
        let since = now.addingTimeInterval(-window)
        var out: [FleetChange] = []
        func add(_ ts: Date?, _ kind: Kind, _ who: String, _ what: String, _ style: Style = Style(.text), id: String) {
            guard let ts, ts >= since else { return }
            out.append(FleetChange(ts: ts, kind: kind, who: who, what: what, style: style, id: "\(kind.rawValue):\(id)"))
        }
        for a in s.audit where a.phase == "outcome" || a.phase == "denied" {
            let outcome = a.outcome ?? a.phase
            let style = outcome == "success" ? Style(.text) : outcome == "denied" || outcome == "failure" ? Style(.danger) : Style(.warning)
            add(
                a.ts, .action, a.user, [a.action, a.target ?? "", "→ " + outcome].filter { !$0.isEmpty }.joined(separator: " "), style,
                id: String(a.seq))
        }
        for c in s.config where c.version > 1 {
            add(c.updatedAt, .config, c.updatedBy, "\(c.key) = \(c.value.description) (v\(c.version))", id: c.key)
        }
        for w in s.workers {
            if w.status == .offline, let age = w.heartbeatAgeSeconds {
                add(now.addingTimeInterval(-age), .worker, "", "\(w.id) went offline", Style(.warning), id: w.id + ":left")
            } else {
                add(w.startedAt, .worker, "", "\(w.id) joined (\(w.stage))", id: w.id + ":joined")
            }
        }
        for a in s.alerts {
            let style = a.status == .resolved ? Style(.muted) : a.severity == .critical ? Style(.danger) : Style(.warning)
            add(a.ts, .alert, a.source, "[\(a.severity.rawValue)] \(a.title) (\(a.status.rawValue))", style, id: String(a.id))
        }
        let m = s.system.maintenance
        if m.enabled { add(m.since, .maintenance, m.by ?? "", "maintenance on" + (m.message.map { ": " + $0 } ?? ""), Style(.warning), id: "on") }
        for b in s.system.breakers where b.state != .closed {
            add(b.openedAt, .breaker, "", "\(b.service) breaker \(b.state.rawValue) after \(b.failures) failures", Style(.danger), id: b.service)
        }
        for mgr in s.managers {
            let result = mgr.lastError.map { "failed: " + $0 } ?? mgr.lastResult ?? mgr.status.rawValue
            add(mgr.lastRunAt, .manager, "", "\(mgr.id) ran: \(result)", mgr.lastError == nil ? Style(.text) : Style(.danger), id: mgr.id)
        }
        return out.sorted { $0.ts != $1.ts ? $0.ts > $1.ts : $0.id < $1.id }
    }
}

/// What changed: one time-ordered list of the last hour's actions, configuration changes, workers
/// joining and leaving, alerts, maintenance, breakers and manager runs, newest first. The first
/// thing to read when an incident starts, so it is the Dashboard's second pane (`]`, or `:changes`).
public struct ChangesScreen: Screen {
    /// How far back the list reaches.
    public static let window: TimeInterval = 3_600

    public var id: ViewID { .changes }
    public var tab: ViewID { .dashboard }
    public var title: String { "What Changed" }
    public var shortTitle: String { "Changes" }
    public var aliases: [String] { ["changes", "changed", "what", "ch"] }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("TIME", .fixed(8), priority: 9), TableColumn("KIND", .fixed(11), priority: 8),
            TableColumn("WHO", .fixed(12), priority: 6), TableColumn("WHAT", .flex(weight: 1, min: 20), priority: 9)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        let changes = FleetChange.recent(in: s, now: state.now, window: Self.window)
        return Screens.ListSource(changes, id: \.id) { c in
            ListItem(
                id: c.id, row: TableRow([Fmt.clock(c.ts), c.kind.rawValue, c.who, c.what], style: c.style),
                sort: [.number(c.ts.timeIntervalSince1970), .text(c.kind.rawValue), .text(c.who), .text(c.what)],
                search: "\(c.kind.rawValue) \(c.who) \(c.what)")
        }
    }

    public func renderContext(_ state: AppState, _ b: inout CellBuffer, line: Rect, x: inout Int) {
        x += b.put("  last \(Int(Self.window / 60)) min, newest first", x: x, y: line.y, Style(.muted))
    }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        guard let c = FleetChange.recent(in: s, now: state.now, window: Self.window).first(where: { $0.id == id }) else { return nil }
        return (
            "Change: \(c.kind.rawValue)",
            [
                App.field("at", ISOTime.format(c.ts)), App.field("kind", c.kind.rawValue), App.field("by", c.who.isEmpty ? "-" : c.who),
                App.field("what", c.what, c.style)
            ]
        )
    }
}
