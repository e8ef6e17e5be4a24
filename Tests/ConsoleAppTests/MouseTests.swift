import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// `--mouse`: clicks and the wheel, hit-tested against the frame on screen.
@Suite struct MouseTests {
    func click(_ s: inout AppState, _ x: Int, _ y: Int, _ action: Mouse.Action = .click) -> [Effect] {
        App.update(&s, .key(.mouse(Mouse(action, x: x, y: y))))
    }

    /// The column of `text` in row `y` of the frame.
    func column(_ s: AppState, _ text: String, row y: Int) throws -> Int {
        let row = App.render(s).row(y)
        let range = try #require(row.range(of: text), "'\(text)' not in row \(y): \(row)")
        return row.distance(from: row.startIndex, to: range.lowerBound)
    }

    @Test func aClickOnATabSwitchesTheView() throws {
        var s = Fixture.state(width: 160, height: 48)
        _ = click(&s, try column(s, "4 Agents & Workers", row: 0) + 3, 0)
        #expect(s.view == .workers)
        var narrow = Fixture.state()
        _ = click(&narrow, try column(narrow, "6 Logs", row: 0) + 2, 0)
        #expect(narrow.view == .logs)
    }

    @Test func aClickSelectsARowASecondOpensItAndTheWheelScrolls() throws {
        var s = Fixture.state(view: .jobs)
        let rect = Screens.tableRect(s)
        _ = click(&s, 10, rect.y + 1 + 4)
        #expect(s.current.cursor.selected == 4 && s.overlay == .none)
        let effects = click(&s, 10, rect.y + 1 + 4)
        guard case .detail(let target) = s.overlay, target.screen == .jobs else {
            Issue.record("no job detail: \(s.overlay)")
            return
        }
        #expect(effects.contains { if case .loadJobHistory = $0 { return true } else { return false } })
        _ = App.update(&s, .key(.escape))
        _ = click(&s, 10, rect.y + 1 + 2, .doubleClick)
        guard case .detail = s.overlay else {
            Issue.record("a double click opens")
            return
        }
        _ = App.update(&s, .key(.escape))
        _ = click(&s, 10, 5, .wheelDown)
        _ = click(&s, 10, 5, .wheelDown)
        #expect(s.current.cursor.selected == 2 + 6)
        _ = click(&s, 10, 5, .wheelUp)
        #expect(s.current.cursor.selected == 2 + 3)
        // The header row is no row.
        let before = s.current.cursor.selected
        _ = click(&s, 10, rect.y)
        #expect(s.current.cursor.selected == before && s.overlay == .none)
    }

    @Test func dialogButtonsAndMenuRowsAreClickable() throws {
        let h = ActionHarness(view: .jobs)
        let id = try #require(ActionTests.queuedJob(h))
        h.press(.char("c")) // job.cancel: a y/N dialog
        guard case .confirm = h.state.overlay else {
            Issue.record("no dialog")
            return
        }
        let frame = App.render(h.state)
        let y = try #require((0..<frame.height).first { frame.row($0).contains("[ Yes ]") })
        let x = try column(h.state, "[ Yes ]", row: y) + 3
        h.perform(App.update(&h.state, .key(.mouse(Mouse(.click, x: x, y: y)))))
        #expect(h.dispatched.count == 1 && h.dispatched.first?.action == "job.cancel" && h.job(id)?.status == .cancelled)

        // The menu: a click on a row runs that entry. Retry is standard and not destructive: no dialog, it runs at once.
        _ = try #require(ActionTests.queuedJob(h))
        h.press(.char("."))
        let menu = App.render(h.state)
        let row = try #require((0..<menu.height).first { menu.row($0).contains("Retry job") })
        h.perform(App.update(&h.state, .key(.mouse(Mouse(.click, x: try column(h.state, "Retry job", row: row), y: row)))))
        #expect(h.state.overlay == .none, "\(h.state.overlay)")
        #expect(h.dispatched.map(\.action) == ["job.cancel", "job.retry"])
    }

    @Test func theWallboardAndTextEntryIgnoreTheMouse() throws {
        var s = Fixture.state()
        App.startWallboard(&s, Wallboard(views: [.dashboard, .workers], interval: 10))
        _ = click(&s, 20, 0)
        _ = click(&s, 20, 10, .wheelDown)
        #expect(s.view == .dashboard && s.overlay == .none)
        var f = Fixture.state(view: .jobs)
        _ = App.update(&f, .key(.char("/")))
        _ = click(&f, 3, 0)
        #expect(f.view == .jobs && f.current.filter.editing)
    }
}
