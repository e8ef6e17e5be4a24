import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Exact figures at volume with real Celery 5.7 workers storing results in a Redis result backend
/// (D77): past the 2,000-task cap and the 500 listed, the console's completed, failed and
/// per-minute figures equal the backend's, for tasks finished before the monitor started
/// (reconciled from the backend) and after (counted from the events), in the monitor, in the
/// shared view and in `agentos snapshot --celery` with no console running.
@Suite("Celery: exact figures at volume", .serialized)
struct CeleryFiguresWorkerTests {
    /// The backend's finished-task records under the cluster's prefix.
    func backendRecords(_ c: CeleryCluster) throws -> [CeleryBackendRecord] {
        let backend = c.redis.selecting(database: CeleryCluster.resultDatabase)
        var out: [CeleryBackendRecord] = []
        var cursor = "0"
        repeat {
            let reply = try backend.send("SCAN", cursor, "MATCH", c.transport.resultKeyPattern, "COUNT", "1000").array ?? []
            cursor = reply.first?.string ?? "0"
            let keys = (reply.last?.array ?? []).compactMap(\.bytes)
            if keys.isEmpty { continue }
            for (k, v) in zip(keys, try backend.send(["MGET"] + keys).array ?? []) {
                if let bytes = v.bytes, let r = CeleryBackendRecord.parse(id: String(decoding: k, as: UTF8.self), bytes) { out.append(r) }
            }
        } while cursor != "0"
        return out
    }

    /// `n` tasks on `queue`, every tenth one failing.
    func sendTasks(_ c: CeleryCluster, _ n: Int, queue: String) throws {
        for i in 0..<n {
            if i % 10 == 9 { try c.send("fixture.fail", [], queue: queue) } else { try c.send("fixture.add", [.int(i), .int(1)], queue: queue) }
        }
    }

    @Test func completedFailedAndPerMinuteEqualTheResultBackend() async throws {
        let c = try CeleryCluster(queues: ["qf"], resultBackend: true)
        let fx = try ActionFixture(seed: false, celery: c.monitor)
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qf"], concurrency: 2)
        // Before the monitor: 1,000 tasks, known only to the result backend.
        let before = 1_000
        try sendTasks(c, before, queue: "qf")
        let stored = await TestServers.eventuallyAsync(300) { ((try? backendRecords(c))?.count ?? 0) >= before }
        let held = try backendRecords(c).count
        try #require(stored, "the backend holds \(held) of \(before) results; worker log: \(c.workerLog(host).suffix(1500))")

        c.monitor.start(pollSeconds: 2)
        #expect(await c.waitOnline(host))
        // After: 2,500 more, counted from the events (3,500 in all: over the 2,000 held and the 500 listed).
        let after = 2_500
        try sendTasks(c, after, queue: "qf")
        let total = before + after
        func finished() -> Int { c.monitor.current.figures.finished.values.reduce(0, +) }
        let done = await TestServers.eventuallyAsync(600) { finished() >= total && ((try? backendRecords(c))?.count ?? 0) >= total }
        let records = try backendRecords(c)
        try #require(done, "monitor counted \(finished()), backend holds \(records.count), of \(total)")
        // Late events would show as more than the backend: a last look after the workers are idle.
        try await Task.sleep(nanoseconds: 2_000_000_000)

        let succeeded = records.filter { $0.state == "SUCCESS" }.count
        let failed = records.filter { $0.state == "FAILURE" }.count
        #expect(succeeded == total - total / 10 && failed == total / 10, "backend: \(succeeded) succeeded, \(failed) failed")
        let figures = c.monitor.current.figures
        #expect(figures.finished["SUCCESS"] == succeeded && figures.finished["FAILURE"] == failed, "\(figures.finished)")
        #expect(c.monitor.current.tasks.count <= 2_000)

        // Per minute: the backend's date_done against the finishing events' timestamps. A task that
        // finished within a second of a minute's edge may be on either side (the record is written
        // milliseconds before the event); everything else is in the same minute, and the sums agree.
        var backendMinutes: [Int: (completed: Int, failed: Int)] = [:]
        var nearEdge: [Int: Int] = [:]
        for r in records {
            let done = try #require(r.done, "a record without date_done: \(r)")
            let m = Int((done / 60).rounded(.down))
            if r.state == "SUCCESS" { backendMinutes[m, default: (0, 0)].completed += 1 } else { backendMinutes[m, default: (0, 0)].failed += 1 }
            let into = done - Double(m) * 60
            if into < 1 {
                nearEdge[m, default: 0] += 1
                nearEdge[m - 1, default: 0] += 1
            }
            if into > 59 {
                nearEdge[m, default: 0] += 1
                nearEdge[m + 1, default: 0] += 1
            }
        }
        let mine = Dictionary(figures.minutes.map { ($0.minute, (completed: $0.completed, failed: $0.failed)) }, uniquingKeysWith: { a, _ in a })
        #expect(mine.values.reduce(0) { $0 + $1.completed } == succeeded && mine.values.reduce(0) { $0 + $1.failed } == failed)
        for m in Set(mine.keys).union(backendMinutes.keys) {
            let a = mine[m] ?? (0, 0)
            let b = backendMinutes[m] ?? (0, 0)
            let slack = nearEdge[m] ?? 0
            #expect(
                abs(a.completed - b.completed) <= slack && abs(a.failed - b.failed) <= slack,
                "minute \(m): console \(a), backend \(b), \(slack) near an edge")
        }

        // The console's snapshot and a headless `agentos snapshot --celery`: from its shared view, then
        // with none (the backend's records read by the command itself).
        var merged = Snapshot(generation: 1, generatedAt: Date(), source: "live")
        merged = c.monitor.merge(into: merged)
        #expect(merged.jobs.count(.completed) == succeeded && merged.jobs.count(.failed) == failed, "\(merged.jobs.byStatus)")
        c.monitor.shareView()
        c.monitor.stop()
        let options =
            "{\"broker_db\": \(CeleryCluster.brokerDatabase), \"global_keyprefix\": \"\(c.prefix)\", \"queues\": [\"qf\"], \"result_db\": \(CeleryCluster.resultDatabase), \"result_keyprefix\": \"\(c.prefix)\"}"
        let common = ["--json", "--postgres", fx.backend.url, "--redis", try TestServers.redisURL(), "--namespace", fx.ns.prefix]
        func byStatus(_ args: [String]) throws -> [String: Int] {
            let r = try Child.run([Reliability.binary, "snapshot"] + common + args)
            #expect(r.status == 0, "\(r.stderr)")
            return (ReliabilityIdempotencyTests.json(r.stdout)["jobs"] as? [String: Any])?["by_status"] as? [String: Int] ?? [:]
        }
        let base = try byStatus([])
        for shared in [true, false] {
            if !shared { try c.broker.send("DEL", c.transport.sharedViewKey) }
            let s = try byStatus(["--celery", options])
            #expect(
                (s["completed"] ?? 0) - (base["completed"] ?? 0) == succeeded && (s["failed"] ?? 0) - (base["failed"] ?? 0) == failed,
                "shared view \(shared): \(s) (without Celery \(base))")
        }
    }
}
