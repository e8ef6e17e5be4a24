import AgentOSCore
import AgentOSWorld
import Foundation
import Synchronization
import Testing

@Suite struct SimulatorTests {
    static let start = Date(timeIntervalSince1970: 1_795_729_200)

    static func run(seed: UInt64 = 1, rate: Double = 1, seconds: Double = 600) -> (FleetSimulator, [AgentEvent]) {
        var sim = FleetSimulator(config: SimulatorConfig(seed: seed, rate: rate), start: start)
        let events = sim.advance(to: start.addingTimeInterval(seconds), step: 0.5)
        return (sim, events)
    }

    @Test func sameSeedSameRun() throws {
        let (a, ea) = Self.run(seed: 99)
        let (b, eb) = Self.run(seed: 99)
        #expect(ea == eb)
        #expect(a.snapshot(generation: 1) == b.snapshot(generation: 1))
        let (c, _) = Self.run(seed: 100)
        #expect(c.snapshot(generation: 1) != a.snapshot(generation: 1))
    }

    @Test func fleetLooksAlive() {
        let (sim, events) = Self.run(seconds: 900)
        let s = sim.snapshot(generation: 1)
        #expect(s.workers.count == Pipeline.stages.count * 3)
        #expect(Set(s.queues.map(\.name)) == Set(Pipeline.stages))
        #expect(s.jobs.count(.completed) > 50, "jobs flow through all six stages")
        #expect(s.jobs.count(.running) > 0)
        #expect(s.jobs.failed.allSatisfy { $0.error != nil && $0.traceback?.contains("Traceback") == true })
        #expect(Set(s.jobs.recent.map(\.owner)).count >= 3, "several owners, for the own-jobs-only role")
        #expect(!s.analytics.throughput.isEmpty && !s.analytics.stageLatency.isEmpty)
        #expect(s.analytics.stageLatency.allSatisfy { $0.p95Ms >= $0.p50Ms })
        #expect(s.logs.byLevel["info", default: 0] > 0 && s.logs.byLevel["warning", default: 0] > 0)
        #expect(s.managers.map(\.id) == ["autoscaler", "cleanup", "ingest", "scheduler"])
        #expect(s.config.count >= 8 && s.config.allSatisfy { !$0.description.isEmpty })
        let types = Set(events.map(\.type))
        for t in ["job.created", "job.updated", "queue.updated", "worker.heartbeat", "log.appended", "manager.updated"] {
            #expect(types.contains(t), "emits \(t)")
        }
    }

    /// Counts in the snapshot equal a recount over the simulated jobs.
    @Test func snapshotCountsMatchState() {
        let (sim, _) = Self.run(seconds: 400)
        let s = sim.snapshot(generation: 1)
        for status in JobStatus.allCases {
            #expect(
                s.jobs.count(status) == sim.jobs.values.filter { $0.status == status }.count
                    + Pipeline.stages.reduce(0) { $0 + sim.tally.forgottenCount($1, status) })
        }
        for q in s.queues { #expect(q.pending == sim.pendingCount(q.name)) }
    }

    /// Issue 20 item 4 (D80): a share of the scheduler's jobs waits for an ETA, out of the queue
    /// (so no worker takes it) until it is due, and is queued as soon as it is.
    @Test func scheduledJobsWaitOutOfTheQueueUntilTheirETA() throws {
        var sim = FleetSimulator(config: SimulatorConfig(seed: 3, rate: 4, scheduledShare: SimulatorConfig.fleetScheduledShare), start: Self.start)
        var etas: [String: Date] = [:]
        var released = Set<String>()
        var t = Self.start
        for _ in 0..<1_200 {
            t += 0.25
            _ = sim.advance(to: t, step: 0.25)
            let inQueues = Set(sim.waiting.values.joined().joined())
            for job in sim.jobs.values where job.status == .pending {
                let eta = try #require(job.eta, "pending job \(job.id) without an ETA")
                etas[job.id] = eta
            }
            for (id, eta) in etas {
                guard let job = sim.jobs[id] else { continue }
                if t < eta {
                    #expect(job.status == .pending && !inQueues.contains(id), "\(id) is \(job.status) before its ETA")
                } else if t >= eta.addingTimeInterval(0.5) {
                    // Released: queued, then run (a failed run may be retrying with its own next attempt).
                    #expect(job.status != .pending && (job.eta == nil || job.status == .retrying), "\(id) still waits after its ETA: \(job)")
                    released.insert(id)
                }
            }
        }
        #expect(etas.count >= 5, "a share of the jobs was scheduled: \(etas.count)")
        #expect(released.count >= 3, "scheduled jobs ran once due: \(released.count)")
        #expect(Double(etas.count) < Double(sim.totalJobsCreated) * 0.15, "a small share: \(etas.count) of \(sim.totalJobsCreated)")
    }

    @Test func stormRateProducesThousandsOfEventsPerSecond() {
        var sim = FleetSimulator(config: SimulatorConfig(seed: 5, rate: 100), start: Self.start)
        _ = sim.advance(to: Self.start.addingTimeInterval(20), step: 0.25) // the pipeline fills up
        let events = sim.advance(to: Self.start.addingTimeInterval(30), step: 0.25)
        #expect(events.count / 10 > 1_000, "got \(events.count / 10) events/s")
    }

    @Test func controlCommandsTakeEffect() throws {
        var (sim, _) = Self.run(seconds: 120)
        let waiting = try #require(sim.jobs.values.first { $0.status == .queued })
        _ = try sim.apply(.cancelJob(waiting.id)).get()
        #expect(sim.jobs[waiting.id]?.status == .cancelled)
        #expect(!sim.waiting[waiting.queue, default: []].joined().contains(waiting.id), "removed from its queue")

        let running = try #require(sim.jobs.values.first { $0.status == .running })
        #expect(throws: FleetCommandError.self) { try sim.apply(.cancelJob(running.id)).get() }
        _ = try sim.apply(.killJob(running.id)).get()
        #expect(sim.jobs[running.id]?.status == .cancelled)

        _ = try sim.apply(.pauseQueue("video_downloader")).get()
        let before = Set(sim.jobs.values.filter { $0.stage == "video_downloader" && $0.status == .running }.map(\.id))
        _ = sim.advance(to: sim.now.addingTimeInterval(60))
        let after = Set(sim.jobs.values.filter { $0.stage == "video_downloader" && $0.status == .running }.map(\.id))
        #expect(after.isSubset(of: before), "a paused queue hands out no new work: \(after.subtracting(before)) started")
        #expect(sim.pendingCount("video_downloader") > 0)
        _ = try sim.apply(.resumeQueue("video_downloader")).get()

        let worker = try #require(sim.workers.keys.sorted().first)
        _ = try sim.apply(.scaleWorker(worker, 5)).get()
        #expect(sim.workers[worker]?.info.concurrency == 5)
        _ = try sim.apply(.pauseWorker(worker)).get()
        #expect(sim.workers[worker]?.info.status == .paused)
        #expect(throws: FleetCommandError.self) { try sim.apply(.pauseWorker("nope")).get() }

        _ = try sim.apply(.maintenance(true)).get()
        let created = sim.totalJobsCreated
        _ = sim.advance(to: sim.now.addingTimeInterval(60))
        #expect(sim.totalJobsCreated == created, "no new jobs during maintenance")
    }
}

extension SimulatorTests {
    @Test func queueAndJobCommandsTakeEffect() throws {
        var (sim, _) = Self.run(seconds: 300)
        _ = try sim.apply(.pauseQueue("video_downloader")).get()
        _ = sim.advance(to: sim.now.addingTimeInterval(30))
        let waiting = sim.jobs.values.filter { $0.queue == "video_downloader" && $0.status.isWaiting }.sorted { $0.id < $1.id }
        #expect(waiting.count >= 3)

        // job.set_priority moves the job into its new priority bucket.
        let a = waiting[0]
        _ = try sim.apply(.setJobPriority(a.id, 0)).get()
        #expect(sim.jobs[a.id]?.priority == 0)
        #expect(sim.waiting["video_downloader"]?[0].contains(a.id) == true)
        #expect(throws: FleetCommandError.self) { try sim.apply(.setJobPriority(a.id, 12)).get() }

        // job.move takes it out of one queue and puts it in the other.
        let b = waiting[1]
        _ = try sim.apply(.moveJob(b.id, to: "audio_transcriber")).get()
        #expect(sim.jobs[b.id]?.queue == "audio_transcriber")
        #expect(sim.waiting["audio_transcriber", default: []].joined().contains(b.id))
        #expect(!sim.waiting["video_downloader", default: []].joined().contains(b.id))
        #expect(throws: FleetCommandError.self) { try sim.apply(.moveJob(b.id, to: "no_such_queue")).get() }

        // job.delete forgets a waiting job; a running one is refused.
        let c = waiting[2]
        _ = try sim.apply(.deleteJob(c.id)).get()
        #expect(sim.jobs[c.id] == nil && !sim.waiting["video_downloader", default: []].joined().contains(c.id))
        let running = try #require(sim.jobs.values.first { $0.status == .running })
        #expect(throws: FleetCommandError.self) { try sim.apply(.deleteJob(running.id)).get() }

        // queue.clear deletes every waiting job of the queue and says how many.
        let pending = sim.pendingCount("video_downloader")
        #expect(pending > 0)
        let events = try sim.apply(.clearQueue("video_downloader")).get()
        #expect(sim.pendingCount("video_downloader") == 0)
        // Jobs waiting for an ETA or a retry are not in the queue's list, so they stay (as Celery's purge leaves them).
        #expect(!sim.jobs.values.contains { $0.queue == "video_downloader" && $0.status == .queued })
        #expect(events.filter { if case .jobDeleted = $0 { return true } else { return false } }.count == pending)
        guard case .queueUpdated(let patch, let cause) = events.last else {
            Issue.record("no queue event")
            return
        }
        #expect(cause == "queue.cleared" && patch.removed == pending && patch.pending == 0)
    }

    @Test func failedJobsAreRetriedOrPurgedPerQueue() throws {
        let (start, _) = Self.run(seconds: 900)
        let failedByQueue = Dictionary(grouping: start.jobs.values.filter { $0.status == .failed }, by: \.queue)
        let (queue, failed) = try #require(failedByQueue.max { $0.value.count < $1.value.count })
        #expect(!failed.isEmpty)

        var retried = start
        let errorClass = try #require(failed.first?.errorClass)
        let ofClass = failed.filter { $0.errorClass == errorClass }
        _ = try retried.apply(.retryFailed(queue, errorClass: errorClass, by: "alice")).get()
        for job in ofClass {
            #expect(retried.jobs[job.id]?.status == .queued && retried.jobs[job.id]?.attempts == job.attempts + 1)
            #expect(retried.waiting[queue, default: []].joined().contains(job.id))
        }
        #expect(retried.queuePatch(queue).failed == failed.count - ofClass.count)

        var purged = start
        _ = try purged.apply(.purgeFailed(queue)).get()
        #expect(failed.allSatisfy { purged.jobs[$0.id] == nil })
        #expect(purged.queuePatch(queue).failed == 0)
    }

    @Test func workerForgetAndAlertAck() throws {
        var (sim, _) = Self.run(seconds: 300)
        let id = try #require(sim.workers.keys.sorted().first)
        #expect(throws: FleetCommandError.self) { try sim.apply(.forgetWorker(id)).get() }
        _ = try sim.apply(.shutdownWorker(id)).get()
        _ = try sim.apply(.forgetWorker(id)).get()
        #expect(sim.workers[id] == nil)

        // A paused first stage backs up past 100 jobs: the simulator raises an alert.
        _ = try sim.apply(.pauseQueue("video_downloader")).get()
        _ = sim.advance(to: sim.now.addingTimeInterval(1_800), step: 1)
        let alert = try #require(sim.alerts.first { $0.status == .active })
        _ = try sim.apply(.ackAlert(alert.id, by: "alice")).get()
        let acked = try #require(sim.alerts.first { $0.id == alert.id })
        #expect(acked.status == .acked && acked.ackedBy == "alice")
        #expect(throws: FleetCommandError.self) { try sim.apply(.ackAlert(alert.id, by: "alice")).get() }
    }

    @Test func controlCommandsRoundTripOnTheWire() throws {
        let commands: [FleetCommand] = [
            .retryJob("j1", by: "alice"), .deleteJob("j1"), .setJobPriority("j1", 3), .moveJob("j1", to: "q2"), .clearQueue("q"),
            .retryFailed("q", errorClass: "Timeout", by: "alice"),
            .retryFailed("q", errorClass: nil, by: "alice"), .purgeFailed("q"), .forgetWorker("w1"), .ackAlert(42, by: "alice"),
            .scaleWorker("w1", 4),
            .setAutoscale("w1", min: 1, max: 6), .setTaskRateLimit("w1", task: "agentos.x", rate: "10/m"),
            .setTaskTimeLimit("w1", task: "agentos.x", soft: 5, hard: 9), .enableManager("m"), .disableManager("m"), .restartManager("m"),
            .setManagerSchedule("m", "*/2 * * * *"), .setManagerConcurrency("m", 3), .setLogLevel("worker", .error), .muteLogSource("s"),
            .unmuteLogSource("s"), .ackErrors(source: "s"), .ackErrors(source: nil), .removeLogAlertRule(7),
            .addLogAlertRule(LogAlertRule(id: 7, pattern: "disk (full|gone)", level: .warning, severity: .critical)!),
            .silenceAlert(3, until: Date(timeIntervalSince1970: 1_795_729_200)), .configChanged("k"), .reloadConfig("all"), .resetCounters
        ]
        for command in commands {
            let wire = try JSONEncoder().encode(command)
            #expect(try JSONDecoder().decode(FleetCommand.self, from: wire) == command, "\(String(decoding: wire, as: UTF8.self))")
        }
        // What the live executor publishes for job.move (the target queue under "queue").
        let live = #"{"by":"alice","command":"job.move","queue":"q2","target":"j1"}"#
        #expect(try JSONDecoder().decode(FleetCommand.self, from: Data(live.utf8)) == .moveJob("j1", to: "q2"))
    }
}

@Suite struct AdminDataManagerTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_795_729_200)
    }

    struct CountingSource: SnapshotSource {
        let builds = Counter()
        final class Counter: @unchecked Sendable { var n = 0 }
        func buildSnapshot(generation: Int) throws -> Snapshot {
            builds.n += 1
            return Snapshot(generation: generation, generatedAt: Date(timeIntervalSince1970: 0), source: "live")
        }
    }

    @Test func missRebuildsHitServesInvalidateDrops() throws {
        let clock = Clock()
        let cache = InMemorySnapshotCache { clock.now }
        let source = CountingSource()
        let bus = InMemoryEventBus()
        let manager = AdminDataManager(cache: cache, source: source, bus: bus, options: .init(ttlSeconds: 30))
        let (first, origin1) = try manager.snapshot()
        #expect(origin1 == .rebuilt && first.generation == 1 && source.builds.n == 1)
        let (second, origin2) = try manager.snapshot()
        #expect(origin2 == .cache && second.generation == 1 && source.builds.n == 1)
        clock.now += 31
        #expect(try manager.snapshot().1 == .rebuilt, "expired after the TTL")
        try manager.invalidate()
        #expect(try cache.get() == nil)
        #expect(try bus.currentSeq() == 1, "invalidation is announced on the bus")
        let (third, _) = try manager.snapshot()
        #expect(third.generation == 3 && third.eventSeq == 1)
        #expect(third.system.cache.misses == 3 && third.system.cache.hits == 1)
    }

    /// Reliability check 10: a console whose event stream was down asks for a snapshot at least as
    /// new as the bus. A cached one built before the events it missed would leave the screen behind
    /// the database until the warmer's next build, seconds later.
    @Test func aSnapshotAsNewAsTheBusIsBuiltWhenTheCachedOneIsOlder() throws {
        let cache = InMemorySnapshotCache()
        let source = CountingSource()
        let bus = InMemoryEventBus()
        let manager = AdminDataManager(cache: cache, source: source, bus: bus)
        let (built, _) = try manager.snapshot()
        #expect(built.eventSeq == 0 && source.builds.n == 1)
        // Events flow while the cached snapshot stands (the warmer has not run since).
        for _ in 0..<3 { try bus.publish(.cacheInvalidated) }
        #expect(try manager.snapshot().1 == .cache, "an ordinary reload is served by the cache")
        let (current, origin) = try manager.currentSnapshot()
        #expect(origin == .rebuilt && current.eventSeq == 3 && current.generation == built.generation + 1 && source.builds.n == 2)
        // Now the cache is as new as the bus: it serves the next caller that needs it.
        let (again, againOrigin) = try manager.currentSnapshot()
        #expect(againOrigin == .cache && again.generation == current.generation && source.builds.n == 2)
    }

    @Test func corruptCacheIsReplacedNotServed() throws {
        let cache = InMemorySnapshotCache()
        let manager = AdminDataManager(cache: cache, source: CountingSource(), bus: nil)
        try cache.put(Data("{\"schema\":\"agentos.admin.ssot/4\",\"generation\":\"x\"}".utf8), ttlSeconds: 30)
        let (s, origin) = try manager.snapshot()
        #expect(origin == .rebuilt && s.generation == 1)
        #expect(manager.currentStats.decodeFailures == 1 && manager.currentStats.lastError?.contains("$.generation") == true)
    }

    @Test func twoWarmersWarmOncePerInterval() throws {
        let clock = Clock()
        let cache = InMemorySnapshotCache { clock.now }
        let source = CountingSource()
        let a = AdminDataManager(cache: cache, source: source, bus: nil, options: .init(warmIntervalMillis: 5_000, owner: "a"))
        let b = AdminDataManager(cache: cache, source: source, bus: nil, options: .init(warmIntervalMillis: 5_000, owner: "b"))
        var warmedBy: [String] = []
        for _ in 0..<12 {
            if try a.warmIfLeader() { warmedBy.append("a") }
            if try b.warmIfLeader() { warmedBy.append("b") }
            clock.now += 5
        }
        #expect(warmedBy == Array(repeating: "a", count: 12), "one warm per interval, by the leader")
        // The leader stops (its last warm was one interval ago): its lock lives three intervals
        // from that warm, then the other console takes over.
        var takeover = 0
        for round in 1...4 {
            if try b.warmIfLeader() {
                takeover = round
                break
            }
            clock.now += 5
        }
        #expect(takeover == 3)
        #expect(source.builds.n == 13)
    }

    /// A source that takes a while and counts its builds across threads.
    final class SlowSource: SnapshotSource {
        let builds = Mutex(0)
        func buildSnapshot(generation: Int) throws -> Snapshot {
            builds.withLock { $0 += 1 }
            usleep(50_000)
            return Snapshot(generation: generation, generatedAt: Date(timeIntervalSince1970: 0), source: "live")
        }
    }

    @Test func aMissOnManyConsolesAtOnceRebuildsOnce() throws {
        let cache = InMemorySnapshotCache()
        let source = SlowSource()
        let consoles = (0..<20).map { AdminDataManager(cache: cache, source: source, bus: nil, options: .init(owner: "console-\($0)")) }
        let origins = Mutex<[AdminDataManager.Origin]>([])
        // Twenty threads (not the two of a 2-core pool), released together, each asking while the build runs.
        let group = DispatchGroup()
        let gate = DispatchSemaphore(value: 0)
        for console in consoles {
            group.enter()
            Thread {
                gate.wait()
                do {
                    let (snapshot, origin) = try console.snapshot()
                    #expect(snapshot.generation == 1)
                    origins.withLock { $0.append(origin) }
                } catch {
                    Issue.record("a console got no snapshot: \(error)")
                }
                group.leave()
            }.start()
        }
        for _ in consoles { gate.signal() }
        group.wait()
        #expect(source.builds.withLock { $0 } == 1, "one rebuild for twenty consoles")
        let all = origins.withLock { $0 }
        #expect(all.count == 20 && all.filter { $0 == .rebuilt }.count == 1)
        #expect(consoles.map(\.currentStats.waitedForRebuild).reduce(0, +) >= 1, "the others waited for it (or came after it)")
        // The lock is released: the next miss rebuilds at once.
        try cache.invalidate()
        #expect(try consoles[7].snapshot().1 == .rebuilt)
    }

    @Test func aWaiterBuildsItselfWhenTheRebuilderVanishes() throws {
        let cache = InMemorySnapshotCache()
        #expect(try cache.claimRebuild(owner: "gone", ttlMillis: 60_000), "a console took the lock and died")
        let source = CountingSource()
        let manager = AdminDataManager(cache: cache, source: source, bus: nil, options: .init(owner: "me", rebuildWaitMillis: 30))
        let (s, origin) = try manager.snapshot()
        #expect(origin == .rebuilt && s.generation == 1 && source.builds.n == 1, "after the wait it builds the snapshot itself")
        #expect(try !cache.claimRebuild(owner: "other", ttlMillis: 10), "the dead console's lock is not released by another")
    }

    @Test func embeddedWorldServesALivingSnapshot() throws {
        let world = EmbeddedWorld(config: SimulatorConfig(seed: 3), historySeconds: 300, now: SimulatorTests.start)
        let stream = world.bus.subscribe()
        let (s, _) = try world.dataManager.snapshot()
        #expect(s.source == "embedded" && s.jobs.total > 0 && s.eventSeq == 0)
        let published = world.advance(to: SimulatorTests.start.addingTimeInterval(5))
        #expect(published > 0)
        #expect(try world.bus.currentSeq() == Int64(published))
        _ = stream
    }
}
