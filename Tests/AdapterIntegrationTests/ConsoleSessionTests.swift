import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Console sessions in Redis DB6 (CONTRACT.md): each console's heartbeat keeps its row, the
/// snapshot lists them for System Controls, and system.session_terminate ends one.
@Suite("Live: console sessions", .serialized)
struct ConsoleSessionTests {
    func session(_ id: String, view: String = "dashboard") -> ConsoleSession {
        ConsoleSession(
            id: id, user: "alice", host: "10.0.0.7", pid: 4242, tty: "/dev/pts/3", startedAt: Date(timeIntervalSince1970: 1_790_000_000),
            lastSeen: Date(), view: view)
    }

    @Test func heartbeatsListEndAndTheSnapshotCarriesThem() throws {
        let fx = try ActionFixture(seed: false)
        defer { fx.close() }
        let store = ConsoleSessionStore(redis: fx.backend.redis, namespace: fx.ns)
        #expect(try store.list().isEmpty)
        try store.heartbeat(session("s-one"))
        try store.heartbeat(session("s-two", view: "jobs"))
        let listed = try store.list()
        #expect(listed.map(\.id) == ["s-one", "s-two"])
        #expect(listed[1].user == "alice" && listed[1].host == "10.0.0.7" && listed[1].pid == 4242 && listed[1].view == "jobs")
        let ttl = try fx.redis(6).send("TTL", fx.ns.sessionKey("s-one")).int ?? -2
        #expect(ttl > 0 && ttl <= Int64(ConsoleSessionStore.ttlSeconds), "a dead console's row expires: TTL \(ttl)")
        // What System Controls shows.
        let snapshot = try fx.dataManager.rebuild()
        #expect(snapshot.system.sessions.map(\.id) == ["s-one", "s-two"])
        // system.session_terminate ends it; a second time it is not found.
        try fx.expectSuccess(fx.run("system.session_terminate", ["session": .string("s-one")]))
        #expect(try store.list().map(\.id) == ["s-two"])
        #expect(fx.run("system.session_terminate", ["session": .string("s-one")]).failure == .notFound("console session s-one"))
        #expect(try store.end("s-two") && store.list().isEmpty)
    }
}
