import AgentOSAdapters
import AgentOSCore
import AgentOSTestSupport
import Foundation
import Testing

/// Issue 18 item 2 (D64), live: a forged snapshot field and a forged event carrying OSC 52 (set
/// the clipboard), a C1 CSI and a bidi override come through Redis; `agentos snapshot --json` and
/// the console's log file hold the visible escapes, never the bytes.
@Suite("bus text on every sink, live", .serialized)
struct BusSinkE2ETests {
    static let forged = "evil\u{1b}]52;c;ZXZpbA==\u{07}\u{9b}2J\u{202E}gpj"
    static let shown = "evil\\x1b]52;c;ZXZpbA==\\x07\\x9b2J<U+202E>gpj"
    static let hostileBytes: [(String, [UInt8])] = [
        ("ESC", [0x1b]), ("BEL", [0x07]), ("C1 CSI U+009B", [0xc2, 0x9b]), ("U+202E", [0xe2, 0x80, 0xae])
    ]

    @Test func aForgedSnapshotAndEventReachJSONAndTheLogAsVisibleEscapes() throws {
        guard let live = try LiveScratch.make("e2esink") else { return }
        defer { live.database.drop() }
        let argv = live.arguments.split(separator: " ").map(String.init)
        let ns = Namespace(live.namespace, busKeys: TestBus.keys)
        let redis = RedisClient(try RedisConfiguration(url: live.redisURL))

        // A real snapshot (built from PostgreSQL and cached), then its source forged in the cache.
        let first = try Spawned.run([TmuxSession.binary, "snapshot", "--json"] + argv)
        #expect(first.status == 0, "\(first.stderr)")
        let cache = redis.selecting(database: Namespace.DB.cache)
        let cached = try #require(try cache.send("GET", ns.snapshotKey).bytes, "the snapshot was cached")
        // Signed (D66: what the key holder writes is read); the sanitiser is what is under test here.
        let forged = try TestBus.resealSnapshot(cached, namespace: ns.prefix) { $0["source"] = Self.forged }
        try cache.send("SET", ns.snapshotKey, forged, "EX", 300)

        let json = try Spawned.run([TmuxSession.binary, "snapshot", "--json"] + argv)
        #expect(json.status == 0, "\(json.stderr)")
        let out = Data(json.stdout.utf8)
        let parsed = try #require(try JSONSerialization.jsonObject(with: out) as? [String: Any], "still valid JSON")
        #expect(parsed["source"] as? String == Self.shown)
        let text = try Spawned.run([TmuxSession.binary, "snapshot"] + argv)
        #expect(text.stdout.contains(Self.shown), "\(text.stdout)")
        for (label, needle) in Self.hostileBytes {
            #expect(out.range(of: Data(needle)) == nil, "\(label) in snapshot --json")
            #expect(Data(text.stdout.utf8).range(of: Data(needle)) == nil, "\(label) in snapshot")
        }

        // A forged "alice ran X" event: its notice goes to the log file.
        let logPath = NSTemporaryDirectory() + "agentos-sink-\(live.namespace).log"
        defer { unlink(logPath) }
        let ui = try TmuxSession(
            command: "\(TmuxSession.binary) console \(live.arguments) --log-file \(logPath) --log-level info", width: 140, height: 40)
        try ui.waitFor("Health")
        let bus = RedisEventBus(redis: redis, namespace: ns, source: "forger")
        try bus.publish(.actionExecuted(ActionNotice(action: "job.cancel", user: Self.forged, outcome: "success", target: Self.forged)))
        let log = try waitForFile(logPath, "the forged notice in the log") { $0.range(of: Data(" ran job.cancel".utf8)) != nil }
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)
        #expect(String(decoding: log, as: UTF8.self).contains("\(Self.shown) ran job.cancel on \(Self.shown): success"))
        for (label, needle) in Self.hostileBytes {
            #expect(log.range(of: Data(needle)) == nil, "\(label) in the log file")
        }
    }
}
