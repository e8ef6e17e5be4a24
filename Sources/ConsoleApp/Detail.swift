import AgentOSCore
import ConsoleUI
import Foundation

extension App {
    /// The drill-down pane over the body: every field of the item, and for a job its error,
    /// traceback and event timeline.
    static func renderDetail(_ state: AppState, _ target: DetailTarget, _ b: inout CellBuffer, _ body: Rect) {
        let box = body
        guard box.width > 10, box.height > 3, let s = state.snapshot else { return }
        let (title, lines) = detailLines(state, s, target)
        let inner = box.inset(top: 1, left: 2, bottom: 1, right: 2)
        // Wrapped once: the count places the view, the rows are drawn as they are.
        let wrapped = TextPane.wrapped(lines, width: inner.width, wrap: true)
        let rows = wrapped.count
        let offset = min(max(0, state.detailOffset), max(0, rows - inner.height))
        b.fill(body, " ", Style(.text, bg: .background))
        // Longer than the pane: where we are, and how to move.
        let position = rows > inner.height ? " — \(offset + 1)-\(min(rows, offset + inner.height)) of \(rows), j/k scroll" : ""
        b.box(box, Style(.accent), title: title + position + " — Esc to close")
        TextPane(lines: wrapped.map { (text: $0.0, style: $0.1) }, offset: offset, follow: false, wrap: false).render(into: &b, rect: inner)
    }

    /// Moves the drill-down's view for a movement command; false: not a movement command.
    static func scrollDetail(_ state: inout AppState, _ target: DetailTarget, _ command: Command) -> Bool {
        let inner = Layout.body(width: state.width, height: state.height).inset(top: 1, left: 2, bottom: 1, right: 2)
        let rows = state.snapshot.map { TextPane.wrapped(detailLines(state, $0, target).1, width: inner.width, wrap: true).count } ?? 0
        let maxOffset = max(0, rows - inner.height)
        let page = max(1, inner.height - 1)
        var offset = min(state.detailOffset, maxOffset)
        switch command {
        case .down: offset += 1
        case .up: offset -= 1
        case .pageDown: offset += page
        case .pageUp: offset -= page
        case .top: offset = 0
        case .bottom: offset = maxOffset
        default: return false
        }
        state.detailOffset = min(max(0, offset), maxOffset)
        return true
    }

    static func field(_ name: String, _ value: String, _ style: Style = Style(.text)) -> (text: String, style: Style) {
        ((name + ":").padding(toLength: 14, withPad: " ", startingAt: 0) + value, style)
    }

    static func detailLines(_ state: AppState, _ s: Snapshot, _ target: DetailTarget) -> (String, [(text: String, style: Style)]) {
        let now = state.now
        switch target {
        case .job(let id):
            guard let j = s.jobs.recent.first(where: { $0.id == id }) ?? s.jobs.failed.first(where: { $0.id == id }) else {
                return ("Job \(Fmt.shortID(id))", [("this job is no longer in the recent window", Style(.muted))])
            }
            var lines = [
                field("id", j.id), field("name", j.name), field("pipeline", j.pipeline),
                field("stage", "\(j.stage) (queue \(j.queue))"), field("status", j.status.rawValue, Screens.jobStyle(j.status).bold()),
                field("progress", "\(Int((j.progress * 100).rounded()))%"), field("attempts", "\(j.attempts) of \(j.maxAttempts)"),
                field("priority", String(j.priority)), field("worker", j.workerID ?? "-"), field("owner", j.owner),
                field("created", "\(ISOTime.format(j.createdAt)) (\(Fmt.age(since: j.createdAt, now: now)) ago)"),
                field("updated", Fmt.age(since: j.updatedAt, now: now) + " ago")
            ]
            if let started = j.startedAt { lines.append(field("started", ISOTime.format(started))) }
            if let finished = j.finishedAt { lines.append(field("finished", ISOTime.format(finished))) }
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
            lines.append(("", .plain))
            lines.append(("Timeline", Style(.title, [.bold])))
            if let events = state.jobHistory[id] {
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
        case .queue(let name):
            guard let q = s.queues.first(where: { $0.name == name }) else { return ("Queue \(name)", [("gone", Style(.muted))]) }
            let waiting = s.jobs.recent.filter { $0.queue == name && $0.status.isWaiting }.prefix(20)
            var lines = [
                field("queue", q.name), field("stage", q.stage), field("pending", Fmt.count(q.pending)), field("reserved", String(q.reserved)),
                field("failed", String(q.failed)), field("state", q.paused ? "paused" : "active", q.paused ? Style(.warning, [.bold]) : Style(.ok)),
                field("rate limit", q.rateLimit.map { "\($0)/min" } ?? "none"), field("consumers", String(q.consumers)),
                field("oldest", Fmt.age(q.oldestAgeSeconds)), ("", .plain), ("Next jobs", Style(.title, [.bold]))
            ]
            lines += waiting.map {
                ("\(Fmt.shortID($0.id))  p\($0.priority)  \($0.owner.padding(toLength: 9, withPad: " ", startingAt: 0)) \($0.name)", Style(.text))
            }
            return ("Queue \(name)", lines)
        case .worker(let id):
            guard let w = s.workers.first(where: { $0.id == id }) else { return ("Worker \(id)", [("gone", Style(.muted))]) }
            let running = s.jobs.recent.filter { $0.workerID == id && $0.status == .running }
            var lines = [
                field("worker", w.id), field("host", w.hostname), field("pid", w.pid.map(String.init) ?? "-"), field("stage", w.stage),
                field("queues", w.queues.joined(separator: ", ")), field("status", w.status.rawValue, Screens.workerStyle(w.status).bold()),
                field("pool", "\(w.active) busy of \(w.concurrency)" + (w.autoscaleMax.map { " (autoscale \(w.autoscaleMin ?? 0)-\($0))" } ?? "")),
                field("processed", Fmt.count(w.processed)), field("failed", Fmt.count(w.failed)), field("load", String(format: "%.2f", w.load)),
                field("memory", Fmt.bytes(w.rssBytes)), field("heartbeat", Fmt.age(w.heartbeatAgeSeconds) + " ago"),
                field("version", w.version), field("started", w.startedAt.map { ISOTime.format($0) } ?? "-"),
                ("", .plain), ("Running", Style(.title, [.bold]))
            ]
            lines += running.map { ("\(Fmt.shortID($0.id))  \(Int(($0.progress * 100).rounded()))%  \($0.name)", Style(.accent)) }
            return ("Worker \(id)", lines)
        case .manager(let id):
            guard let m = s.managers.first(where: { $0.id == id }) else { return ("Manager \(id)", [("gone", Style(.muted))]) }
            return (
                "Manager \(id)",
                [
                    field("manager", m.id), field("kind", m.kind), field("status", m.status.rawValue), field("enabled", m.enabled ? "yes" : "no"),
                    field("schedule", m.schedule), field("concurrency", String(m.concurrency)),
                    field("last run", m.lastRunAt.map { ISOTime.format($0) } ?? "-"),
                    field("next run", m.nextRunAt.map { ISOTime.format($0) } ?? "-"), field("runs", String(m.runs)),
                    field("last result", m.lastResult ?? "-"),
                    field("last error", m.lastError ?? "-", m.lastError == nil ? Style(.text) : Style(.danger))
                ]
            )
        case .log(let id):
            let all = s.logs.recent
            guard let i = all.firstIndex(where: { $0.id == id }) else { return ("Log line", [("gone", Style(.muted))]) }
            let line = all[i]
            var lines = [
                field("time", ISOTime.format(line.ts)), field("level", line.level.rawValue, Screens.levelStyle(line.level).bold()),
                field("source", line.source), field("job", line.jobID ?? "-"), field("worker", line.workerID ?? "-"), ("", .plain),
                (line.message, Screens.levelStyle(line.level)), ("", .plain), ("Context (same source)", Style(.title, [.bold]))
            ]
            let context = all[max(0, i - 40)..<min(all.count, i + 40)].filter { $0.source == line.source }
            let around = context.firstIndex { $0.id == id } ?? 0
            for l in context[max(context.startIndex, around - 5)..<min(context.endIndex, around + 6)] {
                lines.append(
                    (
                        "\(l.id == id ? ">" : " ") \(Fmt.clock(l.ts)) \(l.level.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(l.message)",
                        l.id == id ? Screens.levelStyle(l.level).bold() : Style(.muted)
                    ))
            }
            return ("Log line #\(id)", lines)
        case .config(let key):
            guard let c = s.config.first(where: { $0.key == key }) else { return ("Config", [("gone", Style(.muted))]) }
            var lines = [
                field("key", c.key), field("type", c.type.rawValue), field("value", c.value.description, Style(.accent, [.bold])),
                field("default", c.defaultValue.description), field("version", String(c.version)), field("updated by", c.updatedBy),
                field("updated", c.updatedAt.map { ISOTime.format($0) } ?? "-"), field("locked", c.locked ? "yes" : "no"),
                ("", .plain), (c.description, Style(.text)), ("", .plain)
            ]
            // The diff against the default: what an operator reverting would change.
            if c.value == c.defaultValue {
                lines.append(("= the default value", Style(.ok)))
            } else {
                lines.append(("- \(c.defaultValue.description)   (default)", Style(.danger)))
                lines.append(("+ \(c.value.description)   (now, version \(c.version))", Style(.ok)))
            }
            lines.append(("", .plain))
            lines.append(("History", Style(.title, [.bold])))
            if let changes = state.configHistory[key] {
                if changes.isEmpty { lines.append(("no recorded changes", Style(.muted))) }
                for ch in changes {
                    let when = "\(ISOTime.format(ch.changedAt).prefix(16).replacingOccurrences(of: "T", with: " "))"
                    lines.append(
                        (
                            "v\(ch.version)  \(when)  \(ch.changedBy)  \(ch.oldValue ?? "(unset)") → \(ch.newValue)"
                                + (ch.reason.map { "  — \($0)" } ?? ""), ch.version == c.version ? Style(.text, [.bold]) : Style(.text)
                        ))
                }
                if changes.count > 1 { lines.append(("b rolls back to a version", Style(.muted))) }
            } else {
                lines.append(("loading…", Style(.muted)))
            }
            return ("Config \(key)", lines)
        case .alert(let id):
            guard let a = s.alerts.first(where: { $0.id == id }) else { return ("Alert", [("gone", Style(.muted))]) }
            return (
                "Alert #\(id)",
                [
                    field("severity", a.severity.rawValue, Screens.severityStyle(a.severity)), field("raised", ISOTime.format(a.ts)),
                    field("source", a.source), field("status", a.status.rawValue), field("acked by", a.ackedBy ?? "-"),
                    ("", .plain), (a.title, Style(.text, [.bold])), (a.message, Style(.text))
                ]
            )
        }
    }
}
