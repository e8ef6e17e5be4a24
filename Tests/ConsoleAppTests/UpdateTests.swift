import AgentOSCore
import AgentOSTestSupport
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

@Suite struct UpdateTests {
    static func fold(_ state: inout AppState, _ keys: [Key]) -> [Effect] {
        keys.flatMap { App.update(&state, .key($0)) }
    }

    @Test func numberKeysTabAndPaletteSwitchViews() {
        var s = Fixture.state()
        _ = Self.fold(&s, [.char("4")])
        #expect(s.view == .workers)
        _ = Self.fold(&s, [.tab, .tab])
        #expect(s.view == .logs)
        _ = Self.fold(&s, [.backTab])
        #expect(s.view == .managers)
        _ = Self.fold(&s, [.char(":"), .char("j"), .char("o"), .char("b"), .char("s"), .enter])
        #expect(s.view == .jobs && s.overlay == .none)
        _ = Self.fold(&s, [.char(":"), .char("z"), .char("z"), .enter])
        #expect(s.view == .jobs && s.notices.last?.text.contains("unknown command :zz") == true)
        #expect(App.paletteCompletions("wo").contains("workers"))
    }

    @Test func movingAndPagingStayInBounds() {
        var s = Fixture.state(view: .jobs)
        let count = Screens.rowCount(s)
        #expect(count > 30)
        _ = Self.fold(&s, [.down, .down, .char("j")])
        #expect(s.current.cursor.selected == 3)
        _ = Self.fold(&s, [.end])
        #expect(s.current.cursor.selected == count - 1)
        _ = Self.fold(&s, [.pageUp])
        #expect(s.current.cursor.selected == count - 1 - (Table.visibleRows(in: Screens.tableRect(s)) - 1))
        _ = Self.fold(&s, [.char("g"), .up])
        #expect(s.current.cursor.selected == 0 && s.current.cursor.offset == 0)
    }

    @Test func filterNarrowsRowsAndBangInverts() {
        var s = Fixture.state(view: .jobs)
        let all = Screens.rowCount(s)
        _ = Self.fold(&s, [.char("/")] + "failed".map { .char($0) } + [.enter])
        let failed = Screens.items(s)
        #expect(!failed.isEmpty && failed.count < all)
        #expect(failed.allSatisfy { $0.row.cells[3] == "failed" || $0.search.contains("failed") })
        _ = Self.fold(
            &s,
            [.char("/"), .backspace, .backspace, .backspace, .backspace, .backspace, .backspace, .char("!")] + "failed".map { .char($0) } + [.enter])
        #expect(Screens.rowCount(s) == all - failed.count)
        _ = Self.fold(&s, [.escape])
        #expect(Screens.rowCount(s) == all && !s.current.filter.isActive)
        // A regex.
        _ = Self.fold(&s, [.char("/")] + "^[0-9a]{2}".map { .char($0) } + [.enter])
        #expect(Screens.items(s).allSatisfy { $0.search.range(of: "^[0-9a]{2}", options: .regularExpression) != nil })
    }

    @Test func sortCyclesColumnsAndReverses() {
        var s = Fixture.state(view: .workers)
        // The worker ids are all different (every worker has the same status here: sorting those proves nothing).
        _ = Self.fold(&s, [.char("s")])
        #expect(s.current.sortColumn == 0 && s.current.sortAscending)
        let ids = Screens.items(s).map { $0.row.cells[0] }
        #expect(ids.count > 2 && Set(ids).count == ids.count, "\(ids)")
        #expect(ids == ids.sorted { $0.localizedStandardCompare($1) == .orderedAscending })
        _ = Self.fold(&s, [.char("S")])
        #expect(!s.current.sortAscending)
        #expect(Screens.items(s).map { $0.row.cells[0] } == ids.reversed())
        _ = Self.fold(&s, [.char("s"), .char("s")])
        #expect(s.current.sortColumn == 2 && s.current.sortAscending, "the next columns, ascending again")
    }

    @Test func enterOpensDetailAndLoadsHistoryEscCloses() {
        var s = Fixture.state(view: .jobs)
        let effects = Self.fold(&s, [.enter])
        guard case .detail(let target) = s.overlay, target.screen == .jobs else {
            Issue.record("no detail: \(s.overlay)")
            return
        }
        let id = target.id
        #expect(effects == [.loadJobHistory(id)])
        _ = App.update(&s, .jobHistory(id, [JobEvent(jobID: id, ts: Fixture.now, type: "created")]))
        #expect(s[local: JobsScreen.Local.self].history[id]?.count == 1)
        _ = Self.fold(&s, [.char("j")])
        #expect(s.current.cursor.selected == 0, "keys do not leak through an overlay")
        _ = Self.fold(&s, [.escape])
        #expect(s.overlay == .none)
    }

    @Test func aLongDrillDownScrollsWithTheMovementKeys() {
        var s = Fixture.state(view: .jobs)
        _ = Self.fold(&s, [.enter])
        guard case .detail(let target) = s.overlay, target.screen == .jobs else {
            Issue.record("no detail: \(s.overlay)")
            return
        }
        let id = target.id
        // Sixty timeline entries: far more than 24 rows.
        let events = (0..<60).map { JobEvent(jobID: id, ts: Fixture.now.addingTimeInterval(Double($0)), type: "progress", message: "step \($0)") }
        _ = App.update(&s, .jobHistory(id, events))
        var screen = App.render(s).text()
        #expect(screen.contains("j/k scroll") && !screen.contains("step 59"), "\(screen)")
        _ = Self.fold(&s, [.char("G")])
        screen = App.render(s).text()
        #expect(screen.contains("step 59") && !screen.contains("id:"), "the end of the timeline: \(screen)")
        let bottom = s.detailOffset
        _ = Self.fold(&s, [.char("j"), .char("j")])
        #expect(s.detailOffset == bottom, "stops at the end")
        _ = Self.fold(&s, [.char("k")])
        #expect(s.detailOffset == bottom - 1)
        _ = Self.fold(&s, [.char("g")])
        #expect(s.detailOffset == 0 && App.render(s).text().contains("id:"))
        _ = Self.fold(&s, [.pageDown])
        #expect(s.detailOffset > 10)
        #expect(s.overlay == .detail(DetailTarget(.jobs, id)) && s.current.cursor.selected == 0, "the list under it did not move")
        // Opening another drill-down starts at its top.
        _ = Self.fold(&s, [.escape, .enter])
        #expect(s.detailOffset == 0)
    }

    @Test func theConfigDrillDownShowsTheDiffAndTheHistory() throws {
        var s = Fixture.state(width: 120, height: 40, view: .config)
        _ = Self.fold(&s, [.char("g")])
        let effects = Self.fold(&s, [.enter])
        guard case .detail(let target) = s.overlay, target.screen == .config else {
            Issue.record("no detail: \(s.overlay)")
            return
        }
        let key = target.id
        #expect(effects == [.loadConfigHistory(key)])
        var screen = App.render(s).text()
        #expect(screen.contains("History") && screen.contains("loading…"))
        let entry = try #require(s.snapshot?.config.first { $0.key == key })
        let changes = [
            ConfigChange(version: 3, oldValue: "7", newValue: "9", changedBy: "alice", changedAt: Fixture.now, reason: "INC-12"),
            ConfigChange(version: 2, oldValue: "5", newValue: "7", changedBy: "bob", changedAt: Fixture.now.addingTimeInterval(-60))
        ]
        _ = App.update(&s, .configHistory(key, changes))
        screen = App.render(s).text()
        #expect(screen.contains("v3") && screen.contains("alice  7 → 9  — INC-12") && screen.contains("bob  5 → 7"), "\(screen)")
        #expect(screen.contains("b rolls back to a version"))
        #expect(entry.value == entry.defaultValue ? screen.contains("= the default value") : screen.contains("(default)"))
        // A change of that entry elsewhere reloads its history.
        var changed = entry
        changed.version += 1
        let reload = App.update(
            &s, .bus(.event(EventEnvelope(seq: (s.sequencer.lastSeq ?? 0) + 1, ts: Fixture.now, source: "other", event: .configChanged(changed)))))
        #expect(reload.contains(.loadConfigHistory(key)))
    }

    @Test func analyticsWindowCycles() {
        var s = Fixture.state(view: .analytics)
        #expect(s[local: AnalyticsScreen.Local.self].window == 60)
        _ = Self.fold(&s, [.char("w")])
        #expect(s[local: AnalyticsScreen.Local.self].window == 360)
        _ = Self.fold(&s, [.char("w")])
        #expect(s[local: AnalyticsScreen.Local.self].window == 15 && App.render(s).row(2).contains("last 15 min"))
    }

    @Test func quitAndHelp() {
        var s = Fixture.state()
        _ = Self.fold(&s, [.char("?")])
        #expect(s.overlay == .help)
        _ = Self.fold(&s, [.char("?")])
        #expect(s.overlay == .none)
        #expect(Self.fold(&s, [.char("q")]) == [.quit] && s.quitting)
        var t = Fixture.state()
        #expect(Self.fold(&t, [.ctrl("c")]) == [.quit])
    }

    @Test func eventsApplyInOrderAndGapsReload() {
        var s = Fixture.state(view: .jobs)
        s.sequencer.reset(to: 100)
        let job = JobPatch(id: "new-job", name: "breaking news", stage: "video_downloader", status: .queued, owner: "alice")
        let e1 = EventEnvelope(seq: 101, ts: Fixture.now, source: "t", event: .jobCreated(job))
        #expect(App.update(&s, .bus(.event(e1))).isEmpty)
        #expect(Screens.items(s).contains { $0.id == "new-job" })
        let stale = EventEnvelope(seq: 99, ts: Fixture.now, source: "t", event: .jobDeleted(id: "new-job"))
        _ = App.update(&s, .bus(.event(stale)))
        #expect(s.sync.counters.eventsStale == 1 && Screens.items(s).contains { $0.id == "new-job" })
        let gap = EventEnvelope(seq: 110, ts: Fixture.now, source: "t", event: .jobUpdated(JobPatch(id: "new-job", status: .running)))
        #expect(App.update(&s, .bus(.event(gap))) == [.reloadSnapshot])
        #expect(s.sync.counters.gaps == 1)
        let unknown = EventEnvelope(seq: 111, ts: Fixture.now, source: "t", event: .unknown(type: "x.y"))
        _ = App.update(&s, .bus(.event(unknown)))
        #expect(s.sync.counters.unknownEvents == 1)
    }

    @Test func invalidationsReloadAtMostOncePerSpacing() {
        var s = Fixture.state() // loaded at Fixture.now
        func invalidate() -> [Effect] {
            let seq = (s.sequencer.lastSeq ?? 0) + 1 // in order after the snapshot and the events on screen
            return App.update(&s, .bus(.event(EventEnvelope(seq: seq, ts: Fixture.now, source: "t", event: .cacheInvalidated))))
        }
        // A burst right after a load: nothing now, one reload on the first tick a second after the load.
        #expect(invalidate().isEmpty && invalidate().isEmpty && s.sync.reloadDue)
        #expect(App.update(&s, .tick(Fixture.now.addingTimeInterval(0.5))).isEmpty)
        #expect(App.update(&s, .tick(Fixture.now.addingTimeInterval(1.0))) == [.reloadSnapshot])
        #expect(!s.sync.reloadDue && s.sync.reloadPending)
        // A change while that load is on its way may not be in it: reloaded again after the spacing.
        #expect(invalidate().isEmpty && s.sync.reloadDue)
        _ = App.update(&s, .snapshotLoaded(Fixture.snapshot)) // loaded at 1.0
        #expect(App.update(&s, .tick(Fixture.now.addingTimeInterval(1.5))).isEmpty)
        #expect(App.update(&s, .tick(Fixture.now.addingTimeInterval(2.0))) == [.reloadSnapshot])
        _ = App.update(&s, .snapshotLoaded(Fixture.snapshot)) // loaded at 2.0
        // Long after the last load an invalidation reloads at once; with nothing due, ticks wait for the refresh interval.
        _ = App.update(&s, .tick(Fixture.now.addingTimeInterval(3.5)))
        #expect(invalidate() == [.reloadSnapshot])
        _ = App.update(&s, .snapshotLoaded(Fixture.snapshot)) // loaded at 3.5
        #expect(App.update(&s, .tick(Fixture.now.addingTimeInterval(6))).isEmpty)
        #expect(App.update(&s, .tick(Fixture.now.addingTimeInterval(8.5))) == [.reloadSnapshot])
    }

    @Test func aChangeElsewhereReloadsAndKeepsTheEventSequence() {
        var s = Fixture.state()
        s.sequencer.reset(to: 41)
        #expect(App.update(&s, .bus(.changedElsewhere)) == [.reloadSnapshot])
        #expect(App.update(&s, .bus(.changedElsewhere)).isEmpty && s.sync.reloadDue, "one load at a time")
        #expect(s.sequencer.admit(43) == .gap(expected: 42, got: 43), "the sequence is not forgotten")
    }

    @Test func disconnectShowsStaleAndReconnectReloads() {
        var s = Fixture.state()
        _ = App.update(&s, .bus(.disconnected(reason: "lost", retryInMillis: 200)))
        _ = App.update(&s, .bus(.disconnected(reason: "refused", retryInMillis: 400)))
        #expect(s.connection.isStale)
        guard case .down(_, _, let attempts) = s.connection.events else {
            Issue.record("events not down: \(s.connection.events)")
            return
        }
        #expect(attempts == 2)
        #expect(App.render(s).row(1).contains("STALE"))
        #expect(App.update(&s, .bus(.connected(gapPossible: true))) == [.resyncSnapshot])
        #expect(!s.connection.isStale && !App.render(s).row(1).contains("STALE"))
    }

    /// The subscriber's failover reason is on the STALE banner while it lasts and on the status line
    /// after the banner cleared by itself; the console reloads (a failover is a possible gap).
    @Test func aRedisFailoverIsNamedAndTheBannerClearsByItself() {
        var s = Fixture.state(width: 160)
        let reason = "redis failover: new master 127.0.0.1:6380"
        _ = App.update(&s, .bus(.disconnected(reason: reason, retryInMillis: 0)))
        #expect(App.render(s).row(1).contains("STALE") && App.render(s).row(1).contains(reason))
        #expect(App.update(&s, .bus(.connected(gapPossible: true))) == [.resyncSnapshot])
        let line = App.render(s).row(1)
        #expect(!line.contains("STALE") && line.contains("\(reason) · reloaded"), "\(line)")
        // An ordinary reconnect says only that.
        _ = App.update(&s, .bus(.disconnected(reason: "lost", retryInMillis: 200)))
        _ = App.update(&s, .bus(.connected(gapPossible: true)))
        #expect(s.notices.last?.text == "event stream reconnected")
    }

    @Test func selectionFollowsTheItemWhenRowsMove() {
        var s = Fixture.state(view: .jobs)
        _ = Self.fold(&s, [.down, .down])
        let id = s.current.selectedID
        s.sequencer.reset(to: 1)
        for i in 0..<3 {
            let e = EventEnvelope(
                seq: Int64(2 + i), ts: Fixture.now, source: "t",
                event: .jobCreated(JobPatch(id: "n\(i)", stage: "video_downloader", status: .queued)))
            _ = App.update(&s, .bus(.event(e)))
        }
        App.settle(&s)
        #expect(s.current.selectedID == id && s.current.cursor.selected == 5)
    }

    @Test func resizeKeepsTheCursorVisible() {
        var s = Fixture.state(width: 160, height: 48, view: .jobs)
        _ = Self.fold(&s, [.end])
        _ = App.update(&s, .resize(width: 80, height: 24))
        let visible = Table.visibleRows(in: Screens.tableRect(s))
        #expect(s.current.cursor.selected >= s.current.cursor.offset && s.current.cursor.selected < s.current.cursor.offset + visible)
        let frame = App.render(s)
        #expect(frame.width == 80 && frame.height == 24)
    }

    @Test func hostileTextIsDrawnAsVisibleEscapes() {
        var s = Fixture.state(view: .jobs)
        s.sequencer.reset(to: 1)
        let evil = JobPatch(
            id: "evil", name: "clip\u{1b}]52;c;cm0gLXJm\u{07}\u{9b}2J\u{202E}gpj.exe\u{2028}\u{AD}\u{E0041}", stage: "video_downloader",
            status: .queued)
        _ = App.update(&s, .bus(.event(EventEnvelope(seq: 2, ts: Fixture.now, source: "t", event: .jobCreated(evil)))))
        _ = Self.fold(&s, [.char("g")])
        let list = App.render(s)
        #expect(list.text().contains("evil     clip\\x1b]52"))
        _ = App.update(&s, .resize(width: 120, height: 30)) // the whole name fits in the detail
        _ = Self.fold(&s, [.enter])
        let frame = App.render(s)
        #expect(!frame.cells.contains { !TerminalSafety.unsafeScalars(String($0.character)).isEmpty })
        #expect(frame.text().contains("clip\\x1b]52;c;cm0gLXJm\\x07\\x9b2J<U+202E>gpj.exe<U+2028><U+00AD><U+E0041>"), "\(frame.text())")
    }
}
