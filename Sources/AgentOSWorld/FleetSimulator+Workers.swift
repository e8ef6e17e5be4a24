import AgentOSCore
import Foundation

/// A task rate limit as Celery writes it: `10/m`, `2/s`, `5/h`, or a bare number (per second);
/// a count of 0 lifts the limit.
public struct TaskRate: Sendable, Equatable {
    public var count: Int
    public var periodSeconds: Double

    /// Nil for text that is no rate.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts[0].allSatisfy(\.isASCII), let n = Int(parts[0]), n >= 0 else { return nil }
        let period: Double? = parts.count == 1 ? 1 : ["s": 1, "m": 60, "h": 3_600][String(parts[1])]
        guard let period else { return nil }
        count = n
        periodSeconds = period
    }
}

/// A task type's time limits in seconds: a warning at `soft`, the end at `hard`.
public struct TaskTimeLimit: Sendable, Equatable {
    public var soft: Int
    public var hard: Int
}

extension FleetSimulator.SimWorker {
    /// Whether the rate limit of `task` lets the worker start one more now.
    func mayStart(_ task: String, at now: Date) -> Bool {
        guard let rate = rateLimits[task] else { return true }
        let since = now.addingTimeInterval(-rate.periodSeconds)
        return (recentStarts[task] ?? []).filter { $0 > since }.count < rate.count
    }

    mutating func started(_ task: String, _ jobID: String, at now: Date) {
        attemptStarted[jobID] = now
        guard let rate = rateLimits[task] else { return }
        let since = now.addingTimeInterval(-rate.periodSeconds)
        recentStarts[task] = (recentStarts[task] ?? []).filter { $0 > since } + [now]
    }

    /// Drops the start times of attempts that are no longer running.
    mutating func forgetFinishedAttempts() {
        guard attemptStarted.count > running.count else { return }
        attemptStarted = attemptStarted.filter { running[$0.key] != nil }
        softWarned = softWarned.filter { running[$0] != nil }
    }
}

extension FleetSimulator {
    /// Applies worker `id`'s time limits to its running `job`: a warning line past the soft
    /// limit, the attempt ended as failed (TimeLimitExceeded, not retried) past the hard one.
    /// True when the job was ended.
    mutating func enforceTimeLimits(
        _ job: inout Job, worker w: inout SimWorker, _ events: inout [AgentEvent], _ logsOut: inout [LogLine], _ touched: inout Set<String>
    ) -> Bool {
        let task = Self.taskName(job.stage)
        guard let limit = w.timeLimits[task], let started = w.attemptStarted[job.id] else { return false }
        let ran = now.timeIntervalSince(started)
        if ran >= Double(limit.hard) {
            w.running[job.id] = nil
            let message = "hard time limit (\(limit.hard) s) exceeded for \(task)[\(job.id)]"
            failAttempt(
                &job, worker: &w, errorClass: "TimeLimitExceeded", message: message,
                traceback: "Traceback (most recent call last):\n  File \"/app/agentos/workers/base.py\", line 88, in run\n"
                    + "billiard.exceptions.TimeLimitExceeded: TimeLimitExceeded(\(limit.hard),)",
                permanent: true, &events, &logsOut, &touched)
            return true
        }
        if ran >= Double(limit.soft) && !w.softWarned.contains(job.id) {
            w.softWarned.insert(job.id)
            logsOut.append(
                log(.warning, w.info.id, "soft time limit (\(limit.soft) s) exceeded for \(task)[\(job.id)]", job: job.id, worker: w.info.id))
        }
        return false
    }

    /// worker.autoscale: the bounds the autoscaler keeps the pool within.
    mutating func setAutoscale(_ id: String, min lo: Int, max hi: Int) throws(FleetCommandError) -> AgentEvent {
        guard lo >= 0, hi >= 1, lo <= hi, hi <= 64 else { throw .invalid("autoscale bounds must be 0 ≤ min ≤ max ≤ 64, max ≥ 1") }
        return try updateWorker(id) { w in
            w.info.autoscaleMin = lo
            w.info.autoscaleMax = hi
        }
    }

    /// worker.rate_limit ("0" lifts it).
    mutating func setRateLimit(_ id: String, task: String, rate text: String) throws(FleetCommandError) -> AgentEvent {
        guard let rate = TaskRate(text) else { throw .invalid("'\(text)' is not a rate like 10/m, 2/s or 0") }
        return try updateWorker(id) { w in w.rateLimits[task] = rate.count == 0 ? nil : rate }
    }

    /// worker.time_limit.
    mutating func setTimeLimit(_ id: String, task: String, soft: Int, hard: Int) throws(FleetCommandError) -> AgentEvent {
        guard soft >= 1, soft <= hard else { throw .invalid("time limits must be 1 ≤ soft ≤ hard") }
        return try updateWorker(id) { w in w.timeLimits[task] = TaskTimeLimit(soft: soft, hard: hard) }
    }

    /// Changes worker `id` (not found: an error); the event that makes its owner write it.
    private mutating func updateWorker(_ id: String, _ change: (inout SimWorker) -> Void) throws(FleetCommandError) -> AgentEvent {
        guard var w = workers[id] else { throw .notFound("worker \(id)") }
        change(&w)
        workers[id] = w
        return .workerUpdated(WorkerPatch(id: id), cause: "worker.updated")
    }
}
