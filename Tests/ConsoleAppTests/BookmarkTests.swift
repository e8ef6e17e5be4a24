import AgentOSCore
import ConsoleApp
import ConsoleUI
import Testing

/// logs.bookmark on the embedded default: the bookmark is the log store's, listed on the Logs view,
/// and `'` jumps to its line.
@Suite struct BookmarkTests {
    @Test func bookmarkedLineIsListedAndJumpedTo() throws {
        let h = ActionHarness(view: .logs)
        h.press(.char("'"))
        #expect(h.lastNotice.hasPrefix("no bookmarks"), "\(h.lastNotice)")
        // A line well above the newest: the view follows the end.
        let list = Screens.listing(h.state)
        try #require(list.count > 20)
        let line = try #require(h.select { $0 == list.id(list.count - 15) })
        h.press(.char("B"))
        h.type("start of the outage")
        h.press(.enter)
        #expect(h.dispatched.last?.payload["id"] == .int(Int(line)!))
        #expect(h.lastNotice.contains("bookmark #1 on log line \(line)"), "\(h.lastNotice)")
        #expect(h.world.read { $0.logBookmarks.map(\.logID) } == [Int(line)!], "the log store keeps it")
        #expect(h.screen.contains("1 bookmark, ' jumps"), "the view lists it")
        #expect(h.screen.contains("◆ "), "its line is marked")

        h.press(.char("G"))
        #expect(h.state.current.selectedID != line)
        h.press(.char("'"))
        #expect(h.state.current.selectedID == line, "' jumps to the bookmarked line")
        #expect(h.lastNotice == "bookmark #1 on line \(line) by alice: start of the outage")
        h.press(.enter)
        #expect(h.screen.contains("Bookmarks") && h.screen.contains("alice: start of the outage"), "its detail shows the note")

        #expect(
            h.dispatcher.dispatch(
                ActionRequest(action: "logs.bookmark", payload: ["id": .int(999_999_999), "note": .string("x")], actor: Actor(user: "alice"))
            )
            .outcome == .failure(.notFound("log line 999999999")))
    }
}
