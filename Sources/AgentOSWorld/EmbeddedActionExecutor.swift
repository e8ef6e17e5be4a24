import AgentOSCore
import Foundation

/// The embedded mode's ActionExecutor: runs the actions the simulator can play through
/// `EmbeddedWorld.apply(FleetCommand)` (the world publishes the resulting events on its bus),
/// the two cache actions on the world's AdminDataManager, and refuses every other action as
/// unavailable, with a reason the console shows before the operator tries.
public struct EmbeddedActionExecutor: ActionExecutor {
    public let world: EmbeddedWorld

    public init(world: EmbeddedWorld) { self.world = world }

    /// The actions the embedded world can perform.
    public static let supported: Set<String> = [
        "job.cancel", "job.kill", "job.retry", "job.delete", "job.set_priority", "job.move",
        "queue.pause", "queue.resume", "queue.set_rate_limit", "queue.clear", "queue.retry_failed", "queue.purge_failed",
        "worker.pause", "worker.resume", "worker.restart", "worker.shutdown", "worker.drain", "worker.start",
        "worker.scale", "worker.pool_grow", "worker.pool_shrink", "worker.restart_all", "worker.forget",
        "manager.start", "manager.stop", "manager.pause", "manager.resume", "manager.restart", "manager.trigger",
        "system.maintenance_on", "system.maintenance_off", "system.cache_refresh", "system.cache_invalidate", "system.alert_ack"
    ]

    /// Why `spec` cannot run embedded (nil: it can). The console greys the action out with it.
    public func unsupported(_ spec: ActionSpec) -> String? {
        Self.supported.contains(spec.name) ? nil : "\(spec.name) needs the live backend (--redis and --postgres)"
    }

    public func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        let name = call.request.action
        guard let spec = call.spec ?? ActionCatalog.spec(name) else { throw .unknownAction(name) }
        if let why = unsupported(spec) { throw .unavailable(why) }
        let p = call.payload
        func text(_ field: String) throws(ActionFailure) -> String {
            guard let v = p[field] else { throw .invalid(field: field, "required") }
            return v.description
        }
        func number(_ field: String) throws(ActionFailure) -> Int {
            guard let v = p.int(field) else { throw .invalid(field: field, "required (an integer)") }
            return v
        }
        switch name {
        case "job.cancel":
            let id = try text("id")
            try run(.cancelJob(id))
            return ActionResult("job \(id) cancelled")
        case "job.kill":
            let id = try text("id")
            try run(.killJob(id))
            return ActionResult("job \(id) terminated and cancelled")
        case "job.retry":
            let id = try text("id")
            try run(.retryJob(id))
            return ActionResult("job \(id) re-enqueued")
        case "job.delete":
            let id = try text("id")
            try run(.deleteJob(id))
            return ActionResult("job \(id) deleted")
        case "job.set_priority":
            let id = try text("id")
            let priority = try number("priority")
            try run(.setJobPriority(id, priority))
            return ActionResult("job \(id): priority \(priority)")
        case "job.move":
            let id = try text("id")
            let to = try text("to")
            try run(.moveJob(id, to: to))
            return ActionResult("job \(id) moved to \(to)")
        case "queue.clear":
            let q = try text("queue")
            let n = world.read { $0.pendingCount(q) }
            try run(.clearQueue(q))
            return ActionResult("cleared queue \(q): \(n) pending job(s) deleted", affected: n)
        case "queue.retry_failed":
            let q = try text("queue")
            let errorClass = p.string("error_class")
            let n = try impact(spec, p) ?? 0
            try run(.retryFailed(q, errorClass: errorClass))
            return ActionResult("re-enqueued \(n) failed job(s) of queue \(q)", affected: n)
        case "queue.purge_failed":
            let q = try text("queue")
            let n = try impact(spec, p) ?? 0
            try run(.purgeFailed(q))
            return ActionResult("purged \(n) failed job(s) of queue \(q)", affected: n)
        case "queue.pause":
            let q = try text("queue")
            try run(.pauseQueue(q))
            return ActionResult("queue \(q) paused: consumers stop taking from it")
        case "queue.resume":
            let q = try text("queue")
            try run(.resumeQueue(q))
            return ActionResult("queue \(q) resumed")
        case "queue.set_rate_limit":
            let q = try text("queue")
            let limit = try number("limit")
            try run(.setQueueRateLimit(q, limit == 0 ? nil : limit))
            return ActionResult(limit == 0 ? "queue \(q): rate limit removed" : "queue \(q): limited to \(limit) tasks/min")
        case "worker.pause":
            let id = try text("id")
            try run(.pauseWorker(id))
            return ActionResult("worker \(id) paused: consumers cancelled")
        case "worker.resume":
            let id = try text("id")
            try run(.resumeWorker(id))
            return ActionResult("worker \(id) consuming again")
        case "worker.start":
            let id = try text("id")
            try run(.startWorker(id))
            return ActionResult("worker \(id) starting")
        case "worker.restart":
            let id = try text("id")
            try run(.restartWorker(id))
            return ActionResult("worker \(id) restarting (in-flight work requeued)")
        case "worker.shutdown":
            let id = try text("id")
            try run(.shutdownWorker(id))
            return ActionResult("worker \(id) shut down")
        case "worker.drain":
            let id = try text("id")
            try run(.drainWorker(id))
            return ActionResult("worker \(id) draining: takes no new work")
        case "worker.scale", "worker.pool_grow", "worker.pool_shrink":
            let id = try text("id")
            guard let current = world.read({ $0.workers[id]?.info.concurrency }) else { throw .notFound("worker \(id)") }
            let next: Int
            switch name {
            case "worker.scale": next = try number("concurrency")
            case "worker.pool_grow": next = min(64, current + (p.int("n") ?? 1))
            default: next = max(1, current - (p.int("n") ?? 1))
            }
            try run(.scaleWorker(id, next))
            return ActionResult("worker \(id): concurrency \(current) → \(next)")
        case "worker.restart_all":
            let stage = p.string("stage")
            let ids = world.read { sim in
                sim.workers.values.filter { w in
                    w.info.status != .offline && w.info.status != .stopped && (stage == nil || w.info.stage == stage)
                }.map(\.info.id).sorted()
            }
            for id in ids { try run(.restartWorker(id)) }
            return ActionResult("rolling restart of \(ids.count) worker(s)\(stage.map { " of stage \($0)" } ?? "")", affected: ids.count)
        case "worker.forget":
            let id = try text("id")
            try run(.forgetWorker(id))
            return ActionResult("worker \(id) forgotten")
        case "manager.start":
            let id = try text("id")
            try run(.startManager(id))
            return ActionResult("manager \(id) started")
        case "manager.stop":
            let id = try text("id")
            try run(.stopManager(id))
            return ActionResult("manager \(id) stopped")
        case "manager.pause":
            let id = try text("id")
            try run(.pauseManager(id))
            return ActionResult("manager \(id) paused")
        case "manager.resume":
            let id = try text("id")
            try run(.resumeManager(id))
            return ActionResult("manager \(id) resumed")
        case "manager.restart":
            let id = try text("id")
            try run(.stopManager(id))
            try run(.startManager(id))
            return ActionResult("manager \(id) restarted")
        case "manager.trigger":
            let id = try text("id")
            try run(.triggerManager(id))
            return ActionResult("manager \(id) runs now")
        case "system.maintenance_on":
            try run(.maintenance(true))
            return ActionResult("maintenance mode on: banner on every console")
        case "system.maintenance_off":
            try run(.maintenance(false))
            return ActionResult("maintenance mode off")
        case "system.alert_ack":
            let id = try number("id")
            try run(.ackAlert(id, by: call.user))
            return ActionResult("alert \(id) acknowledged")
        case "system.cache_refresh":
            do {
                let s = try world.dataManager.rebuild()
                return ActionResult("SSOT cache rebuilt (generation \(s.generation))", details: ["generation": .int(s.generation)])
            } catch {
                throw .failed("cache rebuild: \(error)")
            }
        case "system.cache_invalidate":
            do { try world.dataManager.invalidate() } catch { throw .failed("cache invalidate: \(error)") }
            return ActionResult("admin cache invalidated")
        default:
            throw .unavailable("\(name) needs the live backend (--redis and --postgres)")
        }
    }

    /// Applies a fleet command; the simulator's refusals become action failures.
    private func run(_ command: FleetCommand) throws(ActionFailure) {
        switch world.apply(command) {
        case .success: return
        case .failure(.notFound(let what)): throw .notFound(what)
        case .failure(.invalid(let why)): throw .conflict(why)
        }
    }

    public func jobOwner(_ id: String) throws(ActionFailure) -> String? {
        world.read { $0.jobs[id]?.owner }
    }

    /// Counted from the simulator's jobs and workers, like the live executor counts rows.
    public func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? {
        let queue = payload.string("queue") ?? ""
        switch spec.name {
        case "queue.clear", "queue.pause":
            return world.read { sim in sim.jobs.values.filter { $0.queue == queue && ($0.status == .pending || $0.status == .queued) }.count }
        case "queue.retry_failed":
            let errorClass = payload.string("error_class")
            return world.read { sim in
                sim.jobs.values.filter { $0.queue == queue && $0.status == .failed && (errorClass == nil || $0.errorClass == errorClass) }.count
            }
        case "queue.purge_failed":
            return world.read { sim in sim.jobs.values.filter { $0.queue == queue && $0.status == .failed }.count }
        case "worker.restart", "worker.shutdown", "worker.drain":
            let id = payload.string("id") ?? ""
            return world.read { $0.workers[id]?.running.count ?? 0 }
        case "worker.restart_all":
            let stage = payload.string("stage")
            return world.read { sim in
                sim.workers.values.filter { $0.info.status != .offline && $0.info.status != .stopped && (stage == nil || $0.info.stage == stage) }
                    .count
            }
        default:
            return nil
        }
    }
}
