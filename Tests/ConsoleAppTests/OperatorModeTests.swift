import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// `--readonly`, the wallboard, and a key map's help and hints.
@Suite struct OperatorModeTests {
    @Test func readOnlyHidesEveryActionAndSaysSo() throws {
        let h = ActionHarness(view: .jobs)
        h.state.readOnly = true
        let id = try #require(ActionTests.queuedJob(h))
        #expect(App.actionEntries(h.state).isEmpty)
        h.press(.char("c")) // job.cancel's key
        #expect(h.dispatched.isEmpty && h.state.overlay == .none && h.job(id)?.status == .queued)
        h.press(.char("."))
        #expect(h.state.overlay == .none && h.lastNotice == "read-only console: actions are hidden")
        h.press(.char("!"))
        #expect(h.effects.isEmpty)
        let status = App.render(h.state).row(h.state.height - 1)
        #expect(status.contains(" READ-ONLY "), "\(status)")
        // The help lists no action and no action command.
        h.press(.char("?"))
        let help = h.screen
        #expect(!help.contains("Actions") && !help.contains("Cancel job") && !help.contains("action menu") && !help.contains("retry failed"))
        #expect(help.contains("this help") && help.contains("quit"))
    }

    @Test func keysOfActionsTheRoleMayNotRunAreNotShown() {
        // An operator may not clear queues (RBAC): the help leaves out that key, the menu shows no key on its row.
        let op = ActionHarness(view: .jobs, role: "operator")
        op.state.actionUnavailable = [:]
        op.press(.char("]"))
        let clear = App.actionEntries(op.state).first { $0.spec.name == "queue.clear" }
        #expect(clear?.forbidden == true && clear?.disabled?.contains("denied") == true)
        let lines = App.helpSections(op.state).flatMap(\.entries)
        #expect(!lines.contains { $0.help == "Clear queue" })
        #expect(lines.contains { $0.keys == "P" && $0.help == "Pause queue" })
        op.press(.char("."))
        #expect(op.screen.split(separator: "\n").contains { $0.contains("Clear queue") && !$0.contains("C Clear queue") })
        // A read-only role: no Actions section at all.
        let ro = ActionHarness(view: .jobs, role: "readonly")
        #expect(!App.helpSections(ro.state).contains { $0.title.hasPrefix("Actions") })
        let admin = ActionHarness(view: .jobs)
        #expect(App.helpSections(admin.state).flatMap(\.entries).contains { $0.keys == "c" && $0.help == "Cancel job" })
    }

    @Test func statusHintsAndHelpFollowTheActiveKeyMap() {
        var s = Fixture.state()
        #expect(App.render(s).row(23).contains("? help"))
        s.keyMap = KeyMap(KeyMap.standard.bindings.filter { $0.command != .help }.map { ($0.key, $0.command) } + [(.function(1), .help)])
        #expect(App.render(s).row(23).contains("F1 help") && !App.render(s).row(23).contains("? help"))
        _ = App.update(&s, .key(.function(1)))
        #expect(s.overlay == .help)
        #expect(App.render(s).text().contains("F1"))
    }

    func wallboard(width: Int = 80, height: Int = 24, views: [ViewID] = [.dashboard, .workers, .analytics], interval: Double = 10) -> AppState {
        var s = Fixture.state(width: width, height: height)
        App.startWallboard(&s, Wallboard(views: views, interval: interval))
        return s
    }

    @Test func wallboardCyclesItsViewsAndTakesNoActionKeys() {
        var s = wallboard()
        #expect(s.readOnly && s.view == .dashboard)
        var seen: [ViewID] = []
        for second in 0...35 {
            _ = App.update(&s, .tick(Fixture.now.addingTimeInterval(Double(second))))
            if seen.last != s.view { seen.append(s.view) }
        }
        #expect(seen == [.dashboard, .workers, .analytics, .dashboard])
        // Keys: no cursor to move, no actions, no overlays; space pauses, Tab moves on, q quits.
        let before = s.view
        for key in [Key.char("j"), .char("c"), .char("."), .char("?"), .char(":"), .char("/"), .enter] { _ = App.update(&s, .key(key)) }
        #expect(s.view == before && s.overlay == .none && s.current.cursor.selected == 0)
        _ = App.update(&s, .key(.char(" ")))
        for second in 36...70 { _ = App.update(&s, .tick(Fixture.now.addingTimeInterval(Double(second)))) }
        #expect(s.view == before && App.render(s).row(0).contains("paused"))
        _ = App.update(&s, .key(.tab))
        #expect(s.view != before)
        #expect(App.update(&s, .key(.char("q"))) == [.quit])
    }

    @Test func wallboardShowsLargeFiguresWithoutACursorFrom80x24ToVeryLarge() throws {
        for (w, h) in [(80, 24), (120, 40), (240, 70), (400, 120)] {
            let s = wallboard(width: w, height: h)
            let frame = App.render(s)
            let text = frame.text()
            #expect(frame.row(0).contains("Dashboard") && frame.row(0).contains("1/3"), "\(w)x\(h)")
            #expect(text.contains("QUEUED") && text.contains("FAILED") && text.contains("WORKERS UP"), "\(w)x\(h)")
            // The figures are drawn in the block font: whole rows of blocks.
            #expect(text.contains("███"), "\(w)x\(h)")
            #expect(frame.row(h - 1).contains("READ-ONLY"))
            // No selection bar anywhere.
            #expect(!frame.styleRuns().contains("/selection+bold"), "\(w)x\(h)")
        }
        // Bigger screens, bigger figures: the first tile's digits, measured on screen, grow with it.
        #expect(figureHeight(App.render(wallboard(width: 80, height: 24))) == 5)
        #expect(figureHeight(App.render(wallboard(width: 160, height: 48))) == 10)
        #expect(figureHeight(App.render(wallboard(width: 240, height: 70))) == 15)
        // The other views draw without a selection too.
        for view in [ViewID.workers, .analytics, .jobs, .logs] {
            var s = wallboard(width: 100, height: 30, views: [view])
            _ = App.update(&s, .tick(Fixture.now))
            let frame = App.render(s)
            #expect(frame.row(0).contains(view.title) && !frame.styleRuns().contains("/selection+bold"), "\(view)")
        }
        try Fixture.assertGolden(App.render(wallboard()), "wallboard-dashboard-80x24")
        try Fixture.assertGolden(App.render(wallboard(width: 160, height: 48)), "wallboard-dashboard-160x48")
    }

    /// Rows of block glyphs under the first tile's label (QUEUED), up to the next row of labels
    /// (the one with SUCCESS, whatever the grid).
    func figureHeight(_ frame: CellBuffer) -> Int {
        let rows = frame.text().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let label = rows.firstIndex(where: { $0.contains("QUEUED") }) else { return 0 }
        let firstTile = rows[(label + 1)...].prefix { !$0.contains("SUCCESS") }.map { String($0.prefix(frame.width / 3)) }
        return firstTile.filter { $0.contains("█") }.count
    }

    /// A room sees every alert at any size, once per source and title with a count and an age, and
    /// maintenance or an outage as a full-width banner.
    @Test func wallboardShowsGroupedAlertsWithTheirAgeAndBannersForMaintenanceAndOutages() throws {
        var snapshot = Fixture.snapshot
        snapshot.alerts = [
            Alert(id: 1, ts: Fixture.now.addingTimeInterval(-600), severity: .error, source: "workers", title: "Worker crop-3@gpu-15 went offline"),
            Alert(id: 2, ts: Fixture.now.addingTimeInterval(-60), severity: .error, source: "workers", title: "Worker crop-3@gpu-15 went offline"),
            Alert(id: 3, ts: Fixture.now.addingTimeInterval(-30), severity: .critical, source: "postgres", title: "Replication lag 40s"),
            Alert(id: 4, ts: Fixture.now, severity: .warning, source: "queues", title: "video_cutter paused", status: .acked)
        ]
        snapshot.system.maintenance = Maintenance(enabled: true, message: "db upgrade", since: Fixture.now.addingTimeInterval(-300), by: "alice")
        snapshot.system.services = snapshot.system.services.map { svc in
            var svc = svc
            if svc.name == "postgres" { svc.status = .down }
            return svc
        }
        for (w, h) in [(80, 24), (160, 48)] {
            var s = wallboard(width: w, height: h)
            _ = App.update(&s, .snapshotLoaded(snapshot))
            let rows = App.render(s).text().split(separator: "\n").map(String.init)
            let alertLines = rows.filter { $0.contains("went offline") || $0.contains("Replication lag") }
            // The critical one first; the two offline alerts are one line, aged by the oldest.
            #expect(alertLines.count == 2, "\(w)x\(h): \(alertLines)")
            #expect(alertLines.first?.contains("CRITICAL  Replication lag 40s  30s") == true, "\(alertLines)")
            #expect(alertLines.last?.contains("ERROR  Worker crop-3@gpu-15 went offline  ×2  10m") == true, "\(alertLines)")
            #expect(rows.contains { $0.contains("Alerts · 2 active") } && !rows.contains { $0.contains("video_cutter paused") })
            #expect(rows.contains { $0.contains("OUTAGE · postgres") && $0.contains("down") }, "\(w)x\(h)")
            #expect(rows.contains { $0.contains("MAINTENANCE · db upgrade · for 5m by alice") }, "\(w)x\(h)")
            #expect(rows.contains { $0.contains("QUEUED") }, "the figures stay under the banners at \(w)x\(h)")
        }
    }

    /// The success rate's axis starts under the worst minute, and says so: 96–99 % is not a solid block.
    @Test func wallboardSuccessChartHasAnAxisThatShowsTheChanges() throws {
        var s = wallboard(width: 120, height: 40, views: [.analytics])
        _ = App.update(&s, .tick(Fixture.now))
        let rows = App.render(s).text().split(separator: "\n").map(String.init)
        guard let title = rows.firstIndex(where: { $0.contains("Success rate") }) else {
            Issue.record("no success chart: \(rows.joined(separator: "\n"))")
            return
        }
        #expect(rows[title + 1].hasPrefix(" 100%"), "\(rows[title + 1])")
        let floorRow = rows[(title + 1)...].last { $0.range(of: #"^ \d+%"#, options: .regularExpression) != nil } ?? ""
        let floor = Int(floorRow.dropFirst().prefix { $0.isNumber }) ?? -1
        #expect(floor > 0 && floor < 100, "\(floorRow)")
        // The columns have different heights: not every row of the chart is full.
        let chart = rows[(title + 1)..<(rows.count - 1)].map { $0.dropFirst(6) }
        #expect(chart.contains { $0.contains("█") } && chart.contains { $0.contains(" ") && $0.contains("█") }, "\(chart)")
    }

    @Test func wallboardKeepsRunningThroughADisconnectWithAStalenessBanner() throws {
        var s = wallboard(width: 120, height: 40)
        _ = App.update(&s, .bus(.disconnected(reason: "connection to Redis lost", retryInMillis: 1_600)))
        _ = App.update(&s, .tick(Fixture.now.addingTimeInterval(12)))
        var frame = App.render(s)
        let banner = (1...3).map { frame.row($0) }.joined(separator: "\n")
        #expect(banner.contains("STALE · event stream down 12s (attempt 1, retry in 1.6s) · data as of "), "\(banner)")
        #expect(frame.text().contains("QUEUED"), "the last figures stay on screen")
        // Views keep cycling while stale.
        _ = App.update(&s, .tick(Fixture.now.addingTimeInterval(23)))
        #expect(s.view == .workers && App.render(s).text().contains("STALE"))
        // Reconnected: the console reloads, the fresh snapshot clears the banner.
        #expect(App.update(&s, .bus(.connected(gapPossible: true))) == [.resyncSnapshot])
        var fresh = Fixture.snapshot
        fresh.generation += 1
        _ = App.update(&s, .snapshotLoaded(fresh))
        frame = App.render(s)
        #expect(!frame.text().contains("STALE"))
        // Data that stops arriving is stale too, even with the links up.
        _ = App.update(&s, .tick(Fixture.now.addingTimeInterval(120)))
        #expect(App.staleness(s)?.hasPrefix("STALE · no fresh data for") == true)
        try Fixture.assertGolden(frame, "wallboard-workers-120x40")
    }
}
