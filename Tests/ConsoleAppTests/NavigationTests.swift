import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// Navigation that does what it says (issue 19, item 11): palette names of panes, commands that
/// clear an earlier error, a reload you can see, panes that keep their filter and sort, and dialogs
/// that Ctrl-C and the arrow keys do not turn into something else.
@Suite struct NavigationTests {
    static func palette(_ s: inout AppState, _ command: String) {
        _ = UpdateTests.fold(&s, [.char(":")] + command.map { .char($0) } + [.enter])
    }

    @Test func thePaletteOpensThePaneItNames() {
        var s = Fixture.state(view: .dashboard)
        Self.palette(&s, "queues")
        #expect(s.screen.id == .queues && App.render(s).row(1).contains("[queues]"), "\(App.render(s).row(1))")
        Self.palette(&s, "changes")
        #expect(s.screen.id == .changes && s.view == .dashboard)
        Self.palette(&s, "jobs")
        #expect(s.screen.id == .jobs)
    }

    @Test func aCommandThatWorksClearsTheUnknownCommand() {
        var s = Fixture.state()
        Self.palette(&s, "kitchen")
        #expect(s.notices.contains { $0.text.hasPrefix("unknown command :kitchen") })
        Self.palette(&s, "logs")
        #expect(!s.notices.contains { $0.text.hasPrefix("unknown command") } && s.screen.id == .logs)
    }

    @Test func reloadSaysItStartedAndWhenItIsDone() {
        var s = Fixture.state()
        #expect(UpdateTests.fold(&s, [.char("R")]) == [.reloadSnapshot])
        #expect(s.notices.last?.text == "reloading the snapshot…")
        var fresh = Fixture.snapshot
        fresh.generation = 8
        _ = App.update(&s, .snapshotLoaded(fresh))
        #expect(s.notices.last?.text == "reloaded: generation 8" && s.notices.last?.level == .success)
        // A reload the console does by itself says nothing.
        fresh.generation = 9
        _ = App.update(&s, .snapshotLoaded(fresh))
        #expect(s.notices.last?.text == "reloaded: generation 8")
    }

    @Test func eachPaneKeepsItsFilterAndSortAcrossSwitches() {
        var s = Fixture.state(view: .jobs)
        _ = UpdateTests.fold(&s, [.char("/")] + "alice".map { .char($0) } + [.enter, .char("s")])
        let jobs = s.current
        #expect(jobs.filter.text == "alice" && jobs.sortColumn != nil)
        _ = UpdateTests.fold(&s, [.char("]"), .char("/"), .char("v"), .enter, .char("["), .char("2")])
        #expect(s.screen.id == .jobs && s.current.filter.text == "alice" && s.current.sortColumn == jobs.sortColumn)
        _ = UpdateTests.fold(&s, [.char("]")])
        #expect(s.screen.id == .queues && s.current.filter.text == "v")
    }

    @Test func ctrlCClosesAnActionDialogInsteadOfQuitting() throws {
        let h = ActionHarness(view: .jobs)
        _ = try #require(ActionTests.queuedJob(h))
        h.press(.char("c"))
        guard case .confirm = h.state.overlay else {
            Issue.record("no dialog: \(h.state.overlay)")
            return
        }
        h.press(.ctrl("c"))
        #expect(h.state.overlay == .none && !h.state.quitting && !h.effects.contains(.quit))
        #expect(h.lastNotice == "job.cancel not run: declined")
        h.press(.char("."))
        h.press(.ctrl("c"))
        #expect(h.state.overlay == .none && !h.state.quitting, "the action menu too")
        h.press(.ctrl("c"))
        #expect(h.state.quitting && h.effects.contains(.quit), "outside a dialog Ctrl-C quits")
    }

    @Test func arrowsMoveBetweenTheButtonsOfAYesNoDialog() throws {
        let h = ActionHarness(view: .jobs)
        let id = try #require(ActionTests.queuedJob(h))
        h.press(.char("c"), .right)
        guard case .confirm(let dialog) = h.state.overlay else {
            Issue.record("→ closed the dialog: \(h.state.overlay)")
            return
        }
        #expect(dialog.focusYes)
        h.press(.left, .right)
        h.press(.enter)
        #expect(h.dispatched.map(\.action) == ["job.cancel"], "Enter pressed [Yes]")
        #expect(h.job(id)?.status == .cancelled)
    }
}

extension NavigationTests {
    /// Help longer than the screen says so and scrolls to its last binding (it was cut off at 80×24).
    @Test func helpScrollsToItsLastBinding() throws {
        var s = Fixture.state(view: .jobs)
        _ = UpdateTests.fold(&s, [.char("?")])
        let sections = App.helpSections(s)
        let last = try #require(sections.last?.entries.last)
        var screen = App.render(s).text()
        // Long ones are cut to the column: their first words identify them.
        func shown(_ help: String, in screen: String) -> Bool { screen.contains(String(help.prefix(14))) }
        #expect(screen.contains("j/k scroll") && !shown(last.help, in: screen), "\(screen)")
        _ = UpdateTests.fold(&s, [.char("G")])
        screen = App.render(s).text()
        #expect(shown(last.help, in: screen) && s.overlay == .help, "\(screen)")
        _ = UpdateTests.fold(&s, [.char("g")])
        #expect(s.helpOffset == 0 && App.render(s).text().contains(sections[0].title))
        // Every binding is reachable: the rows shown over all offsets cover every entry.
        var seen = Set<String>()
        for _ in 0...200 {
            let screen = App.render(s).text()
            for e in sections.flatMap(\.entries) where shown(e.help, in: screen) { seen.insert(e.help) }
            _ = UpdateTests.fold(&s, [.pageDown])
        }
        #expect(seen.count == Set(sections.flatMap(\.entries).map(\.help)).count)
    }
}

extension NavigationTests {
    /// The marks are counted on the context line (the count read a set nothing filled), and `*`
    /// marks every shown row, then clears them (issue 20, item 8).
    @Test func marksAreCountedAndStarMarksEveryShownRow() {
        var s = Fixture.state(view: .jobs)
        _ = UpdateTests.fold(&s, [.char(" "), .char(" ")])
        #expect(App.render(s).row(1).contains("2 marked"), "\(App.render(s).row(1))")
        _ = UpdateTests.fold(&s, [.escape, .char("/")] + "alice".map { .char($0) } + [.enter])
        let shown = Screens.listing(s)
        let ids = Set((0..<shown.count).map(shown.id))
        _ = UpdateTests.fold(&s, [.char("*")])
        #expect(s.current.markedIDs.isSuperset(of: ids) && !ids.isEmpty)
        #expect(App.render(s).row(1).contains("\(Fmt.count(s.current.markedIDs.count)) marked"))
        _ = UpdateTests.fold(&s, [.char("*")])
        #expect(s.current.markedIDs.isEmpty && !App.render(s).row(1).contains("marked"))
    }
}
