import AgentOSCore
import ConsoleApp
import ConsoleTerminal
import Foundation
import Testing

/// `Y` copies the selected id with OSC 52, only when the operator opted in (issue 20, item 8).
@Suite struct ClipboardTests {
    @Test func yCopiesTheSelectedOrOpenIDOnlyWhenOptedIn() {
        var s = Fixture.state(view: .jobs)
        let id = Screens.listing(s).id(0)
        #expect(UpdateTests.fold(&s, [.char("Y")]).isEmpty)
        #expect(s.notices.last?.text.contains("--osc52") == true)
        s.clipboard = true
        #expect(UpdateTests.fold(&s, [.char("Y")]) == [.copyToClipboard(id)])
        #expect(s.notices.last?.text == "copied \(id)")
        // In a drill-down: its item, even when the list under it has moved on.
        _ = UpdateTests.fold(&s, [.enter, .char("Y")])
        guard case .detail(let target) = s.overlay else {
            Issue.record("no detail: \(s.overlay)")
            return
        }
        #expect(target.id == id && s.notices.last?.text == "copied \(id)")
    }

    /// What reaches the terminal: the id in base64 inside an OSC 52 sequence, nothing else of it.
    @Test func theTerminalGetsAnOSC52Sequence() throws {
        let output = try #require(tmpfile())
        let input = try #require(fopen("/dev/null", "r"))
        defer {
            fclose(output)
            fclose(input)
        }
        let screen = try CursesScreen(output: output, input: input, terminal: "xterm-256color")
        screen.copyToClipboard("fb3e31c7-39d9-4032-8870-3be0b29b9a41")
        screen.shutdown()
        let written = String(decoding: writtenBytes(output), as: UTF8.self)
        let encoded = Data("fb3e31c7-39d9-4032-8870-3be0b29b9a41".utf8).base64EncodedString()
        #expect(written.contains("\u{1b}]52;c;\(encoded)\u{07}"))
        #expect(!written.contains("fb3e31c7"), "the id only in base64")
    }
}
