import AgentOSCore
import Foundation

extension EmbeddedActionExecutor {
    /// The rows a counted action touches in `sim`, in listing order (nil: not counted over rows).
    /// `count` is built from the same lists, so the dialog's figure and the preview agree.
    static func rows(_ action: ActionName, _ payload: Payload, in sim: FleetSimulator) -> [String]? {
        let queue = payload.string("queue") ?? ""
        switch action {
        case .queueClear, .queuePause:
            // What `clearQueue` deletes: the waiting lists, highest priority first.
            return (sim.waiting[queue] ?? []).flatMap { $0 }
        case .queueRetryFailed:
            return sim.failedJobs(queue, payload.string("error_class"))
        case .queuePurgeFailed:
            return sim.failedJobs(queue, nil)
        case .logsPurge, .logsArchive:
            return sim.logs(before: sim.now.addingTimeInterval(-Double(payload.int("days") ?? 0) * 86_400)).map { String($0.id) }
        case .workerRestartAll:
            let stage = payload.string("stage")
            return sim.workers.values.filter {
                $0.info.status != .offline && $0.info.status != .stopped && (stage == nil || $0.info.stage == stage)
            }.map(\.info.id).sorted()
        default:
            return nil
        }
    }

    /// Counted actions: their rows; single-target actions: the target as it is now; the rest:
    /// what would change. Read under the world's lock; nothing is applied.
    public func preview(_ spec: ActionSpec, _ payload: Payload, limit: Int) throws(ActionFailure) -> ActionPreview {
        if spec.id == .systemIOCleanup, let dir = world.runtime?.dataDirectory {
            let files = ((try? ActionFiles.files(under: dir.appendingPathComponent("io/output"), olderThanDays: payload.int("days") ?? 0)) ?? [])
                .map(\.lastPathComponent).sorted()
            return .counted(spec, payload, count: files.count, rows: Array(files.prefix(limit)))
        }
        let found: Result<ActionPreview, ActionFailure> = world.read { sim in
            if let ids = Self.rows(spec.id, payload, in: sim) {
                let n = Self.count(spec.id, payload, in: sim) ?? ids.count
                return .success(.counted(spec, payload, count: n, rows: Array(ids.prefix(limit))))
            }
            switch Self.targetState(spec, payload, in: sim) {
            case .success(let state?): return .success(.target(spec, payload, state: state))
            case .success(nil): return .success(.unlisted(spec, payload))
            case .failure(let f): return .failure(f)
            }
        }
        return try found.get()
    }

    /// "job 1f3a…: running", "worker w1: online, 2 running", "queue q: paused", "config k = 5"
    /// (nil: the target is not a row; `notFound` for a row that is not there).
    static func targetState(_ spec: ActionSpec, _ payload: Payload, in sim: FleetSimulator) -> Result<String?, ActionFailure> {
        guard let field = spec.targetField, let value = payload[field]?.description else { return .success(nil) }
        let subject = spec.id.subject
        let state: String?
        switch (subject, field) {
        case ("job", "id"): state = sim.jobs[value].map { "job \(value): \($0.status.rawValue)" }
        case ("worker", "id"): state = sim.workers[value].map { "worker \(value): \($0.info.status.rawValue), \($0.running.count) running" }
        case ("manager", "id"): state = sim.managers[value].map { "manager \(value): \($0.status.rawValue)" }
        case ("queue", "queue"): state = sim.queues[value].map { "queue \(value): \($0.paused ? "paused" : "active")" }
        case ("config", "key"):
            state = sim.config_[value].map { "config \(value) = \(PIIScrubber.isSecretName(value) ? "(secret)" : ConfigCheck.show($0.value))" }
        default: return .success(nil)
        }
        guard let state else { return .failure(.notFound("\(subject) \(value)")) }
        return .success(state)
    }
}
