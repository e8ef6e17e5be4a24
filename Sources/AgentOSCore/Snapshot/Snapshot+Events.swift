import Foundation

extension Snapshot {
    /// How many jobs the recent window keeps, newest first.
    public static let recentJobLimit = 500
    public static let failedJobLimit = 200
    public static let recentLogLimit = 1_000
    /// The newest bookmarks a snapshot lists.
    public static let recentBookmarkLimit = 50
    /// Lists and maps that events grow (new queues, workers, managers, config keys, alerts, log
    /// sources, stages) stop growing here until the next snapshot replaces them (D64): a flood
    /// of events naming ever new things cannot exhaust memory; what is known keeps updating.
    public static let eventGrowthLimit = 5_000

    /// Applies one event to the snapshot, so a console stays current between snapshot loads.
    /// Returns false for events that change nothing here (unknown types, a session not listed).
    @discardableResult
    public mutating func apply(_ event: AgentEvent, at ts: Date) -> Bool {
        switch event {
        case .jobCreated(let p):
            applyJob(p, at: ts, creates: true)
        case .jobUpdated(let p), .jobCancelled(let p), .jobRetried(let p):
            applyJob(p, at: ts, creates: false)
        case .jobDeleted(let id):
            if let i = jobs.recent.firstIndex(where: { $0.id == id }) {
                let old = jobs.recent.remove(at: i)
                count(old, -1)
                jobs.total = max(0, jobs.total - 1)
            }
            jobs.failed.removeAll { $0.id == id }
        case .queueUpdated(let p, _):
            if let i = queues.firstIndex(where: { $0.name == p.name }) {
                p.apply(to: &queues[i])
            } else if queues.count < Self.eventGrowthLimit {
                var q = QueueInfo(name: p.name)
                p.apply(to: &q)
                queues.append(q)
            }
        case .workerUpdated(let p, let cause):
            if let i = workers.firstIndex(where: { $0.id == p.id }) {
                p.apply(to: &workers[i])
                if cause == "worker.offline" { workers[i].status = .offline }
            } else if workers.count < Self.eventGrowthLimit, let status = p.status ?? (cause == "worker.offline" ? .offline : nil) {
                var w = WorkerInfo(id: p.id, stage: p.stage ?? "", status: status)
                p.apply(to: &w)
                workers.append(w)
            }
        case .managerUpdated(let m):
            if let i = managers.firstIndex(where: { $0.id == m.id }) {
                managers[i] = m
            } else if managers.count < Self.eventGrowthLimit {
                managers.append(m)
            }
        case .logAppended(let batch):
            // A line the snapshot already has (an event applied again after a reload) is not
            // added twice; ids only grow, so the set is built only for an id at or below the newest.
            let newest = logs.recent.last?.id ?? Int.min
            let known = batch.contains { $0.id <= newest } ? Set(logs.recent.map(\.id)) : []
            let lines = batch.filter { !known.contains($0.id) }
            guard !lines.isEmpty else { return false }
            logs.recent.append(contentsOf: lines)
            if logs.recent.count > Self.recentLogLimit { logs.recent.removeFirst(logs.recent.count - Self.recentLogLimit) }
            for line in lines {
                logs.byLevel[line.level.rawValue, default: 0] += 1
                if logs.bySource[line.source] != nil || logs.bySource.count < Self.eventGrowthLimit { logs.bySource[line.source, default: 0] += 1 }
            }
        case .configChanged(let entry):
            if let i = config.firstIndex(where: { $0.key == entry.key }) {
                config[i] = entry
            } else if config.count < Self.eventGrowthLimit {
                config.append(entry)
            }
        case .alertRaised(let alert):
            if let i = alerts.firstIndex(where: { $0.id == alert.id }) {
                alerts[i] = alert
            } else {
                alerts.insert(alert, at: 0)
                if alerts.count > Self.eventGrowthLimit { alerts.removeLast(alerts.count - Self.eventGrowthLimit) }
            }
        case .alertUpdated(let p):
            guard let i = alerts.firstIndex(where: { $0.id == p.id }) else { return false }
            if let s = p.status { alerts[i].status = s }
            if let by = p.ackedBy { alerts[i].ackedBy = by }
            if let until = p.silencedUntil { alerts[i].silencedUntil = until }
        case .maintenance(let m):
            system.maintenance = m
        case .broadcast(let b):
            system.broadcast = b
        case .actionExecuted(let notice):
            audit.insert(
                AuditEntry(
                    seq: (audit.first?.seq ?? 0) + 1, ts: ts, user: notice.user, action: notice.action,
                    phase: "outcome", outcome: notice.outcome, target: notice.target), at: 0)
            if audit.count > 200 { audit.removeLast(audit.count - 200) }
        case .sessionStarted(let session):
            system.sessions.removeAll { $0.id == session.id }
            system.sessions.append(session)
            system.sessions.sort { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
        case .sessionEnded(let id):
            return removeSession(id)
        case .sessionKick(let kick):
            return removeSession(kick.sessionID)
        case .cacheInvalidated, .unknown:
            return false
        }
        return true
    }

    private mutating func removeSession(_ id: String) -> Bool {
        guard system.sessions.contains(where: { $0.id == id }) else { return false }
        system.sessions.removeAll { $0.id == id }
        return true
    }

    /// A change to a job outside the recent window (a storm pushed it out) updates its failed-list
    /// row if it has one and is otherwise left to the next snapshot: a row built from a partial
    /// patch would show a job without its name or owner, and count it twice.
    private mutating func applyJob(_ p: JobPatch, at ts: Date, creates: Bool) {
        if let i = jobs.recent.firstIndex(where: { $0.id == p.id }) {
            var job = jobs.recent[i]
            let before = job
            p.apply(to: &job)
            if p.updatedAt == nil { job.updatedAt = ts }
            if before.status != job.status || before.stage != job.stage {
                count(before, -1)
                count(job, +1)
            }
            jobs.recent[i] = job
            trackFailed(job)
        } else if !creates {
            guard let i = jobs.failed.firstIndex(where: { $0.id == p.id }) else { return }
            var job = jobs.failed[i]
            p.apply(to: &job)
            trackFailed(job)
        } else if let job = p.makeJob(now: ts) {
            jobs.recent.insert(job, at: 0)
            count(job, +1)
            jobs.total += 1
            if jobs.recent.count > Self.recentJobLimit { jobs.recent.removeLast(jobs.recent.count - Self.recentJobLimit) }
            trackFailed(job)
        }
    }

    private mutating func trackFailed(_ job: Job) {
        if job.status == .failed {
            if let i = jobs.failed.firstIndex(where: { $0.id == job.id }) { jobs.failed[i] = job } else { jobs.failed.insert(job, at: 0) }
            if jobs.failed.count > Self.failedJobLimit { jobs.failed.removeLast(jobs.failed.count - Self.failedJobLimit) }
        } else {
            jobs.failed.removeAll { $0.id == job.id }
        }
    }

    private mutating func count(_ job: Job, _ delta: Int) {
        let status = job.status.rawValue
        jobs.byStatus[status] = max(0, (jobs.byStatus[status] ?? 0) + delta)
        guard jobs.byStage[job.stage] != nil || jobs.byStage.count < Self.eventGrowthLimit else { return }
        jobs.byStage[job.stage, default: [:]][status] = max(0, (jobs.byStage[job.stage]?[status] ?? 0) + delta)
    }
}

/// Orders the event stream against the snapshot: applies events in `seq` order, drops those
/// already in the snapshot, and asks for a reload when a `seq` is missing.
public struct EventSequencer: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case apply
        /// Already included (seq ≤ the last applied or the snapshot's).
        case stale
        /// A gap: `expected` was never seen; reload the snapshot.
        case gap(expected: Int64, got: Int64)
    }

    public private(set) var lastSeq: Int64?
    public private(set) var gaps = 0
    public private(set) var stale = 0

    public init(lastSeq: Int64? = nil) { self.lastSeq = lastSeq }

    /// After a snapshot (re)load: events up to `snapshotSeq` are already in it.
    public mutating func reset(to snapshotSeq: Int64) { lastSeq = snapshotSeq }

    /// After a reconnect: anything could have been missed.
    public mutating func forget() { lastSeq = nil }

    public mutating func admit(_ seq: Int64) -> Decision {
        guard let last = lastSeq else {
            lastSeq = seq
            return .apply
        }
        if seq <= last {
            stale += 1
            return .stale
        }
        if seq != last + 1 {
            gaps += 1
            lastSeq = seq
            return .gap(expected: last + 1, got: seq)
        }
        lastSeq = seq
        return .apply
    }
}

/// Holds the last good snapshot: a document that does not decode (or is older than the one held)
/// never replaces it; the error is kept to show the operator.
public struct SnapshotHolder: Sendable {
    public private(set) var current: Snapshot?
    public private(set) var lastError: DecodeFailure?
    public private(set) var rejected = 0

    public init(_ snapshot: Snapshot? = nil) { current = snapshot }

    /// Decodes and adopts `data`; returns the failure when it was rejected.
    @discardableResult
    public mutating func accept(_ data: Data) -> DecodeFailure? {
        do throws(DecodeFailure) {
            let snapshot = try Snapshot.decode(data)
            return accept(snapshot)
        } catch {
            rejected += 1
            lastError = error
            return error
        }
    }

    /// When the held snapshot was adopted (the generation bound grows with the time since).
    public private(set) var adoptedAt: Date?
    /// Older generations refused in a row (D66: the third in a row is adopted, so a Redis restart,
    /// which starts the counter again, does not pin the console forever).
    public private(set) var olderInARow = 0
    /// Snapshots refused for a generation beyond what a warmer could have produced (D66).
    public private(set) var jumpsRefused = 0

    /// Adopts `snapshot` unless its generation is older than the one held (refused
    /// `GenerationBound.olderRefusals` times in a row, then adopted) or further ahead than a warmer
    /// could have counted since the held one was adopted at `now` (refused; D66).
    @discardableResult
    public mutating func accept(_ snapshot: Snapshot, now: Date = Date()) -> DecodeFailure? {
        if let current, snapshot.source == current.source {
            let limit = GenerationBound.limit(held: current.generation, elapsedSeconds: adoptedAt.map { now.timeIntervalSince($0) } ?? 0)
            if snapshot.generation > limit {
                return refuse(
                    "generation \(snapshot.generation) jumps beyond what a warmer could have produced since \(current.generation) (at most \(limit)): refused"
                ) { $0.jumpsRefused += 1 }
            }
            if snapshot.generation < current.generation {
                if olderInARow < GenerationBound.olderRefusals {
                    return refuse("generation \(snapshot.generation) is older than the \(current.generation) on screen") { $0.olderInARow += 1 }
                }
            }
        }
        olderInARow = 0
        current = snapshot
        adoptedAt = now
        lastError = nil
        return nil
    }

    private mutating func refuse(_ problem: String, _ count: (inout SnapshotHolder) -> Void) -> DecodeFailure {
        rejected += 1
        count(&self)
        let failure = DecodeFailure(what: "snapshot", path: "$.generation", problem: problem)
        lastError = failure
        return failure
    }

    public mutating func apply(_ event: AgentEvent, at ts: Date) {
        current?.apply(event, at: ts)
    }
}
