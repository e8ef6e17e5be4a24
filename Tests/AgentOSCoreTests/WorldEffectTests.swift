import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

/// The embedded default as the console runs it: a real ActionDispatcher over the embedded world
/// (in-memory stores), and the world's clock moved by the test. Each test runs an action and then
/// watches what the fleet does, not only what the action reports.
final class WorldHarness: @unchecked Sendable {
    static let start = Date(timeIntervalSince1970: 1_795_729_200)
    let world: EmbeddedWorld
    let dispatcher: ActionDispatcher
    private(set) var clock = WorldHarness.start
    let actor = Actor(user: "alice", host: "test", sessionID: "test-session")

    /// The pipeline's stores and a data directory of the test's own, attached as the console attaches them.
    let runtime: EmbeddedRuntime
    let audit = InMemoryAuditLog()

    /// `cascade` replaces the dispatcher's cache invalidation and events after a success;
    /// `auditOver` wraps the audit trail (the console wraps it in `OperatorActionLog`).
    init(
        seed: UInt64 = 5, rate: Double = 3, historySeconds: Double = 120, historyStep: Double = 2, jobsPerMinute: Double = 40,
        cascade: (any ActionCascade)? = nil, auditOver: ((EmbeddedWorld, any AuditLog) -> any AuditLog)? = nil
    ) {
        world = EmbeddedWorld(
            config: SimulatorConfig(seed: seed, rate: rate, jobsPerMinute: jobsPerMinute), historySeconds: historySeconds, historyStep: historyStep,
            now: Self.start)
        runtime = EmbeddedRuntime(dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("agentos-world-\(UUID().uuidString)"))
        world.attach(runtime)
        let trail = auditOver?(world, audit) ?? audit
        dispatcher = ActionDispatcher(
            .init(
                audit: trail, permissions: StaticPermissions(["alice": Grant(role: .admin)]),
                rateLimits: runtime.rateLimits, idempotency: runtime.idempotency, breakers: runtime.breakers,
                executor: EmbeddedActionExecutor(world: world, audit: trail),
                cascade: cascade ?? CacheAndBusCascade(cache: world.cache, bus: world.bus),
                scrubber: PIIScrubber(key: Array(repeating: 7, count: 32))))
    }

    deinit { try? FileManager.default.removeItem(at: runtime.dataDirectory) }

    /// Runs an action as alice (admin); critical actions get their typed confirmation and a reason.
    @discardableResult
    func run(_ action: String, _ payload: [String: PayloadValue] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> ActionReport {
        let spec = ActionCatalog.spec(action)
        let critical = spec?.confirmation == .typed
        let target = spec?.target(in: payload) ?? "system"
        return dispatcher.dispatch(
            ActionRequest(
                action: action, payload: payload, actor: actor, reason: critical ? "TICKET-1" : nil, confirmation: critical ? target : nil))
    }

    /// Runs an action that must succeed.
    func expect(_ action: String, _ payload: [String: PayloadValue] = [:], sourceLocation: SourceLocation = #_sourceLocation) {
        let report = run(action, payload)
        #expect(report.succeeded, "\(action): \(report.message)", sourceLocation: sourceLocation)
    }

    /// Moves the fleet `seconds` of its time forward (in the live fleet's 250 ms steps).
    func advance(_ seconds: Double) {
        clock += seconds
        world.advance(to: clock)
    }

    func read<T: Sendable>(_ body: (FleetSimulator) -> T) -> T { world.read(body) }

    /// Job history entries of `type` since `mark` (a time), optionally on one worker.
    func events(_ type: String, since mark: Date, worker: String? = nil) -> [JobEvent] {
        read { sim in
            sim.jobEvents.values.flatMap { $0 }.filter { $0.type == type && $0.ts > mark && (worker == nil || $0.workerID == worker) }
        }
    }

    /// An online worker of the first stage (ingest keeps its queue fed).
    func firstStageWorker() -> String {
        read { sim in sim.workers.values.filter { $0.info.stage == Pipeline.stages[0] && $0.info.status == .online }.map(\.info.id).min()! }
    }
}

extension ActionReport {
    var result: ActionResult? { if case .success(let r) = outcome { r } else { nil } }
}

@Suite("Embedded: worker limits the fleet obeys")
struct WorldWorkerEffectTests {
    @Test func autoscaleBoundsAreKeptByTheAutoscaler() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        #expect(try #require(h.read { $0.workers[id]?.info.concurrency }) > 1)
        h.expect("worker.autoscale", ["id": .string(id), "min": .int(1), "max": .int(1)])
        // The autoscaler runs every 5 s of the fleet's time at rate 3.
        h.advance(6)
        let w = try #require(h.read { $0.workers[id]?.info })
        #expect(w.autoscaleMin == 1 && w.autoscaleMax == 1)
        #expect(w.concurrency == 1, "the autoscaler brought the pool into its new bounds")
        let runs = h.read { $0.managers["autoscaler"]?.runs ?? 0 }
        h.advance(30)
        #expect(h.read { $0.managers["autoscaler"]?.runs ?? 0 } >= runs + 5, "the autoscaler ran again")
        #expect(h.read { $0.workers[id]?.info.concurrency } == 1, "and keeps it there")
        #expect(
            h.run("worker.autoscale", ["id": .string(id), "min": .int(5), "max": .int(4)]).outcome
                == .failure(.invalid(field: "min", "5 is above max 4")))
    }

    @Test func rateLimitCapsTheWorkersStartsPerMinute() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        h.expect("worker.rate_limit", ["id": .string(id), "task": .string("agentos.video_downloader"), "rate": .string("2/m")])
        let mark = h.clock
        h.advance(60)
        let mine = h.events("started", since: mark, worker: id).count
        let siblings = h.events("started", since: mark).filter { $0.stage == "video_downloader" && $0.workerID != id }.count
        #expect(mine <= 2, "a worker limited to 2/m started \(mine) tasks in a minute")
        #expect(mine >= 1 && siblings > 2 * mine, "there was work: its siblings took \(siblings)")
        h.expect("worker.rate_limit", ["id": .string(id), "task": .string("agentos.video_downloader"), "rate": .string("0")])
        let lifted = h.clock
        h.advance(60)
        #expect(h.events("started", since: lifted, worker: id).count > 2, "without the limit it takes more")
        #expect(
            h.run("worker.rate_limit", ["id": .string(id), "task": .string("t"), "rate": .string("fast")]).outcome
                == .failure(.invalid(field: "rate", "'fast' is not a rate like 10/m, 2/s or 0")))
    }

    @Test func timeLimitEndsALongTaskAsFailed() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        h.expect("worker.time_limit", ["id": .string(id), "task": .string("agentos.video_downloader"), "soft": .int(1), "hard": .int(1)])
        let mark = h.clock
        h.advance(30)
        let failed = h.events("failed", since: mark).filter { $0.message?.hasPrefix("TimeLimitExceeded") == true }
        #expect(!failed.isEmpty, "a task that ran past 1 s ended as failed")
        let jobs = h.read { sim in failed.compactMap { sim.jobs[$0.jobID] } }
        #expect(jobs.allSatisfy { $0.status == .failed && $0.errorClass == "TimeLimitExceeded" && $0.stage == "video_downloader" })
        let others = h.events("failed", since: mark).filter { $0.message?.hasPrefix("TimeLimitExceeded") == true && $0.stage != "video_downloader" }
        #expect(others.isEmpty, "only the limited task type is ended")
    }
}

@Suite("Embedded: managers follow their own schedule, enablement and concurrency")
struct WorldManagerEffectTests {
    func manager(_ h: WorldHarness, _ id: String) throws -> ManagerInfo { try #require(h.read { $0.managers[id] }) }
    func ingested(_ h: WorldHarness) -> Int { h.read { sim in sim.jobs.values.filter { $0.owner == "ingest" }.count } }

    @Test func disabledManagerDoesNotRunAtItsDueTime() throws {
        let h = WorldHarness()
        let due = try #require(try manager(h, "ingest").nextRunAt)
        h.expect("manager.disable", ["id": .string("ingest")])
        let runs = try manager(h, "ingest").runs
        let jobs = ingested(h)
        // Ingest runs every 10 s at rate 3: 30 s pass its due time three times.
        h.advance(due.timeIntervalSince(h.clock) + 30)
        #expect(try manager(h, "ingest").runs == runs, "a disabled manager does not run")
        #expect(ingested(h) == jobs)
        #expect(try manager(h, "ingest").enabled == false && manager(h, "ingest").nextRunAt == nil)
        #expect(h.run("manager.trigger", ["id": .string("ingest")]).outcome == .failure(.conflict("manager ingest is disabled")))
        h.expect("manager.enable", ["id": .string("ingest")])
        h.advance(11)
        #expect(try manager(h, "ingest").runs > runs, "enabled, it runs at its next due time")
    }

    @Test func scheduleIsTheManagersOwn() throws {
        let h = WorldHarness()
        let runs = try manager(h, "ingest").runs
        h.expect("manager.set_schedule", ["id": .string("ingest"), "schedule": .string("3s")])
        // 3 s at rate 3 is a run every second of the fleet's time, where 30 s was one every 10.
        h.advance(10)
        let ran = try manager(h, "ingest").runs - runs
        #expect(ran >= 9, "ran \(ran) times in 10 s")
        #expect(try manager(h, "ingest").schedule == "3s")

        h.expect("manager.set_schedule", ["id": .string("cleanup"), "schedule": .string("*/2 * * * *")])
        let next = try #require(try manager(h, "cleanup").nextRunAt)
        #expect(Int(next.timeIntervalSince1970) % 120 == 0, "a cron schedule fires on its minutes: \(next)")
        let cleanups = try manager(h, "cleanup").runs
        h.advance(next.timeIntervalSince(h.clock) + 1)
        #expect(try manager(h, "cleanup").runs == cleanups + 1 && manager(h, "cleanup").lastRunAt == next)
    }

    @Test func concurrencyIsHowMuchOneRunDoes() throws {
        let h = WorldHarness()
        h.expect("manager.set_concurrency", ["id": .string("ingest"), "concurrency": .int(32)])
        let runs = try manager(h, "ingest").runs
        let jobs = ingested(h)
        h.expect("manager.trigger", ["id": .string("ingest")])
        h.advance(0.5)
        #expect(try manager(h, "ingest").runs == runs + 1)
        #expect(ingested(h) - jobs >= 32, "32 ingest slots take a batch each: \(ingested(h) - jobs) uploads")
    }

    @Test func restartGoesThroughStartingAndRunsAgain() throws {
        let h = WorldHarness()
        h.advance(1)
        let runs = try manager(h, "autoscaler").runs
        h.expect("manager.restart", ["id": .string("autoscaler")])
        #expect(try manager(h, "autoscaler").status == .starting)
        h.advance(0.5)
        #expect(try manager(h, "autoscaler").status == .starting && manager(h, "autoscaler").runs == runs, "still starting: no run")
        h.advance(1)
        #expect(try manager(h, "autoscaler").status == .running)
        #expect(try manager(h, "autoscaler").runs == runs + 1, "back up, it runs at once")
    }
}

@Suite("Embedded: services log as set, rules raise and resolve alerts")
struct WorldLogEffectTests {
    func lines(_ h: WorldHarness, since mark: Date, _ match: (LogLine) -> Bool) -> [LogLine] {
        h.read { sim in sim.logs.filter { $0.ts > mark && match($0) } }
    }

    @Test func serviceLogsAtTheLevelSet() {
        let h = WorldHarness()
        h.expect("logs.set_level", ["service": .string("worker"), "level": .string("error")])
        let mark = h.clock
        h.advance(60)
        let fromWorkers = lines(h, since: mark) { $0.source.contains("@") }
        #expect(!fromWorkers.contains { $0.level < .error }, "no worker line below error: \(fromWorkers.filter { $0.level < .error }.prefix(3))")
        #expect(!lines(h, since: mark) { $0.source == "ingest" && $0.level == .info }.isEmpty, "other services keep their level")
        h.expect("logs.set_level", ["service": .string("worker"), "level": .string("debug")])
        let back = h.clock
        h.advance(60)
        #expect(lines(h, since: back) { $0.source.contains("@") && $0.level < .error }.count > 0, "at debug the worker writes its info lines again")
    }

    @Test func mutedSourceIsDroppedUntilUnmuted() {
        let h = WorldHarness()
        h.expect("logs.mute_source", ["source": .string("ingest")])
        let mark = h.clock
        let counted = h.read { $0.logCountsBySource["ingest"] ?? 0 }
        h.advance(40)
        #expect(lines(h, since: mark) { $0.source == "ingest" }.isEmpty, "no line from a muted source")
        #expect(h.read { $0.logCountsBySource["ingest"] ?? 0 } == counted)
        #expect(h.read { $0.managers["ingest"]?.runs ?? 0 } > 0, "the service itself still runs")
        h.expect("logs.unmute_source", ["source": .string("ingest")])
        let back = h.clock
        h.advance(40)
        #expect(!lines(h, since: back) { $0.source == "ingest" }.isEmpty)
    }

    @Test func acknowledgedErrorsLeaveTheErrorFigures() throws {
        let h = WorldHarness(seed: 5, rate: 20)
        h.advance(60)
        let before = try h.world.dataManager.rebuild().logs.byLevel
        #expect(before["error", default: 0] + before["critical", default: 0] > 0, "there were errors to acknowledge")
        let report = h.run("logs.ack_errors")
        #expect(report.succeeded && report.result?.affected == before["error", default: 0] + before["critical", default: 0])
        let after = try h.world.dataManager.rebuild().logs.byLevel
        #expect(after["error", default: 0] == 0 && after["critical", default: 0] == 0)
        #expect(after["info"] == before["info"], "other levels stay")
        h.advance(60)
        #expect(try h.world.dataManager.rebuild().logs.byLevel["error", default: 0] > 0, "new errors count again")
    }

    @Test func alertRuleRaisesOnNewLinesAndResolvesWhenTheyStop() throws {
        let h = WorldHarness()
        let add = h.run(
            "logs.alert_rule_add", ["pattern": .string("^ingested [0-9]+ uploads"), "level": .string("info"), "severity": .string("error")])
        let id = try #require(add.result?.details["id"].flatMap { if case .int(let i) = $0 { i } else { nil } })
        h.advance(11)
        let alert = try #require(h.read { $0.alerts.first { $0.source == "log rule #\(id)" } }, "a matching line raised the rule's alert")
        #expect(alert.status == .active && alert.severity == .error)
        h.advance(20)
        #expect(h.read { $0.alerts.filter { $0.source == "log rule #\(id)" }.count } == 1, "one alert while the lines keep coming")
        // The condition clears: ingest stops writing those lines; 30 s quiet at rate 3 is 10 s.
        h.expect("manager.disable", ["id": .string("ingest")])
        h.advance(12)
        #expect(h.read { $0.alerts.first { $0.id == alert.id }?.status } == .resolved)
        h.expect("logs.alert_rule_remove", ["id": .int(id)])
        h.expect("manager.enable", ["id": .string("ingest")])
        h.advance(20)
        #expect(h.read { $0.alerts.filter { $0.source == "log rule #\(id)" }.count } == 1, "a removed rule raises nothing")
    }

    @Test func silenceExpires() throws {
        let h = WorldHarness()
        h.expect("logs.alert_rule_add", ["pattern": .string("^ingested"), "level": .string("info")])
        h.advance(11)
        let alert = try #require(h.read { $0.alerts.first { $0.source.hasPrefix("log rule #") } })
        h.expect("system.alert_silence", ["id": .int(alert.id), "minutes": .int(1)])
        #expect(h.read { $0.alerts.first { $0.id == alert.id }?.status } == .silenced)
        h.advance(50)
        #expect(h.read { $0.alerts.first { $0.id == alert.id }?.status } == .silenced, "still silenced within the minute")
        h.advance(11)
        #expect(h.read { $0.alerts.first { $0.id == alert.id }?.status } == .active, "the silence ran out: the alert is back")
    }
}

@Suite("Embedded: configuration reaches its owner, counters reset at the source")
struct WorldConfigEffectTests {
    @Test func autoscaleOffStopsTheAutoscaler() throws {
        let h = WorldHarness()
        var entry = try #require(h.read { $0.config_["workers.autoscale"] })
        entry.value = .bool(false)
        #expect(throws: Never.self) { try h.world.apply(.setConfig(entry)).get() }
        h.expect("queue.pause", ["queue": .string("video_downloader")])
        let pools = { h.read { sim in sim.workers.values.filter { $0.info.stage == "video_downloader" }.map(\.info.concurrency) } }
        let before = pools()
        h.advance(30)
        #expect(h.read { $0.pendingCount("video_downloader") } > 20, "a backlog that would make the autoscaler grow the pools")
        #expect(pools() == before)
    }

    @Test func resetCountersStayReset() {
        let h = WorldHarness()
        h.advance(60)
        let completed = { h.read { sim in sim.stats.values.flatMap(\.values).reduce(0) { $0 + $1.completed } } }
        let before = completed()
        #expect(before > 20)
        h.expect("analytics.reset_counters")
        #expect(completed() == 0)
        #expect(h.read { $0.workers.values.allSatisfy { $0.info.processed == 0 } })
        h.advance(1)
        #expect(completed() < before / 2, "a second later the counts start from zero")
    }
}

@Suite("Embedded: a job's timeline names who acted")
struct WorldJobTimelineTests {
    /// Issue 19 item 8: after `job.retry` the timeline said "re-enqueued by operator", not the user.
    @Test func retryIsBookedOnTheUser() throws {
        let h = WorldHarness()
        h.advance(120)
        let failed = try #require(h.read { sim in sim.jobs.values.filter { $0.status == .failed }.map(\.id).min() }, "a failed job")
        let attempts = try #require(h.read { $0.jobs[failed]?.attempts })
        h.expect("job.retry", ["id": .string(failed)])
        let retried = h.read { $0.events(ofJob: failed).last { $0.type == "retried" } }
        #expect(retried?.message == "re-enqueued by alice")
        // ACTIONS.md: "re-enqueued, attempts+1", as the live executor does (issue 19 item 8).
        #expect(h.read { $0.jobs[failed]?.attempts } == attempts + 1)
    }

    @Test func aBulkRetryIsBookedOnTheUserToo() throws {
        let h = WorldHarness()
        h.advance(120)
        let failed = try #require(
            h.read { sim in sim.jobs.values.filter { $0.status == .failed }.min { $0.id < $1.id } }, "a failed job")
        h.expect("queue.retry_failed", ["queue": .string(failed.queue)])
        let retried = h.read { $0.events(ofJob: failed.id).last { $0.type == "retried" } }
        #expect(retried?.message == "bulk retry by alice")
        #expect(h.read { $0.jobs[failed.id]?.attempts } == failed.attempts + 1)
    }
}
