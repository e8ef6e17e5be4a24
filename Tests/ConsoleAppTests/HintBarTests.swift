import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// The key hint bar (issue 20 item 8, D76): one line above the status line saying what the keys do
/// in this view, from the key map and the view's actions; `H` hides it and the table takes its row.
@Suite struct HintBarTests {
    static func hintLine(_ s: AppState) -> String {
        let rows = App.render(s).text().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return rows[s.height - 2]
    }

    @Test func theBarSaysTheViewsKeysAndHHidesIt() throws {
        var s = Fixture.state(width: 160, height: 30, view: .jobs)
        let bar = Self.hintLine(s)
        for part in ["<enter> open", "</> filter", "<:> command", "<space> mark", "<*> mark all", "<]> next pane", "<?> help", "<H> hide hints"] {
            #expect(bar.contains(part), "\(part) in: \(bar)")
        }
        // The view's own actions, with their keys from the catalog.
        let action = try #require(s.screen.actionEntries(s).first { $0.key != nil && $0.disabled == nil && !$0.forbidden })
        #expect(bar.contains("<\(action.key ?? "?")> \(action.title.lowercased())"), "\(bar)")
        let rows = s.screen.tableRect(s, body: FrameLayout(s).body).height
        _ = App.update(&s, .key(.char("H")))
        #expect(!Self.hintLine(s).contains("<enter> open"), "hidden: the body reaches the status line")
        #expect(s.screen.tableRect(s, body: FrameLayout(s).body).height == rows + 1)
        _ = App.update(&s, .key(.char("H")))
        #expect(Self.hintLine(s).contains("<enter> open"))
    }

    @Test func aDrillDownsBarSaysItsLinksAndAReadOnlyConsoleNoActions() throws {
        var s = Fixture.state(width: 160, height: 30, view: .jobs)
        _ = App.update(&s, .key(.enter))
        let bar = Self.hintLine(s)
        #expect(bar.contains("<esc> back") && bar.contains("<y> raw record") && bar.contains("<l> its log lines"), "\(bar)")
        var readOnly = Fixture.state(width: 160, height: 30, view: .jobs)
        readOnly.readOnly = true
        #expect(!Self.hintLine(readOnly).contains("actions") && Self.hintLine(readOnly).contains("<enter> open"))
    }
}
