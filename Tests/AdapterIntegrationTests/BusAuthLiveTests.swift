import AgentOSAdapters
import AgentOSCore
import AgentOSCrypto
import AgentOSLiveWorld
import AgentOSWorld
import ConsoleApp
import Foundation
import Synchronization
import Testing

/// Issue 18 item 3 (D66), against real redis-server and PostgreSQL: a forged snapshot with the
/// maximum generation, unsigned and badly signed events and a badly signed control message are each
/// refused and counted, and change nothing (the held snapshot, the screen model, the fleet, the
/// audit); real signed messages still apply afterwards.
@Suite("authenticated bus, live", .serialized)
struct BusAuthLiveTests {
    static let keys = BusKeys(current: BusKey(id: "live", secret: SecureRandom.hexToken(32)))
    /// Someone on Redis without the key: the same key id, another secret.
    static let forger = BusKeys(current: BusKey(id: "live", secret: SecureRandom.hexToken(32)))

    /// A listener on the backend's events and what it receives, once its subscription is up.
    static func subscribed(_ backend: LiveBackend) async -> (RedisEventBus, SeqRecorder) {
        let ns = backend.namespace
        let listener = RedisEventBus(redis: backend.redis, namespace: ns, source: "listener")
        let recorder = SeqRecorder(listener.subscribe())
        #expect(
            await TestServers.eventuallyAsync(30) {
                (try? backend.redis.send("PUBSUB", "NUMSUB", ns.eventsChannel))?.array?.dropFirst().first?.int ?? 0 >= 1
            })
        return (listener, recorder)
    }

    static func backend() throws -> LiveBackend {
        let b = try LiveBackend.make()
        let n = b.namespace
        return LiveBackend(
            postgres: b.postgres, redis: b.redis, namespace: Namespace(n.prefix, brokerPrefix: n.brokerPrefix, busKeys: keys),
            databaseName: b.databaseName, url: b.url)
    }

    static func console() -> AppState {
        AppState(connection: ConnectionState(mode: "live", environment: "test"), operatorInfo: OperatorInfo(user: "op", role: "admin"), now: Date())
    }

    func auditRows(_ backend: LiveBackend) throws -> Int {
        Int(try backend.postgres.query("SELECT count(*)::int AS n FROM audit_logs")[0].get("n", as: Int.self))
    }

    @Test func aForgedSnapshotIsRefusedCountedAndRebuiltOver() throws {
        let backend = try Self.backend()
        defer { backend.drop() }
        let ns = backend.namespace
        let sim = try LiveSimulation(
            config: LiveWorldTests.config, redis: backend.redis, postgres: backend.postgres, namespace: ns, historySeconds: 60)
        let manager = sim.dataManager
        let cache = RedisSnapshotCache(redis: backend.redis, namespace: ns)
        var state = Self.console()
        let (real, _) = try manager.snapshot()
        _ = App.update(&state, .snapshotLoaded(real))
        #expect(state.snapshot?.generation == real.generation)
        let audit = try auditRows(backend)

        // The forgery: the real document with the maximum generation and a queue of 99,999 jobs, signed
        // by someone without the key, then unsigned.
        var forged = real
        forged.generation = Int.max
        forged.queues = [QueueInfo(name: "FORGED", pending: 99_999)]
        let body = [UInt8](try forged.encoded())
        let db1 = backend.redis.selecting(database: Namespace.DB.cache)
        for (n, document) in [
            BusAuth.seal(body, keys: Self.forger, kind: .snapshot, namespace: ns.prefix, number: Int64(Int.max)), body
        ].enumerated() {
            try db1.send("SET", ns.snapshotKey, document, "EX", 300)
            let (loaded, origin) = try manager.snapshot()
            // Refused, counted, and rebuilt over: the console gets a real snapshot, the cache holds one again.
            #expect(manager.currentStats.refused == n + 1 && origin == .rebuilt)
            #expect(!loaded.queues.contains { $0.name == "FORGED" } && loaded.generation < 1_000)
            _ = App.update(&state, .snapshotLoaded(loaded))
            #expect(state.snapshot?.generation == loaded.generation && state.snapshot?.queues.contains { $0.name == "FORGED" } == false)
            let cached = try Snapshot.decode(try #require(try cache.get()))
            #expect(cached.generation == loaded.generation)
        }
        #expect(manager.currentStats.lastRefused?.refusal == .unsigned)

        // The generation counter itself forged: the warmer signs what it counts, the console's bound refuses it.
        try db1.send("SET", ns.snapshotGenerationKey, Int.max - 10)
        let held = try #require(state.snapshot)
        let jumped = try manager.rebuild()
        #expect(jumped.generation == Int.max - 9)
        _ = App.update(&state, .snapshotLoaded(jumped))
        #expect(state.snapshot == held && state.sync.holder.jumpsRefused == 1)
        #expect(state.notices.last?.text.contains("jumps beyond what a warmer could have produced") == true)
        #expect(try auditRows(backend) == audit)

        // A real signed snapshot still applies afterwards.
        try db1.send("SET", ns.snapshotGenerationKey, held.generation)
        let next = try manager.rebuild()
        _ = App.update(&state, .snapshotLoaded(try manager.snapshot().0))
        #expect(state.snapshot?.generation == next.generation && next.generation == held.generation + 1)
    }

    @Test func unsignedAndBadlySignedEventsAreRefusedOncePerSourceAndSignedOnesApply() async throws {
        let backend = try Self.backend()
        defer { backend.drop() }
        let ns = backend.namespace
        let bus = RedisEventBus(redis: backend.redis, namespace: ns, source: "console@test")
        let stream = bus.subscribe()
        let received = Mutex<[BusMessage]>([])
        let reader = Task {
            for await m in stream { received.withLock { $0.append(m) } }
        }
        defer { reader.cancel() }
        #expect(await TestServers.eventuallyAsync(30) { received.withLock { $0.contains(.connected(gapPossible: false)) } })
        var state = Self.console()
        _ = App.update(&state, .snapshotLoaded(Snapshot(generation: 1, generatedAt: Date(), source: "live")))
        let before = state.snapshot

        // "alice ran job.cancel": unsigned, twice (one source), then signed by someone without the key.
        let events = backend.redis.selecting(database: Namespace.DB.events)
        let notice = AgentEvent.actionExecuted(ActionNotice(action: "job.cancel", user: "alice", outcome: "success", target: "x"))
        let seq = try bus.currentSeq()
        let unsigned = try RedisEventBus.message(notice, seq: seq + 1, ts: Date(), source: "forger", namespace: Namespace(ns.prefix))
        try events.send("PUBLISH", ns.eventsChannel, unsigned)
        try events.send("PUBLISH", ns.eventsChannel, unsigned)
        var forgerNS = Namespace(ns.prefix)
        forgerNS.busKeys = Self.forger
        try events.send(
            "PUBLISH", ns.eventsChannel, try RedisEventBus.message(notice, seq: seq + 1, ts: Date(), source: "forger2", namespace: forgerNS))
        // Then a real one.
        try bus.publish(.broadcast(Broadcast(message: "real", by: "ops")))
        #expect(await TestServers.eventuallyAsync(30) { received.withLock { $0.contains { if case .event = $0 { true } else { false } } } })
        let messages = received.withLock { $0 }
        let refused = messages.compactMap { if case .refused(let r) = $0 { r } else { nil } }
        #expect(refused.map(\.refusal) == [.unsigned, .unsigned, .badMAC])
        for m in messages where m != .connected(gapPossible: false) {
            if case .event = m { continue }
            _ = App.update(&state, .bus(m))
        }
        // Counted, said once per source, nothing on screen changed, no "alice ran" notice.
        #expect(state.sync.counters.refused == 3 && state.sync.counters.eventsApplied == 0)
        #expect(state.snapshot == before)
        #expect(state.notices.filter { $0.text.contains("ignored a message on the bus") }.count == 2)
        #expect(!state.notices.contains { $0.text.contains("alice ran") })
        // The real event carries the next number, signed: it applies.
        let real = try #require(messages.compactMap { if case .event(let e) = $0 { e } else { nil } }.first)
        #expect(real.seq == seq + 1)
        state.sync.sequencer.reset(to: seq)
        _ = App.update(&state, .bus(.event(real)))
        #expect(state.sync.counters.eventsApplied == 1 && state.snapshot?.system.broadcast?.message == "real")
    }

    @Test func publishersRacingForNumbersStillGoOutInOrderAndSigned() async throws {
        let backend = try Self.backend()
        defer { backend.drop() }
        let ns = backend.namespace
        let (listener, recorder) = await Self.subscribed(backend)
        defer { recorder.stop() }
        // Three publishers at once, singles and batches: every one must renumber when another got there first.
        await withTaskGroup(of: Void.self) { group in
            for p in 0..<3 {
                group.addTask {
                    let bus = RedisEventBus(redis: try! RedisClient(url: TestServers.redisURL()), namespace: ns, source: "p\(p)")
                    for i in 0..<100 {
                        if i % 10 == 0 {
                            try? bus.publish(batch: (0..<5).map { _ in .cacheInvalidated })
                        } else {
                            _ = try? bus.publish(.cacheInvalidated)
                        }
                    }
                }
            }
        }
        let total = 3 * (90 + 10 * 5)
        #expect(await TestServers.eventuallyAsync(30) { recorder.seqs.withLock { $0.count } >= total })
        #expect(recorder.seqs.withLock { $0 } == Array(1...Int64(total)) && recorder.refusals.withLock { $0 } == 0)
        #expect(try listener.currentSeq() == Int64(total))
    }

    @Test func anActionsFollowUpBatchWhoseNumbersWereTakenIsRenumberedAndSent() async throws {
        let backend = try Self.backend()
        defer { backend.drop() }
        let ns = backend.namespace
        let (_, recorder) = await Self.subscribed(backend)
        defer { recorder.stop() }
        // This console's bus expects number 2 next; another publisher takes 2…4 first.
        let bus = RedisEventBus(redis: backend.redis, namespace: ns, source: "console")
        try bus.publish(.cacheInvalidated)
        try RedisEventBus(redis: backend.redis, namespace: ns, source: "other").publish(batch: [
            .cacheInvalidated, .cacheInvalidated, .cacheInvalidated
        ])
        // An action's follow-ups go out in one pipeline, numbered from the stale guess: refused by the
        // script, then renumbered and sent.
        let writer = RedisFollowUps(
            redis: backend.redis, idempotency: RedisIdempotencyStore(redis: backend.redis, postgres: backend.postgres, namespace: ns),
            breakers: RedisBreakerStore(redis: backend.redis, namespace: ns), cache: RedisSnapshotCache(redis: backend.redis, namespace: ns),
            bus: bus)
        var followUps = FollowUps()
        followUps.events = [.cacheInvalidated, .cacheInvalidated]
        #expect(writer.write(followUps).isEmpty)
        #expect(await TestServers.eventuallyAsync(30) { recorder.seqs.withLock { $0.count } >= 6 })
        #expect(recorder.seqs.withLock { $0 } == [1, 2, 3, 4, 5, 6] && recorder.refusals.withLock { $0 } == 0)
        #expect(try bus.currentSeq() == 6)
    }

    @Test func aBadlySignedControlMessageIsRefusedAndTheFleetIsUnchanged() async throws {
        let backend = try Self.backend()
        defer { backend.drop() }
        let ns = backend.namespace
        let sim = try LiveSimulation(
            config: LiveWorldTests.config, redis: backend.redis, postgres: backend.postgres, namespace: ns, historySeconds: 60)
        sim.listen()
        defer { sim.stop() }
        #expect(
            await TestServers.eventuallyAsync {
                ((try? backend.redis.send("PUBSUB", "NUMSUB", ns.controlChannel))?.array?.dropFirst().first?.int ?? 0) >= 1
            })
        let worker = try #require(sim.read { $0.workers.keys.sorted().first })
        let status = { try backend.postgres.query("SELECT status FROM workers WHERE id = $1", [worker])[0].get("status", as: String.self) }
        let was = try status()
        let audit = try auditRows(backend)
        let command = String(decoding: try JSONEncoder().encode(FleetCommand.pauseWorker(worker)), as: UTF8.self)
        // Signed without the key, unsigned, and a real one replayed from ten minutes ago.
        let stale = BusAuth.seal(
            Array(command.utf8), keys: Self.keys, kind: .control, namespace: ns.prefix, number: 0, millis: BusAuth.nowMillis() - 600_000)
        for message in [BusAuth.sealControl(command, keys: Self.forger, namespace: ns.prefix), Array(command.utf8), stale] {
            #expect(try backend.redis.send("PUBLISH", ns.controlChannel, message).int == 1)
        }
        #expect(await TestServers.eventuallyAsync(30) { sim.currentStats.controlRefused == 3 })
        #expect(sim.currentStats.commandsApplied == 0 && sim.currentStats.refusedSources.count == 1)
        #expect(try status() == was && (try auditRows(backend)) == audit)
        // The real one, signed now, is obeyed.
        #expect(try backend.redis.send("PUBLISH", ns.controlChannel, BusAuth.sealControl(command, keys: Self.keys, namespace: ns.prefix)).int == 1)
        #expect(await TestServers.eventuallyAsync(30) { (try? status()) == "paused" })
        #expect(sim.currentStats.controlRefused == 3)
    }
}

/// The numbers of the events a subscriber received, in order, and how many messages it refused.
final class SeqRecorder: Sendable {
    let seqs = Mutex<[Int64]>([])
    let refusals = Mutex(0)
    private let reader = Mutex<Task<Void, Never>?>(nil)

    init(_ stream: AsyncStream<BusMessage>) {
        let task = Task {
            for await m in stream {
                if case .event(let e) = m { self.seqs.withLock { $0.append(e.seq) } }
                if case .refused = m { self.refusals.withLock { $0 += 1 } }
            }
        }
        reader.withLock { $0 = task }
    }

    func stop() { reader.withLock { $0?.cancel() } }
}
