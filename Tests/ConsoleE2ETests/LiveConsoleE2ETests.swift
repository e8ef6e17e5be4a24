import AgentOSAdapters
import Foundation
import Testing

/// The console live against redis-server and PostgreSQL with `agentos sim` playing the backend.
@Suite("agentos console live end to end in tmux", .serialized)
struct LiveConsoleE2ETests {
    @Test func liveConsoleFollowsTheDatabaseAndNeverEchoesEscapes() throws {
        guard let live = try LiveScratch.make("e2e") else { return }
        defer { live.database.drop() }
        let pgURL = live.postgresURL, ns = live.namespace, common = live.arguments
        let bin = TmuxSession.binary

        let sim = try TmuxSession(command: "\(bin) sim \(common) --history 120 --warm-interval 1000 --duration 120", width: 100, height: 10)
        _ = sim.waitFor("running", seconds: 30)

        let ui = try TmuxSession(command: "\(bin) console \(common) --env staging", width: 140, height: 40)
        let rawPath = NSTemporaryDirectory() + "agentos-pty-\(ns).bin"
        defer { unlink(rawPath) }
        try TmuxSession.run(["-L", ui.socket, "pipe-pane", "-o", "-t", ui.name, "cat >> \(rawPath)"], captureOutput: false)
        var screen = ui.waitFor("Health", seconds: 20)
        screen = ui.waitFor("pg ●", seconds: 10)
        let status = screen.split(separator: "\n").last { $0.contains("STAGING") }.map(String.init) ?? ""
        #expect(status.contains(" live ") && status.contains("redis ●") && status.contains("events ●"), "status line: \(status)")

        // A change made in the database appears on screen (warmer → cache → reload).
        let db = try PostgresConnection(pgURL)
        try db.query("INSERT INTO alerts (severity, source, title, message) VALUES ('critical', 'e2e', $1, 'inserted by the test')",
                     ["E2E canary alert"])
        screen = ui.waitFor("E2E canary alert", seconds: 20)

        // A job named with escape sequences is shown as visible escapes; none reach the pty.
        let hostile = "clip\u{1b}]52;c;ZXZpbA==\u{07}\u{9b}2J\u{202E}gpj.exe"
        try db.query("""
            INSERT INTO jobs (id, name, stage, queue, status, owner, created_at, updated_at)
            VALUES (gen_random_uuid(), $1, 'video_downloader', 'video_downloader', 'queued', 'mallory', now(), now() + interval '1 hour')
            """, [hostile])
        try ui.send("2")
        screen = ui.waitFor("mallory", seconds: 20)
        screen = ui.waitFor("clip\\x1b]52;c;ZXZpbA==\\x07", seconds: 5)
        try ui.send("/")
        try ui.type("mallory")
        try ui.send("Enter")
        try ui.send("Enter")
        screen = ui.waitFor("owner:        mallory", seconds: 10)
        screen = ui.waitFor("name:         clip\\x1b]52;c;ZXZpbA==\\x07\\x9b2J<U+202E>gpj.exe", seconds: 5)

        try ui.send("q")
        _ = ui.waitFor(10, "the console to exit") { _ in !ui.isAlive }
        usleep(300_000)
        let raw = (FileManager.default.contents(atPath: rawPath) ?? Data())
        #expect(raw.count > 1_000, "the pty output was recorded")
        for (label, needle) in [("OSC 52", Array("\u{1b}]52".utf8)), ("BEL", [0x07] as [UInt8]), ("C1 CSI U+009B", [0xc2, 0x9b]),
                                ("U+202E", [0xe2, 0x80, 0xae])] {
            #expect(!Self.contains(raw, needle), "\(label) reached the terminal")
        }
    }

    static func contains(_ data: Data, _ needle: [UInt8]) -> Bool {
        let bytes = [UInt8](data)
        guard needle.count <= bytes.count else { return false }
        for i in 0...(bytes.count - needle.count) where bytes[i] == needle[0] {
            if Array(bytes[i..<(i + needle.count)]) == needle { return true }
        }
        return false
    }
}
