import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

extension WorldHarness {
    /// Moves the fleet forward a quarter second at a time until `condition` holds, for at most
    /// `limit` seconds of its time; true when it held.
    func advance(upTo limit: Double, until condition: () -> Bool) -> Bool {
        var waited = 0.0
        while !condition() {
            guard waited < limit else { return false }
            advance(0.25)
            waited += 0.25
        }
        return true
    }

    /// The workers of `stage`, sorted.
    func workers(of stage: String) -> [String] {
        read { sim in sim.workers.values.filter { $0.info.stage == stage }.map(\.info.id).sorted() }
    }

    func worker(_ id: String) -> FleetSimulator.SimWorker? { read { $0.workers[id] } }

    func job(_ id: String) -> Job? { read { $0.jobs[id] } }

    /// Waiting jobs of `queue` in the order the broker hands them out.
    func waiting(_ queue: String) -> [String] { read { ($0.waiting[queue] ?? []).flatMap { $0 } } }

    /// Failed jobs of `queue`, sorted.
    func failed(_ queue: String) -> [String] {
        read { sim in sim.jobs.values.filter { $0.queue == queue && $0.status == .failed }.map(\.id).sorted() }
    }
}

/// The embedded default's job and queue actions, seen in what the fleet does next: the first stage's
/// queue is held (paused) where a test needs jobs to stay waiting, and work is counted by the
/// `started` entries the workers write into the jobs' timelines.
@Suite("Embedded: job and queue actions change what the workers take")
struct WorldJobActionTests {
    let queue = Pipeline.stages[0]

    /// Holds the first stage until at least `n` jobs wait in its queue.
    func hold(_ h: WorldHarness, atLeast n: Int) throws {
        h.expect("queue.pause", ["queue": .string(queue)])
        try #require(h.advance(upTo: 60) { h.waiting(queue).count >= n }, "\(n) jobs waiting in \(queue)")
    }

    /// A queue with failed jobs (the fleet fails some of its work: the simulator's failure rate).
    func queueWithFailures(_ h: WorldHarness, atLeast n: Int) throws -> String {
        var found: String?
        let held = h.advance(upTo: 300) {
            found = Pipeline.stages.first { h.failed($0).count >= n }
            return found != nil
        }
        try #require(held, "a queue with \(n) failed jobs")
        return try #require(found)
    }

    @Test func retriedJobIsRunAgain() throws {
        let h = WorldHarness()
        let q = try queueWithFailures(h, atLeast: 1)
        let id = try #require(h.failed(q).first)
        let mark = h.clock
        h.expect("job.retry", ["id": .string(id)])
        #expect(h.job(id)?.status == .queued && h.job(id)?.error == nil, "back in its queue, the error cleared")
        #expect(h.waiting(q).contains(id))
        #expect(h.advance(upTo: 120) { !h.events("started", since: mark).filter { $0.jobID == id }.isEmpty }, "a worker took it again")
        #expect(h.run("job.retry", ["id": .string(id)]).succeeded == false, "a job that is not failed or cancelled is not retried")
    }

    @Test func priorityZeroOvertakesTheJobsAheadOfIt() throws {
        let h = WorldHarness()
        try hold(h, atLeast: 6)
        // One slot on one worker: the queue's order is the order work starts in.
        h.expect("manager.stop", ["id": .string("autoscaler")])
        let workers = h.workers(of: queue)
        let kept = try #require(workers.first)
        for id in workers.dropFirst() { h.expect("worker.pause", ["id": .string(id)]) }
        h.expect("worker.scale", ["id": .string(kept), "concurrency": .int(1)])
        let order = h.waiting(queue)
        let last = try #require(order.last { (h.job($0)?.priority ?? 0) > 0 }, "a job of a priority above 0 waits")
        let ahead = Set(order.prefix { $0 != last }.filter { (h.job($0)?.priority ?? 0) > 0 })
        try #require(!ahead.isEmpty, "jobs of a lower priority wait ahead of it")
        h.expect("job.set_priority", ["id": .string(last), "priority": .int(0)])
        #expect(h.job(last)?.priority == 0)

        let mark = h.clock
        h.expect("queue.resume", ["queue": .string(queue)])
        let startedLast = h.advance(upTo: 180) { !h.events("started", since: mark).filter { $0.jobID == last }.isEmpty }
        #expect(startedLast, "the job started")
        let before = h.events("started", since: mark).filter { ahead.contains($0.jobID) }
        #expect(before.isEmpty, "no job of a lower priority started before it: \(before.map(\.jobID))")
    }

    @Test func movedJobIsTakenByTheOtherQueuesWorkers() throws {
        let h = WorldHarness()
        try hold(h, atLeast: 2)
        let to = Pipeline.stages[1]
        let id = try #require(h.waiting(queue).last)
        let mark = h.clock
        h.expect("job.move", ["id": .string(id), "to": .string(to)])
        #expect(h.job(id)?.queue == to && !h.waiting(queue).contains(id) && h.waiting(to).contains(id))
        let taken = h.advance(upTo: 120) { !h.events("started", since: mark).filter { $0.jobID == id }.isEmpty }
        try #require(taken, "the job started while its old queue stayed paused")
        let by = try #require(h.events("started", since: mark).first { $0.jobID == id }?.workerID)
        #expect(h.worker(by)?.info.queues.contains(to) == true, "taken by \(by), a consumer of \(to)")
    }

    @Test func retryFailedReEnqueuesOnlyTheClassAskedAndTheWorkersRunThem() throws {
        let h = WorldHarness()
        let q = try queueWithFailures(h, atLeast: 2)
        let failed = h.failed(q)
        let classes = Set(failed.compactMap { h.job($0)?.errorClass })
        let chosen = try #require(classes.min())
        let ofClass = failed.filter { h.job($0)?.errorClass == chosen }
        let others = failed.filter { h.job($0)?.errorClass != chosen }
        let mark = h.clock
        let report = h.run("queue.retry_failed", ["queue": .string(q), "error_class": .string(chosen)])
        #expect(report.succeeded && report.result?.affected == ofClass.count, "\(report.message)")
        #expect(ofClass.allSatisfy { h.job($0)?.status == .queued }, "re-enqueued")
        #expect(others.allSatisfy { h.job($0)?.status == .failed }, "the other classes stay failed")
        let ran = h.advance(upTo: 180) {
            let started = Set(h.events("started", since: mark).map(\.jobID))
            return ofClass.allSatisfy(started.contains)
        }
        #expect(ran, "every re-enqueued job was started again")
    }

    @Test func purgeFailedDeletesTheFailedJobsAndNothingElse() throws {
        let h = WorldHarness()
        let q = try queueWithFailures(h, atLeast: 1)
        let failed = h.failed(q)
        let waiting = h.waiting(q)
        let report = h.run("queue.purge_failed", ["queue": .string(q)])
        #expect(report.succeeded && report.result?.affected == failed.count, "\(report.message)")
        #expect(failed.allSatisfy { h.job($0) == nil }, "the failed jobs are gone")
        #expect(h.waiting(q) == waiting && waiting.allSatisfy { h.job($0)?.status.isWaiting == true }, "the waiting jobs are untouched")
        #expect(h.read { $0.queuePatch(q).failed } == 0, "the queue's failed figure says so")
        let mark = h.clock
        h.advance(20)
        #expect(h.events("started", since: mark).allSatisfy { !failed.contains($0.jobID) }, "no purged job ran again")
        #expect(failed.allSatisfy { h.job($0) == nil })
    }

    /// Starts per whole minute of the fleet's time, from the jobs' timelines.
    func startsPerMinute(_ h: WorldHarness, on workers: Set<String>, from: Date, to: Date) -> [Int: Int] {
        var perMinute: [Int: Int] = [:]
        for e in h.events("started", since: from) where e.ts <= to && workers.contains(e.workerID ?? "") {
            perMinute[Int(e.ts.timeIntervalSince1970 / 60), default: 0] += 1
        }
        return perMinute
    }

    @Test func queueRateLimitCapsTheStartsPerMinuteUntilRemoved() throws {
        let h = WorldHarness()
        try hold(h, atLeast: 20)
        h.expect("queue.set_rate_limit", ["queue": .string(queue), "limit": .int(3)])
        #expect(h.read { $0.queues[queue]?.rateLimit } == 3)
        h.expect("queue.resume", ["queue": .string(queue)])
        let workers = Set(h.workers(of: queue))
        let mark = h.clock
        h.advance(150)
        let limited = startsPerMinute(h, on: workers, from: mark, to: h.clock)
        #expect(!limited.isEmpty && limited.values.allSatisfy { $0 <= 3 }, "at most 3 starts a minute: \(limited)")
        #expect(h.waiting(queue).count > 3, "with work waiting all along")

        h.expect("queue.set_rate_limit", ["queue": .string(queue), "limit": .int(0)])
        #expect(h.read { $0.queues[queue]?.rateLimit } == nil)
        let free = h.clock
        h.advance(60)
        let unlimited = startsPerMinute(h, on: workers, from: free, to: h.clock)
        #expect(unlimited.values.reduce(0, +) > 6, "the limit removed, the backlog is taken faster: \(unlimited)")
    }
}

/// Worker actions on the embedded default, seen in what the worker takes and how it comes back.
@Suite("Embedded: worker actions change what the worker does")
struct WorldWorkerActionTests {
    func started(_ h: WorldHarness, on id: String, since mark: Date) -> Int { h.events("started", since: mark, worker: id).count }

    @Test func restartedWorkerRequeuesItsWorkAndComesBackAsANewProcess() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        try #require(h.advance(upTo: 30) { !(h.worker(id)?.running.isEmpty ?? true) }, "the worker has work in flight")
        let inFlight = Array(try #require(h.worker(id)).running.keys)
        let pid = h.worker(id)?.info.pid
        h.expect("worker.restart", ["id": .string(id)])
        #expect(h.worker(id)?.info.status == .restarting && h.worker(id)?.running.isEmpty == true)
        #expect(inFlight.allSatisfy { h.job($0)?.status != .running }, "its in-flight jobs went back to waiting")
        let mark = h.clock
        #expect(h.advance(upTo: 10) { h.worker(id)?.info.status == .online }, "online again")
        #expect(h.worker(id)?.info.pid != pid || pid == nil, "as a new process")
        #expect(h.advance(upTo: 30) { started(h, on: id, since: mark) > 0 }, "and it takes work")
    }

    @Test func startedWorkerComesBackFromStoppedAndTakesWork() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        h.expect("worker.shutdown", ["id": .string(id)])
        let stopped = h.clock
        h.advance(10)
        #expect(started(h, on: id, since: stopped) == 0 && h.worker(id)?.info.status == .stopped, "a stopped worker stays stopped")
        h.expect("worker.start", ["id": .string(id)])
        #expect(h.worker(id)?.info.status == .starting)
        let mark = h.clock
        #expect(h.advance(upTo: 10) { h.worker(id)?.info.status == .online })
        #expect(h.advance(upTo: 30) { started(h, on: id, since: mark) > 0 }, "it takes work again")
    }

    @Test func resumedWorkerTakesWorkAgainAfterAPause() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        h.expect("worker.pause", ["id": .string(id)])
        let paused = h.clock
        h.advance(20)
        #expect(started(h, on: id, since: paused) == 0, "paused, it takes nothing")
        let siblings = h.workers(of: Pipeline.stages[0]).filter { $0 != id }
        #expect(siblings.contains { started(h, on: $0, since: paused) > 0 }, "while its siblings do")
        h.expect("worker.resume", ["id": .string(id)])
        #expect(h.worker(id)?.info.status == .online)
        let mark = h.clock
        #expect(h.advance(upTo: 30) { started(h, on: id, since: mark) > 0 }, "resumed, it takes work")
    }

    @Test func drainedWorkerFinishesItsJobsTakesNothingNewThenStops() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        try #require(h.advance(upTo: 30) { !(h.worker(id)?.running.isEmpty ?? true) }, "the worker has work in flight")
        let inFlight = Array(try #require(h.worker(id)).running.keys)
        let mark = h.clock
        h.expect("worker.drain", ["id": .string(id)])
        #expect(h.worker(id)?.info.status == .draining)
        #expect(h.advance(upTo: 120) { h.worker(id)?.info.status == .stopped }, "stopped once its work is done")
        #expect(started(h, on: id, since: mark) == 0, "it took nothing new while draining")
        // Unlike a shutdown, nothing was handed back: each job in flight ended its stage here.
        let ended = Set(["stage_completed", "completed", "failed", "retrying"].flatMap { h.events($0, since: mark) }.map(\.jobID))
        #expect(inFlight.allSatisfy(ended.contains), "its jobs ran to their end: \(inFlight) ended \(ended)")
        #expect(h.events("requeued", since: mark).filter { inFlight.contains($0.jobID) }.isEmpty, "none was requeued")
        let stopped = h.clock
        h.advance(10)
        #expect(h.worker(id)?.info.status == .stopped && started(h, on: id, since: stopped) == 0, "and it stays stopped")
    }

    /// With the autoscaler stopped, a pool size set by an action stays what the action made it.
    func fixedPools(_ h: WorldHarness) -> String {
        h.expect("manager.stop", ["id": .string("autoscaler")])
        h.expect("queue.pause", ["queue": .string(Pipeline.stages[0])])
        return h.firstStageWorker()
    }

    /// Holds the first stage until `n` jobs wait, then lets the workers take them.
    func backlog(_ h: WorldHarness, _ n: Int) throws {
        let queue = Pipeline.stages[0]
        try #require(h.advance(upTo: 120) { h.waiting(queue).count >= n }, "\(n) jobs waiting")
        h.expect("queue.resume", ["queue": .string(queue)])
    }

    @Test func scaledPoolIsHowManyJobsTheWorkerRunsAtOnce() throws {
        let h = WorldHarness()
        let id = fixedPools(h)
        h.expect("worker.scale", ["id": .string(id), "concurrency": .int(1)])
        try backlog(h, 30)
        // What was in flight finishes first and is not replaced; from then on one slot.
        #expect(h.advance(upTo: 120) { h.worker(id)?.running.count ?? 0 <= 1 }, "down to one job")
        for _ in 0..<40 {
            h.advance(0.25)
            #expect(h.worker(id)?.running.count ?? 0 <= 1, "one job at a time")
        }
        h.expect("worker.scale", ["id": .string(id), "concurrency": .int(6)])
        #expect(h.worker(id)?.info.concurrency == 6)
        #expect(h.advance(upTo: 5) { h.worker(id)?.running.count == 6 }, "six slots filled from the backlog")
    }

    @Test func poolGrowAndShrinkChangeTheSlotsTheWorkerFills() throws {
        let h = WorldHarness()
        let id = fixedPools(h)
        let size = try #require(h.worker(id)?.info.concurrency)
        h.expect("worker.pool_grow", ["id": .string(id), "n": .int(3)])
        #expect(h.worker(id)?.info.concurrency == size + 3)
        try backlog(h, 40)
        #expect(h.advance(upTo: 5) { h.worker(id)?.running.count == size + 3 }, "the grown pool is filled")
        h.expect("worker.pool_shrink", ["id": .string(id), "n": .int(size + 2)])
        #expect(h.worker(id)?.info.concurrency == 1)
        #expect(h.advance(upTo: 120) { h.worker(id)?.running.count ?? 0 <= 1 }, "in-flight work ends and is not replaced")
        h.advance(10)
        #expect(h.worker(id)?.running.count ?? 0 <= 1, "one slot from then on")
    }

    @Test func forgottenWorkerLeavesTheRosterForGood() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        #expect(h.run("worker.forget", ["id": .string(id)]).succeeded == false, "an online worker is not forgotten")
        #expect(h.worker(id) != nil)
        h.expect("worker.shutdown", ["id": .string(id)])
        h.expect("worker.forget", ["id": .string(id)])
        #expect(h.worker(id) == nil)
        let mark = h.clock
        h.advance(30)
        #expect(h.worker(id) == nil && started(h, on: id, since: mark) == 0, "it does not come back")
    }
}

/// Manager actions on the embedded default, seen in whether the manager runs at its due time.
@Suite("Embedded: managers stop, start, pause and resume")
struct WorldManagerActionTests {
    func runs(_ h: WorldHarness, _ id: String) -> Int { h.read { $0.managers[id]?.runs ?? -1 } }

    @Test func stoppedManagerSkipsItsDueTimesUntilStarted() throws {
        let h = WorldHarness()
        h.expect("manager.stop", ["id": .string("ingest")])
        #expect(h.read { $0.managers["ingest"]?.status } == .stopped)
        let before = runs(h, "ingest")
        // Ingest is due every 10 s of the fleet's time at rate 3.
        h.advance(35)
        #expect(runs(h, "ingest") == before, "a stopped manager does not run")
        h.expect("manager.start", ["id": .string("ingest")])
        #expect(h.advance(upTo: 15) { runs(h, "ingest") > before }, "started, it runs at its next due time")
    }

    @Test func pausedManagerSkipsItsDueTimesUntilResumed() throws {
        let h = WorldHarness()
        h.expect("manager.pause", ["id": .string("ingest")])
        let before = runs(h, "ingest")
        h.advance(35)
        #expect(runs(h, "ingest") == before, "a paused manager does not run")
        h.expect("manager.resume", ["id": .string("ingest")])
        #expect(h.read { $0.managers["ingest"]?.status } == .running)
        #expect(h.advance(upTo: 15) { runs(h, "ingest") > before }, "resumed, it runs at its next due time")
    }
}

/// Publishes the events but leaves the cache alone, so only the action itself can empty it.
struct EventsOnlyCascade: ActionCascade {
    let bus: EventBus
    func invalidateCache() throws {}
    func publish(_ events: [AgentEvent]) throws { try bus.publish(batch: events) }
}

@Suite("Embedded: cache_invalidate empties the admin cache")
struct WorldCacheActionTests {
    @Test func invalidatedCacheIsBuiltAfreshOnTheNextRead() throws {
        let h = WorldHarness(cascade: EventsOnlyCascade(bus: InMemoryEventBus()))
        _ = try h.world.dataManager.rebuild()
        #expect(try h.world.cache.get() != nil, "a built snapshot is cached")
        h.expect("queue.pause", ["queue": .string(Pipeline.stages[0])])
        #expect(try h.world.cache.get() != nil, "another action leaves it (this dispatcher does not invalidate)")
        h.expect("system.cache_invalidate")
        #expect(try h.world.cache.get() == nil, "the cached snapshot is gone: the next read builds afresh")
    }
}

/// Issue 19 item 6: "config history empty for an entry at version 2 changed by alice". The seeded
/// entries have every version their number counts, and config.rollback reaches the first.
@Suite("Embedded: the seeded configuration has its past")
struct WorldConfigHistoryTests {
    @Test func everyVersionAnEntryCountsIsInItsHistory() throws {
        let h = WorldHarness()
        for entry in h.read({ $0.config_.values.sorted { $0.key < $1.key } }) {
            let history = h.read { $0.configHistory[entry.key] ?? [] }
            #expect(history.map(\.version) == Array(1...entry.version), "\(entry.key) at version \(entry.version)")
            #expect(history.last?.changedBy == entry.updatedBy && history.last?.newValue == ConfigCheck.json(entry.value), "\(entry.key)")
        }
        let face = h.read { $0.configHistory["detector.face_threshold"] ?? [] }
        #expect(face.map(\.changedBy) == ["system", "alice"] && face[0].newValue == "0.6")
        h.expect("config.rollback", ["key": .string("detector.face_threshold"), "version": .int(1)])
        #expect(h.read { $0.config_["detector.face_threshold"]?.value } == .double(0.6), "back to version 1's value")
        #expect(h.read { $0.configHistory["detector.face_threshold"]?.map(\.version) } == [1, 2, 3], "the rollback is a version of its own")
    }
}
