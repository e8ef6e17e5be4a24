import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

/// Issue 18 item 4 (D64): events naming ever new things stop growing the snapshot's lists at
/// `Snapshot.eventGrowthLimit` until the next reload; what is already listed keeps updating.
@Suite struct EventGrowthTests {
    @Test func listsGrownByEventsAreCappedUntilTheNextReload() throws {
        var s = try EmbeddedWorld(config: SimulatorConfig(seed: 7)).dataManager.snapshot().0
        let limit = Snapshot.eventGrowthLimit
        let now = Date()
        let known = try #require(s.queues.first?.name)
        for i in 0..<(limit + 1_000) {
            s.apply(.queueUpdated(QueuePatch(name: "flood_\(i)", pending: 1), cause: "queue.updated"), at: now)
            s.apply(.workerUpdated(WorkerPatch(id: "flood-\(i)", stage: "x", status: .online), cause: "worker.online"), at: now)
            s.apply(.logAppended([LogLine(id: 10_000_000 + i, ts: now, level: .info, source: "src-\(i)", message: "m")]), at: now)
        }
        #expect(s.queues.count == limit && s.workers.count == limit && s.logs.bySource.count == limit)
        #expect(s.logs.recent.count == Snapshot.recentLogLimit)
        s.apply(.queueUpdated(QueuePatch(name: known, pending: 4242), cause: "queue.updated"), at: now)
        #expect(s.queues.first { $0.name == known }?.pending == 4242, "a known queue still updates at the cap")
    }
}
