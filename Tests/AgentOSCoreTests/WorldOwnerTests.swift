import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

/// The embedded default: the fleet's owner answers for jobs, managers, maintenance and pings
/// itself (issue 24's defects), seen in what the fleet does after the action.
@Suite("Embedded: the owner answers for jobs, the scheduler, maintenance and pings")
struct WorldOwnerTests {
    /// The running job with the most work left (it is still running a few ticks later).
    func longestRunning(_ h: WorldHarness) throws -> String {
        try #require(h.read { sim in sim.workers.values.flatMap { $0.running.map { ($0.key, $0.value) } }.max { $0.1 < $1.1 }?.0 })
    }

    @Test func runningJobIsNotDeletedUntilKilled() throws {
        let h = WorldHarness()
        let id = try longestRunning(h)
        #expect(
            h.run("job.delete", ["id": .string(id)]).outcome == .failure(.conflict("job \(id) is running: kill it first (job.kill), then delete it")))
        h.advance(0.5)
        #expect(h.read { $0.jobs[id]?.status } == .running, "the job kept its slot and its row")
        h.expect("job.kill", ["id": .string(id)])
        h.expect("job.delete", ["id": .string(id)])
        #expect(h.read { $0.jobs[id] } == nil)
        #expect(h.read { sim in sim.workers.values.contains { $0.running[id] != nil } } == false, "its worker slot is free")
    }

    @Test func triggeredSchedulerDispatchesAJobAtOnce() throws {
        let h = WorldHarness()
        let before = try #require(h.read { $0.managers["scheduler"] })
        let created = h.read(\.totalJobsCreated)
        h.expect("manager.trigger", ["id": .string("scheduler")])
        // No time passed: the job is the triggered run's.
        #expect(h.read(\.totalJobsCreated) == created + 1)
        let after = try #require(h.read { $0.managers["scheduler"] })
        #expect(after.runs == before.runs + 1 && after.lastRunAt == h.read(\.now))
        #expect(after.lastResult?.hasPrefix("triggered: dispatched job") == true)
        h.expect("manager.pause", ["id": .string("scheduler")])
        #expect(
            h.run("manager.trigger", ["id": .string("scheduler")]).outcome
                == .failure(.conflict("manager scheduler is paused: it dispatches nothing until it runs")))
        #expect(h.read(\.totalJobsCreated) == created + 1)
    }

    @Test func maintenanceShowsTheOperatorsMessageAndOffResumesOnlyWhatItPaused() throws {
        let h = WorldHarness()
        h.expect("queue.pause", ["queue": .string("video_cutter")])
        h.expect("system.maintenance_on", ["message": .string("db upgrade until 10:00")])
        let m = h.read(\.maintenance)
        #expect(m.enabled && m.message == "db upgrade until 10:00" && m.by == "alice")
        #expect(h.read { sim in sim.queues.values.filter { !$0.paused }.map(\.name) } == [], "maintenance pauses every queue")
        let mark = h.clock
        h.advance(4)
        #expect(h.events("started", since: mark).isEmpty, "nothing starts during maintenance")
        #expect(h.read { sim in sim.queues.values.allSatisfy(\.paused) }, "the pauses last")
        h.expect("system.maintenance_off")
        #expect(h.read(\.maintenance) == Maintenance())
        #expect(h.read { sim in sim.queues.values.filter(\.paused).map(\.name) } == ["video_cutter"], "the queue paused before stays paused")
        let off = h.clock
        h.advance(2)
        #expect(!h.events("started", since: off).isEmpty, "the fleet works again")
    }

    @Test func pingIsAnsweredByARunningWorkerAndNotByAStoppedOne() throws {
        let h = WorldHarness()
        let id = h.firstStageWorker()
        let pid = try #require(h.read { $0.workers[id]?.info.pid })
        let pong = h.run("worker.ping", ["id": .string(id)])
        #expect(pong.succeeded, "\(pong.message)")
        #expect(pong.result?.details["pid"] == .int(pid))
        h.expect("worker.shutdown", ["id": .string(id)])
        #expect(h.run("worker.ping", ["id": .string(id)]).outcome == .failure(.conflict("worker \(id) is stopped: no process to answer")))
        #expect(h.run("worker.ping", ["id": .string("nope@nowhere")]).outcome == .failure(.notFound("worker nope@nowhere")))
    }
}

@Suite("Embedded: configuration actions reach the key's owner")
struct WorldConfigActionTests {
    func entry(_ h: WorldHarness, _ key: String) throws -> ConfigEntry { try #require(h.read { $0.config_[key] }) }

    @Test func autoscaleOffByConfigSetKeepsThePoolsWhileTheQueueGrows() throws {
        let h = WorldHarness()
        let set = h.run("config.set", ["key": .string("workers.autoscale"), "value": .string("false")])
        #expect(set.succeeded, "\(set.message)")
        #expect(set.result?.message == "workers.autoscale: true → false, version 2")
        #expect(try entry(h, "workers.autoscale").value == .bool(false) && entry(h, "workers.autoscale").updatedBy == "alice")
        h.expect("queue.pause", ["queue": .string("video_downloader")])
        let pools = { h.read { sim in sim.workers.values.filter { $0.info.stage == "video_downloader" }.map(\.info.concurrency) } }
        let before = pools()
        let runs = h.read { $0.managers["autoscaler"]?.runs ?? 0 }
        h.advance(30)
        #expect(h.read { $0.pendingCount("video_downloader") } > 20, "a backlog that would make the autoscaler grow the pools")
        #expect(h.read { $0.managers["autoscaler"]?.runs ?? 0 } > runs, "the autoscaler ran")
        #expect(pools() == before, "and changed no pool")
        #expect(
            h.run("config.set", ["key": .string("workers.autoscale"), "value": .string("false")]).outcome
                == .failure(.conflict("workers.autoscale is already false")))
        #expect(
            h.run("config.set", ["key": .string("pipeline.max_attempts"), "value": .string("11")]).outcome
                == .failure(.invalid(field: "value", "pipeline.max_attempts: 11 is above the maximum 10")))
    }

    @Test func cleanupScheduleByConfigSetIsTheManagersSchedule() throws {
        let h = WorldHarness()
        h.expect("config.set", ["key": .string("cleanup.schedule"), "value": .string("*/2 * * * *")])
        let cleanup = try #require(h.read { $0.managers["cleanup"] })
        #expect(cleanup.schedule == "*/2 * * * *")
        let next = try #require(cleanup.nextRunAt)
        #expect(Int(next.timeIntervalSince1970) % 120 == 0, "the cleanup manager runs on the new minutes: \(next)")
        #expect(
            h.run("config.set", ["key": .string("cleanup.schedule"), "value": .string("every day")]).outcome
                == .failure(.invalid(field: "value", "cleanup.schedule: 'every day' is not a 5-field cron expression")))
    }

    @Test func resetGivesNewJobsTheDefaultAndReloadReappliesEveryEntry() throws {
        let h = WorldHarness()
        h.expect("config.set", ["key": .string("pipeline.max_attempts"), "value": .string("7")])
        h.advance(2)
        let newest = { h.read { sim in sim.jobs.values.max { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }?.maxAttempts } }
        #expect(newest() == 7, "new jobs get the attempts set")
        let reset = h.run("config.reset", ["key": .string("pipeline.max_attempts")])
        #expect(reset.result?.message == "pipeline.max_attempts: 7 → 3 (default), version 3")
        h.advance(2)
        #expect(newest() == 3)
        #expect(
            h.run("config.reset", ["key": .string("pipeline.max_attempts")]).outcome
                == .failure(.conflict("pipeline.max_attempts already has its default value 3")))
        let reload = h.run("config.reload")
        #expect(reload.succeeded && reload.result?.affected == h.read { $0.config_.count })
    }
}
