import AgentOSCore
import Foundation

/// The embedded mode's ActionExecutor: runs the fleet's actions through
/// `EmbeddedWorld.apply(FleetCommand)` (the world publishes the resulting events on its bus), the
/// cache actions on the world's AdminDataManager, the store actions on the world's logs,
/// configuration and stats, the console pipeline's runtime state and the data directory
/// (`+Store`), and refuses the `database.*` group, which needs a real PostgreSQL server, as
/// unavailable, with a reason the console shows before the operator tries.
public struct EmbeddedActionExecutor: ActionExecutor {
    public let world: EmbeddedWorld
    /// The pipeline's audit trail, for `system.audit_verify` (nil: that action needs it given).
    public let audit: (any AuditLog)?

    public init(world: EmbeddedWorld, audit: (any AuditLog)? = nil) {
        self.world = world
        self.audit = audit
    }

    /// The actions the embedded world can perform: those with a handler.
    public static var supported: Set<ActionName> { Set(handlers.keys) }

    /// Why `spec` cannot run embedded (nil: it can). The console greys the action out with it.
    public func unsupported(_ spec: ActionSpec) -> String? {
        guard Self.handlers[spec.id] != nil else { return "\(spec.name) needs a real PostgreSQL server (--redis and --postgres)" }
        if spec.id == .systemAuditVerify && audit == nil { return "\(spec.name) needs the pipeline's audit trail" }
        if Self.storeHandlers[spec.id] != nil && world.runtime == nil { return "\(spec.name) needs the console's data directory and pipeline stores" }
        return nil
    }

    public func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        let action = try call.action
        guard let handler = Self.handlers[action] else {
            throw .unavailable("\(action.rawValue) needs a real PostgreSQL server (--redis and --postgres)")
        }
        return try handler(EmbeddedCall(executor: self, call: call))
    }

    typealias Handler = @Sendable (EmbeddedCall) throws(ActionFailure) -> ActionResult

    /// One handler per action the embedded world can perform (the rest, `database.*`, need PostgreSQL).
    static let handlers = fleetHandlers.merging(storeHandlers) { a, _ in a }

    /// The actions the simulator plays as the fleet's owner.
    static let fleetHandlers: [ActionName: Handler] = [
        .jobCancel: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.cancelJob(id))
            return ActionResult("job \(id) cancelled")
        },
        .jobKill: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.killJob(id))
            return ActionResult("job \(id) terminated and cancelled")
        },
        .jobRetry: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.retryJob(id, by: c.call.user))
            return ActionResult("job \(id) re-enqueued")
        },
        .jobDelete: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.deleteJob(id))
            return ActionResult("job \(id) deleted")
        },
        .jobSetPriority: { c throws(ActionFailure) in
            let id = try c.text("id")
            let priority = try c.number("priority")
            try c.run(.setJobPriority(id, priority))
            return ActionResult("job \(id): priority \(priority)")
        },
        .jobMove: { c throws(ActionFailure) in
            let id = try c.text("id")
            let to = try c.text("to")
            try c.run(.moveJob(id, to: to))
            return ActionResult("job \(id) moved to \(to)")
        },
        .queueClear: { c throws(ActionFailure) in
            let q = try c.text("queue")
            let n = try c.runCounted(.clearQueue(q))
            return ActionResult("cleared queue \(q): \(n) pending job(s) deleted", affected: n)
        },
        .queueRetryFailed: { c throws(ActionFailure) in
            let q = try c.text("queue")
            let n = try c.runCounted(.retryFailed(q, errorClass: c.p.string("error_class"), by: c.call.user))
            return ActionResult("re-enqueued \(n) failed job(s) of queue \(q)", affected: n)
        },
        .queuePurgeFailed: { c throws(ActionFailure) in
            let q = try c.text("queue")
            let n = try c.runCounted(.purgeFailed(q))
            return ActionResult("purged \(n) failed job(s) of queue \(q)", affected: n)
        },
        .queuePause: { c throws(ActionFailure) in
            let q = try c.text("queue")
            try c.run(.pauseQueue(q))
            return ActionResult("queue \(q) paused: consumers stop taking from it")
        },
        .queueResume: { c throws(ActionFailure) in
            let q = try c.text("queue")
            try c.run(.resumeQueue(q))
            return ActionResult("queue \(q) resumed")
        },
        .queueSetRateLimit: { c throws(ActionFailure) in
            let q = try c.text("queue")
            let limit = try c.number("limit")
            try c.run(.setQueueRateLimit(q, limit == 0 ? nil : limit))
            return ActionResult(limit == 0 ? "queue \(q): rate limit removed" : "queue \(q): limited to \(limit) tasks/min")
        },
        .workerPause: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.pauseWorker(id))
            return ActionResult("worker \(id) paused: consumers cancelled")
        },
        .workerResume: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.resumeWorker(id))
            return ActionResult("worker \(id) consuming again")
        },
        .workerStart: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.startWorker(id))
            return ActionResult("worker \(id) starting")
        },
        .workerRestart: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.restartWorker(id))
            return ActionResult("worker \(id) restarting (in-flight work requeued)")
        },
        .workerShutdown: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.shutdownWorker(id))
            return ActionResult("worker \(id) shut down")
        },
        .workerDrain: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.drainWorker(id))
            return ActionResult("worker \(id) draining: takes no new work")
        },
        .workerScale: { c throws(ActionFailure) in try c.scale { _ throws(ActionFailure) in try c.number("concurrency") } },
        .workerPoolGrow: { c throws(ActionFailure) in try c.scale { current in min(64, current + (c.p.int("n") ?? 1)) } },
        .workerPoolShrink: { c throws(ActionFailure) in try c.scale { current in max(1, current - (c.p.int("n") ?? 1)) } },
        .workerAutoscale: { c throws(ActionFailure) in
            let id = try c.text("id")
            let lo = try c.number("min")
            let hi = try c.number("max")
            guard lo <= hi else { throw .invalid(field: "min", "\(lo) is above max \(hi)") }
            try c.run(.setAutoscale(id, min: lo, max: hi))
            return ActionResult("worker \(id): autoscale \(lo)…\(hi)")
        },
        .workerRateLimit: { c throws(ActionFailure) in
            let id = try c.text("id")
            let task = try c.text("task")
            let rate = try c.text("rate")
            guard TaskRate(rate) != nil else { throw .invalid(field: "rate", "'\(rate)' is not a rate like 10/m, 2/s or 0") }
            try c.run(.setTaskRateLimit(id, task: task, rate: rate))
            return ActionResult(rate == "0" ? "worker \(id): \(task) rate limit removed" : "worker \(id): \(task) limited to \(rate)")
        },
        .workerTimeLimit: { c throws(ActionFailure) in
            let id = try c.text("id")
            let task = try c.text("task")
            let soft = try c.number("soft")
            let hard = try c.number("hard")
            guard soft <= hard else { throw .invalid(field: "soft", "\(soft) s is above the hard limit \(hard) s") }
            try c.run(.setTaskTimeLimit(id, task: task, soft: soft, hard: hard))
            return ActionResult("worker \(id): \(task) time limits soft \(soft) s, hard \(hard) s")
        },
        .workerRestartAll: { c throws(ActionFailure) in
            let stage = c.p.string("stage")
            let ids = c.world.read { sim in
                sim.workers.values.filter { w in
                    w.info.status != .offline && w.info.status != .stopped && (stage == nil || w.info.stage == stage)
                }.map(\.info.id).sorted()
            }
            for id in ids { try c.run(.restartWorker(id)) }
            return ActionResult("rolling restart of \(ids.count) worker(s)\(stage.map { " of stage \($0)" } ?? "")", affected: ids.count)
        },
        .workerPing: { c throws(ActionFailure) in
            let id = try c.text("id")
            // The worker's process answers (a stopped, offline or restarting one does not: the simulator refuses).
            try c.run(.pingWorker(id, reply: ""))
            guard let w = c.world.read({ $0.workers[id]?.info }) else { throw .notFound("worker \(id)") }
            return ActionResult(
                "pong from \(w.id) (pid \(w.pid ?? 0) on \(w.hostname), \(w.status.rawValue)): \(w.active) of \(w.concurrency) slots busy, \(w.processed) processed",
                details: [
                    "pid": .int(w.pid ?? 0), "hostname": .string(w.hostname), "active": .int(w.active), "status": .string(w.status.rawValue)
                ])
        },
        .workerForget: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.forgetWorker(id))
            return ActionResult("worker \(id) forgotten")
        },
        .managerStart: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.startManager(id))
            return ActionResult("manager \(id) started")
        },
        .managerStop: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.stopManager(id))
            return ActionResult("manager \(id) stopped")
        },
        .managerPause: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.pauseManager(id))
            return ActionResult("manager \(id) paused")
        },
        .managerResume: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.resumeManager(id))
            return ActionResult("manager \(id) resumed")
        },
        .managerRestart: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.restartManager(id))
            return ActionResult("manager \(id): restarting")
        },
        .managerEnable: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.enableManager(id))
            return ActionResult("manager \(id): enabled")
        },
        .managerDisable: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.disableManager(id))
            return ActionResult("manager \(id): disabled: no more runs")
        },
        .managerSetSchedule: { c throws(ActionFailure) in
            let id = try c.text("id")
            let schedule = try c.text("schedule")
            try c.run(.setManagerSchedule(id, schedule))
            return ActionResult("manager \(id): schedule \(schedule)")
        },
        .managerSetConcurrency: { c throws(ActionFailure) in
            let id = try c.text("id")
            let n = try c.number("concurrency")
            try c.run(.setManagerConcurrency(id, n))
            return ActionResult("manager \(id): concurrency \(n)")
        },
        .managerTrigger: { c throws(ActionFailure) in
            let id = try c.text("id")
            try c.run(.triggerManager(id))
            return ActionResult("manager \(id) runs now")
        },
        .systemMaintenanceOn: { c throws(ActionFailure) in
            try c.run(.maintenance(true, message: c.p.string("message"), by: c.call.user))
            return ActionResult("maintenance mode on: banner on every console")
        },
        .systemMaintenanceOff: { c throws(ActionFailure) in
            try c.run(.maintenance(false, by: c.call.user))
            return ActionResult("maintenance mode off")
        },
        .systemAlertAck: { c throws(ActionFailure) in
            let id = try c.number("id")
            try c.run(.ackAlert(id, by: c.call.user))
            return ActionResult("alert \(id) acknowledged")
        },
        .systemAlertSilence: { c throws(ActionFailure) in
            let id = try c.number("id")
            let minutes = c.p.int("minutes") ?? 60
            try c.run(.silenceAlert(id, until: c.world.read(\.now).addingTimeInterval(Double(minutes) * 60)))
            return ActionResult("alert \(id) silenced for \(minutes) min")
        },
        .logsSetLevel: { c throws(ActionFailure) in
            let service = try c.text("service")
            guard let level = LogLevel(rawValue: try c.text("level")) else { throw .invalid(field: "level", "not a log level") }
            let was = c.world.read { $0.logLevels[service] }
            try c.run(.setLogLevel(service, level))
            return ActionResult("service \(service): log level \(was?.rawValue ?? "default") → \(level.rawValue)")
        },
        .logsMuteSource: { c throws(ActionFailure) in
            let source = try c.text("source")
            try c.run(.muteLogSource(source))
            return ActionResult("log source \(source) muted")
        },
        .logsUnmuteSource: { c throws(ActionFailure) in
            let source = try c.text("source")
            try c.run(.unmuteLogSource(source))
            return ActionResult("log source \(source) unmuted")
        },
        .logsAckErrors: { c throws(ActionFailure) in
            let source = c.p.string("source")
            let n = c.world.read { sim in
                sim.unackedErrorCount(source: source)
            }
            try c.run(.ackErrors(source: source))
            return ActionResult("acknowledged \(n) error line(s)\(source.map { " of \($0)" } ?? "")", affected: n)
        },
        .logsAlertRuleAdd: { c throws(ActionFailure) in
            let pattern = try c.text("pattern")
            let level = LogLevel(rawValue: c.p.string("level") ?? "error") ?? .error
            let severity = AlertSeverity(rawValue: c.p.string("severity") ?? "warning") ?? .warning
            let id = c.world.read { ($0.logAlertRules.keys.max() ?? 0) + 1 }
            guard let rule = LogAlertRule(id: id, pattern: pattern, level: level, severity: severity) else {
                throw .invalid(field: "pattern", "'\(TextSanitizer.clean(String(pattern.prefix(60))))' is not a valid regular expression")
            }
            try c.run(.addLogAlertRule(rule))
            return ActionResult(
                "alert rule #\(id): \(level.rawValue)+ lines matching /\(TextSanitizer.clean(pattern))/ raise a \(severity.rawValue) alert",
                details: ["id": .int(id)])
        },
        .logsAlertRuleRemove: { c throws(ActionFailure) in
            let id = try c.number("id")
            try c.run(.removeLogAlertRule(id))
            return ActionResult("alert rule #\(id) removed")
        },
        .configSet: { c throws(ActionFailure) in
            let key = try c.text("key")
            let entry = try c.configEntry(key)
            let text = try c.text("value")
            let new: ConfigValue
            do throws(ConfigProblem) { new = try ConfigCheck.parse(text, entry.type, ConfigCheck.Rules(entry.constraints)) } catch {
                throw .invalid(field: "value", "\(key): \(error.why)")
            }
            return try c.changeConfig(entry, to: new, note: "")
        },
        .configReset: { c throws(ActionFailure) in
            let key = try c.text("key")
            let entry = try c.configEntry(key)
            guard entry.value != entry.defaultValue else {
                throw .conflict("\(key) already has its default value \(ConfigCheck.show(entry.defaultValue))")
            }
            return try c.changeConfig(entry, to: entry.defaultValue, note: " (default)")
        },
        .configReload: { c throws(ActionFailure) in
            // The simulator is the store: every service takes its keys' entries again.
            let target = c.p.string("service") ?? "all"
            let entries = c.world.read { $0.config_.values.sorted { $0.key < $1.key } }
            for entry in entries { try c.run(.setConfig(entry)) }
            return ActionResult(
                target == "all" ? "all services told to reload their configuration" : "service \(target) told to reload its configuration",
                affected: entries.count)
        },
        .logsBookmark: { c throws(ActionFailure) in
            let line = try c.number("id")
            try c.run(.bookmarkLog(line, note: try c.text("note"), by: c.call.user))
            let id = c.world.read { $0.logBookmarks.last?.id ?? 0 }
            return ActionResult("bookmark #\(id) on log line \(line)", details: ["id": .int(id)])
        },
        .analyticsResetCounters: { c throws(ActionFailure) in
            let n = c.world.read { $0.stats.values.reduce(0) { $0 + $1.count } }
            try c.run(.resetCounters)
            return ActionResult("analytics counters reset: \(n) per-minute row(s) cleared, workers' counters zeroed", affected: n)
        },
        .systemAuditVerify: { c throws(ActionFailure) in
            // The embedded chain (logs/audit under the data directory), verified like the live one.
            guard let audit = c.executor.audit else { throw .unavailable("system.audit_verify needs the pipeline's audit trail") }
            do { return try AuditVerifier.verify(audit).actionResult } catch { throw .failed("audit verify: \(error)") }
        },
        .systemCacheRefresh: { c throws(ActionFailure) in
            do {
                let s = try c.world.dataManager.rebuild()
                return ActionResult("SSOT cache rebuilt (generation \(s.generation))", details: ["generation": .int(s.generation)])
            } catch {
                throw .failed("cache rebuild: \(error)")
            }
        },
        .systemCacheInvalidate: { c throws(ActionFailure) in
            do { try c.world.dataManager.invalidate() } catch { throw .failed("cache invalidate: \(error)") }
            return ActionResult("admin cache invalidated")
        }
    ]

    public func jobOwner(_ id: String) throws(ActionFailure) -> String? {
        world.read { $0.jobs[id]?.owner }
    }

    /// Counted from the simulator's jobs, workers and logs, and the data directory's media, like
    /// the live executor counts rows and files.
    public func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? {
        if spec.id == .systemIOCleanup, let dir = world.runtime?.dataDirectory {
            return try? ActionFiles.files(under: dir.appendingPathComponent("io/output"), olderThanDays: payload.int("days") ?? 0).count
        }
        return world.read { Self.count(spec.id, payload, in: $0) }
    }

    /// What `action` affects in `sim`: the dialog's figure and the count a confirmed `expect` bounds.
    static func count(_ action: ActionName, _ payload: Payload, in sim: FleetSimulator) -> Int? {
        let queue = payload.string("queue") ?? ""
        switch action {
        case .queuePurgeFailed:
            // Failed jobs retention already forgot are purged too (they are in the queue's figure).
            return sim.tally.count(queue, .failed)
        case .workerRestart, .workerShutdown, .workerDrain:
            return sim.workers[payload.string("id") ?? ""]?.running.count ?? 0
        default:
            return rows(action, payload, in: sim)?.count
        }
    }
}

/// What an embedded handler works with: the world, the call and its validated payload.
struct EmbeddedCall {
    let executor: EmbeddedActionExecutor
    let call: ActionCall

    var world: EmbeddedWorld { executor.world }
    var p: Payload { call.payload }

    func text(_ field: String) throws(ActionFailure) -> String {
        guard let v = p[field] else { throw .invalid(field: field, "required") }
        return v.description
    }

    func number(_ field: String) throws(ActionFailure) -> Int {
        guard let v = p.int(field) else { throw .invalid(field: field, "required (an integer)") }
        return v
    }

    /// Applies `command` with the rows it affects counted under the same lock: more than the
    /// confirmed `expect` and nothing is applied. Returns the count (what the action reports as affected).
    func runCounted(_ command: FleetCommand) throws(ActionFailure) -> Int {
        let action = try call.action
        let payload = p
        let (n, applied) = world.apply(command, counting: { EmbeddedActionExecutor.count(action, payload, in: $0) ?? 0 }, atMost: p.int("expect"))
        guard let applied else { throw .impactExceeded(confirmed: p.int("expect") ?? 0, actual: n) }
        try check(applied)
        return n
    }

    /// Sets worker `id`'s concurrency to what `next` makes of the current one.
    func scale(_ next: (Int) throws(ActionFailure) -> Int) throws(ActionFailure) -> ActionResult {
        let id = try text("id")
        guard let current = world.read({ $0.workers[id]?.info.concurrency }) else { throw .notFound("worker \(id)") }
        let n = try next(current)
        try run(.scaleWorker(id, n))
        return ActionResult("worker \(id): concurrency \(current) → \(n)")
    }

    func configEntry(_ key: String) throws(ActionFailure) -> ConfigEntry {
        guard let entry = world.read({ $0.config_[key] }) else { throw .notFound("config key \(key)") }
        return entry
    }

    /// The entry's next version with `new`, handed to the key's owner (the simulator is the store).
    func changeConfig(_ entry: ConfigEntry, to new: ConfigValue, note: String) throws(ActionFailure) -> ActionResult {
        // A locked key or a frozen configuration: the owner refuses (FleetSimulator.applyConfig).
        guard current(entry) != new else { throw .conflict("\(entry.key) is already \(ConfigCheck.show(new))") }
        var changed = entry
        changed.value = new
        changed.version += 1
        changed.updatedAt = world.read(\.now)
        changed.updatedBy = call.user
        try run(.setConfig(changed))
        let was = ConfigCheck.show(entry.value)
        let now = ConfigCheck.show(new)
        return ActionResult(
            "\(entry.key): \(was) → \(now)\(note), version \(changed.version)",
            details: ["old": .string(was), "new": .string(now), "version": .int(changed.version)])
    }

    /// Applies a fleet command; the simulator's refusals become action failures.
    func run(_ command: FleetCommand) throws(ActionFailure) { try check(world.apply(command)) }

    private func check(_ result: Result<Void, FleetCommandError>) throws(ActionFailure) {
        switch result {
        case .success: return
        case .failure(.notFound(let what)): throw .notFound(what)
        case .failure(.invalid(let why)): throw .conflict(why)
        }
    }
}
