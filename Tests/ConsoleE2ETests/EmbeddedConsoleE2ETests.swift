import Foundation
import Testing

@Suite("agentos console end to end in tmux", .serialized)
struct EmbeddedConsoleE2ETests {
    @Test func walkAllViewsDrillFilterResizeQuit() throws {
        #expect(FileManager.default.isExecutableFile(atPath: TmuxSession.binary), "build the binary first (swift build --build-tests)")
        let t = try TmuxSession(command: "\(TmuxSession.binary) --seed 5", width: 120, height: 36)
        var screen = t.waitFor("Health")
        screen = t.waitFor("events ●")
        #expect(screen.contains("1 Dash") && screen.contains("EMBEDDED") && screen.contains("events ●"), "\(screen)")
        #expect(screen.contains("video_downloader") && screen.contains("QUEUE"))

        let titles = ["2": "Jobs & Queue", "3": "System Controls", "4": "Agents & Workers", "5": "Managers", "6": "System Logs",
                      "7": "Configuration", "8": "Analytics", "1": "Dashboard"]
        for key in ["2", "3", "4", "5", "6", "7", "8", "1"] {
            try t.send(key)
            screen = t.waitFor(" \(titles[key]!) ")
        }
        #expect(screen.contains("Health"))
        // Tab cycles too.
        try t.send("Tab")
        _ = t.waitFor("[jobs]")

        // Filter the jobs by owner, then drill into the first match.
        try t.send("/")
        try t.type("alice")
        try t.send("Enter")
        screen = t.waitFor("/alice")
        let rows = screen.split(separator: "\n").dropFirst(3).prefix(5).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        #expect(!rows.isEmpty && rows.allSatisfy { $0.contains("alice") }, "\(screen)")
        try t.send("Enter")
        // tmux may capture a frame half drawn: wait for the line itself.
        screen = t.waitFor("owner:        alice")
        #expect(screen.contains("Esc to close") && screen.contains("status:"), "\(screen)")
        screen = t.waitFor("Timeline")
        #expect(screen.contains("created"), "the event timeline is loaded")
        try t.send("Escape")
        screen = t.waitFor(5, "the detail closed") { !$0.contains("Esc to close") }

        // The queues pane and the help overlay.
        try t.send("]")
        screen = t.waitFor("video_cutter")
        #expect(screen.contains("[queues]") && screen.contains("PENDING"), "\(screen)")
        try t.send("?")
        _ = t.waitFor("Help")
        try t.send("Escape")
        _ = t.waitFor(5, "the help closed") { !$0.contains("Esc to close") }

        // Resize to 80x24 and back up: the layout follows.
        try t.resize(width: 80, height: 24)
        screen = t.waitFor(5, "an 80-column layout") { s in
            let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.count >= 24 && s.contains("1 Dash ") && s.contains("data")
        }
        try t.resize(width: 160, height: 48)
        screen = t.waitFor("1 Dashboard")
        #expect(screen.contains("2 Jobs & Queue"), "long tab titles at 160 columns")

        // The palette.
        try t.send(":")
        try t.type("logs")
        try t.send("Enter")
        _ = t.waitFor("System Logs")
        _ = t.waitFor("following")

        try t.send("q")
        _ = t.waitFor(5, "the console to exit") { _ in !t.isAlive }
        #expect(!t.isAlive)
    }
}
