import AgentOSAdapters
import AgentOSTestSupport
import Foundation
import Testing

/// Check 10 with the real console as the subscriber (`agentos console`, live, in tmux) while
/// `agentos sim` publishes: the console frozen (SIGSTOP), and its subscription killed. Its
/// Dashboard's job counts must come back equal to SQL, an oracle independent of the console.
@Suite("Reliability: the console catches up with the database", .serialized)
struct ReliabilityConsoleE2ETests {
    /// The Dashboard's "Jobs   queued N  running N …" line as numbers.
    static func jobCounts(_ screen: String) -> [String: Int]? {
        guard let line = screen.split(separator: "\n").first(where: { $0.contains("Jobs ") && $0.contains("queued ") && $0.contains("cancelled ") })
        else { return nil }
        let words = line.split(separator: " ").map(String.init)
        var counts: [String: Int] = [:]
        for (i, w) in words.enumerated() where i + 1 < words.count {
            if ["queued", "running", "retrying", "failed", "completed", "cancelled"].contains(w),
                let n = Int(words[i + 1].replacingOccurrences(of: ",", with: ""))
            {
                counts[w] = n
            }
        }
        return counts.count == 6 ? counts : nil
    }

    /// The jobs table's counts by status (every status the Dashboard shows, 0 when absent).
    static func sqlCounts(_ postgresURL: String) throws -> [String: Int] {
        let db = try PostgresConnection(postgresURL)
        var counts: [String: Int] = ["queued": 0, "running": 0, "retrying": 0, "failed": 0, "completed": 0, "cancelled": 0]
        for row in try db.query("SELECT status, count(*)::bigint AS n FROM jobs GROUP BY status").rows {
            let status: String = try row.get("status")
            if counts[status] != nil { counts[status] = try row.get("n") }
        }
        return counts
    }

    static func seconds(_ t: TimeInterval) -> String { String(format: "%.2f", t) }

    @Test func check10FrozenConsoleCatchesUpWithTheDatabase() throws {
        let started = Date()
        guard let live = try LiveScratch.make("rel10") else { return }
        defer { live.database.drop() }
        let redisURL = live.redisURL
        let pgURL = live.postgresURL
        let ns = live.namespace
        let common = live.arguments
        let bin = TmuxSession.binary

        let sim = try TmuxSession(command: "\(bin) sim \(common) --history 30 --warm-interval 1000 --duration 300 --rate 3", width: 100, height: 10)
        try sim.waitFor("running")
        let ui = try TmuxSession(command: "\(bin) console \(common) --refresh-interval 1", width: 140, height: 40)
        try ui.waitFor("job counts, pg up") { $0.contains("pg ●") && Self.jobCounts($0) != nil }
        let bus = RedisEventBus(
            redis: try RedisClient(url: redisURL), namespace: Namespace(ns, brokerPrefix: ns + ":", busKeys: TestBus.keys), source: "rel10")
        let seqBefore = Int(try bus.currentSeq())

        // Frozen: the simulator goes on publishing (and writing PostgreSQL) for a number of events and until
        // the database holds more jobs than the frozen screen (rows are only added), then stops.
        #expect(kill(ui.pid, SIGSTOP) == 0)
        let frozenFor = Reliability.full ? 500 : 100
        var frozen: [String: Int] = [:]
        try waitUntil("\(frozenFor) events and new jobs while the console is frozen", seconds: 120) {
            guard Int(try bus.currentSeq()) - seqBefore >= frozenFor else { return false }
            // The console wrote nothing since SIGSTOP: this capture is what it showed when frozen.
            frozen = try #require(Self.jobCounts(try ui.capture()), "the frozen screen shows job counts")
            return try Self.sqlCounts(pgURL).values.reduce(0, +) > frozen.values.reduce(0, +)
        }
        try sim.send("C-c")
        #expect(try sim.waitForExit() == 0, "the simulator ends on Ctrl-C")
        let seqAfter = Int(try bus.currentSeq())
        let sqlCounts = try Self.sqlCounts(pgURL)
        #expect(sqlCounts.values.reduce(0, +) > frozen.values.reduce(0, +), "frozen screen \(frozen) vs database \(sqlCounts)")
        #expect(kill(ui.pid, SIGCONT) == 0)
        let resumed = Date()
        try ui.waitFor("job counts equal to SQL \(sqlCounts)", seconds: 60) { Self.jobCounts($0) == sqlCounts }
        let catchUp = Date().timeIntervalSince(resumed)
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)

        ReliabilityFiguresFile.append([
            "check": 10, "test": "ReliabilityConsoleE2ETests/check10FrozenConsoleCatchesUpWithTheDatabase",
            "attempted": seqAfter - seqBefore, "executed": seqAfter - seqBefore, "refused": 0, "audit_rows": 0, "replays": 0, "escapes": 0,
            "crashes": 0, "full": Reliability.full,
            "notes":
                "agentos console frozen (SIGSTOP) while agentos sim published \(seqAfter - seqBefore) events; frozen screen behind the database (\(frozen.values.reduce(0, +)) vs \(sqlCounts.values.reduce(0, +)) jobs); resumed (SIGCONT): job counts equal to SQL after \(Self.seconds(catchUp)) s",
            "ok": catchUp <= 2 && sqlCounts.values.reduce(0, +) > frozen.values.reduce(0, +),
            "seconds": (Date().timeIntervalSince(started) * 10).rounded() / 10
        ])
    }

    /// Check 10 as RELIABILITY.md states it: the console's subscription is killed (CLIENT KILL TYPE pubsub, on a
    /// redis-server of the test's own) several times while `agentos sim` publishes, and once more after the
    /// simulator stopped; after that reconnect the Dashboard's job counts equal SQL. The console runs with its
    /// default settings (a reload every 5 s).
    @Test func check10SubscriberKilledWhileEventsFlowCatchesUpWithTheDatabase() throws {
        let started = Date()
        guard let baseURL = ProcessInfo.processInfo.environment["AGENTOS_TEST_POSTGRES_URL"] else {
            Issue.record("AGENTOS_TEST_POSTGRES_URL is not set: run through scripts/test.sh")
            return
        }
        let redis = try TestRedis(password: nil)
        defer { redis.stop() }
        let database = try ScratchDatabase(baseURL: baseURL, prefix: "rel10k")
        defer { database.drop() }
        try database.migrate()
        let ns = "rel10k\(UUID().uuidString.prefix(6).lowercased())"
        let bin = TmuxSession.binary
        let common = "--redis \(redis.url) --postgres \(database.url) --namespace \(ns) --broker-prefix \(ns):"
        let names = Namespace(ns, brokerPrefix: ns + ":", busKeys: TestBus.keys)
        let admin = try RedisClient(url: redis.url)
        let bus = RedisEventBus(redis: admin, namespace: names, source: "rel10k")
        let subscribers = { Int(try admin.send("PUBSUB", "NUMSUB", names.eventsChannel).array?.dropFirst().first?.int ?? 0) }
        func cut() throws -> Int {
            // A live subscription, not one still reconnecting from the last cut.
            try waitUntil("the console subscribed to \(names.eventsChannel)") { try subscribers() >= 1 }
            return Int(try admin.send("CLIENT", "KILL", "TYPE", "pubsub").int ?? 0)
        }

        let sim = try TmuxSession(command: "\(bin) sim \(common) --history 30 --warm-interval 1000 --duration 600 --rate 3", width: 100, height: 10)
        try sim.waitFor("running")
        let ui = try TmuxSession(command: "\(bin) console \(common)", width: 140, height: 40)
        try ui.waitFor("job counts, pg up") { $0.contains("pg ●") && Self.jobCounts($0) != nil }

        let seq0 = Int(try bus.currentSeq())
        let target = Reliability.full ? 1_000 : 300
        let cuts = Reliability.full ? 6 : 3
        var killed = 0
        var midRunCuts = 0
        for i in 1...cuts {
            try waitUntil("event \(seq0 + target * i / (cuts + 1))", seconds: 120) { Int(try bus.currentSeq()) >= seq0 + target * i / (cuts + 1) }
            let k = try cut()
            killed += k
            if k > 0 { midRunCuts += 1 }
        }
        try waitUntil("\(target) events published", seconds: 120) { Int(try bus.currentSeq()) >= seq0 + target }
        try sim.send("C-c")
        #expect(try sim.waitForExit() == 0, "the simulator ends on Ctrl-C")
        let published = Int(try bus.currentSeq()) - seq0
        let sql = try Self.sqlCounts(database.url)

        // The last cut, with the database still: time from the cut to an equal screen.
        let finalCut = try cut()
        killed += finalCut
        let cutAt = Date()
        try ui.waitFor("job counts equal to SQL \(sql) after the last cut", seconds: 90) { s in
            Self.jobCounts(s) == sql && (s.split(separator: "\n").last { $0.contains("events ") }?.contains("events ●") ?? false)
        }
        let catchUp = Date().timeIntervalSince(cutAt)
        try waitUntil("the console subscribed again") { try subscribers() >= 1 }
        // Several thresholds can pass between two polls: at least one cut lands mid-run, and the last one.
        #expect(midRunCuts >= 1 && finalCut >= 1, "cut \(midRunCuts) times mid-run and \(finalCut) at the end")
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)

        ReliabilityFiguresFile.append([
            "check": 10, "test": "ReliabilityConsoleE2ETests/check10SubscriberKilledWhileEventsFlowCatchesUpWithTheDatabase",
            "attempted": published, "executed": published, "refused": 0, "audit_rows": 0, "replays": 0, "escapes": 0,
            "crashes": 0, "full": Reliability.full,
            "notes":
                "agentos console live in tmux, agentos sim published \(published) events; \(killed) subscriptions killed (\(midRunCuts) cuts mid-run + 1 after the simulator stopped); Dashboard job counts equal to SQL \(Self.seconds(catchUp)) s after the last cut",
            "ok": midRunCuts >= 1 && finalCut >= 1 && catchUp <= 2,
            "seconds": (Date().timeIntervalSince(started) * 10).rounded() / 10
        ])
    }
}

enum Reliability {
    static var full: Bool { ProcessInfo.processInfo.environment["AGENTOS_RELIABILITY_FULL"] == "1" }
}
