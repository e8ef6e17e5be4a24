import AgentOSAdapters
import AgentOSCore
import AgentOSCrypto
import AgentOSTestSupport
import Foundation
import Testing

/// Issue 18 item 3 (D66), the real binary in tmux: a console keeps showing real data while a forged
/// snapshot with the maximum generation sits in the cache (rewritten under its reloads), says once
/// that it ignored it, and a console started without a key says BUS UNSIGNED on its status line.
@Suite("authenticated bus end to end in tmux, live", .serialized)
struct BusAuthE2ETests {
    @Test func aConsoleKeepsShowingRealDataWhileAForgedSnapshotSitsInTheCache() throws {
        guard let live = try LiveScratch.make("e2ebus") else { return }
        defer { live.database.drop() }
        try #require(TestBus.keys.signed, "scripts/test.sh exports AGENTOS_BUS_KEY")
        let ns = Namespace(live.namespace, busKeys: TestBus.keys)
        let cache = RedisClient(try RedisConfiguration(url: live.redisURL)).selecting(database: Namespace.DB.cache)

        let logPath = NSTemporaryDirectory() + "agentos-busauth-\(live.namespace).log"
        defer { unlink(logPath) }
        let ui = try TmuxSession(
            command: "\(TmuxSession.binary) console \(live.arguments) --env staging --log-file \(logPath) --log-level info", width: 140, height: 40)
        try ui.waitFor("the live status line") { s in
            let status = s.split(separator: "\n").last { $0.contains("STAGING") }.map(String.init) ?? ""
            return s.contains("Health") && ["redis ●", "events ●"].allSatisfy(status.contains)
        }
        // Real data on screen: an alert inserted in PostgreSQL, through the warmer and the cache.
        let db = try PostgresConnection(live.database.url)
        try db.query("INSERT INTO alerts (severity, source, title, message) VALUES ('critical', 'e2e', 'REAL canary alert', 'by the test')")
        try ui.waitFor("REAL canary alert")
        let real = try #require(try cache.send("GET", ns.snapshotKey).bytes, "the console cached a snapshot")
        // The forgery: the real document with the maximum generation and the alert renamed, signed by
        // someone without the key (same key id, another secret).
        let forger = BusKeys(current: BusKey(id: TestBus.keys.current!.id, secret: SecureRandom.hexToken(32)))
        let resealed = try TestBus.resealSnapshot(real, namespace: ns.prefix) { $0["generation"] = Int.max }
        let (body, _) = try BusAuth.open(resealed, keys: TestBus.keys, kind: .snapshot, namespace: ns.prefix).get()
        let forgedBody = Array(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "REAL canary alert", with: "FORGED canary alert").utf8)
        #expect(forgedBody != body)
        let signedByForger = BusAuth.seal(forgedBody, keys: forger, kind: .snapshot, namespace: ns.prefix, number: Int64(Int.max))

        // The forgery sits in the cache for 8 s, written again after every warm; the operator reloads.
        let until = Date().addingTimeInterval(8)
        var screens: [String] = []
        while Date() < until {
            try cache.send("SET", ns.snapshotKey, signedByForger, "EX", 300)
            try ui.send("R")
            usleep(250_000)
            screens.append(try ui.capture())
        }
        #expect(screens.allSatisfy { !$0.contains("FORGED canary alert") })
        #expect(screens.last?.contains("REAL canary alert") == true, "\(screens.last ?? "")")
        // Said once, never per message. Read from the log: on screen the notice shares the status line
        // with the "reloading…" of every R above and can be gone between two captures (a fresh run saw that).
        let notice = Array("ignored a message on the bus".utf8)
        try waitForFile(logPath, "the refusal notice") { $0.contains(bytes: notice) }
        #expect(try ui.capture().contains("BUS UNSIGNED") == false)
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)

        // Without a key (a deployment not yet keyed): it works as before and says BUS UNSIGNED.
        let unsigned = try TmuxSession(
            command: "env -u AGENTOS_BUS_KEY -u AGENTOS_BUS_KEY_ID \(TmuxSession.binary) console \(live.arguments) --env staging", width: 140,
            height: 40)
        try unsigned.waitFor("BUS UNSIGNED", "Health")
        try unsigned.send("q")
        #expect(try unsigned.waitForExit() == 0)
    }
}
