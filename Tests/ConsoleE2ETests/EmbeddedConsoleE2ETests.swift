import Foundation
import Testing

/// The lines of a capture (capture-pane ends each one with a newline, blank ones too).
func lines(_ screen: String) -> [Substring] {
    Array(screen.split(separator: "\n", omittingEmptySubsequences: false).dropLast())
}

/// Line `index` of a capture ("" past the end): 0 is the tab bar, 1 the view's title line.
func line(_ screen: String, _ index: Int) -> String {
    let all = lines(screen)
    return index < all.count ? String(all[index]) : ""
}

@Suite("agentos console end to end in tmux", .serialized)
struct EmbeddedConsoleE2ETests {
    @Test func walkAllViewsDrillFilterResizeQuit() throws {
        #expect(FileManager.default.isExecutableFile(atPath: TmuxSession.binary), "build the binary first (swift build --build-tests)")
        let t = try TmuxSession(command: "\(TmuxSession.binary) --seed 5", width: 120, height: 36)
        try t.waitFor("1 Dash", "EMBEDDED", "events ●", "Health", "QUEUE", "video_downloader")

        // Each view's title and a line of its own body, in one capture: a half-drawn frame has the new title over the old body.
        let views = [
            ("2", "Jobs & Queue", "PROG TRY WORKER"), ("3", "System Controls", "Database activity"),
            ("4", "Agents & Workers", "POOL   DONE"), ("5", "Managers", "SCHEDULE"), ("6", "System Logs", "LEVEL    SOURCE"),
            ("7", "Configuration", "DEFAULT"), ("8", "Analytics", "Stage latency p50 / p95"), ("1", "Dashboard", "Health ● api")
        ]
        for (key, title, body) in views {
            try t.send(key)
            try t.waitFor("view \(key): '\(title)' over '\(body)'") { line($0, 1).hasPrefix(" \(title)") && $0.contains(body) }
        }
        // The console lists itself among the sessions (issue 19 item 6: "sessions: 0 console(s)" while one ran):
        // System Controls' Sessions pane shows this process's pid, marked as its own.
        try t.send("3")
        try t.waitFor("sessions: 1 console(s)")
        try t.send("]")
        try t.waitFor("this console's own session, pid \(t.pid)") { s in
            line(s, 1).contains("[sessions]") && lines(s).contains { $0.contains(" \(t.pid) ") && $0.contains("interactive ←") }
        }
        try t.send("[")
        try t.send("1")
        try t.waitFor("back on the Dashboard") { line($0, 1).hasPrefix(" Dashboard") }
        // Tab cycles too.
        try t.send("Tab")
        try t.waitFor("the jobs after Tab") { line($0, 1).hasPrefix(" Jobs & Queue  [jobs]") && $0.contains("PROG TRY WORKER") }

        // Filter the jobs by owner: every row shown is alice's.
        try t.send("/")
        try t.type("alice")
        try t.send("Enter")
        try t.waitFor("only alice's jobs") { s in
            let rows = s.split(separator: "\n").dropFirst(3).prefix(5).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            return line(s, 1).contains("/alice") && !rows.isEmpty && rows.allSatisfy { $0.contains("alice") }
        }
        // Drill into the first match: its detail with the event timeline loaded.
        try t.send("Enter")
        let drilled = try t.waitFor("owner:        alice", "Esc to close", "status:", "created", absent: ["loading…"])
        // The job's record (arguments, keyword arguments, result) comes before the timeline and can
        // push it below the fold: one page down shows it.
        if !drilled.contains("Timeline") { try t.send("C-f") }
        try t.waitFor("Timeline", "Esc to close", absent: ["loading…"])
        try t.send("Escape")
        try t.waitFor("the detail closed over the filtered list") { s in
            !s.contains("Esc to close") && line(s, 1).contains("/alice") && s.contains("PROG TRY WORKER")
        }

        // The queues pane and the help overlay.
        try t.send("]")
        try t.waitFor("[queues]", "PENDING", "video_cutter")
        try t.send("?")
        try t.waitFor("Help — Esc to close", "this help")
        try t.send("Escape")
        try t.waitFor("the help closed over the queues") { s in
            !s.contains("Help — Esc to close") && line(s, 1).contains("[queues]") && s.contains("video_cutter")
        }

        // Resize to 80x24 and back up: the layout follows.
        try t.resize(width: 80, height: 24)
        try t.waitFor("an 80-column layout") { s in
            lines(s).count == 24 && lines(s).allSatisfy { $0.count <= 80 } && s.contains("1 Dash ") && s.contains("data")
        }
        try t.resize(width: 160, height: 48)
        try t.waitFor("1 Dashboard", "2 Jobs & Queue")

        // The palette.
        try t.send(":")
        try t.type("logs")
        try t.send("Enter")
        try t.waitFor("the logs from the palette") {
            line($0, 1).hasPrefix(" System Logs") && line($0, 1).contains("following") && $0.contains("LEVEL    SOURCE")
        }

        try t.send("q")
        #expect(try t.waitForExit() == 0)
    }
}
