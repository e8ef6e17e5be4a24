import AgentOSAdapters
import AgentOSCore
import AgentOSLiveWorld
import AgentOSWorld
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// Issue 20 item 4, "jobs waiting to retry with their next attempt time": the live writer stores the
/// simulator's retry timer in `jobs.eta`, only while the job is retrying, and the retry set shows
/// the very time PostgreSQL holds, with the time left.
@Suite("the retry set's next attempt against PostgreSQL", .serialized)
struct RetryNextAttemptLiveTests {
    @Test func theNextAttemptInTheRowIsTheOneOnTheScreen() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        // Failures are frequent, so jobs wait to retry within a few steps.
        let sim = try LiveSimulation(
            config: SimulatorConfig(seed: 5, rate: 4, failureRate: 0.5), redis: backend.redis, postgres: backend.postgres,
            namespace: backend.namespace, historySeconds: 300)
        var t = Date()
        var retrying: [(id: String, eta: Date?)] = []
        for _ in 0..<400 {
            t += 0.25
            try sim.step(to: t)
            retrying = try backend.postgres.query("SELECT id::text AS id, eta FROM jobs WHERE status = 'retrying' ORDER BY eta, id").map {
                r -> (id: String, eta: Date?) in (try r.get("id"), try r.get("eta"))
            }
            if !retrying.isEmpty { break }
        }
        try #require(!retrying.isEmpty, "no job waited to retry")
        // Every retrying row has its next attempt, the simulator's own timer; no other row has one.
        let timers = sim.read { s in s.jobs.mapValues(\.eta) }
        for row in retrying {
            let eta = try #require(row.eta, "job \(row.id) is retrying without a next attempt")
            let simulated = try #require(timers[row.id] ?? nil, "the simulator's job \(row.id) has no timer")
            #expect(abs(eta.timeIntervalSince(simulated)) < 0.001, "\(row.id): \(eta) in the row, \(simulated) in the simulator")
        }
        let stray = Array(try backend.postgres.query("SELECT count(*)::bigint AS n FROM jobs WHERE status <> 'retrying' AND eta IS NOT NULL"))
        #expect(try stray.first?.get("n", as: Int.self) == 0, "a job that is not retrying keeps no next attempt")

        // The console's retry set, from the snapshot the warmer built out of the same rows.
        #expect(try sim.dataManager.warmIfLeader())
        let cached = try #require(try RedisSnapshotCache(redis: backend.redis, namespace: backend.namespace).get())
        let snapshot = try Snapshot.decode(cached)
        let screen = ScheduledSetLiveTests.jobSet(.retries, of: snapshot)
        let lines = screen.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("NEXT TRY") && $0.contains("IN") }, "\(screen)")
        for row in retrying.prefix(10) {
            let eta = try #require(row.eta)
            let line = try #require(lines.first { $0.contains(Fmt.shortID(row.id)) }, "job \(row.id) not in the retry set:\n\(screen)")
            #expect(line.contains(Fmt.clock(eta)), "\(row.id) is due at \(Fmt.clock(eta)) in PostgreSQL; the screen says: \(line)")
        }
    }
}
