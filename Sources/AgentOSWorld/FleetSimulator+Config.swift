import AgentOSCore
import Foundation

/// Configuration reaches the component that owns its key: the autoscaler reads
/// `workers.autoscale` on every run, the scheduler and ingest give new jobs
/// `pipeline.max_attempts`, the cleanup manager runs on `cleanup.schedule`.
extension FleetSimulator {
    func configInt(_ key: String) -> Int? {
        if case .int(let i)? = config_[key]?.value { return i }
        return nil
    }

    /// Takes the store's entry; the owner of the key changes with it.
    mutating func applyConfig(_ entry: ConfigEntry) throws(FleetCommandError) -> [AgentEvent] {
        guard config_[entry.key] != nil else { throw .notFound("config key \(entry.key)") }
        config_[entry.key] = entry
        var events: [AgentEvent] = [.configChanged(entry)]
        if entry.key == "cleanup.schedule", case .string(let schedule) = entry.value, Schedule.parse(schedule) != nil,
            var cleanup = managers["cleanup"], cleanup.schedule != schedule
        {
            cleanup.schedule = schedule
            cleanup.nextRunAt = nextRun(of: cleanup, after: now)
            managers["cleanup"] = cleanup
            events.append(.managerUpdated(cleanup))
        }
        return events
    }

    /// analytics.reset_counters at the source: the counters the stats are written from.
    mutating func resetCounters() -> [AgentEvent] {
        stats = [:]
        errorCounts = [:]
        var events: [AgentEvent] = []
        for id in workers.keys.sorted() {
            workers[id]!.info.processed = 0
            workers[id]!.info.failed = 0
            events.append(.workerUpdated(WorkerPatch(id: id, processed: 0, failed: 0), cause: "worker.updated"))
        }
        return events
    }
}
