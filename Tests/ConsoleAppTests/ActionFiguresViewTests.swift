import AgentOSCore
import ConsoleApp
import ConsoleUI
import Testing

/// The action key figures (issue 10) on the Dashboard and System Controls.
@Suite struct ActionFiguresViewTests {
    static func state(view: ViewID, width: Int = 100) -> AppState {
        var state = Fixture.state(width: width, height: 30, view: view)
        var snapshot = Fixture.snapshot
        snapshot.system.actions = ActionFigures(finished: 41, denials: 3, failures: 1, p99Ms: 182)
        snapshot.system.cache.hits = 97
        snapshot.system.cache.misses = 3
        _ = App.update(&state, .snapshotLoaded(snapshot))
        return state
    }

    @Test func theDashboardShowsP99DenialsAndTheHitRate() {
        let text = App.render(Self.state(view: .dashboard)).text()
        #expect(text.contains("Actions p99 5m 182ms  denials 3  failed 1 of 41  cache hit 97.0%"), "\(text)")
    }

    @Test func systemControlsShowTheSameFigures() {
        let text = App.render(Self.state(view: .system, width: 160)).text()
        #expect(text.contains("p99 182ms · 3 denied · 1 failed of 41 (5m)"), "\(text)")
        #expect(text.contains("hit rate 97.0% (97/100)"), "\(text)")
    }
}
