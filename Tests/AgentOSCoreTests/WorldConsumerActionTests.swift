import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

/// Issue 24, embedded: the four actions whose only embedded tests checked a notice, a status or
/// ran conditionally, now each run and then watched in what the simulated fleet (the owner) does.
@Suite("Embedded: restart_all, cancel, alert_ack and cache_refresh change what the fleet does next")
struct WorldConsumerActionTests {
    let queue = Pipeline.stages[0]

    @Test func restartAllRestartsEveryLiveWorkerOfTheStageAndOnlyThose() throws {
        let h = WorldHarness()
        let stage = queue
        let ofStage = h.workers(of: stage)
        try #require(ofStage.count >= 3, "the stage has workers to restart and one to keep stopped: \(ofStage)")
        // A stopped worker of the stage is not live: the rolling restart leaves it stopped.
        let stopped = try #require(ofStage.last)
        h.expect("worker.shutdown", ["id": .string(stopped)])
        h.advance(1)
        let live = ofStage.filter { $0 != stopped && h.worker($0)?.info.status == .online }
        try #require(!live.isEmpty, "live workers of \(stage)")
        let others = h.read { sim in sim.workers.values.filter { $0.info.stage != stage }.map(\.info.id).sorted() }
        try #require(!others.isEmpty)
        let before = Dictionary(uniqueKeysWithValues: h.read { sim in sim.workers.values.map { ($0.info.id, $0.info) } })

        let report = h.run("worker.restart_all", ["stage": .string(stage)])
        #expect(report.succeeded && report.result?.affected == live.count, "\(report.message)")
        #expect(live.allSatisfy { h.worker($0)?.info.status == .restarting }, "every live worker of \(stage) is restarting")
        #expect(h.worker(stopped)?.info.status == .stopped, "the stopped worker stays stopped")
        for id in others {
            let w = try #require(h.worker(id)?.info)
            #expect(w.status != .restarting && w.pid == before[id]?.pid && w.startedAt == before[id]?.startedAt, "\(id) of another stage untouched")
        }

        let mark = h.clock
        #expect(h.advance(upTo: 10) { live.allSatisfy { h.worker($0)?.info.status == .online } }, "all back online")
        for id in live {
            let w = try #require(h.worker(id)?.info)
            #expect(w.pid != before[id]?.pid && (w.startedAt ?? .distantPast) > (before[id]?.startedAt ?? .distantFuture), "\(id): a new process")
        }
        let took = h.advance(upTo: 60) { live.allSatisfy { !h.events("started", since: mark, worker: $0).isEmpty } }
        #expect(took, "every restarted worker takes jobs again")
        #expect(h.worker(stopped)?.info.status == .stopped && h.events("started", since: mark, worker: stopped).isEmpty)
    }

    @Test func cancelledJobIsNeverStartedWhileTheOthersAre() throws {
        let h = WorldHarness()
        h.expect("queue.pause", ["queue": .string(queue)])
        try #require(h.advance(upTo: 60) { h.waiting(queue).count >= 6 }, "jobs waiting in \(queue)")
        // The job the workers would take first.
        let id = try #require(h.waiting(queue).first)
        let rest = Array(h.waiting(queue).dropFirst())
        h.expect("job.cancel", ["id": .string(id)])
        #expect(h.job(id)?.status == .cancelled && !h.waiting(queue).contains(id), "cancelled and out of its queue")

        let mark = h.clock
        h.expect("queue.resume", ["queue": .string(queue)])
        let othersRan = h.advance(upTo: 180) {
            let started = Set(h.events("started", since: mark).map(\.jobID))
            return rest.allSatisfy(started.contains)
        }
        #expect(othersRan, "the jobs queued behind it were all started")
        h.advance(180)
        #expect(h.events("started", since: mark).filter { $0.jobID == id }.isEmpty, "no worker ever started the cancelled job")
        #expect(h.job(id)?.status == .cancelled && h.job(id)?.workerID == nil && !h.waiting(queue).contains(id))
    }

    /// The backlog alert of a queue the test holds: raised above 100 waiting jobs, resolved below 50.
    func backlogAlert(_ h: WorldHarness) -> [Alert] {
        h.read { sim in sim.alerts.filter { $0.kind == Alert.Kind.queueBacklog && $0.source == queue } }
    }

    @Test func acknowledgedAlertStaysAcknowledgedWhileItsConditionLasts() throws {
        let h = WorldHarness()
        try #require(
            backlogAlert(h).allSatisfy { $0.status == .resolved },
            "no open backlog alert on \(queue) to begin with: \(backlogAlert(h)) \(h.waiting(queue).count)")
        h.expect("queue.pause", ["queue": .string(queue)])
        try #require(h.advance(upTo: 600) { backlogAlert(h).contains { $0.status == .active } }, "holding the queue raised its backlog alert")
        let alert = try #require(backlogAlert(h).first { $0.status == .active })

        h.expect("system.alert_ack", ["id": .int(alert.id)])
        #expect(h.read { $0.alerts.first { $0.id == alert.id } }?.status == .acked)
        #expect(h.read { $0.alerts.first { $0.id == alert.id } }?.ackedBy == "alice")
        let depth = h.waiting(queue).count
        h.advance(60)
        #expect(h.waiting(queue).count > depth, "the backlog kept growing")
        #expect(backlogAlert(h).filter { $0.status != .resolved }.map(\.id) == [alert.id], "no new alert for the same queue")
        #expect(h.read { $0.alerts.first { $0.id == alert.id } }?.status == .acked, "and the acknowledged one is not active again")
        let snapshot = try h.world.dataManager.rebuild()
        #expect(snapshot.alerts.first { $0.id == alert.id }?.status == .acked, "the consoles' snapshot shows it acknowledged")
        #expect(h.run("system.alert_ack", ["id": .int(alert.id)]).succeeded == false, "an acknowledged alert is not acknowledged twice")

        // The condition clears: the acknowledged alert resolves like any other.
        h.expect("queue.resume", ["queue": .string(queue)])
        #expect(h.advance(upTo: 300) { h.read { $0.alerts.first { $0.id == alert.id } }?.status == .resolved }, "resolved once the backlog drained")
    }

    @Test func refreshedCacheIsTheSnapshotTheNextReadServes() throws {
        // Actions leave the cache alone here, so only cache_refresh can bring it up to date.
        let h = WorldHarness(cascade: EventsOnlyCascade(bus: InMemoryEventBus()))
        let (first, _) = try h.world.dataManager.snapshot()
        #expect(first.queues.first { $0.name == queue }?.paused == false)
        h.expect("queue.pause", ["queue": .string(queue)])
        let (stale, origin) = try h.world.dataManager.snapshot()
        #expect(origin == .cache && stale.system.cache.generation == first.system.cache.generation)
        #expect(stale.queues.first { $0.name == queue }?.paused == false, "the cached snapshot predates the pause")

        let report = h.run("system.cache_refresh")
        #expect(report.succeeded, "\(report.message)")
        let (served, servedFrom) = try h.world.dataManager.snapshot()
        #expect(servedFrom == .cache, "the next read is served from the stored snapshot, not rebuilt")
        #expect(served.system.cache.generation > first.system.cache.generation, "a new generation")
        #expect(report.result?.details["generation"] == .int(served.system.cache.generation), "the one the action built")
        #expect(served.queues.first { $0.name == queue }?.paused == true, "the change made before the refresh is in it")
    }
}
