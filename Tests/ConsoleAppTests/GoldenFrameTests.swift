import AgentOSCore
import ConsoleApp
import ConsoleUI
import Testing

@Suite struct GoldenFrameTests {
    @Test(arguments: ViewID.allCases)
    func eachViewAt80x24(view: ViewID) throws {
        try Fixture.assertGolden(App.render(Fixture.state(width: 80, height: 24, view: view)), "\(view)-80x24")
    }

    @Test(arguments: ViewID.allCases)
    func eachViewAt160x48(view: ViewID) throws {
        try Fixture.assertGolden(App.render(Fixture.state(width: 160, height: 48, view: view)), "\(view)-160x48")
    }

    /// The smallest size, and a terminal without UTF-8 (`LANG=C`, ASCII glyphs) at every size.
    @Test(arguments: ViewID.allCases)
    func eachViewAt40x12AndInLANGC(view: ViewID) throws {
        try Fixture.assertGolden(App.render(Fixture.state(width: 40, height: 12, view: view)), "\(view)-40x12")
        for (w, h) in [(40, 12), (80, 24), (160, 48)] {
            var s = Fixture.state(width: w, height: h, view: view)
            s.unicode = false
            try Fixture.assertGolden(App.render(s), "\(view)-ascii-\(w)x\(h)")
        }
    }

    @Test func queuesPaneAndJobDetail() throws {
        var state = Fixture.state(view: .jobs)
        _ = App.update(&state, .key(.char("]")))
        try Fixture.assertGolden(App.render(state), "jobs-queues-80x24")
        var detail = Fixture.state(width: 100, height: 40, view: .jobs)
        _ = App.update(&detail, .key(.char("/")))
        for c in "failed" { _ = App.update(&detail, .key(.char(c))) }
        _ = App.update(&detail, .key(.enter))
        _ = App.update(&detail, .key(.enter))
        try Fixture.assertGolden(App.render(detail), "jobs-failed-detail-100x40")
    }

    @Test func helpAndStaleBanner() throws {
        var help = Fixture.state()
        _ = App.update(&help, .key(.char("?")))
        try Fixture.assertGolden(App.render(help), "help-80x24")
        var stale = Fixture.state(view: .workers)
        _ = App.update(&stale, .bus(.disconnected(reason: "connection to Redis lost", retryInMillis: 1_600)))
        _ = App.update(&stale, .tick(Fixture.now.addingTimeInterval(12)))
        try Fixture.assertGolden(App.render(stale), "stale-80x24")
    }
}
