import AgentOSCore
import ConsoleApp
import Foundation
import Testing

/// The cached snapshot is built every few seconds while events keep arriving, so a reload (the
/// periodic refresh, a reconnect) often brings a snapshot older than the screen. The events the
/// console applied after that snapshot's sequence are applied again: the screen never goes back in
/// time (reliability check 10 saw it behind the database for 9.6 s after a reconnect).
@Suite struct SnapshotReplayTests {
    static func snapshot(seq: Int64, generation: Int) -> Snapshot {
        var s = Fixture.snapshot
        s.eventSeq = seq
        s.generation = generation
        return s
    }

    static func created(_ seq: Int64, _ id: String) -> EventEnvelope {
        EventEnvelope(
            seq: seq, ts: Fixture.now, source: "t",
            event: .jobCreated(JobPatch(id: id, name: "job \(id)", stage: "video_downloader", status: .queued, owner: "alice")))
    }

    func state() -> AppState {
        var s = Fixture.state(view: .jobs)
        _ = App.update(&s, .snapshotLoaded(Self.snapshot(seq: 100, generation: 8)))
        return s
    }

    func shows(_ s: AppState, _ id: String) -> Bool { Screens.items(s).contains { $0.id == id } }

    @Test func aReloadedSnapshotOlderThanTheScreenGetsTheEventsAgain() {
        var s = state()
        for (seq, id) in [(101, "r-1"), (102, "r-2"), (103, "r-3")] { _ = App.update(&s, .bus(.event(Self.created(Int64(seq), id)))) }
        // The warmer's next snapshot was built at seq 101: it has r-1 (the fixture's jobs stand in).
        var cached = Self.snapshot(seq: 101, generation: 9)
        cached.apply(Self.created(101, "r-1").event, at: Fixture.now)
        _ = App.update(&s, .snapshotLoaded(cached))
        #expect(shows(s, "r-1") && shows(s, "r-2") && shows(s, "r-3"), "nothing the screen showed is lost")
        #expect(s.sequencer.lastSeq == 103 && !s.sync.reloadDue)
        // The next event follows on; one already replayed is stale.
        #expect(App.update(&s, .bus(.event(Self.created(104, "r-4")))).isEmpty && shows(s, "r-4"))
        _ = App.update(&s, .bus(.event(Self.created(103, "r-3"))))
        #expect(s.sync.counters.eventsStale == 1)
    }

    @Test func eventsPastAHoleWaitForASnapshotThatHasTheHole() {
        var s = state()
        _ = App.update(&s, .bus(.event(Self.created(101, "h-1"))))
        // The stream dropped: 102 and 103 were missed, 104 came after the reconnect.
        #expect(App.update(&s, .bus(.connected(gapPossible: true))) == [.resyncSnapshot])
        _ = App.update(&s, .bus(.event(Self.created(104, "h-4"))))
        _ = App.update(&s, .snapshotLoaded(Self.snapshot(seq: 100, generation: 9)))
        #expect(shows(s, "h-1"), "101 follows the snapshot: applied again")
        #expect(!shows(s, "h-4"), "104 would sit on a snapshot without 102 and 103")
        #expect(s.sync.reloadDue && s.sequencer.lastSeq == 101, "a reload is due for a snapshot past the hole")
        // The warmer catches up: a snapshot at 104 is taken as it is.
        var caught = Self.snapshot(seq: 104, generation: 10)
        caught.apply(Self.created(104, "h-4").event, at: Fixture.now)
        _ = App.update(&s, .snapshotLoaded(caught))
        #expect(shows(s, "h-4") && s.sequencer.lastSeq == 104)
    }

    /// A plain reload (the periodic refresh, an invalidation) whose cached snapshot stops short of a
    /// hole in the events on screen asks at once for one as new as the bus (reliability check 10:
    /// reloading the same cached snapshot left the screen behind the database for 9.6 s). A resync
    /// that still finds the hole does not ask again at once (`eventsPastAHoleWaitForASnapshotThatHasTheHole`).
    @Test func aReloadThatStopsShortOfAHoleAsksForASnapshotAsNewAsTheBus() {
        var s = state()
        _ = App.update(&s, .bus(.event(Self.created(101, "p-1"))))
        // 102 was lost in transit; 103 arrives: a gap, and a plain reload.
        #expect(App.update(&s, .bus(.event(Self.created(103, "p-3")))) == [.reloadSnapshot])
        // The cache still holds the snapshot at 100.
        #expect(App.update(&s, .snapshotLoaded(Self.snapshot(seq: 100, generation: 9))) == [.resyncSnapshot])
        #expect(shows(s, "p-1") && !shows(s, "p-3"))
        // The backend could not do better (its answer is still at 100): no second request at once.
        #expect(App.update(&s, .snapshotLoaded(Self.snapshot(seq: 100, generation: 9))).isEmpty)
        // A snapshot past the hole ends it.
        var caught = Self.snapshot(seq: 103, generation: 10)
        caught.apply(Self.created(103, "p-3").event, at: Fixture.now)
        #expect(App.update(&s, .snapshotLoaded(caught)).isEmpty)
        #expect(shows(s, "p-3") && s.sequencer.lastSeq == 103)
    }

    @Test func aSequenceThatStartedAgainIsNotReplayed() {
        var s = state()
        _ = App.update(&s, .bus(.event(Self.created(101, "old-1"))))
        // Redis restarted without persistence: its counter starts again below what was applied.
        _ = App.update(&s, .bus(.connected(gapPossible: true)))
        _ = App.update(&s, .snapshotLoaded(Self.snapshot(seq: 3, generation: 9)))
        #expect(!shows(s, "old-1") && s.sequencer.lastSeq == 3, "events of the previous sequence are not applied to the new one")
    }

    /// The snapshot's sequence is read before it is built, so it may already hold what the events
    /// just after that sequence did: applied again, they change nothing (a log line is not doubled).
    @Test func anEventTheSnapshotAlreadyHoldsIsNotCountedTwice() throws {
        var s = state()
        let newest = s.sync.snapshot?.logs.recent.last?.id ?? 0
        let line = LogLine(id: newest + 1, ts: Fixture.now, level: .error, source: "replay", message: "disk full")
        _ = App.update(&s, .bus(.event(EventEnvelope(seq: 101, ts: Fixture.now, source: "t", event: .logAppended([line])))))
        var built = Self.snapshot(seq: 100, generation: 9)
        built.apply(.logAppended([line]), at: Fixture.now)
        _ = App.update(&s, .snapshotLoaded(built))
        let logs = try #require(s.sync.snapshot?.logs)
        #expect(logs.recent.filter { $0.id == line.id }.count == 1)
        #expect(logs.bySource["replay"] == 1 && logs.byLevel["error"] == built.logs.byLevel["error"])
    }

    @Test func theEventsKeptForReplayAreBounded() {
        var s = state()
        for seq in 101...(100 + Int64(12_000)) { _ = App.update(&s, .bus(.event(Self.created(seq, "b-\(seq)")))) }
        #expect(s.sync.replayCount <= 5_000, "\(s.sync.replayCount)")
    }
}
