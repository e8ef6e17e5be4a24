import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// Reading survives a storm (issue 19, item 9): a paused log view and an open drill-down stay as
/// the operator left them while hundreds of lines and jobs arrive and push theirs out of the
/// snapshot's recent window.
@Suite struct StormReadingTests {
    /// `count` new log lines after the newest one, through the event stream as a live console gets them.
    static func logStorm(_ s: inout AppState, lines count: Int) {
        let newest = s.snapshot?.logs.recent.last?.id ?? 0
        for batch in stride(from: 0, to: count, by: 50) {
            let lines = (batch..<min(count, batch + 50)).map {
                LogLine(id: newest + 1 + $0, ts: Fixture.now, level: .info, source: "storm", message: "storm line \($0)")
            }
            let seq = (s.sequencer.lastSeq ?? 0) + 1
            _ = App.update(&s, .bus(.event(EventEnvelope(seq: seq, ts: Fixture.now, source: "sim", event: .logAppended(lines)))))
        }
    }

    /// The rows of the table (the body under the context line, above the status line).
    static func tableRows(_ s: AppState) -> [String] {
        let frame = App.render(s)
        return (3..<(s.height - 1)).map { frame.row($0) }
    }

    @Test func aPausedLogHoldsStillAndCountsWhatArrived() {
        var s = Fixture.state(view: .logs)
        #expect(s[local: LogsScreen.Local.self].follow)
        // Up a few lines: paused, reading.
        _ = UpdateTests.fold(&s, [.char("k"), .char("k"), .char("k")])
        let before = Self.tableRows(s)
        let selected = s.current.selectedID
        #expect(App.render(s).row(1).contains("paused (f to follow)"))

        // More lines than the snapshot keeps: every line on screen has left the recent window.
        Self.logStorm(&s, lines: 1_200)
        #expect(s.snapshot?.logs.recent.first?.message == "storm line 200", "the storm did push the old lines out")
        #expect(Self.tableRows(s) == before, "the paused view did not move")
        #expect(s.current.selectedID == selected)
        #expect(App.render(s).row(1).contains("+1,000+ new"), "\(App.render(s).row(1))")

        // f follows again: the newest line is on screen, the count is gone.
        _ = UpdateTests.fold(&s, [.char("f")])
        #expect(Self.tableRows(s).contains { $0.contains("storm line 1199") })
        #expect(!App.render(s).row(1).contains("new"))
    }

    @Test func movingPastTheLastHeldLineTakesUpTheNewOnes() {
        var s = Fixture.state(view: .logs)
        _ = UpdateTests.fold(&s, [.char("k")])
        Self.logStorm(&s, lines: 3)
        #expect(App.render(s).row(1).contains("+3 new"))
        let line = s.current.selectedID
        // Onto the last held line: the new lines are taken up under it; on into them, still paused.
        _ = UpdateTests.fold(&s, [.char("j")])
        #expect(s.current.selectedID != line && !App.render(s).row(1).contains("new"))
        _ = UpdateTests.fold(&s, [.char("j")])
        #expect(!s[local: LogsScreen.Local.self].follow)
        #expect(s.snapshot?.logs.recent.first { String($0.id) == s.current.selectedID }?.message == "storm line 0")
    }

    @Test func anOpenDetailKeepsItsLastKnownDataWhenTheItemLeavesTheSnapshot() {
        var s = Fixture.state(view: .jobs)
        _ = UpdateTests.fold(&s, [.enter])
        guard case .detail(let target) = s.overlay else {
            Issue.record("no detail: \(s.overlay)")
            return
        }
        let before = App.render(s).text()
        #expect(before.contains("id:") && before.contains(target.id))

        // The job leaves the recent window (a storm of newer jobs).
        var later = Fixture.snapshot
        later.generation += 1
        later.jobs.recent.removeAll { $0.id == target.id }
        later.jobs.failed.removeAll { $0.id == target.id }
        _ = App.update(&s, .tick(Fixture.now.addingTimeInterval(10)))
        _ = App.update(&s, .snapshotLoaded(later))
        // "As of" the data it was last in: the first snapshot, loaded at Fixture.now.
        let after = App.render(s).text()
        #expect(s.overlay == .detail(target))
        #expect(after.contains("(last known)") && after.contains("last known, as of \(Fmt.clock(Fixture.now))"), "\(after)")
        #expect(after.contains("id:") && after.contains(target.id), "the fields are still there: \(after)")

        // Closed, the memory goes; another drill-down starts from its own data.
        _ = UpdateTests.fold(&s, [.escape])
        #expect(s.detailMemory == nil)
    }
}
