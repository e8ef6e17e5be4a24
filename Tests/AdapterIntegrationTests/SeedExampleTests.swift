import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// The seed's two flows end to end: the action, its audit rows, the SSOT cache invalidated, and
/// the event received by a second console subscribed to the bus.
@Suite("Seed examples: job.cancel and queue.clear", .serialized)
struct SeedExampleTests {
    func run(_ fx: ActionFixture, _ action: String, _ payload: [String: PayloadValue]) async throws -> [EventEnvelope] {
        try fx.cache.put(Data("{}".utf8), ttlSeconds: 30)
        let secondConsole = RedisEventBus(redis: fx.backend.redis, namespace: fx.ns, source: "console-2")
        var iterator = secondConsole.subscribe().makeAsyncIterator()
        guard case .connected? = await iterator.next() else {
            Issue.record("second console did not subscribe")
            return []
        }
        let report = fx.run(action, payload)
        try fx.expectSuccess(report)
        #expect(try fx.cache.get() == nil, "the SSOT cache is invalidated")
        var seen: [EventEnvelope] = []
        // Until the cascade's last event (other messages, e.g. a reconnect, are skipped; the stream never ends here).
        while seen.count < 10 {
            guard let message = await iterator.next() else {
                Issue.record("the second console's stream ended")
                break
            }
            guard case .event(let e) = message else { continue }
            seen.append(e)
            if case .cacheInvalidated = e.event { break }
        }
        #expect(seen.contains { if case .actionExecuted(let n) = $0.event { return n.action == action && n.user == "tester" } else { return false } })
        // The second console reloads and sees the new state.
        let snapshot = try fx.dataManager.snapshot().0
        #expect(snapshot.generation >= 1)
        return seen
    }

    @Test func example1CancelAJob() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .pending)
        let events = try await run(fx, "job.cancel", ["id": .string(id)])
        #expect(events.contains { if case .jobCancelled(let p) = $0.event { return p.id == id } else { return false } })
        #expect(try fx.jobStatus(id) == "cancelled")
        let snapshot = try fx.dataManager.snapshot().0
        #expect(snapshot.jobs.recent.first { $0.id == id }?.status == .cancelled)
    }

    @Test func example2ClearAQueue() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        for _ in 0..<3 { try fx.insertJob(status: .queued, queue: "intelligent_cropper") }
        let events = try await run(fx, "queue.clear", ["queue": .string("intelligent_cropper")])
        #expect(
            events.contains {
                if case .queueUpdated(let p, "queue.cleared") = $0.event { return p.name == "intelligent_cropper" } else { return false }
            })
        let snapshot = try fx.dataManager.snapshot().0
        #expect(snapshot.queues.first { $0.name == "intelligent_cropper" }?.pending == 0)
        let audit = try fx.db.query("SELECT phase, reason, target FROM audit_logs WHERE action = 'queue.clear' ORDER BY seq").rows
        #expect(audit.count == 2)
        #expect(try audit.first?.get("reason", as: String?.self) == "TICKET-1")
        #expect(try audit.first?.get("target", as: String?.self) == "intelligent_cropper")
    }
}
