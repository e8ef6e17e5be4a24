import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Worker and manager actions against the simulator as the fleet's owner: each test lets it tick
/// after the action and asserts what the owner did (its state, and its job history and rows in SQL).
@Suite("Actions: Agents & Workers, Managers", .serialized)
struct FleetActionTests {
    /// An online worker of the first stage: ingest keeps its queue fed.
    func worker(_ fx: ActionFixture) throws -> String {
        try fx.anyID("SELECT id FROM workers WHERE stage = 'video_downloader' AND status = 'online' ORDER BY id LIMIT 1")
    }

    func workerField(_ fx: ActionFixture, _ id: String, _ column: String) throws -> String {
        try fx.scalar("SELECT \(column)::text FROM workers WHERE id = $1", [id], as: String.self)
    }

    func pid(_ fx: ActionFixture, _ id: String) throws -> Int { try fx.count("SELECT pid FROM workers WHERE id = $1", [id]) }

    /// Runs `action` and ticks until the owner's row says `status`.
    func drive(_ fx: ActionFixture, _ action: String, _ id: String, to status: String) throws {
        try fx.expectSuccess(fx.run(action, ["id": .string(id)]))
        try fx.tick(
            until: { try workerField(fx, id, "status") == status && fx.simWorker(id)?.status.rawValue == status }, "\(action): worker \(id) \(status)"
        )
    }

    /// Ticks until the simulator has written every worker row again (its rows, not the executor's, are then in SQL).
    func flushWorkers(_ fx: ActionFixture, except id: String) throws {
        let before = try fx.scalar("SELECT max(updated_at)::text FROM workers WHERE id <> $1", [id], as: String.self)
        try fx.tick(
            until: { try fx.scalar("SELECT max(updated_at)::text FROM workers WHERE id <> $1", [id], as: String.self) != before },
            "the simulator flushed its workers")
    }

    @Test func pausedWorkerTakesNoNewJobWhileItsSiblingsDo() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try fx.expectSuccess(fx.run("worker.pause", ["id": .string(id)]))
        let mark = try fx.eventMark()
        try fx.tick(until: { try fx.count("SELECT active FROM workers WHERE id = $1", [id]) == 0 }, "the paused worker finished its jobs")
        try fx.tick()
        #expect(fx.simWorker(id)?.status == .paused)
        #expect(try workerField(fx, id, "status") == "paused")
        #expect(try fx.started(since: mark, worker: id) == 0, "a paused worker takes no new job")
        #expect(try fx.started(since: mark, stageBut: ("video_downloader", id)) > 0, "there was work: its siblings took some")
        guard case .failure(.conflict) = fx.run("worker.pause", ["id": .string(id)]).outcome else {
            Issue.record("paused twice")
            return
        }
    }

    @Test func resumedWorkerTakesWorkAgain() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try drive(fx, "worker.pause", id, to: "paused")
        try fx.expectSuccess(fx.run("worker.resume", ["id": .string(id)]))
        let mark = try fx.eventMark()
        try fx.tick(until: { try fx.started(since: mark, worker: id) > 0 }, "the resumed worker started a job")
        #expect(fx.simWorker(id)?.status == .online)
        #expect(try workerField(fx, id, "desired_state") == "running")
    }

    @Test func shutdownWorkerStopsAndTakesNothing() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try fx.expectSuccess(fx.run("worker.shutdown", ["id": .string(id)]))
        let mark = try fx.eventMark()
        try fx.tick(until: { try workerField(fx, id, "status") == "stopped" }, "the worker stopped")
        try fx.tick()
        #expect(fx.simWorker(id)?.status == .stopped)
        #expect(try fx.count("SELECT active FROM workers WHERE id = $1", [id]) == 0)
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE worker_id = $1 AND status = 'running'", [id]) == 0, "its jobs were requeued")
        #expect(try fx.started(since: mark, worker: id) == 0)
        guard case .failure(.conflict) = fx.run("worker.shutdown", ["id": .string(id)]).outcome else {
            Issue.record("stopped twice")
            return
        }
    }

    @Test func startedWorkerComesBackAsANewProcessAndWorks() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try drive(fx, "worker.shutdown", id, to: "stopped")
        let before = try pid(fx, id)
        try fx.expectSuccess(fx.run("worker.start", ["id": .string(id)]))
        let mark = try fx.eventMark()
        try fx.tick(until: { try workerField(fx, id, "status") == "online" && pid(fx, id) != before }, "the worker came back with a new pid")
        try fx.tick(until: { try fx.started(since: mark, worker: id) > 0 }, "the started worker took a job")
    }

    @Test func restartedWorkerComesBackAsANewProcess() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        let before = try pid(fx, id)
        try fx.expectSuccess(fx.run("worker.restart", ["id": .string(id)]))
        try fx.tick(until: { try workerField(fx, id, "status") == "online" && pid(fx, id) != before }, "the worker restarted with a new pid")
        #expect(fx.simWorker(id)?.pid == (try pid(fx, id)))
    }

    @Test func drainedWorkerFinishesItsJobsThenStops() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try fx.expectSuccess(fx.run("worker.drain", ["id": .string(id)]))
        let mark = try fx.eventMark()
        try fx.tick(until: { try workerField(fx, id, "status") == "stopped" }, "the drained worker stopped")
        #expect(try fx.started(since: mark, worker: id) == 0, "a draining worker takes no new job")
        #expect(fx.simWorker(id)?.status == .stopped)
    }

    @Test func scaleGrowShrinkChangeTheOwnersPool() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        // Quiet: the autoscaler would resize the pool too.
        try fx.expectSuccess(fx.run("manager.stop", ["id": .string("autoscaler")]))
        let id = try worker(fx)
        for (action, payload, want) in [
            ("worker.scale", ["concurrency": PayloadValue.int(6)], 6), ("worker.pool_grow", ["n": .int(3)], 9), ("worker.pool_shrink", [:], 8)
        ] {
            try fx.expectSuccess(fx.run(action, payload.merging(["id": .string(id)]) { a, _ in a }))
            try flushWorkers(fx, except: id)
            #expect(fx.simWorker(id)?.concurrency == want, "\(action)")
            #expect(try workerField(fx, id, "concurrency") == String(want), "\(action): the owner's row")
        }
    }

    @Test func autoscaleBoundsAreKeptByTheOwnersAutoscaler() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.anyID("SELECT id FROM workers WHERE stage = 'video_downloader' AND status = 'online' ORDER BY concurrency DESC, id LIMIT 1")
        try #require(try fx.count("SELECT concurrency FROM workers WHERE id = $1", [id]) > 1)
        try fx.expectSuccess(fx.run("worker.autoscale", ["id": .string(id), "min": .int(1), "max": .int(1)]))
        // The autoscaler runs every 5 s of the owner's time: within 80 ticks it brings the pool into the bounds.
        try fx.tick(
            until: { try fx.simWorker(id)?.concurrency == 1 && workerField(fx, id, "concurrency") == "1" },
            "the owner's autoscaler shrank the pool to its new maximum")
        try flushWorkers(fx, except: id)
        #expect(try workerField(fx, id, "autoscale_min") == "1", "the owner's own write keeps the bounds")
        #expect(try workerField(fx, id, "autoscale_max") == "1")
        #expect(fx.simWorker(id)?.autoscaleMax == 1)
        #expect(
            fx.run("worker.autoscale", ["id": .string(id), "min": .int(9), "max": .int(3)]).outcome
                == .failure(.invalid(field: "min", "9 is above max 3")))
    }

    @Test func restartAllRestartsEveryLiveWorkerOfTheStage() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let stage = "face_detector"
        let before = try fx.db.query("SELECT id, pid FROM workers WHERE stage = $1 AND status = 'online'", [stage]).rows.map {
            (try $0.get("id", as: String.self), try $0.get("pid", as: Int.self))
        }
        try #require(!before.isEmpty)
        let report = fx.run("worker.restart_all", ["stage": .string(stage)])
        try fx.expectSuccess(report)
        #expect(report.result?.affected == before.count)
        try fx.tick(
            until: {
                try before.allSatisfy { id, pid in try workerField(fx, id, "status") == "online" && self.pid(fx, id) != pid }
            }, "every \(stage) worker came back with a new pid")
    }

    @Test func rateLimitCapsTheWorkersStarts() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try fx.expectSuccess(fx.run("worker.rate_limit", ["id": .string(id), "task": .string("agentos.video_downloader"), "rate": .string("2/m")]))
        #expect(try fx.scalar("SELECT rate_limits->>'agentos.video_downloader' FROM workers WHERE id = $1", [id], as: String.self) == "2/m")
        let mark = try fx.eventMark()
        try fx.tick(until: { try fx.started(since: mark, stageBut: ("video_downloader", id)) >= 12 }, "its siblings started 12 tasks")
        #expect(try fx.started(since: mark, worker: id) <= 2, "a worker limited to 2/m starts at most 2 tasks within the minute")
        #expect(
            fx.run("worker.rate_limit", ["id": .string(id), "task": .string("t"), "rate": .string("fast")]).outcome
                == .failure(.invalid(field: "rate", "'fast' is not a rate like 10/m, 2/s or 0")))
    }

    @Test func timeLimitEndsTheWorkersLongTasksAsFailed() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try fx.expectSuccess(
            fx.run("worker.time_limit", ["id": .string(id), "task": .string("agentos.video_downloader"), "soft": .int(1), "hard": .int(1)]))
        #expect(try fx.scalar("SELECT time_limits->'agentos.video_downloader'->>'hard' FROM workers WHERE id = $1", [id], as: String.self) == "1")
        let ended = "SELECT count(*) FROM jobs WHERE error_class = 'TimeLimitExceeded' AND status = 'failed'"
        try fx.tick(until: { try fx.count(ended) >= 2 }, "two of the worker's tasks ran past 1 s and were ended as failed")
        // Each was ended on the limited worker: its last attempt started there.
        #expect(
            try fx.count(
                """
                SELECT count(*) FROM jobs j WHERE j.error_class = 'TimeLimitExceeded' AND j.stage = 'video_downloader'
                  AND (SELECT e.worker_id FROM job_events e WHERE e.job_id = j.id AND e.type = 'started' ORDER BY e.id DESC LIMIT 1) = $1
                """, [id]) == (try fx.count(ended)))
        #expect(
            fx.run("worker.time_limit", ["id": .string(id), "task": .string("t"), "soft": .int(9), "hard": .int(3)]).outcome
                == .failure(.invalid(field: "soft", "9 s is above the hard limit 3 s")))
    }

    @Test func pingIsAnsweredByTheRunningWorker() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        let report = fx.run("worker.ping", ["id": .string(id)])
        try fx.expectSuccess(report)
        let result = try #require(report.result)
        // What only the worker's process knows, as the owner holds it now.
        let owner = try #require(fx.simWorker(id))
        #expect(result.details["pid"] == .int(try #require(owner.pid)))
        #expect(result.details["hostname"] == .string(owner.hostname))
        #expect(result.details["status"] == .string("online"))
    }

    @Test func pingOfAShutDownWorkerFails() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try drive(fx, "worker.shutdown", id, to: "stopped")
        let report = fx.run("worker.ping", ["id": .string(id)])
        #expect(report.outcome == .failure(.failed("worker \(id) did not answer within 2 s")))
        let error = try fx.scalar(
            "SELECT result->>'error' FROM audit_logs WHERE request_id = $1 AND phase = 'outcome'", [report.requestID], as: String.self)
        #expect(error == "failed: worker \(id) did not answer within 2 s")
        #expect(fx.run("worker.ping", ["id": .string("nope@nowhere")]).outcome == .failure(.notFound("worker nope@nowhere")))
    }

    @Test func forgottenWorkerLeavesTheOwnersRoster() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        guard case .failure(.conflict) = fx.run("worker.forget", ["id": .string(id)]).outcome else {
            Issue.record("online worker forgotten")
            return
        }
        try drive(fx, "worker.shutdown", id, to: "stopped")
        try fx.expectSuccess(fx.run("worker.forget", ["id": .string(id)]))
        // The owner writes its whole roster again: a worker it still had would come back.
        try flushWorkers(fx, except: id)
        #expect(fx.simWorker(id) == nil)
        #expect(try fx.count("SELECT count(*) FROM workers WHERE id = $1", [id]) == 0)
    }

    func runs(_ fx: ActionFixture, _ id: String) throws -> Int { try fx.count("SELECT runs FROM managers WHERE id = $1", [id]) }

    func managerField(_ fx: ActionFixture, _ id: String, _ column: String) throws -> String? {
        try fx.scalar("SELECT \(column)::text FROM managers WHERE id = $1", [id], as: String?.self)
    }

    /// Runs a manager action and ticks until the owner's row has `status`.
    func drive(_ fx: ActionFixture, manager action: String, _ id: String, to status: String) throws {
        try fx.expectSuccess(fx.run(action, ["id": .string(id)]))
        #expect(try managerField(fx, id, "updated_by") == "tester")
        try fx.tick(until: { try managerField(fx, id, "status") == status }, "\(action): manager \(id) \(status)")
    }

    @Test func triggerRunsTheManagerNow() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let runs0 = try runs(fx, "ingest")
        let ingested0 = try fx.count("SELECT count(*) FROM jobs WHERE owner = 'ingest'")
        try fx.expectSuccess(fx.run("manager.trigger", ["id": .string("ingest")]))
        try fx.tick()
        #expect(try runs(fx, "ingest") == runs0 + 1, "ingest runs every 10 s of the owner's time: one tick later only a trigger explains a run")
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE owner = 'ingest'") > ingested0)
    }

    @Test func triggeredSchedulerDispatchesAJobAtOnce() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let runs0 = try #require(fx.sim?.read { $0.managers["scheduler"]?.runs })
        let created0 = try #require(fx.sim?.read(\.totalJobsCreated))
        let mark = try fx.eventMark()
        try fx.expectSuccess(fx.run("manager.trigger", ["id": .string("scheduler")]))
        // The owner took the command and its clock did not move: the one new job is the triggered run's.
        try fx.tick(0)
        #expect(fx.sim?.read(\.totalJobsCreated) == created0 + 1)
        #expect(try runs(fx, "scheduler") == runs0 + 1)
        #expect(try fx.count("SELECT count(*) FROM job_events WHERE id > $1 AND type = 'created'", [mark]) == 1)
        #expect(try managerField(fx, "scheduler", "last_result")?.hasPrefix("triggered: dispatched job") == true)
    }

    @Test func pausedManagerIgnoresATriggerUntilResumed() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try drive(fx, manager: "manager.pause", "ingest", to: "paused")
        let runs0 = try runs(fx, "ingest")
        try fx.expectSuccess(fx.run("manager.trigger", ["id": .string("ingest")]))
        try fx.tick()
        #expect(fx.sim?.read { $0.managers["ingest"]?.status } == .paused)
        #expect(try runs(fx, "ingest") == runs0, "a paused manager does not run")
        try drive(fx, manager: "manager.resume", "ingest", to: "running")
        try fx.expectSuccess(fx.run("manager.trigger", ["id": .string("ingest")]))
        try fx.tick()
        #expect(try runs(fx, "ingest") > runs0, "the resumed manager ran once triggered")
    }

    @Test func stoppedManagerDoesNotRunUntilStarted() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try drive(fx, manager: "manager.stop", "autoscaler", to: "stopped")
        let runs0 = try runs(fx, "autoscaler")
        // The autoscaler runs every 5 s of the owner's time: 12 ticks are 6 s.
        try fx.tick(12)
        #expect(try runs(fx, "autoscaler") == runs0, "a stopped manager does not run")
        #expect(fx.sim?.read { $0.managers["autoscaler"]?.status } == .stopped)
        try drive(fx, manager: "manager.start", "autoscaler", to: "running")
        try fx.tick(until: { try runs(fx, "autoscaler") > runs0 }, "the started manager ran")
    }

    func ingested(_ fx: ActionFixture) throws -> Int { try fx.count("SELECT count(*) FROM jobs WHERE owner = 'ingest'") }

    @Test func disabledManagerDoesNotRunAtItsDueTime() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("manager.disable", ["id": .string("ingest")]))
        let runs0 = try runs(fx, "ingest")
        let jobs0 = try ingested(fx)
        // Ingest runs every 10 s of the owner's time: 24 ticks are 12 s, past its due time.
        try fx.tick(24)
        #expect(try runs(fx, "ingest") == runs0, "a disabled manager does not run")
        #expect(try ingested(fx) == jobs0)
        #expect(try managerField(fx, "ingest", "enabled") == "false", "the owner's writes keep it disabled")
        #expect(fx.sim?.read { $0.managers["ingest"]?.enabled } == false)
        guard case .failure(.conflict) = fx.run("manager.trigger", ["id": .string("ingest")]).outcome else {
            Issue.record("a disabled manager was triggered")
            return
        }
        try fx.expectSuccess(fx.run("manager.enable", ["id": .string("ingest")]))
        try fx.tick(until: { try runs(fx, "ingest") > runs0 && ingested(fx) > jobs0 }, "the enabled manager ran at its next due time")
        #expect(try managerField(fx, "ingest", "enabled") == "true")
    }

    @Test func scheduleIsTheManagersOwnAndStays() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        guard
            case .failure(.invalid(field: "schedule", _)) = fx.run(
                "manager.set_schedule", ["id": .string("ingest"), "schedule": .string("61 * * * *")]
            )
            .outcome
        else {
            Issue.record("a bad cron expression was accepted")
            return
        }
        try fx.expectSuccess(fx.run("manager.set_schedule", ["id": .string("ingest"), "schedule": .string("3s")]))
        try fx.tick(2)
        let runs0 = try runs(fx, "ingest")
        // 3 s at rate 3 is a run every second of the owner's time (where 30 s was one every 10): 10 ticks are 5 s.
        try fx.tick(10)
        let ran = try runs(fx, "ingest") - runs0
        #expect(ran >= 4, "ran \(ran) times in 5 s")
        #expect(try managerField(fx, "ingest", "schedule") == "3s", "the owner's writes keep the schedule")
        try fx.expectSuccess(fx.run("manager.set_schedule", ["id": .string("cleanup"), "schedule": .string("*/2 * * * *")]))
        try fx.tick(2)
        #expect(
            try fx.count(
                "SELECT count(*) FROM managers WHERE id = 'cleanup' AND schedule = '*/2 * * * *' AND extract(epoch FROM next_run_at)::bigint % 120 = 0"
            ) == 1,
            "the cron schedule plans the next run on its minutes")
    }

    @Test func concurrencyIsHowMuchOneRunDoes() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("manager.set_concurrency", ["id": .string("ingest"), "concurrency": .int(32)]))
        let runs0 = try runs(fx, "ingest")
        let jobs0 = try ingested(fx)
        try fx.expectSuccess(fx.run("manager.trigger", ["id": .string("ingest")]))
        try fx.tick()
        #expect(try runs(fx, "ingest") == runs0 + 1)
        #expect(try ingested(fx) - jobs0 >= 32, "32 ingest slots took a batch each in one run")
        #expect(try managerField(fx, "ingest", "concurrency") == "32")
    }

    @Test func restartGoesThroughStartingAndRunsAgain() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let runs0 = try runs(fx, "autoscaler")
        try fx.expectSuccess(fx.run("manager.restart", ["id": .string("autoscaler")]))
        try fx.tick(1)
        #expect(fx.sim?.read { $0.managers["autoscaler"]?.status } == .starting)
        #expect(try managerField(fx, "autoscaler", "status") == "starting")
        try fx.tick(
            until: { try managerField(fx, "autoscaler", "status") == "running" && runs(fx, "autoscaler") > runs0 }, "the manager came back and ran")
        // Back after a second of the owner's time, well before its next run was due (5 s): the run is the restart's.
        #expect(try runs(fx, "autoscaler") == runs0 + 1)
    }
}
