import AgentOSCore
import AgentOSWorld
import ConsoleApp
import ConsoleTerminal
import ConsoleUI
import Foundation

extension BenchCommand {
    /// Console figures, in-process (no servers): frame render + diff with 10,000 rows, the work
    /// per frame at 1,000 events/s, and start to first full frame on the embedded default.
    func consoleFigures() throws -> [BenchResult] {
        var results: [BenchResult] = []
        let now = Date()

        // 1. A view with 10,000 rows: one row changes per frame (an event), render + diff.
        var sim = FleetSimulator(config: SimulatorConfig(seed: 4), start: now.addingTimeInterval(-600))
        _ = sim.advance(to: now, step: 1)
        var snapshot = sim.snapshot(generation: 1)
        let template = snapshot.jobs.recent
        snapshot.jobs.recent = (0..<10_000).map { i in
            var j = template[i % template.count]
            j.id = String(format: "%08x-0000-4000-8000-%012x", i, i)
            return j
        }
        var state = AppState(
            connection: ConnectionState(mode: "embedded", environment: "bench"),
            operatorInfo: OperatorInfo(user: "bench", role: "admin"), now: now, width: 160, height: 48)
        _ = App.update(&state, .snapshotLoaded(snapshot))
        _ = App.update(&state, .key(.char("2")))
        var previous = App.render(state)
        var seq: Int64 = 1
        state.sequencer.reset(to: 0)
        let frame = measure(iterations) {
            let id = snapshot.jobs.recent[Int(seq) % 40].id
            _ = App.update(
                &state,
                .bus(
                    .event(
                        EventEnvelope(
                            seq: seq, ts: now, source: "bench",
                            event: .jobUpdated(JobPatch(id: id, progress: Double(seq % 100) / 100))))))
            seq += 1
            App.settle(&state)
            let next = App.render(state)
            _ = next.changes(since: previous)
            previous = next
        }
        let fill = measure(iterations) {
            var b = CellBuffer(width: 160, height: 48)
            b.fill(b.bounds, "x", Style(.text))
            _ = b.changes(since: previous)
        }
        results.append(
            BenchResult(
                name: "frame render + diff, 10,000 rows at 160x48", figure: frame, baseline: fill,
                baselineName: "fill + diff of every cell", goalMs: 1))

        // 2. 1,000 events/s at 60 frames/s: ~17 events folded, then one frame.
        var live = state
        let batch = measure(iterations) {
            for _ in 0..<17 {
                let id = snapshot.jobs.recent[Int(seq) % 200].id
                _ = App.update(
                    &live,
                    .bus(
                        .event(
                            EventEnvelope(
                                seq: seq, ts: now, source: "bench",
                                event: .jobUpdated(
                                    JobPatch(
                                        id: id, status: seq % 7 == 0 ? .running : nil,
                                        progress: Double(seq % 100) / 100))))))
                seq += 1
            }
            App.settle(&live)
            _ = App.render(live).changes(since: previous)
        }
        let one = measure(iterations) {
            let id = snapshot.jobs.recent[Int(seq) % 200].id
            _ = App.update(
                &live, .bus(.event(EventEnvelope(seq: seq, ts: now, source: "bench", event: .jobUpdated(JobPatch(id: id, progress: 0.5))))))
            seq += 1
        }
        // An event waits for the next frame (frames at most every ConsoleRuntime.frameInterval; arrivals are uniform over
        // that interval) and then for that frame's work: fold the batch, settle, render, diff.
        let latency = batch.enumerated().map { i, work in Double(i % 100) / 100 * ConsoleRuntime.frameInterval * 1_000 + work }.sorted()
        results.append(
            BenchResult(
                name: "event to screen at 1,000 events/s (wait for the frame + fold 17 events + frame)", figure: latency,
                baseline: one, baselineName: "folding one event", goalP99Ms: 16))

        // 3. Start to first full frame on the embedded default (fleet, snapshot, first render).
        let start = try measure(max(3, iterations / 40)) {
            let world = EmbeddedWorld(config: SimulatorConfig(seed: 42))
            var s = AppState(
                connection: ConnectionState(mode: "embedded", environment: "embedded"),
                operatorInfo: OperatorInfo(user: "bench", role: "admin"), now: Date(), width: 160, height: 48)
            _ = App.update(&s, .snapshotLoaded(try world.dataManager.snapshot().0))
            _ = App.render(s).changes(since: nil)
        }
        let empty = measure(max(3, iterations / 40)) {
            let s = AppState(
                connection: ConnectionState(mode: "embedded", environment: "embedded"),
                operatorInfo: OperatorInfo(user: "bench", role: "admin"), now: Date(), width: 160, height: 48)
            _ = App.render(s).changes(since: nil)
        }
        results.append(
            BenchResult(
                name: "start to first full frame, embedded default (15 min of history)", figure: start, baseline: empty,
                baselineName: "first frame without data", goalMs: 150))
        return results
    }
}
