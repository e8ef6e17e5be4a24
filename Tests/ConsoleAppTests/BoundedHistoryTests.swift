import AgentOSCore
import ConsoleApp
import Foundation
import Testing

/// Issue 18 item 4 (D64): what the console keeps between reloads is bounded by the current data.
@Suite struct BoundedHistoryTests {
    /// The dashboard's depth trends follow the current snapshot's queues: 50 snapshots, each
    /// naming other queues, leave the trends of the last one only.
    @Test func queueTrendsForgetQueuesGoneFromTheSnapshot() throws {
        var s = Fixture.state(width: 120, height: 30, view: .dashboard)
        var snapshot = Fixture.snapshot
        try #require(!snapshot.queues.isEmpty)
        var now = Date()
        for round in 0..<50 {
            for i in snapshot.queues.indices { snapshot.queues[i].name = "q\(round)_\(i)" }
            snapshot.generation += 1
            _ = App.update(&s, .snapshotLoaded(snapshot))
            now += 1
            _ = App.update(&s, .tick(now))
        }
        let kept = s[local: DashboardScreen.Local.self].queueDepths
        #expect(Set(kept.keys) == Set(snapshot.queues.map(\.name)), "\(kept.count) queues remembered")
        #expect(kept.values.allSatisfy { $0.count == 1 })
    }

    /// The subscriber's buffer overflowed: the console says so and reloads a snapshot as new as the
    /// bus (the dropped events are not in a cached snapshot built before them).
    @Test func aBufferOverflowIsShownAndReloads() {
        var s = Fixture.state(width: 120, height: 30, view: .dashboard)
        _ = App.update(&s, .snapshotLoaded(Fixture.snapshot))
        let effects = App.update(&s, .bus(.overflowed(dropped: 21)))
        #expect(effects.contains(.resyncSnapshot))
        #expect(s.notices.last?.text == "event buffer full: 21 event(s) dropped · reloading")
    }
}
