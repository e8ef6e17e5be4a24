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
    /// A locked key (or a frozen configuration) keeps its value: only its lock and version travel.
    mutating func applyConfig(_ entry: ConfigEntry) throws(FleetCommandError) -> [AgentEvent] {
        guard let current = config_[entry.key] else { throw .notFound("config key \(entry.key)") }
        if entry.value != current.value {
            if configFrozen { throw .invalid("configuration is frozen (config.lock)") }
            if current.locked { throw .invalid("config key \(entry.key) is locked (config.lock)") }
        }
        config_[entry.key] = entry
        if entry.version > current.version {
            configHistory[entry.key, default: []].append(
                ConfigChange(
                    version: entry.version, oldValue: ConfigCheck.json(current.value), newValue: ConfigCheck.json(entry.value),
                    changedBy: entry.updatedBy, changedAt: entry.updatedAt ?? now))
        }
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

    /// config.lock: one key, or the whole configuration (`key` nil).
    mutating func lockConfig(_ key: String?, locked: Bool) throws(FleetCommandError) -> [AgentEvent] {
        guard let key else {
            guard configFrozen != locked else { throw .invalid("configuration is already \(locked ? "frozen" : "unfrozen")") }
            configFrozen = locked
            return []
        }
        guard var entry = config_[key] else { throw .notFound("config key \(key)") }
        guard entry.locked != locked else { throw .invalid("config key \(key) is already \(locked ? "locked" : "unlocked")") }
        entry.locked = locked
        config_[key] = entry
        return [.configChanged(entry)]
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
