import AgentOSCore
import Foundation

/// Routes the catalog actions whose target Celery knows (a worker hostname seen in events or
/// replies, a task id seen in task events, a queue Celery consumes or was configured with) to
/// Celery's remote control, and everything else to `fallback` (the AgentOS tables and
/// `{ns}:control`). Replies, errors and "no reply within the timeout" become the action's result
/// or failure, so they reach the operator and the audit outcome row.
public final class CeleryActionExecutor: ActionExecutor {
    public let monitor: CeleryMonitor
    let fallback: ActionExecutor
    var control: CeleryControl { monitor.control }

    public init(monitor: CeleryMonitor, fallback: ActionExecutor) {
        self.monitor = monitor
        self.fallback = fallback
    }

    /// True when `call` goes to Celery.
    public func routesToCelery(_ action: ActionName, _ payload: Payload) -> Bool {
        guard Self.handlers[action] != nil else { return false }
        monitor.learnFleetIfUnknown()
        let s = monitor.current
        if action.subject == "job" {
            // Only an id AgentOS has no job row for: a task Celery reported, or an unknown UUID (a
            // revoke may precede the task: workers keep the id and drop the task when it arrives).
            // The job row is asked first: task events are not authenticated, so a forged
            // task-received must not steer an AgentOS job's cancel to Celery (D67). When the
            // database cannot say, the fallback runs (and reports the database's error).
            guard let id = payload.string("id") else { return false }
            guard UUID(uuidString: id) != nil else { return s.tasks[id] != nil } // jobs.id is a uuid
            do { return try fallback.jobOwner(id) == nil } catch { return false }
        }
        if action.subject == "worker" { return payload.string("id").map { s.workers[$0] != nil } ?? false }
        return payload.string("queue").map { monitor.queueNames().contains($0) } ?? false
    }

    public func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        let action = try call.action
        guard let handler = Self.handlers[action], routesToCelery(action, call.payload) else { return try fallback.execute(call) }
        do {
            var r = try handler(self, call.payload)
            // One round trip made observable (D77): the waits of this process's Celery control, discovery
            // included, that the reply timeout ended rather than the expected replies; 0 on a healthy fleet.
            r.details["timed_out_waits"] = .int(control.timedOutWaits)
            return r
        } catch let f as ActionFailure { throw f } catch {
            throw .failed("celery \(action.rawValue): \(error)")
        }
    }

    /// The AgentOS job row's owner first (a task event cannot claim a job, D67), else "celery" for a task Celery reported.
    public func jobOwner(_ id: String) throws(ActionFailure) -> String? {
        let isJobID = UUID(uuidString: id) != nil // jobs.id is a uuid
        if isJobID, let owner = try fallback.jobOwner(id) { return owner }
        if monitor.current.tasks[id] != nil { return "celery" }
        return isJobID ? nil : try fallback.jobOwner(id)
    }

    public func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? {
        guard routesToCelery(spec.id, payload) else { return try fallback.impact(spec, payload) }
        let queue = payload.string("queue") ?? ""
        switch spec.id {
        case .queueClear, .queuePause:
            return (try? monitor.queues())?.first { $0.name == queue }?.pending
        case .workerRestart, .workerShutdown:
            return monitor.current.workers[payload.string("id") ?? ""]?.active
        default: return nil
        }
    }

    // MARK: the mapped actions

    typealias Handler = @Sendable (CeleryActionExecutor, Payload) throws -> ActionResult

    /// The catalog actions Celery's remote control runs when their target is Celery's.
    public static var mapped: Set<ActionName> { Set(handlers.keys) }

    /// The catalog actions that have a Celery meaning, and how each runs there.
    static let handlers: [ActionName: Handler] = [
        .jobCancel: { ex, p in
            let id = try p.required("id")
            let b = try ex.control.broadcast("revoke", arguments: ["task_id": .string(id)], accept: ex.monitor.knownHosts())
            return try ex.confirmRevoked(id, b, try ex.result(b, "revoke \(id)", everyWorker: true))
        },
        .jobKill: { ex, p in
            let id = try p.required("id")
            let b = try ex.control.broadcast(
                "revoke", arguments: ["task_id": .string(id), "terminate": .bool(true), "signal": .string("SIGTERM")], accept: ex.monitor.knownHosts()
            )
            return try ex.confirmRevoked(id, b, try ex.result(b, "revoke \(id) with terminate (SIGTERM)", everyWorker: true))
        },
        .workerRestart: { ex, p in
            return try ex.toWorker(try p.required("id"), "pool_restart", [:], "pool restart")
        },
        .workerPoolGrow: { ex, p in
            let n = p.int("n") ?? 1
            let id = try p.required("id")
            let before = try ex.pool(id, for: "worker.pool_grow")
            let r = try ex.toWorker(id, "pool_grow", ["n": .int(n)], "pool grow by \(n)")
            return try ex.confirmPool(id, r, processes: before.processes + n, from: before)
        },
        .workerPoolShrink: { ex, p in
            let n = p.int("n") ?? 1
            let id = try p.required("id")
            let before = try ex.pool(id, for: "worker.pool_shrink")
            let r = try ex.toWorker(id, "pool_shrink", ["n": .int(n)], "pool shrink by \(n)")
            return try ex.confirmPool(id, r, processes: max(0, before.processes - n), from: before)
        },
        .workerScale: { ex, p in
            let id = try p.required("id")
            let target = try p.requiredInt("concurrency")
            let before = try ex.pool(id, for: "worker.scale")
            let now = before.processes
            if target == now {
                return ActionResult("worker \(id): pool already has \(now) process(es)", affected: 0, details: ["concurrency": .int(now)])
            }
            let method = target > now ? "pool_grow" : "pool_shrink"
            var r = try ex.confirmPool(
                id, try ex.toWorker(id, method, ["n": .int(abs(target - now))], "scale \(now) → \(target)"), processes: target, from: before)
            r.details["concurrency"] = .int(target)
            r.details["was"] = .int(now)
            return r
        },
        .workerAutoscale: { ex, p in
            let id = try p.required("id")
            let lo = try p.requiredInt("min")
            let hi = try p.requiredInt("max")
            guard lo <= hi else { throw ActionFailure.invalid(field: "min", "\(lo) is above max \(hi)") }
            let r = try ex.toWorker(id, "autoscale", ["max": .int(hi), "min": .int(lo)], "autoscale \(lo)…\(hi)")
            return try ex.confirmStats(id, r, "autoscaler max=\(hi) min=\(lo)") { stats in
                let a = stats["autoscaler"]
                return (a?["max"]?.int == hi && a?["min"]?.int == lo, "autoscaler \(a?.json.prefix(80) ?? "absent")")
            }
        },
        .workerPause: { ex, p in
            let id = try p.required("id")
            let queues = try ex.consumedQueues(id)
            guard !queues.isEmpty else { throw ActionFailure.conflict("worker \(id) consumes from no queue (already paused?)") }
            var lines: [String] = []
            for q in queues { lines.append(try ex.toWorker(id, "cancel_consumer", ["queue": .string(q)], "cancel consumer \(q)").message) }
            ex.monitor.update {
                $0.workers[id]?.paused = true
                $0.workers[id]?.pausedQueues = queues
                $0.workers[id]?.queues = []
            }
            return ActionResult(lines.joined(separator: "; "), affected: queues.count, details: ["queues": .string(queues.joined(separator: ","))])
        },
        .workerResume: { ex, p in
            let id = try p.required("id")
            let queues = ex.monitor.current.workers[id]?.pausedQueues ?? []
            guard !queues.isEmpty else { throw ActionFailure.conflict("worker \(id) was not paused from this console (no queues to add back)") }
            var lines: [String] = []
            for q in queues { lines.append(try ex.toWorker(id, "add_consumer", ["queue": .string(q)], "add consumer \(q)").message) }
            ex.monitor.update {
                $0.workers[id]?.paused = false
                $0.workers[id]?.pausedQueues = nil
                $0.workers[id]?.queues = queues
            }
            return ActionResult(lines.joined(separator: "; "), affected: queues.count)
        },
        .workerRateLimit: { ex, p in
            let id = try p.required("id")
            let task = try p.required("task")
            let rate = try p.required("rate")
            guard rate.range(of: #"^\d+(/[smh])?$"#, options: .regularExpression) != nil else {
                throw ActionFailure.invalid(field: "rate", "'\(rate)' is not a rate like 10/m, 2/s or 0")
            }
            return try ex.toWorker(id, "rate_limit", ["task_name": .string(task), "rate_limit": .string(rate)], "rate limit \(task) \(rate)")
        },
        .workerTimeLimit: { ex, p in
            let id = try p.required("id")
            let task = try p.required("task")
            let soft = try p.requiredInt("soft")
            let hard = try p.requiredInt("hard")
            guard soft <= hard else { throw ActionFailure.invalid(field: "soft", "\(soft) s is above the hard limit \(hard) s") }
            var r = try ex.toWorker(
                id, "time_limit", ["task_name": .string(task), "soft": .int(soft), "hard": .int(hard)], "time limit \(task) \(soft)/\(hard) s")
            // Celery 5.7 copies a task's limits into its request class at consumer start; the
            // new limits apply to tasks after the next pool restart (worker.restart).
            r.message += " (applies to new tasks after the next pool restart: worker.restart)"
            return r
        },
        .workerShutdown: { ex, p in
            let id = try p.required("id")
            let b = try ex.control.broadcast("shutdown", destination: [id], expectReply: false)
            guard b.listeners > 0 else {
                throw ActionFailure.failed("celery shutdown \(id): no worker is subscribed to \(ex.control.transport.pidboxChannel)")
            }
            return ActionResult(
                "worker \(id): warm shutdown sent (Celery sends no reply; the worker-offline event confirms it)",
                details: ["listeners": .int(b.listeners)])
        },
        .workerPing: { ex, p in
            let id = try p.required("id")
            let b = try ex.control.broadcast("ping", destination: [id])
            let r = try ex.result(b, "ping", everyWorker: false, expect: [id])
            ex.monitor.update { $0.applyPong(id, now: Date().timeIntervalSince1970) }
            var out = ActionResult(String(format: "pong from %@ in %.1f ms", id, b.elapsedSeconds * 1_000), details: r.details)
            out.details["rtt_us"] = .int(Int(b.elapsedSeconds * 1e6))
            return out
        },
        .queueClear: { ex, p in
            let q = try p.required("queue")
            let n = try ex.monitor.purge(q, atMost: p.int("expect"))
            return ActionResult(
                "purged \(n) message(s) from \(q) (all \(ex.control.transport.prioritySteps.count) priority lists)", affected: n,
                details: ["purged": .int(n)])
        },
        .queuePause: { ex, p in
            let q = try p.required("queue")
            let b = try ex.control.broadcast("cancel_consumer", arguments: ["queue": .string(q)], accept: ex.monitor.knownHosts())
            let r = try ex.result(b, "cancel consumer \(q)", everyWorker: true)
            let hosts = b.replies.filter { $0.error == nil }.map(\.hostname)
            ex.monitor.pausedQueues.withLock { $0[q] = hosts }
            ex.monitor.update { s in for h in hosts { s.workers[h]?.queues?.removeAll { $0 == q } } }
            return r
        },
        .queueResume: { ex, p in
            let q = try p.required("queue")
            let hosts = ex.monitor.pausedQueues.withLock { $0[q] }
            let b = try ex.control.broadcast(
                "add_consumer", arguments: ["queue": .string(q)], destination: hosts.flatMap { $0.isEmpty ? nil : $0 },
                accept: ex.monitor.knownHosts())
            let r = try ex.result(b, "add consumer \(q)", everyWorker: hosts == nil, expect: hosts ?? [])
            ex.monitor.pausedQueues.withLock { $0[q] = nil }
            return r
        }
    ]

    /// Workers' queues from `active_queues` (asked now, so a pause acts on what the worker consumes).
    func consumedQueues(_ id: String) throws -> [String] {
        let b = try control.broadcast("active_queues", destination: [id])
        guard let reply = b.replies.first(where: { $0.hostname == id }) else { throw noReply(b, [id]) }
        monitor.update { $0.applyActiveQueues(id, reply.value, now: Date().timeIntervalSince1970) }
        return (reply.value.array ?? []).compactMap { $0["name"]?.string }.sorted()
    }

    func toWorker(_ id: String, _ method: String, _ arguments: [String: JSONTree], _ what: String) throws -> ActionResult {
        let b = try control.broadcast(method, arguments: arguments, destination: [id])
        var r = try result(b, what, everyWorker: false, expect: [id])
        r.message = "worker \(id): " + r.message
        return r
    }

    // MARK: success confirmed from the workers' own state (D67)

    /// A worker's pool as its `stats` shows it: the processes, and the prefetch count its consumer
    /// asks the broker for (nil when prefetch is disabled), which Celery sets to processes ×
    /// multiplier in the same call that changes the pool's size (`_update_prefetch_count`).
    struct PoolView {
        var processes: Int
        var prefetch: Int?
        init?(_ stats: JSONTree) {
            guard let n = CeleryState.poolProcesses(stats) else { return nil }
            processes = n
            prefetch = stats["prefetch_count"]?.int.flatMap { $0 > 0 ? $0 : nil }
        }
    }

    /// The pool `stats` shows now (applied to the monitor too).
    func pool(_ id: String, for action: String) throws -> PoolView {
        let b = try control.broadcast("stats", destination: [id])
        guard let reply = b.replies.first(where: { $0.hostname == id }) else { throw noReply(b, [id]) }
        if let error = reply.error { throw ActionFailure.conflict("celery stats refused by \(id): \(error)") }
        monitor.update { $0.applyStats(id, reply.value, now: Date().timeIntervalSince1970) }
        guard let view = PoolView(reply.value) else { throw ActionFailure.failed("celery \(action): \(id)'s stats name no pool processes") }
        return view
    }

    /// `r` once the worker's `stats` shows the pool at `processes`, or for a grow, its prefetch count
    /// moved to what `processes` asks for (D79): Celery's prefork pool raises its target and the
    /// prefetch count in the control call, but forks the new process only at its next maintenance
    /// (every 5 s), so waiting for the process would make every grow last seconds. A shrink ends a
    /// process at once, so it is confirmed by the processes. "Not confirmed" after the confirm timeout.
    func confirmPool(_ id: String, _ r: ActionResult, processes: Int, from before: PoolView) throws -> ActionResult {
        // Prefetch per process, when the worker's figures show a whole multiplier.
        let multiplier = before.prefetch.flatMap { q in before.processes > 0 && q % before.processes == 0 ? q / before.processes : nil }
        let targetPrefetch = processes > before.processes ? multiplier.map { $0 * processes } : nil
        var forked = false
        var out = try confirmStats(id, r, "\(processes) pool process(es)" + (targetPrefetch.map { " or prefetch count \($0)" } ?? "")) { stats in
            guard let now = PoolView(stats) else { return (false, "no pool processes") }
            forked = now.processes == processes
            let shown = "\(now.processes) pool process(es)" + (now.prefetch.map { ", prefetch count \($0)" } ?? "")
            return (forked || (targetPrefetch != nil && now.prefetch == targetPrefetch), shown)
        }
        out.details["processes_target"] = .int(processes)
        if !forked {
            out.details["confirmed"] = .string("stats prefetch_count")
            out.message += " (target \(processes) accepted: Celery forks the new process(es) at the pool's next maintenance, within 5 s)"
        }
        return out
    }

    /// Asks `id` for `stats` until `check` holds or the confirm timeout passed (then the action
    /// fails "not confirmed", naming what the worker showed last, or that it did not answer).
    func confirmStats(_ id: String, _ r: ActionResult, _ what: String, _ check: (JSONTree) -> (Bool, String)) throws -> ActionResult {
        let start = Date()
        let deadline = start.addingTimeInterval(control.transport.confirmTimeout)
        var last = "no stats reply"
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { break }
            let b = try control.broadcast("stats", destination: [id], timeout: min(control.transport.replyTimeout, max(0.05, left)))
            if let reply = b.replies.first(where: { $0.hostname == id }) {
                monitor.update { $0.applyStats(id, reply.value, now: Date().timeIntervalSince1970) }
                let (ok, shown) = check(reply.value)
                if ok { return confirmed(r, by: "stats", since: start) }
                last = "stats shows " + shown
            }
            usleep(100_000)
        }
        throw ActionFailure.failed(
            String(
                format: "celery %@: not confirmed: %@ did not show %@ within %.1f s (%@); the worker may not have done it",
                r.message, id, what, control.transport.confirmTimeout, last))
    }

    /// `r` once every worker that accepted the revoke lists the task in `dump_revoked`; "not
    /// confirmed" after the confirm timeout, naming the workers that did not.
    func confirmRevoked(_ id: String, _ b: CeleryBroadcast, _ r: ActionResult) throws -> ActionResult {
        let start = Date()
        let deadline = start.addingTimeInterval(control.transport.confirmTimeout)
        var pending = Set(b.replies.filter { $0.error == nil }.map(\.hostname))
        while !pending.isEmpty {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { break }
            let d = try control.broadcast(
                "dump_revoked", destination: pending.sorted(), timeout: min(control.transport.replyTimeout, max(0.05, left)))
            for reply in d.replies where reply.value.array?.contains(where: { $0.string == id }) == true { pending.remove(reply.hostname) }
            if !pending.isEmpty { usleep(100_000) }
        }
        guard pending.isEmpty else {
            throw ActionFailure.failed(
                String(
                    format: "celery revoke %@: not confirmed: %@ did not list the task in dump_revoked within %.1f s; it may still run",
                    id, pending.sorted().joined(separator: ", "), control.transport.confirmTimeout))
        }
        return confirmed(r, by: "dump_revoked", since: start)
    }

    func confirmed(_ r: ActionResult, by: String, since start: Date) -> ActionResult {
        var out = r
        out.details["confirmed"] = .string(by)
        out.details["confirm_ms"] = .int(Int(Date().timeIntervalSince(start) * 1_000))
        return out
    }

    func noReply(_ b: CeleryBroadcast, _ expect: [String]) -> ActionFailure {
        let missing = expect.filter { h in !b.replies.contains { $0.hostname == h } }
        let who = missing.isEmpty ? "any worker" : missing.joined(separator: ", ")
        // No subscriber: nobody got the request, so the wait ended at once (D61).
        if b.listeners == 0 {
            return .failed("celery \(b.method): no reply from \(who): no worker is subscribed to \(control.transport.pidboxChannel)")
        }
        return .failed(
            String(
                format: "celery %@: no reply from %@ within %.1f s (%d subscriber(s) on %@)", b.method, who, control.transport.replyTimeout,
                b.listeners, control.transport.pidboxChannel))
    }

    /// The replies as the result: every `ok` joined; any `error` refuses the action (conflict) with the worker's words.
    func result(_ b: CeleryBroadcast, _ what: String, everyWorker: Bool, expect: [String] = []) throws -> ActionResult {
        let missing = expect.filter { h in !b.replies.contains { $0.hostname == h } }
        if b.replies.isEmpty || !missing.isEmpty { throw noReply(b, expect) }
        let errors = b.replies.compactMap { r in r.error.map { "\(r.hostname): \($0)" } }
        if !errors.isEmpty { throw ActionFailure.conflict("celery \(b.method) refused by " + errors.joined(separator: "; ")) }
        // `ended`: whether the expected replies ended the wait or the reply timeout did (D61).
        var details: [String: PayloadValue] = [
            "replies": .int(b.replies.count), "expected": .int(b.expected), "reply_ms": .int(Int(b.elapsedSeconds * 1_000)),
            "ended": .string(b.allReplied ? "all replied" : "timeout")
        ]
        if !b.refused.isEmpty { details["refused"] = .int(b.refused.count) }
        for r in b.replies.prefix(20) { details["reply." + r.hostname] = .string(String((r.ok ?? r.value.json).prefix(200))) }
        let oks = b.replies.map { "\($0.hostname): \(($0.ok ?? "ok").prefix(120))" }
        return ActionResult(
            "\(what): " + oks.joined(separator: "; ") + (everyWorker ? " (\(b.replies.count) worker(s) replied)" : ""),
            affected: b.replies.count, details: details)
    }
}
