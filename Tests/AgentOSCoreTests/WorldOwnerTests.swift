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
