import AgentOSCore
import ConsoleApp
import ConsoleUI
import Testing

/// The registry is the only list of screens: tabs, keys, palette names and actions come from it.
@Suite struct ScreenRegistryTests {
    @Test func everyTabHasItsKeyItsNamesAndItsPanes() {
        let tabs = ScreenRegistry.tabs
        #expect(tabs.map(\.rawValue) == ["dashboard", "jobs", "system", "workers", "managers", "logs", "config", "analytics"])
        for (i, tab) in tabs.enumerated() {
            #expect(KeyMap.standard.command(for: .char(Character(String(i + 1)))) == .view(tab))
            #expect(Command(name: "view.\(tab.aliases[0])") == .view(tab))
        }
        // Every screen's names lead to the tab that shows it; Queues is the second pane of Jobs & Queue.
        for screen in ScreenRegistry.all {
            for alias in screen.aliases { #expect(ViewID.named(alias) == screen.tab, "\(alias)") }
        }
        #expect(ScreenRegistry.panes(of: .jobs).map(\.id) == [.jobs, .queues, .scheduled, .retries, .dead])
    }

    @Test func eachCatalogActionIsOfferedByTheScreensOfItsView() {
        for spec in ActionCatalog.all {
            // The retry and dead sets offer job.retry and job.delete again, on their own rows.
            let offering = ScreenRegistry.all.filter { $0.offers(spec) && !($0 is JobSetScreen) }
            #expect(offering.count == 1, "\(spec.name) is offered by \(offering.map(\.id))")
            #expect(offering.allSatisfy { $0.actionView == spec.view }, "\(spec.name)")
        }
    }

    @Test func thePanesOfATabKeepTheirOwnLists() {
        var state = Fixture.state(view: .jobs)
        _ = App.update(&state, .key(.char("j")))
        #expect(state.screen.id == .jobs && state.current.cursor.selected == 1)
        _ = App.update(&state, .key(.char("]")))
        #expect(state.screen.id == .queues && state.current.cursor.selected == 0)
        #expect(App.actionEntries(state).allSatisfy { $0.spec.targetField == "queue" })
        _ = App.update(&state, .key(.char("[")))
        #expect(state.screen.id == .jobs && App.actionEntries(state).allSatisfy { $0.spec.targetField == "id" })
    }
}
