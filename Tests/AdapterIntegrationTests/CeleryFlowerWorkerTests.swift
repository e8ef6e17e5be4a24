import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Issue 25's Done-when at volume (D79): after 20,000 tasks through real Celery 5.7 workers, the
/// console's completed, failed and per-minute figures equal the Redis result backend's and Flower
/// 2's own (its HTTP API, `/api/tasks`), Flower following the same events beside it. A few minutes
/// on a 2-core machine: it runs when AGENTOS_TEST_CELERY_VOLUME=1 (a whole scripts/test.sh run sets it).
@Suite("Celery: figures at 20,000 tasks against the backend and Flower", .serialized)
struct CeleryFlowerWorkerTests {
    static let enabled = ProcessInfo.processInfo.environment["AGENTOS_TEST_CELERY_VOLUME"] == "1"

    @Test(.enabled(if: enabled, "AGENTOS_TEST_CELERY_VOLUME=1 runs it (a few minutes)"))
    func twentyThousandTasksCountTheSameAsTheBackendAndFlower() async throws {
        let c = try CeleryCluster(queues: ["qv"], resultBackend: true)
        defer { c.close() }
        let figures = CeleryFiguresWorkerTests()
        c.monitor.start(pollSeconds: 2)
        let hosts = [try c.startWorker("w1", queues: ["qv"], concurrency: 2), try c.startWorker("w2", queues: ["qv"], concurrency: 2)]
        for h in hosts { #expect(await c.waitOnline(h)) }
        let flower = try await c.startFlower(seeing: hosts)

        let total = 20_000
        try figures.sendTasks(c, total, queue: "qv")
        func finished() -> Int { c.monitor.current.figures.finished.values.reduce(0, +) }
        /// Flower's count of the task events it applied, by type (its Prometheus counter).
        func flowerFinished() -> Int {
            let metrics = (try? CeleryCluster.get(flower + "/metrics")) ?? ""
            return metrics.split(separator: "\n").filter {
                $0.hasPrefix("flower_events_total{") && ($0.contains("type=\"task-succeeded\"") || $0.contains("type=\"task-failed\""))
            }.reduce(0) { $0 + Int(Double($1.split(separator: " ").last ?? "") ?? 0) }
        }
        let done = await TestServers.eventuallyAsync(900) {
            finished() >= total && flowerFinished() >= total && ((try? figures.backendRecords(c))?.count ?? 0) >= total
        }
        let records = try figures.backendRecords(c)
        try #require(done, "console counted \(finished()), Flower \(flowerFinished()), backend holds \(records.count), of \(total)")
        try await Task.sleep(nanoseconds: 2_000_000_000) // a late event would show as more than the others

        // The backend's and Flower's own figures, each read from its own store.
        let succeeded = records.filter { $0.state == "SUCCESS" }.count
        let failed = records.filter { $0.state == "FAILURE" }.count
        #expect(succeeded == total - total / 10 && failed == total / 10, "backend: \(succeeded) succeeded, \(failed) failed")
        let body = try CeleryCluster.get(flower + "/api/tasks")
        let tasks = try #require(
            try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: [String: Any]], "Flower /api/tasks: \(body.prefix(300))")
        var flowerStates: [String: Int] = [:]
        var flowerMinutes: [Int: (completed: Int, failed: Int)] = [:]
        for (_, t) in tasks {
            let state = t["state"] as? String ?? "?"
            flowerStates[state, default: 0] += 1
            if state == "SUCCESS", let at = t["succeeded"] as? Double { flowerMinutes[Int((at / 60).rounded(.down)), default: (0, 0)].completed += 1 }
            if state == "FAILURE", let at = t["failed"] as? Double { flowerMinutes[Int((at / 60).rounded(.down)), default: (0, 0)].failed += 1 }
        }
        #expect(flowerStates["SUCCESS"] == succeeded && flowerStates["FAILURE"] == failed, "Flower /api/tasks: \(flowerStates)")

        // The console: totals and each minute equal Flower's (both by the finishing event's timestamp).
        let mine = c.monitor.current.figures
        #expect(mine.finished["SUCCESS"] == succeeded && mine.finished["FAILURE"] == failed, "console: \(mine.finished)")
        let minutes = Dictionary(mine.minutes.map { ($0.minute, (completed: $0.completed, failed: $0.failed)) }, uniquingKeysWith: { a, _ in a })
        #expect(minutes.values.reduce(0) { $0 + $1.completed } == succeeded && minutes.values.reduce(0) { $0 + $1.failed } == failed)
        for m in Set(minutes.keys).union(flowerMinutes.keys).sorted() {
            let a = minutes[m] ?? (0, 0)
            let b = flowerMinutes[m] ?? (0, 0)
            #expect(a.completed == b.completed && a.failed == b.failed, "minute \(m): console \(a), Flower \(b)")
        }
        // What the console shows: the merged snapshot's totals.
        let merged = c.monitor.merge(into: Snapshot(generation: 1, generatedAt: Date(), source: "live"))
        #expect(merged.jobs.count(.completed) == succeeded && merged.jobs.count(.failed) == failed, "\(merged.jobs.byStatus)")
    }
}
