import AgentOSAdapters
import AgentOSTestSupport
import Foundation
import Testing

/// Check 10 with the real console as the subscriber: `agentos console` (live, in tmux) is frozen
/// with SIGSTOP while `agentos sim` keeps publishing, the simulator stops, the console is resumed
/// (SIGCONT), and its Dashboard's job counts must equal the database within 2 s.
@Suite("Reliability: a frozen console catches up", .serialized)
struct ReliabilityConsoleE2ETests {
    /// The Dashboard's "Jobs   queued N  running N …" line as numbers.
    static func jobCounts(_ screen: String) -> [String: Int]? {
        guard let line = screen.split(separator: "\n").first(where: { $0.contains("Jobs ") && $0.contains("queued ") && $0.contains("cancelled ") }) else { return nil }
        let words = line.split(separator: " ").map(String.init)
        var counts: [String: Int] = [:]
        for (i, w) in words.enumerated() where i + 1 < words.count {
            if ["queued", "running", "retrying", "failed", "completed", "cancelled"].contains(w), let n = Int(words[i + 1].replacingOccurrences(of: ",", with: "")) {
                counts[w] = n
            }
        }
        return counts.count == 6 ? counts : nil
    }

    @Test func check10FrozenConsoleCatchesUpWithTheDatabaseWithinTwoSeconds() throws {
        let started = Date()
        guard let live = try LiveScratch.make("rel10") else { return }
        defer { live.database.drop() }
        let redisURL = live.redisURL, pgURL = live.postgresURL, ns = live.namespace, common = live.arguments
        let bin = TmuxSession.binary

        let sim = try TmuxSession(command: "\(bin) sim \(common) --history 30 --warm-interval 1000 --duration 300 --rate 3", width: 100, height: 10)
        _ = sim.waitFor("running", seconds: 30)
        let ui = try TmuxSession(command: "\(bin) console \(common) --refresh-interval 1", width: 140, height: 40)
        _ = ui.waitFor("pg ●", seconds: 20)
        _ = ui.waitFor(10, "job counts") { Self.jobCounts($0) != nil }

        let panePID = try TmuxSession.run(["-L", ui.socket, "display-message", "-p", "-t", ui.name, "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        // The pane runs `sh -c "env … agentos console …; sleep 2"`: the console is the shell's child.
        let children = try Spawned.run(["pgrep", "-P", panePID]).stdout
        let pid = try #require(children.split(separator: "\n").compactMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }.first, "console pid under pane \(panePID)")
        let bus = RedisEventBus(redis: try RedisClient(url: redisURL), namespace: Namespace(ns, brokerPrefix: ns + ":"), source: "rel10")
        let seqBefore = Int(try bus.currentSeq())

        // Frozen: the simulator goes on publishing (and writing PostgreSQL) for a while, then stops.
        #expect(kill(pid, SIGSTOP) == 0)
        usleep(Reliability.full ? 8_000_000 : 4_000_000)
        try sim.send("C-c")
        _ = sim.waitFor(15, "the simulator to stop") { _ in !sim.isAlive }
        usleep(500_000)
        let seqAfter = Int(try bus.currentSeq())
        let sqlCounts = try { () throws -> [String: Int] in
            let db = try PostgresConnection(pgURL)
            var counts: [String: Int] = ["queued": 0, "running": 0, "retrying": 0, "failed": 0, "completed": 0, "cancelled": 0]
            for row in try db.query("SELECT status, count(*)::bigint AS n FROM jobs GROUP BY status").rows {
                let status: String = try row.get("status")
                if counts[status] != nil { counts[status] = try row.get("n") }
            }
            return counts
        }()

        // The frozen screen is behind the database (else the catch-up below proves nothing).
        let frozen = Self.jobCounts(ui.capture())
        #expect(frozen != nil && frozen != sqlCounts, "frozen screen \(frozen ?? [:]) vs database \(sqlCounts)")
        #expect(kill(pid, SIGCONT) == 0)
        let resumed = Date()
        var screen = ui.capture()
        while Self.jobCounts(screen) != sqlCounts && Date().timeIntervalSince(resumed) < 10 {
            usleep(50_000)
            screen = ui.capture()
        }
        let catchUp = Date().timeIntervalSince(resumed)
        let shown = Self.jobCounts(screen)
        #expect(seqAfter - seqBefore >= 20, "the simulator published \(seqAfter - seqBefore) events while the console was frozen")
        #expect(shown == sqlCounts && catchUp <= 2, "after \(String(format: "%.2f", catchUp)) s the screen shows \(shown ?? [:]), the database \(sqlCounts)")
        try ui.send("q")

        ReliabilityFiguresFile.append(["check": 10, "test": "ReliabilityConsoleE2ETests/check10FrozenConsoleCatchesUpWithTheDatabaseWithinTwoSeconds",
                     "attempted": seqAfter - seqBefore, "executed": seqAfter - seqBefore, "refused": 0, "audit_rows": 0, "replays": 0, "escapes": 0,
                     "crashes": 0, "full": Reliability.full,
                     "notes": "agentos console frozen (SIGSTOP) while agentos sim published \(seqAfter - seqBefore) events; frozen screen behind the database (\(frozen?.values.reduce(0, +) ?? 0) vs \(sqlCounts.values.reduce(0, +)) jobs); resumed (SIGCONT): job counts equal to SQL after \(String(format: "%.2f", catchUp)) s",
                     "ok": shown == sqlCounts && catchUp <= 2 && seqAfter - seqBefore >= 20 && frozen != sqlCounts,
                     "seconds": (Date().timeIntervalSince(started) * 10).rounded() / 10])
    }
}

enum Reliability {
    static var full: Bool { ProcessInfo.processInfo.environment["AGENTOS_RELIABILITY_FULL"] == "1" }
}
