import AgentOSAdapters
import AgentOSCore
import AgentOSLiveWorld
import AgentOSTestSupport
import AgentOSWorld
import Foundation
import Testing

/// Task types live (issue 20 item 5, D70): the snapshot's figures equal the ones an independent SQL
/// query computes over job_events for the same window of complete minutes.
@Suite("Task types against real PostgreSQL", .serialized)
struct TaskTypeLiveTests {
    @Test func snapshotTaskTypesEqualSQLOverTheSameWindow() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let sim = try LiveSimulation(
            config: SimulatorConfig(seed: 11, rate: 2), redis: backend.redis, postgres: backend.postgres,
            namespace: backend.namespace, historySeconds: 600)
        var t = Date()
        for _ in 0..<4 {
            t += 0.5
            try sim.step(to: t)
        }
        #expect(try sim.dataManager.warmIfLeader())
        let cached = try #require(try RedisSnapshotCache(redis: backend.redis, namespace: backend.namespace).get())
        let snapshot = try Snapshot.decode(cached)
        #expect(Set(snapshot.analytics.taskTypes.map(\.windowMinutes)) == Set(Analytics.taskTypeWindows))
        for minutes in Analytics.taskTypeWindows {
            let types = snapshot.analytics.taskTypes(window: minutes)
            let window = try #require(types.first, "task types over \(minutes) min")
            #expect(window.to.timeIntervalSince(window.from) == Double(minutes) * 60)
            #expect(window.to.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0, "complete minutes")
            // Independently: the last `started` of the job in the stage by a window function, not a subquery.
            let rows = try backend.postgres.query(
                """
                SELECT stage, type IN ('stage_completed', 'completed') AS ok,
                    CASE WHEN type IN ('stage_completed', 'completed') THEN (extract(epoch FROM ts - last_start) * 1000)::float8 END AS ms
                FROM (
                    SELECT stage, type, ts, max(ts) FILTER (WHERE type = 'started')
                        OVER (PARTITION BY job_id, stage ORDER BY ts, (type = 'started') DESC ROWS UNBOUNDED PRECEDING) AS last_start
                    FROM job_events WHERE stage IS NOT NULL
                ) e
                WHERE type IN ('stage_completed', 'completed', 'retrying', 'failed') AND ts >= $1 AND ts < $2
                """, [window.from, window.to])
            var ok: [String: Int] = [:]
            var failed: [String: Int] = [:]
            var runtimes: [String: [Double]] = [:]
            for row in rows {
                let stage: String = try row.get("stage")
                if try row.get("ok", as: Bool.self) {
                    ok[stage, default: 0] += 1
                    if let ms: Double = try row.get("ms") { runtimes[stage, default: []].append(ms) }
                } else {
                    failed[stage, default: 0] += 1
                }
            }
            #expect(Set(types.map(\.stage)) == Set(ok.keys).union(failed.keys), "over \(minutes) min")
            #expect(ok.values.reduce(0, +) > 0 && runtimes.values.contains { !$0.isEmpty })
            for t in types {
                #expect(t.from == window.from && t.to == window.to)
                #expect(t.succeeded == ok[t.stage, default: 0] && t.failed == failed[t.stage, default: 0], "\(t.stage) over \(minutes) min")
                let r = runtimes[t.stage, default: []]
                for (p, got) in [(0.5, t.p50Ms), (0.95, t.p95Ms), (0.99, t.p99Ms)] {
                    let want = percentileCont(r, p)
                    #expect((got == nil) == (want == nil) && abs((got ?? 0) - (want ?? 0)) < 1e-6, "\(t.stage) p\(p): \(got ?? -1) / \(want ?? -1)")
                }
                var histogram = [Int](repeating: 0, count: Analytics.taskHistogramBoundsMs.count + 1)
                for ms in r { histogram[Analytics.taskHistogramBoundsMs.filter { ms >= $0 }.count] += 1 }
                #expect(t.histogram == histogram, "\(t.stage) histogram")
            }
        }
    }
}
