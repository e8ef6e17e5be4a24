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

        // The menu: a click on a row runs that entry. Retry (of a failed job) is standard and not destructive: no dialog, it runs at once.
        let failed = try #require(h.select { h.job($0)?.status == .failed })
        h.press(.char("."))
        let menu = App.render(h.state)
        let row = try #require((0..<menu.height).first { menu.row($0).contains("Retry job") })
        h.perform(App.update(&h.state, .key(.mouse(Mouse(.click, x: try column(h.state, "Retry job", row: row), y: row)))))
        #expect(h.state.overlay == .none, "\(h.state.overlay)")
        #expect(h.dispatched.map(\.action) == ["job.cancel", "job.retry"])
        #expect(h.job(failed)?.status == .queued)
    }

    /// Where `text` is drawn: the first row showing it and its column.
    func place(_ s: AppState, _ text: String) throws -> (x: Int, y: Int) {
        let frame = App.render(s)
        let y = try #require((0..<frame.height).first { frame.row($0).contains(text) }, "'\(text)' not on screen:\n\(frame.text())")
        return (try column(s, text, row: y), y)
    }

    /// The action a click started: the one whose form or dialog is open, else the one dispatched last.
    static func started(_ h: ActionHarness) -> ActionName? {
        switch h.state.overlay {
        case .actionForm(let form): return form.pending.spec.id
        case .confirm(let dialog): return dialog.pending.spec.id
        default: return h.dispatched.last.flatMap { ActionName(rawValue: $0.action) }
        }
    }

    /// "Maintenance mode on" and "… off" begin alike (a search of the drawn text for a title's start
    /// once opened "on" for a click on "off"): each click opens its own entry's dialog, whose buttons
    /// then run or cancel it.
    @Test func aClickOnAMenuEntryRunsThatEntryAndNoLookAlike() throws {
        let h = ActionHarness(view: .dashboard)
        h.press(.char("M"))
        h.type("system")
        h.press(.enter)
        h.type("INC-7")
        h.press(.enter)
        #expect(h.world.read { $0.maintenance.enabled }, "maintenance is on before the click turns it off")

        h.press(.char("."))
        let off = try place(h.state, "Maintenance mode off")
        h.perform(click(&h.state, off.x + 2, off.y))
        #expect(Self.started(h) == .systemMaintenanceOff, "\(h.state.overlay)")
        let yes = try place(h.state, "[ Yes ]")
        h.perform(click(&h.state, yes.x + 2, yes.y))
        #expect(h.dispatched.last?.action == "system.maintenance_off" && h.state.overlay == .none)
        #expect(h.world.read { !$0.maintenance.enabled })

        h.press(.char("."))
        let on = try place(h.state, "Maintenance mode on ")
        h.perform(click(&h.state, on.x + 2, on.y))
        guard case .confirm(let dialog) = h.state.overlay, dialog.pending.spec.id == .systemMaintenanceOn else {
            Issue.record("no dialog of system.maintenance_on: \(h.state.overlay)")
            return
        }
        let cancel = try place(h.state, "[ Esc cancel ]")
        h.perform(click(&h.state, cancel.x + 1, cancel.y))
        #expect(h.state.overlay == .none && h.dispatched.count == 2 && h.world.read { !$0.maintenance.enabled })
    }

    /// With the menu scrolled, each line shown means the entry drawn on it.
    @Test func theLinesOfAScrolledMenuAreTheEntriesTheyShow() throws {
        let h = ActionHarness(view: .workers, width: 80, height: 24)
        let entries = App.actionEntries(h.state)
        h.press(.char("."))
        for _ in 0..<(entries.count - 1) { h.press(.char("j")) }
        let menu = h.state
        #expect(!App.render(menu).text().contains(" \(entries[0].title)  "), "scrolled: the first entry is out of sight")
        let frame = App.render(menu)
        var clicked = 0
        for entry in entries where entry.disabled == nil {
            guard let y = (0..<frame.height).first(where: { frame.row($0).contains(" \(entry.title)  ") }) else { continue }
            h.state = menu
            h.dispatched = []
            h.perform(click(&h.state, 20, y))
            #expect(Self.started(h) == entry.spec.id, "line \(y): \(entry.title)")
            clicked += 1
        }
        #expect(clicked >= 5)
    }

    /// A click on a row of a scrolled list selects the row drawn there.
    @Test func aClickOnAScrolledListSelectsTheRowDrawnThere() throws {
        var s = Fixture.state(view: .jobs)
        for _ in 0..<8 { _ = click(&s, 10, 5, .wheelDown) }
        #expect(s.current.cursor.offset > 0, "the list scrolled")
        let frame = App.render(s)
        let rect = Screens.tableRect(s)
        let y = rect.y + 3
        let list = Screens.listing(s)
        let drawn = try #require((0..<list.count).first { frame.row(y).contains(list.item($0).row.cells[0]) })
        _ = click(&s, 10, y)
        #expect(s.current.cursor.selected == drawn && s.overlay == .none)
    }

    @Test func dialogButtonsCancelOrContinue() throws {
        let h = ActionHarness(view: .jobs)
        let id = try #require(ActionTests.queuedJob(h))
        h.press(.char("c"))
        let no = try place(h.state, "[ No ]")
        h.perform(click(&h.state, no.x + 2, no.y))
        #expect(h.state.overlay == .none && h.dispatched.isEmpty && h.job(id)?.status == .queued)

        h.press(.char("p"), .char("1"))
        let next = try place(h.state, "[ Enter continue ]")
        h.perform(click(&h.state, next.x + 3, next.y))
        #expect(h.dispatched.last?.action == "job.set_priority" && h.dispatched.last?.payload == ["id": .string(id), "priority": .string("1")])
        #expect(h.job(id)?.priority == 1)
    }

    /// Under an overlay the tabs and rows around it take no click.
    @Test func underAnOverlayTabsAndRowsTakeNoClick() throws {
        var s = Fixture.state(view: .jobs)
        let rect = Screens.tableRect(s)
        _ = App.update(&s, .key(.enter))
        guard case .detail = s.overlay else {
            Issue.record("no detail")
            return
        }
        let tab = try column(s, "4 ", row: 0)
        _ = click(&s, tab + 1, 0)
        #expect(s.view == .jobs, "the tab line shows above the detail but does not switch")
        _ = App.update(&s, .key(.escape))
        _ = App.update(&s, .key(.char(".")))
        let selected = s.current.cursor.selected
        _ = click(&s, 0, rect.y + 1 + 3)
        guard case .actionMenu = s.overlay else {
            Issue.record("a click on a row beside the menu closed it: \(s.overlay)")
            return
        }
        #expect(s.current.cursor.selected == selected, "a row beside the menu")
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
