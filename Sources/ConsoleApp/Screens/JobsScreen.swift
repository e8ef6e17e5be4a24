import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let jobs = ViewID(rawValue: "jobs")
}

/// The recent jobs: the first pane of the Jobs & Queue tab.
public struct JobsScreen: Screen {
    /// The event timelines loaded for the jobs' drill-downs, by job id.
    public struct Local: ScreenLocalState {
        public var history: [String: [JobEvent]] = [:]
        /// Jobs `:job` found in the backend beyond the recent window, by id (their drill-down's data).
        public var found: [String: Job] = [:]
        /// Complete records (arguments, result, raw row), by job id, loaded with the timeline.
        public var records: [String: JobRecord] = [:]
        /// The job whose drill-down shows its raw record instead (`y` toggles).
        public var rawShown: String?
        public init() {}
    }

    public var id: ViewID { .jobs }
    public var title: String { "Jobs & Queue" }
    public var shortTitle: String { "Jobs" }
    public var aliases: [String] { ["jobs", "job", "jobhistory", "j"] }
    public var actionView: ActionView? { .jobs }
    public var actionsTitle: String { "jobs" }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("ID", .fixed(8), priority: 9), TableColumn("NAME", .flex(weight: 3, min: 12), priority: 6),
            TableColumn("STAGE", .fixed(10), priority: 8), TableColumn("STATUS", .fixed(9), priority: 9),
            TableColumn("PROG", .fixed(4), align: .right, priority: 7), TableColumn("TRY", .fixed(3), align: .right, priority: 3),
            TableColumn("WORKER", .flex(weight: 1, min: 10), priority: 2), TableColumn("OWNER", .fixed(9), priority: 4),
            TableColumn("AGE", .fixed(4), align: .right, priority: 5)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        let now = state.now
        return Screens.ListSource(s.jobs.recent, id: \.id) { j in
            let progress = j.status == .running ? "\(Int((j.progress * 100).rounded()))%" : j.status == .completed ? "100%" : "-"
            return ListItem(
                id: j.id,
                row: TableRow(
                    [
                        Fmt.shortID(j.id), j.name, Pipeline.shortName(j.stage), j.status.rawValue, progress,
                        String(j.attempts), j.workerID ?? "-", j.owner, Fmt.age(since: j.createdAt, now: now)
                    ],
                    style: Self.style(j.status)),
                sort: [
                    .text(j.id), .text(j.name), .number(Double(Pipeline.order(j.stage))),
                    .number(Double(JobStatus.allCases.firstIndex(of: j.status)!)), .number(j.progress), .number(Double(j.attempts)),
                    .text(j.workerID ?? ""), .text(j.owner), .number(-j.createdAt.timeIntervalSince1970)
                ],
                search:
                    "\(j.id) \(j.name) \(j.stage) \(j.queue) \(j.status.rawValue) \(j.owner) \(j.workerID ?? "") \(j.errorClass ?? "") \(j.error ?? "")"
            )
        }
    }

    /// The queue actions belong to the Queues pane.
    public func offers(_ spec: ActionSpec) -> Bool { spec.view == .jobs && spec.targetField != "queue" }

    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        guard let id, spec.field("id") != nil else { return ([:], nil) }
        return (["id": .string(id)], nil)
    }

    public func detailLoads(id: String, after event: AgentEvent?) -> [Effect] {
        switch event {
        case nil: return [.loadJobHistory(id)]
        case .jobUpdated(let p)? where p.id == id: return [.loadJobHistory(id)]
        default: return []
        }
    }

    public func receive(_ msg: Msg, _ state: inout AppState) -> [Effect] {
        switch msg {
        case .jobHistory(let id, let events): state[local: Local.self].history[id] = events
        case .jobRecord(let id, let record): state[local: Local.self].records[id] = record
        case .key(.escape): state[local: Local.self].rawShown = nil
        default: break
        }
        return []
    }

    /// `y`: the raw record in place of the drill-down, and back.
    public func detailKey(_ key: Character, id: String, _ state: inout AppState) -> [Effect]? {
        guard key == "y" else { return nil }
        state[local: Local.self].rawShown = state[local: Local.self].rawShown == id ? nil : id
        state.detailOffset = 0
        return []
    }

    /// The stored record as indented JSON, one line a row, control characters made visible.
    static func rawLines(_ record: JobRecord?) -> [(text: String, style: Style)] {
        guard let record else { return [("loading…", Style(.muted))] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json = (try? String(decoding: encoder.encode(record.raw), as: UTF8.self)) ?? record.raw.json
        return json.split(separator: "\n", omittingEmptySubsequences: false).map { (TextSanitizer.clean(String($0)), Style(.text)) }
    }

    /// A JSON value on one line, sanitised (an argument, a keyword argument's value, a result field).
    static func inline(_ value: JSONTree) -> String {
        TextSanitizer.clean(value.string.map { "\"\($0)\"" } ?? value.json)
    }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        let now = state.now
        let looked = state[local: Local.self].found[id]
        guard let j = s.jobs.recent.first(where: { $0.id == id }) ?? s.jobs.failed.first(where: { $0.id == id }) ?? looked else { return nil }
        let record = state[local: Local.self].records[id]
        if state[local: Local.self].rawShown == id {
            return ("Job \(Fmt.shortID(j.id)) raw record (y: back)", Self.rawLines(record))
        }
        var lines: [(text: String, style: Style)] = []
        if looked != nil && !s.jobs.recent.contains(where: { $0.id == id }) {
            lines.append(("looked up with :job: older than the recent window; the timeline below is current", Style(.muted)))
        }
        lines += [
            App.field("id", j.id), App.field("name", j.name), App.field("pipeline", j.pipeline),
            App.field("stage", "\(j.stage) (queue \(j.queue))"), App.field("status", j.status.rawValue, Self.style(j.status).bold()),
            App.field("progress", "\(Int((j.progress * 100).rounded()))%"),
            App.field("attempts", "\(j.attempts) of \(j.maxAttempts)"),
            App.field("priority", String(j.priority)), App.field("worker", j.workerID ?? "-"),
            App.field("owner", j.owner),
            App.field("created", "\(ISOTime.format(j.createdAt)) (\(Fmt.age(since: j.createdAt, now: now)) ago)"),
            App.field("updated", Fmt.age(since: j.updatedAt, now: now) + " ago")
        ]
        if let started = j.startedAt { lines.append(App.field("started", ISOTime.format(started))) }
        if let finished = j.finishedAt { lines.append(App.field("finished", ISOTime.format(finished))) }
        lines += Self.recordLines(record)
        if let error = j.error {
            lines.append(("", .plain))
            lines.append(("Error", Style(.title, [.bold])))
            lines.append(("\(j.errorClass.map { "\($0): " } ?? "")\(error)", Style(.danger, [.bold])))
        }
        if let tb = j.traceback {
            lines.append(("", .plain))
            lines.append(("Traceback", Style(.title, [.bold])))
            for line in tb.split(separator: "\n", omittingEmptySubsequences: false) { lines.append((String(line), Style(.muted))) }
        }
        if let events = state[local: Local.self].history[id], !events.isEmpty {
            lines.append(("", .plain))
            lines.append(("Attempts", Style(.title, [.bold])))
            for a in Self.attempts(events) {
                let end =
                    a.end.map { "\(Fmt.clock($0.ts))  \(Fmt.ms($0.ts.timeIntervalSince(a.start.ts) * 1_000))" }
                    ?? "…  \(Fmt.age(since: a.start.ts, now: now)) so far"
                let style: Style = a.outcome == "done" ? Style(.text) : a.outcome == "running" ? Style(.accent) : Style(.warning)
                lines.append(
                    (
                        "\(a.start.stage ?? "-")  \(a.start.workerID ?? "-")  \(Fmt.clock(a.start.ts)) → \(end)  \(a.outcome)", style
                    ))
            }
        }
        lines.append(("", .plain))
        lines.append(("Timeline", Style(.title, [.bold])))
        if let events = state[local: Local.self].history[id] {
            if events.isEmpty { lines.append(("no recorded events", Style(.muted))) }
            for e in events {
                let style: Style = e.type == "failed" ? Style(.danger) : e.type == "retrying" ? Style(.warning) : Style(.text)
                lines.append(
                    (
                        "\(Fmt.clock(e.ts))  \(e.type.padding(toLength: 16, withPad: " ", startingAt: 0)) \(e.stage ?? "")  \(e.message ?? "")",
                        style
                    ))
            }
        } else {
            lines.append(("loading…", Style(.muted)))
        }
        return ("Job \(Fmt.shortID(j.id))", lines)
    }

    /// Arguments, keyword arguments and result (scrubbed by the backend), and how to see the rest.
    static func recordLines(_ record: JobRecord?) -> [(text: String, style: Style)] {
        guard let record else { return [("", .plain), ("arguments and result loading…", Style(.muted))] }
        var lines: [(text: String, style: Style)] = [("", .plain), ("Arguments", Style(.title, [.bold]))]
        if record.args.isEmpty { lines.append(("none", Style(.muted))) }
        for (i, arg) in record.args.enumerated() { lines.append(App.field("[\(i)]", inline(arg))) }
        lines += [("", .plain), ("Keyword arguments", Style(.title, [.bold]))]
        if record.kwargs.isEmpty { lines.append(("none", Style(.muted))) }
        for (name, value) in record.kwargs.sorted(by: { $0.key < $1.key }) { lines.append(App.field(TextSanitizer.clean(name), inline(value))) }
        lines += [("", .plain), ("Result", Style(.title, [.bold]))]
        switch record.result {
        case .object(let fields)?:
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) { lines.append(App.field(TextSanitizer.clean(name), inline(value))) }
        case let value?: lines.append((inline(value), Style(.text)))
        case nil: lines.append(("none (it has not completed)", Style(.muted)))
        }
        lines.append(("y the raw record as JSON", Style(.muted)))
        return lines
    }

    public func links(_ state: AppState, _ s: Snapshot, id: String) -> [Link] {
        var links = [Link("l", "its log lines", to: .logs, filter: id)]
        let job = s.jobs.recent.first { $0.id == id } ?? s.jobs.failed.first { $0.id == id } ?? state[local: Local.self].found[id]
        if let worker = job?.workerID, !worker.isEmpty, s.workers.contains(where: { $0.id == worker }) {
            links.append(Link("w", "its worker \(worker)", to: .workers, open: worker))
        }
        return links
    }

    /// Each run of a stage on a worker, from its timeline: a `started` entry and what ended it
    /// (nil: still running).
    static func attempts(_ events: [JobEvent]) -> [(start: JobEvent, end: JobEvent?, outcome: String)] {
        let endings = [
            "stage_completed": "done", "completed": "done", "failed": "failed", "retrying": "failed, to be retried",
            "requeued": "worker lost, requeued", "cancelled": "cancelled"
        ]
        var out: [(start: JobEvent, end: JobEvent?, outcome: String)] = []
        var open: JobEvent?
        for e in events {
            if e.type == "started" {
                if let o = open { out.append((o, nil, "no end recorded")) }
                open = e
            } else if let o = open, let outcome = endings[e.type] {
                out.append((o, e, outcome))
                open = nil
            }
        }
        if let o = open { out.append((o, nil, "running")) }
        return out
    }

    static func style(_ s: JobStatus) -> Style {
        switch s {
        case .failed: return Style(.danger)
        case .retrying: return Style(.warning)
        case .running: return Style(.accent)
        case .completed: return Style(.ok)
        case .cancelled: return Style(.muted)
        case .pending, .queued: return Style(.text)
        }
    }
}
