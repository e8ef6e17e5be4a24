import AgentOSCore
import AgentOSTestSupport
import AgentOSWorld
import Foundation
import Testing

/// Task types (issue 20 item 5, D70), embedded: the snapshot's figures equal a recount over the
/// simulator's own per-minute stats, window by window.
@Suite struct TaskTypeTests {
    @Test func embeddedFiguresEqualARecountOverTheSimulatorsStats() throws {
        // 20 minutes and 20 seconds: the minute in progress holds attempts the windows must leave out.
        let (sim, _) = SimulatorTests.run(seed: 7, rate: 2, seconds: 1_220)
        let s = sim.snapshot(generation: 1)
        let cut = (sim.now.timeIntervalSince1970 / 60).rounded(.down) * 60
        for minutes in Analytics.taskTypeWindows {
            let from = Date(timeIntervalSince1970: cut - Double(minutes) * 60)
            let to = Date(timeIntervalSince1970: cut)
            var ok: [String: Int] = [:]
            var failed: [String: Int] = [:]
            var runtimes: [String: [Double]] = [:]
            for (minute, stages) in sim.stats where from <= minute && minute < to {
                for (stage, st) in stages {
                    ok[stage, default: 0] += st.completed
                    failed[stage, default: 0] += st.failed
                    runtimes[stage, default: []] += st.durationsMs
                }
            }
            let types = s.analytics.taskTypes(window: minutes)
            let stages = Set(ok.keys).union(failed.keys).filter { ok[$0, default: 0] + failed[$0, default: 0] > 0 }
            #expect(Set(types.map(\.stage)) == stages, "window \(minutes)")
            #expect(!types.isEmpty && types.map(\.stage) == Pipeline.stages.filter(stages.contains), "pipeline order")
            for t in types {
                #expect(t.from == from && t.to == to && t.windowMinutes == minutes)
                #expect(t.succeeded == ok[t.stage] && t.failed == failed[t.stage], "\(t.stage) over \(minutes) min")
                let r = runtimes[t.stage, default: []]
                for (p, got) in [(0.5, t.p50Ms), (0.95, t.p95Ms), (0.99, t.p99Ms)] {
                    let want = percentileCont(r, p)
                    #expect(abs((got ?? -1) - (want ?? -1)) < 1e-6, "\(t.stage) p\(p)")
                }
                var histogram = [Int](repeating: 0, count: Analytics.taskHistogramBoundsMs.count + 1)
                for ms in r { histogram[Analytics.taskHistogramBoundsMs.filter { ms >= $0 }.count] += 1 }
                #expect(t.histogram == histogram, "\(t.stage) histogram")
                #expect(abs(t.perMinute - Double(t.succeeded + t.failed) / Double(minutes)) < 1e-9)
            }
            // The same attempts the throughput series counts over those complete minutes.
            let series = s.analytics.throughput.filter { from <= $0.minute && $0.minute < to }
            #expect(types.reduce(0) { $0 + $1.succeeded } == series.reduce(0) { $0 + $1.completed })
            #expect(types.reduce(0) { $0 + $1.failed } == series.reduce(0) { $0 + $1.failed })
        }
        #expect(s.analytics.taskTypes(window: 15).contains { $0.failed > 0 }, "some attempts failed")
    }

    /// The new key decodes the same through the fast decoder as through Foundation.
    @Test func taskTypesRoundTripThroughBothDecoders() throws {
        let (sim, _) = SimulatorTests.run(seed: 7, rate: 2, seconds: 400)
        let s = sim.snapshot(generation: 1)
        #expect(!s.analytics.taskTypes.isEmpty)
        let data = try s.encoded()
        #expect(try Snapshot.decode(data) == s)
        #expect(try AgentJSON.decoder().decode(Snapshot.self, from: data) == s)
    }
}
