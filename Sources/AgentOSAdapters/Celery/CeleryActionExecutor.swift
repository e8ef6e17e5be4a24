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

    /// The catalog actions that have a Celery meaning.
    public static let mapped: Set<String> = [
        "job.cancel", "job.kill", "worker.restart", "worker.pool_grow", "worker.pool_shrink", "worker.scale", "worker.autoscale",
        "worker.pause", "worker.resume", "worker.rate_limit", "worker.time_limit", "worker.shutdown", "worker.ping",
        "queue.clear", "queue.pause", "queue.resume"
    ]

    /// True when `call` goes to Celery.
    public func routesToCelery(_ action: String, _ payload: Payload) -> Bool {
        guard Self.mapped.contains(action) else { return false }
        monitor.pollIfNeverPolled()
        let s = monitor.current
        if action.hasPrefix("job.") {
            // A task Celery reported, or an id AgentOS has no job row for (a revoke may precede
            // the task: workers keep the id and drop the task when it arrives).
            guard let id = payload.string("id") else { return false }
            if s.tasks[id] != nil { return true }
            guard UUID(uuidString: id) != nil else { return false }
            return (try? fallback.jobOwner(id)) == nil
        }
        if action.hasPrefix("worker.") { return payload.string("id").map { s.workers[$0] != nil } ?? false }
        return payload.string("queue").map { monitor.queueNames().contains($0) } ?? false
    }

    public func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        let action = call.request.action
        guard routesToCelery(action, call.payload) else { return try fallback.execute(call) }
        do { return try run(action, call.payload) } catch let f as ActionFailure { throw f } catch {
            throw .failed("celery \(action): \(error)")
        }
    }

    public func jobOwner(_ id: String) throws(ActionFailure) -> String? {
        if monitor.current.tasks[id] != nil { return "celery" }
        return try fallback.jobOwner(id)
    }

    public func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? {
        guard routesToCelery(spec.name, payload) else { return try fallback.impact(spec, payload) }
        let queue = payload.string("queue") ?? ""
        switch spec.name {
        case "queue.clear", "queue.pause":
            return (try? monitor.queues())?.first { $0.name == queue }?.pending
        case "worker.restart", "worker.shutdown":
            return monitor.current.workers[payload.string("id") ?? ""]?.active
        default: return nil
        }
    }

    // MARK: the mapped actions

    func run(_ action: String, _ p: Payload) throws -> ActionResult {
        func req(_ name: String) throws -> String { try p.required(name) }
        func reqInt(_ name: String) throws -> Int { try p.requiredInt(name) }
        switch action {
        case "job.cancel":
            let id = try req("id")
            let b = try control.broadcast("revoke", arguments: ["task_id": .string(id)])
            return try result(b, "revoke \(id)", everyWorker: true)
        case "job.kill":
            let id = try req("id")
            let b = try control.broadcast("revoke", arguments: ["task_id": .string(id), "terminate": .bool(true), "signal": .string("SIGTERM")])
            return try result(b, "revoke \(id) with terminate (SIGTERM)", everyWorker: true)
        case "worker.restart":
            return try toWorker(try req("id"), "pool_restart", [:], "pool restart")
        case "worker.pool_grow":
            let n = p.int("n") ?? 1
            return try toWorker(try req("id"), "pool_grow", ["n": .int(n)], "pool grow by \(n)")
        case "worker.pool_shrink":
            let n = p.int("n") ?? 1
            return try toWorker(try req("id"), "pool_shrink", ["n": .int(n)], "pool shrink by \(n)")
        case "worker.scale":
            let id = try req("id")
            let target = try reqInt("concurrency")
            let stats = try toWorker(id, "stats", [:], "stats")
            guard case .int(let now)? = stats.details["processes"] else {
                throw ActionFailure.failed("celery worker.scale: \(id)'s stats name no pool processes")
            }
            if target == now {
                return ActionResult("worker \(id): pool already has \(now) process(es)", affected: 0, details: ["concurrency": .int(now)])
            }
            let method = target > now ? "pool_grow" : "pool_shrink"
            var r = try toWorker(id, method, ["n": .int(abs(target - now))], "scale \(now) → \(target)")
            r.details["concurrency"] = .int(target)
            r.details["was"] = .int(now)
            return r
        case "worker.autoscale":
            let id = try req("id")
            let lo = try reqInt("min")
            let hi = try reqInt("max")
            guard lo <= hi else { throw ActionFailure.invalid(field: "min", "\(lo) is above max \(hi)") }
            return try toWorker(id, "autoscale", ["max": .int(hi), "min": .int(lo)], "autoscale \(lo)…\(hi)")
        case "worker.pause":
            let id = try req("id")
            let queues = try consumedQueues(id)
            guard !queues.isEmpty else { throw ActionFailure.conflict("worker \(id) consumes from no queue (already paused?)") }
            var lines: [String] = []
            for q in queues { lines.append(try toWorker(id, "cancel_consumer", ["queue": .string(q)], "cancel consumer \(q)").message) }
            monitor.update {
                $0.workers[id]?.paused = true
                $0.workers[id]?.pausedQueues = queues
                $0.workers[id]?.queues = []
            }
            return ActionResult(lines.joined(separator: "; "), affected: queues.count, details: ["queues": .string(queues.joined(separator: ","))])
        case "worker.resume":
            let id = try req("id")
            let queues = monitor.current.workers[id]?.pausedQueues ?? []
            guard !queues.isEmpty else { throw ActionFailure.conflict("worker \(id) was not paused from this console (no queues to add back)") }
            var lines: [String] = []
            for q in queues { lines.append(try toWorker(id, "add_consumer", ["queue": .string(q)], "add consumer \(q)").message) }
            monitor.update {
                $0.workers[id]?.paused = false
                $0.workers[id]?.pausedQueues = nil
                $0.workers[id]?.queues = queues
            }
            return ActionResult(lines.joined(separator: "; "), affected: queues.count)
        case "worker.rate_limit":
            let id = try req("id")
            let task = try req("task")
            let rate = try req("rate")
            guard rate.range(of: #"^\d+(/[smh])?$"#, options: .regularExpression) != nil else {
                throw ActionFailure.invalid(field: "rate", "'\(rate)' is not a rate like 10/m, 2/s or 0")
            }
            return try toWorker(id, "rate_limit", ["task_name": .string(task), "rate_limit": .string(rate)], "rate limit \(task) \(rate)")
        case "worker.time_limit":
            let id = try req("id")
            let task = try req("task")
            let soft = try reqInt("soft")
            let hard = try reqInt("hard")
            guard soft <= hard else { throw ActionFailure.invalid(field: "soft", "\(soft) s is above the hard limit \(hard) s") }
            var r = try toWorker(
                id, "time_limit", ["task_name": .string(task), "soft": .int(soft), "hard": .int(hard)], "time limit \(task) \(soft)/\(hard) s")
            // Celery 5.7 copies a task's limits into its request class at consumer start; the
            // new limits apply to tasks after the next pool restart (worker.restart).
            r.message += " (applies to new tasks after the next pool restart: worker.restart)"
            return r
        case "worker.shutdown":
            let id = try req("id")
            let b = try control.broadcast("shutdown", destination: [id], expectReply: false)
            guard b.listeners > 0 else {
                throw ActionFailure.failed("celery shutdown \(id): no worker is subscribed to \(control.transport.pidboxChannel)")
            }
            return ActionResult(
                "worker \(id): warm shutdown sent (Celery sends no reply; the worker-offline event confirms it)",
                details: ["listeners": .int(b.listeners)])
        case "worker.ping":
            let id = try req("id")
            let b = try control.broadcast("ping", destination: [id])
            let r = try result(b, "ping", everyWorker: false, expect: [id])
            monitor.update { $0.applyPong(id, now: Date().timeIntervalSince1970) }
            var out = ActionResult(String(format: "pong from %@ in %.1f ms", id, b.elapsedSeconds * 1_000), details: r.details)
            out.details["rtt_us"] = .int(Int(b.elapsedSeconds * 1e6))
            return out
        case "queue.clear":
            let q = try req("queue")
            let n = try monitor.purge(q)
            return ActionResult(
                "purged \(n) message(s) from \(q) (all \(control.transport.prioritySteps.count) priority lists)", affected: n,
                details: ["purged": .int(n)])
        case "queue.pause":
            let q = try req("queue")
            let b = try control.broadcast("cancel_consumer", arguments: ["queue": .string(q)])
            let r = try result(b, "cancel consumer \(q)", everyWorker: true)
            let hosts = b.replies.filter { $0.error == nil }.map(\.hostname)
            monitor.pausedQueues.withLock { $0[q] = hosts }
            monitor.update { s in for h in hosts { s.workers[h]?.queues?.removeAll { $0 == q } } }
            return r
        case "queue.resume":
            let q = try req("queue")
            let hosts = monitor.pausedQueues.withLock { $0[q] }
            let b = try control.broadcast("add_consumer", arguments: ["queue": .string(q)], destination: hosts.flatMap { $0.isEmpty ? nil : $0 })
            let r = try result(b, "add consumer \(q)", everyWorker: hosts == nil, expect: hosts ?? [])
            monitor.pausedQueues.withLock { $0[q] = nil }
            return r
        default:
            throw ActionFailure.failed("celery: \(action) has no mapping")
        }
    }

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
        if method == "stats", let reply = b.replies.first {
            monitor.update { $0.applyStats(id, reply.value, now: Date().timeIntervalSince1970) }
            if let procs = reply.value["pool"]?["processes"]?.array { r.details["processes"] = .int(procs.count) }
        }
        r.message = "worker \(id): " + r.message
        return r
    }

    func noReply(_ b: CeleryBroadcast, _ expect: [String]) -> ActionFailure {
        let missing = expect.filter { h in !b.replies.contains { $0.hostname == h } }
        return .failed(
            String(
                format: "celery %@: no reply from %@ within %.1f s (%d subscriber(s) on %@)", b.method,
                missing.isEmpty ? "any worker" : missing.joined(separator: ", "), control.transport.replyTimeout, b.listeners,
                control.transport.pidboxChannel))
    }

    /// The replies as the result: every `ok` joined; any `error` refuses the action (conflict) with the worker's words.
    func result(_ b: CeleryBroadcast, _ what: String, everyWorker: Bool, expect: [String] = []) throws -> ActionResult {
        let missing = expect.filter { h in !b.replies.contains { $0.hostname == h } }
        if b.replies.isEmpty || !missing.isEmpty { throw noReply(b, expect) }
        let errors = b.replies.compactMap { r in r.error.map { "\(r.hostname): \($0)" } }
        if !errors.isEmpty { throw ActionFailure.conflict("celery \(b.method) refused by " + errors.joined(separator: "; ")) }
        var details: [String: PayloadValue] = ["replies": .int(b.replies.count), "reply_ms": .int(Int(b.elapsedSeconds * 1_000))]
        for r in b.replies.prefix(20) { details["reply." + r.hostname] = .string(String((r.ok ?? r.value.json).prefix(200))) }
        let oks = b.replies.map { "\($0.hostname): \(($0.ok ?? "ok").prefix(120))" }
        return ActionResult(
            "\(what): " + oks.joined(separator: "; ") + (everyWorker ? " (\(b.replies.count) worker(s) replied)" : ""),
            affected: b.replies.count, details: details)
    }
}
