import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let managers = ViewID(rawValue: "managers")
}

/// The managers (scheduled fleet tasks): schedule, last and next run, result.
public struct ManagersScreen: Screen {
    public var id: ViewID { .managers }
    public var title: String { "Managers" }
    public var aliases: [String] { ["managers", "manager", "mgr", "m"] }
    public var actionView: ActionView? { .managers }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("MANAGER", .fixed(11), priority: 9), TableColumn("STATUS", .fixed(8), priority: 9),
            TableColumn("ON", .fixed(3), priority: 7), TableColumn("SCHEDULE", .fixed(12), priority: 6),
            TableColumn("CONC", .fixed(4), align: .right, priority: 2),
            TableColumn("LAST", .fixed(5), align: .right, priority: 8), TableColumn("NEXT", .fixed(6), align: .right, priority: 5),
            TableColumn("RUNS", .fixed(5), align: .right, priority: 3), TableColumn("RESULT", .flex(weight: 1, min: 12), priority: 4)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        let now = state.now
        return Screens.ListSource(s.managers, id: \.id) { m in
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
    }

    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        guard let id, spec.field("id") != nil else { return ([:], nil) }
        return (["id": .string(id)], nil)
    }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        guard let m = s.managers.first(where: { $0.id == id }) else { return nil }
        return (
            "Manager \(id)",
            [
                App.field("manager", m.id), App.field("kind", m.kind), App.field("status", m.status.rawValue),
                App.field("enabled", m.enabled ? "yes" : "no"),
                App.field("schedule", m.schedule), App.field("concurrency", String(m.concurrency)),
                App.field("last run", m.lastRunAt.map { ISOTime.format($0) } ?? "-"),
                App.field("next run", m.nextRunAt.map { ISOTime.format($0) } ?? "-"), App.field("runs", String(m.runs)),
                App.field("last result", m.lastResult ?? "-"),
                App.field("last error", m.lastError ?? "-", m.lastError == nil ? Style(.text) : Style(.danger))
            ]
        )
    }
}
