import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let scheduled = ViewID(rawValue: "scheduled")
    public static let retries = ViewID(rawValue: "retries")
    public static let dead = ViewID(rawValue: "dead")
}

/// Sidekiq's scheduled, retry and dead sets (issue 20 item 4, D69, D80): three more panes of the
/// Jobs & Queue tab (`]` after Queues). The scheduled set is the jobs waiting for their ETA before
/// a first run (status `pending` with `eta`), the retry set the jobs waiting to be retried (status
/// `retrying`), the dead set the failed jobs: a failed job is never retried by itself (it used
/// every attempt, or its error was permanent; TRY tells which). All offer the catalog's
/// `job.retry` (run or retry now: queued at once, its ETA dropped) and `job.delete`, on the
/// selected row or, with rows marked, on every marked one.
public struct JobSetScreen: Screen {
    public enum Kind: String, Sendable { case scheduled, retry, dead }
    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }

    public var id: ViewID {
        switch kind {
        case .scheduled: .scheduled
        case .retry: .retries
        case .dead: .dead
        }
    }
    public var tab: ViewID { .jobs }
    public var title: String {
        switch kind {
        case .scheduled: "Scheduled"
        case .retry: "Retry Set"
        case .dead: "Dead Set"
        }
    }
    public var aliases: [String] {
        switch kind {
        case .scheduled: ["scheduled", "schedule", "eta"]
        case .retry: ["retries", "retry", "retryset"]
        case .dead: ["dead", "deadset", "morgue"]
        }
    }
    public var paneLabel: String { id.rawValue }
    public var actionView: ActionView? { .jobs }
    public var actionsTitle: String {
        switch kind {
        case .scheduled: "scheduled set"
        case .retry: "retry set"
        case .dead: "dead set"
        }
    }

    /// The jobs of the set, from the snapshot: the scheduled set by ETA, soonest first; the retry set by next attempt, soonest first (as
    /// Sidekiq's; a job without one after them, newest first), the dead set
    /// newest death first. The dead set reads the failed list and the recent window (a job can be in
    /// both): every failed job, as the backend fails a job only once its attempts are used or its
    /// error is permanent.
    public static func jobs(_ kind: Kind, _ s: Snapshot) -> [Job] {
        switch kind {
        case .scheduled:
            // A pending job without an ETA is no scheduled one (a backend's not-yet-received task).
            return s.jobs.recent.filter { $0.status == .pending && $0.eta != nil }.sorted { ($0.eta!, $0.id) < ($1.eta!, $1.id) }
        case .retry:
            let never = Date.distantFuture
            return s.jobs.recent.filter { $0.status == .retrying }.sorted {
                ($0.eta ?? never, -$0.updatedAt.timeIntervalSince1970, $0.id) < ($1.eta ?? never, -$1.updatedAt.timeIntervalSince1970, $1.id)
            }
        case .dead:
            var seen = Set<String>()
            return (s.jobs.failed + s.jobs.recent).filter { $0.status == .failed && seen.insert($0.id).inserted }
                .sorted { (deathTime($0), $0.id) > (deathTime($1), $1.id) }
        }
    }

    /// The time left until `date`: "12s", "3m"; "due" once it has passed (the job is being picked up).
    static func countdown(to date: Date, now: Date) -> String {
        let left = date.timeIntervalSince(now)
        return left <= 0 ? "due" : Fmt.age(left.rounded(.up))
    }

    /// When a dead job failed for the last time (its finish, else its last update).
    static func deathTime(_ j: Job) -> Date { j.finishedAt ?? j.updatedAt }

    public func columns(_ state: AppState) -> [TableColumn] {
        if kind == .scheduled {
            return [
                TableColumn("ID", .fixed(8), priority: 9), TableColumn("NAME", .flex(weight: 3, min: 12), priority: 7),
                TableColumn("QUEUE", .flex(weight: 2, min: 10), priority: 8), TableColumn("PRI", .fixed(3), align: .right, priority: 5),
                TableColumn("OWNER", .flex(weight: 1, min: 8), priority: 4), TableColumn("ETA", .fixed(9), priority: 9),
                TableColumn("IN", .fixed(4), align: .right, priority: 8)
            ]
        }
        return [
            TableColumn("ID", .fixed(8), priority: 9), TableColumn("NAME", .flex(weight: 3, min: 12), priority: 7),
            TableColumn("QUEUE", .flex(weight: 2, min: 10), priority: 8), TableColumn("TRY", .fixed(5), align: .right, priority: 8),
            TableColumn("ERROR", .flex(weight: 2, min: 12), priority: 6),
            TableColumn(kind == .retry ? "NEXT TRY" : "FAILED AT", .fixed(9), priority: 9),
            kind == .retry ? TableColumn("IN", .fixed(4), align: .right, priority: 5) : TableColumn("AGO", .fixed(4), align: .right, priority: 5)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        let now = state.now
        let kind = self.kind
        if kind == .scheduled {
            return Screens.ListSource(Self.jobs(kind, s), id: \.id) { j in
                // Always set here (the set holds only jobs with an ETA).
                let eta = j.eta ?? .distantFuture
                return ListItem(
                    id: j.id,
                    row: TableRow([Fmt.shortID(j.id), j.name, j.queue, "\(j.priority)", j.owner, Fmt.clock(eta), Self.countdown(to: eta, now: now)]),
                    sort: [
                        .text(j.id), .text(j.name), .text(j.queue), .number(Double(j.priority)), .text(j.owner),
                        .number(eta.timeIntervalSince1970), .number(eta.timeIntervalSince1970)
                    ],
                    search: "\(j.id) \(j.name) \(j.queue) \(j.owner)")
            }
        }
        return Screens.ListSource(Self.jobs(kind, s), id: \.id) { j in
            // The retry set: the next attempt (jobs.eta) and the time left until it; the dead set: the death and its age.
            let (when, after): (String, String)
            let order: Double
            if kind == .retry {
                (when, after) = j.eta.map { (Fmt.clock($0), Self.countdown(to: $0, now: now)) } ?? ("-", "-")
                order = j.eta?.timeIntervalSince1970 ?? .infinity
            } else {
                let at = Self.deathTime(j)
                (when, after) = (Fmt.clock(at), Fmt.age(since: at, now: now))
                order = -at.timeIntervalSince1970
            }
            return ListItem(
                id: j.id,
                row: TableRow(
                    [Fmt.shortID(j.id), j.name, j.queue, "\(j.attempts)/\(j.maxAttempts)", j.errorClass ?? "-", when, after],
                    style: kind == .retry ? Style(.warning) : Style(.danger)),
                sort: [
                    .text(j.id), .text(j.name), .text(j.queue), .number(Double(j.attempts)), .text(j.errorClass ?? ""), .number(order),
                    .number(order)
                ],
                search: "\(j.id) \(j.name) \(j.queue) \(j.owner) \(j.errorClass ?? "") \(j.error ?? "")")
        }
    }

    /// Retry now and delete (on the selection, or every marked row).
    public func offers(_ spec: ActionSpec) -> Bool { spec.id == .jobRetry || spec.id == .jobDelete }

    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        guard let id else { return ([:], nil) }
        return (["id": .string(id)], nil)
    }

    public func renderContext(_ state: AppState, _ b: inout CellBuffer, line: Rect, x: inout Int) {
        let note =
            switch kind {
            case .scheduled: "  waiting for their ETA before a first run; IN = the time left; r runs now"
            case .retry: "  waiting to be retried; NEXT TRY = when the next attempt is due, IN = the time left"
            case .dead: "  failed for good: every attempt used (TRY n/n) or a permanent error"
            }
        x += b.put(note, x: x, y: line.y, Style(.muted))
    }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        JobsScreen().detail(state, s, id: id)
    }
    public func detailLoads(id: String, after event: AgentEvent?) -> [Effect] { JobsScreen().detailLoads(id: id, after: event) }
    public func links(_ state: AppState, _ s: Snapshot, id: String) -> [Link] { JobsScreen().links(state, s, id: id) }
}
