import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Exact task figures at any volume (D77): counters from the events, not the capped task map.
@Suite("Celery figures")
struct CeleryFiguresTests {
    static func event(_ type: String, _ id: String, at t: Double, _ more: [String: JSONTree] = [:]) -> CeleryEvent {
        CeleryEvent(type: type, hostname: "w@h", timestamp: t, fields: more.merging(["uuid": .string(id)]) { a, _ in a })
    }

    /// 3,000 tasks (over the 2,000 cap and the 500 listed) over five minutes: every total and every
    /// minute as sent, in the state and in the merged snapshot.
    @Test func totalsAndMinutesAreExactPastTheCaps() {
        var state = CeleryState()
        let start = 1_800_000_000.0 // a minute boundary
        var expected: [Int: (completed: Int, failed: Int)] = [:]
        var runtimes: [Double] = []
        for i in 0..<3_000 {
            let t = start + Double(i) * 0.1 // 10 per second: five minutes
            let id = "t\(i)"
            state.apply(Self.event("task-received", id, at: t))
            state.apply(Self.event("task-started", id, at: t))
            let minute = Int(t / 60)
            if i % 7 == 0 {
                state.apply(Self.event("task-failed", id, at: t, ["exception": .string("ValueError('boom')")]))
                expected[minute, default: (0, 0)].failed += 1
            } else {
                let runtime = Double(i % 50) / 100
                runtimes.append(runtime)
                state.apply(Self.event("task-succeeded", id, at: t, ["runtime": .double(runtime)]))
                expected[minute, default: (0, 0)].completed += 1
            }
        }
        // Ten still running, one revoked: counted apart.
        for i in 0..<10 { state.apply(Self.event("task-started", "r\(i)", at: start + 300)) }
        state.apply(Self.event("task-revoked", "x", at: start + 300))
        let failed = (0..<3_000).filter { $0 % 7 == 0 }.count
        #expect(state.tasks.count == 2_000)
        #expect(state.figures.finished == ["SUCCESS": 3_000 - failed, "FAILURE": failed, "REVOKED": 1])
        #expect(state.figures.inFlight == ["STARTED": 10])
        let minutes = Dictionary(state.figures.minutes.map { ($0.minute, ($0.completed, $0.failed)) }, uniquingKeysWith: { a, _ in a })
        #expect(
            minutes.count == expected.count
                && expected.allSatisfy { e in minutes[e.key].map { $0.0 == e.value.completed && $0.1 == e.value.failed } ?? false },
            "\(minutes) vs \(expected)")
        let counted = state.figures.minutes.reduce(0) { $0 + $1.runtimeCount }
        let summed = state.figures.minutes.reduce(0) { $0 + $1.runtimeSumSeconds }
        #expect(counted == runtimes.count && abs(summed - runtimes.reduce(0, +)) < 1e-6)

        // The snapshot: totals and the complete minutes from the counters.
        var merged = Snapshot(generation: 1, generatedAt: Date(), source: "live")
        state.mergeFigures(into: &merged, now: start + 6 * 60)
        #expect(merged.jobs.count(.completed) == 3_000 - failed && merged.jobs.count(.failed) == failed)
        #expect(merged.jobs.count(.running) == 10 && merged.jobs.count(.cancelled) == 1 && merged.jobs.total == 3_011)
        let now = Date(timeIntervalSince1970: start + 6 * 60)
        let complete = merged.analytics.completeMinutes(last: 60, now: now)
        #expect(complete.reduce(0) { $0 + $1.completed } == 3_000 - failed && complete.reduce(0) { $0 + $1.failed } == failed)
        for m in complete {
            let e = expected[Int(m.minute.timeIntervalSince1970 / 60)] ?? (0, 0)
            #expect(m.completed == e.completed && m.failed == e.failed, "\(m)")
        }
        let rate = Double(3_000 - failed) / 3_000
        #expect(abs((merged.analytics.successRate(last: 60, now: now) ?? 0) - rate) < 1e-9)
        // Runtime p50 within the histogram's 5 %: the true median of the runtimes (ms).
        let sorted = runtimes.sorted()
        let median = sorted[(sorted.count + 1) / 2 - 1] * 1_000
        let p50 = merged.analytics.stageLatency.first { $0.stage == "celery" }?.p50Ms
        #expect(p50.map { abs($0 - median) <= median * 0.05 + 1 } == true, "p50 \(String(describing: p50)) vs \(median)")
    }

    /// The result backend's records count once: not again when their event comes late, and not
    /// when the events counted them while the backend was read.
    @Test func reconcileWithTheBackendCountsEachTaskOnce() {
        var state = CeleryState()
        state.beginReconcile()
        state.apply(Self.event("task-succeeded", "both-early", at: 1_000)) // event before the scan read it
        let records = [
            CeleryBackendRecord(id: "old", state: "SUCCESS", done: 100), CeleryBackendRecord(id: "both-early", state: "SUCCESS", done: 1_000),
            CeleryBackendRecord(id: "both-late", state: "FAILURE", done: 1_001), CeleryBackendRecord(id: "p", state: "PENDING", done: nil)
        ]
        state.finishReconcile(records, recentSince: 900, until: 2_000)
        state.apply(Self.event("task-failed", "both-late", at: 1_001)) // event after the scan read it
        state.apply(Self.event("task-succeeded", "new", at: 1_002))
        #expect(state.figures.finished == ["SUCCESS": 3, "FAILURE": 1])
    }

    @Test(arguments: [
        ("2026-12-06T17:40:01.123456+00:00", 1_796_578_801.123456), ("2026-12-06T17:40:01.5", 1_796_578_801.5),
        ("2026-12-06T18:40:01+01:00", 1_796_578_801.0)
    ])
    func backendDatesParse(_ text: String, _ seconds: Double) throws {
        let r = try #require(CeleryBackendRecord.parse(id: "k", Array("{\"status\": \"SUCCESS\", \"date_done\": \"\(text)\"}".utf8)))
        #expect(abs((r.done ?? 0) - seconds) < 1e-5 && r.state == "SUCCESS" && r.id == "k", "\(text): \(String(describing: r.done))")
    }
}
