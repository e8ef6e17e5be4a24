import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let queues = ViewID(rawValue: "queues")
}

/// The queues: the second pane of the Jobs & Queue tab.
public struct QueuesScreen: Screen {
    public var id: ViewID { .queues }
    public var tab: ViewID { .jobs }
    public var title: String { "Queues" }
    public var aliases: [String] { ["queue", "queues", "q"] }
    public var actionView: ActionView? { .jobs }
    public var actionsTitle: String { "queues" }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("QUEUE", .flex(weight: 2, min: 14), priority: 9), TableColumn("PENDING", .fixed(7), align: .right, priority: 9),
            TableColumn("RESERVED", .fixed(8), align: .right, priority: 8), TableColumn("FAILED", .fixed(6), align: .right, priority: 8),
            TableColumn("STATE", .fixed(6), priority: 7), TableColumn("RATE/MIN", .fixed(8), align: .right, priority: 4),
            TableColumn("CONSUMERS", .fixed(9), align: .right, priority: 5), TableColumn("OLDEST", .fixed(6), align: .right, priority: 6)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        Screens.ListSource(s.queues, id: \.name) { q in
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
    }

    /// The actions aimed at a queue (the job actions belong to the Jobs pane).
    public func offers(_ spec: ActionSpec) -> Bool { spec.view == .jobs && spec.targetField == "queue" }

    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        var p: [String: PayloadValue] = [:]
        if let id, spec.field("queue") != nil { p["queue"] = .string(id) }
        return (p, spec.bulk ? "applies to every job of the queue, not only the rows shown" : nil)
    }

    public func links(_ state: AppState, _ s: Snapshot, id: String) -> [Link] { [Link("J", "its jobs", to: .jobs, filter: id)] }

    public func detail(_ state: AppState, _ s: Snapshot, id name: String) -> DetailContent? {
        guard let q = s.queues.first(where: { $0.name == name }) else { return nil }
        // In the order the broker hands them out: queued ones by priority (0 first), then arrival;
        // jobs waiting to be retried are not in the broker's list yet, so they come after.
        let waiting = s.jobs.recent.filter { $0.queue == name && $0.status.isWaiting }
            .sorted {
                ($0.status == .retrying ? 1 : 0, $0.priority, $0.updatedAt.timeIntervalSince1970, $0.id)
                    < ($1.status == .retrying ? 1 : 0, $1.priority, $1.updatedAt.timeIntervalSince1970, $1.id)
            }
            .prefix(20)
        var lines = [
            App.field("queue", q.name), App.field("stage", q.stage), App.field("pending", Fmt.count(q.pending)),
            App.field("reserved", String(q.reserved)), App.field("failed", String(q.failed)),
            App.field("state", q.paused ? "paused" : "active", q.paused ? Style(.warning, [.bold]) : Style(.ok)),
            App.field("rate limit", q.rateLimit.map { "\($0)/min" } ?? "none"), App.field("consumers", String(q.consumers)),
            App.field("oldest", Fmt.age(q.oldestAgeSeconds)), ("", .plain), ("Next jobs", Style(.title, [.bold]))
        ]
        lines += waiting.map {
            ("\(Fmt.shortID($0.id))  p\($0.priority)  \($0.owner.padding(toLength: 9, withPad: " ", startingAt: 0)) \($0.name)", Style(.text))
        }
        return ("Queue \(name)", lines)
    }
}
