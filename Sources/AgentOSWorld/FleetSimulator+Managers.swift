import AgentOSCore
import Foundation

/// The managers follow their own row: schedule, enablement, concurrency, restarts.
extension FleetSimulator {
    /// Whether manager `id` runs now: running, enabled and past its next run.
    func isDue(_ id: String) -> Bool {
        guard let m = managers[id], m.status == .running, m.enabled, let next = m.nextRunAt else { return false }
        return now >= next
    }

    /// The next run of `m` after `date` from its schedule: intervals pass at the fleet's pace
    /// (`SimulatorConfig.rate`, like the stages' durations), cron times are the clock's. Nil when
    /// disabled or the schedule does not parse.
    func nextRun(of m: ManagerInfo, after date: Date) -> Date? {
        guard m.enabled else { return nil }
        switch Schedule.parse(m.schedule) {
        case .interval(let seconds)?: return date.addingTimeInterval(Double(seconds) / speed)
        case let cron?: return cron.nextCronTime(after: date)
        case nil: return nil
        }
    }

    /// Restarted managers whose start-up is over run again at once.
    mutating func finishManagerRestarts(_ events: inout [AgentEvent]) {
        for (id, at) in managerRestartAt.sorted(by: { $0.key < $1.key }) where at <= now {
            managerRestartAt[id] = nil
            guard var m = managers[id], m.status == .starting else { continue }
            m.status = .running
            m.lastError = nil
            m.nextRunAt = m.enabled ? now : nil
            managers[id] = m
            events.append(.managerUpdated(m))
        }
    }

    /// manager.enable, disable, restart, set_schedule and set_concurrency.
    mutating func changeManager(_ id: String, _ command: FleetCommand) throws(FleetCommandError) -> AgentEvent {
        guard var m = managers[id] else { throw .notFound("manager \(id)") }
        switch command {
        case .enableManager:
            guard !m.enabled else { throw .invalid("manager \(id) is already enabled") }
            m.enabled = true
            m.nextRunAt = nextRun(of: m, after: now)
        case .disableManager:
            guard m.enabled else { throw .invalid("manager \(id) is already disabled") }
            m.enabled = false
            m.nextRunAt = nil
        case .restartManager:
            m.status = .starting
            m.nextRunAt = nil
            managerRestartAt[id] = now.addingTimeInterval(1)
        case .setManagerSchedule(_, let schedule):
            guard Schedule.parse(schedule) != nil else { throw .invalid("'\(schedule)' is not a cron expression or an interval like 30s") }
            m.schedule = schedule
            m.nextRunAt = nextRun(of: m, after: now)
        case .setManagerConcurrency(_, let n):
            guard (1...64).contains(n) else { throw .invalid("concurrency must be 1-64") }
            m.concurrency = n
        default:
            throw .invalid("\(command.command.wire) is no manager change")
        }
        managers[id] = m
        return .managerUpdated(m)
    }
}
