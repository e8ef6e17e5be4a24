import Foundation
import Testing

/// Reading survives a storm (issue 19): the embedded fleet at `--rate 100` (a hundred times the
/// default load) while an operator reads a paused log and an open job.
@Suite("reading survives a storm, end to end")
struct StormE2ETests {
    /// The table under the title and header lines, without the status line.
    static func tableRows(_ screen: String) -> [Substring] { Array(lines(screen).dropFirst(3).dropLast()) }

    /// "+1,234 new" (or "+1,000+ new") on the title line: lines that arrived since the pause.
    static func arrived(_ screen: String) -> Int {
        let title = line(screen, 1)
        guard let r = title.range(of: #"\+[0-9,]+\+? new"#, options: .regularExpression) else { return 0 }
        return Int(title[r].filter(\.isNumber)) ?? 0
    }

    @Test func aPausedLogAndAnOpenJobHoldStillForTenSecondsAtRate100() throws {
        let t = try TmuxSession(command: "\(TmuxSession.binary) --seed 9 --rate 100", width: 120, height: 30)
        try t.waitFor("1 Dash", "EMBEDDED", "events ●")

        // The log, paused a few lines up.
        try t.send("6")
        try t.waitFor("the logs following a full window") {
            line($0, 1).hasPrefix(" System Logs") && line($0, 1).contains("1,000/1,000") && line($0, 1).contains("following")
        }
        try t.send("k", "k", "k")
        let held = try t.waitFor("the log paused") { line($0, 1).contains("paused (f to follow)") }
        let paused = Date()
        // Ten seconds of storm, seen arriving: hundreds of lines, none of them on screen.
        let later = try t.waitFor("10 s and hundreds of new lines", seconds: 60) {
            Date().timeIntervalSince(paused) >= 10 && Self.arrived($0) >= 300
        }
        #expect(Self.tableRows(later) == Self.tableRows(held), "the paused log moved:\n\(held)\n---\n\(later)")

        // An open job: the storm pushes it out of the recent window; its fields stay, marked as last known.
        try t.send("2")
        try t.waitFor("the jobs") { line($0, 1).hasPrefix(" Jobs & Queue") && $0.contains("PROG TRY WORKER") }
        try t.send("Enter")
        let opened = try t.waitFor("id:", "owner:", "Esc to close")
        // The fields that stay while the job lives on (status, progress and ages move with it).
        func fields(_ screen: String) -> [Substring] {
            lines(screen).filter { row in ["id:", "name:", "pipeline:", "owner:"].contains { row.contains(" \($0) ") } }
        }
        #expect(fields(opened).count >= 3, "\(opened)")
        let start = Date()
        let gone = try t.waitFor("10 s, the job out of the recent window", seconds: 60) {
            Date().timeIntervalSince(start) >= 10 && $0.contains("(last known)")
        }
        #expect(fields(gone) == fields(opened), "the open job changed:\n\(opened)\n---\n\(gone)")
        try t.send("Escape", "q")
        #expect(try t.waitForExit() == 0)
    }
}
