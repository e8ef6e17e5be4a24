import AgentOSAdapters
import AgentOSCore
import AgentOSLiveWorld
import AgentOSTestSupport
import AgentOSWorld
import Foundation
import Synchronization
import Testing

/// A fresh database (migrated) and a fresh Redis namespace for one test.
struct LiveBackend {
    let postgres: PostgresClient
    let redis: RedisClient
    let namespace: Namespace
    let databaseName: String
    let url: String

    static func make() throws -> LiveBackend {
        let admin = try PostgresConnection(try TestServers.postgresURL())
        let name = TestServers.unique("world")
        try admin.execute("CREATE DATABASE \(name)")
        var comps = URLComponents(string: try TestServers.postgresURL())!
        comps.path = "/\(name)"
        let url = comps.string!
        let postgres = try PostgresClient.migrated(url)
        return LiveBackend(
            postgres: postgres, redis: try RedisClient(url: TestServers.redisURL()),
            namespace: {
                let n = TestServers.unique("ns")
                // Signed with the key scripts/test.sh exports (D66), as a deployment is.
                return Namespace(n, brokerPrefix: n + ":", busKeys: TestBus.keys)
            }(), databaseName: name, url: url)
    }

    func drop() {
        postgres.shutdown()
        if let admin = try? PostgresConnection(try TestServers.postgresURL()) {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
        }
    }

    /// Job counts by status straight from SQL.
    func sqlCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try postgres.query("SELECT status, count(*)::bigint AS n FROM jobs GROUP BY status") {
            counts[try row.get("status")] = try row.get("n")
        }
        return counts
    }
}

@Suite("The AgentOS world against real Redis and PostgreSQL", .serialized)
struct LiveWorldTests {
    static let config = SimulatorConfig(seed: 11, rate: 2)

    @Test func simAndWarmerProduceASnapshotMatchingSQL() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let sim = try LiveSimulation(
            config: Self.config, redis: backend.redis, postgres: backend.postgres,
            namespace: backend.namespace, historySeconds: 300)
        var t = Date()
        for _ in 0..<8 {
            t += 0.5
            try sim.step(to: t)
        }
        #expect(try sim.dataManager.warmIfLeader())
        let cached = try #require(try RedisSnapshotCache(redis: backend.redis, namespace: backend.namespace).get())
        let snapshot = try Snapshot.decode(cached)
        #expect(snapshot.source == "live" && snapshot.generation >= 1)
        let sql = try backend.sqlCounts()
        #expect(snapshot.jobs.byStatus == sql, "snapshot counts equal SQL counts")
        #expect(snapshot.jobs.total == sql.values.reduce(0, +))
        let simCounts = sim.read { s in Dictionary(grouping: s.jobs.values, by: { $0.status.rawValue }).mapValues(\.count) }
        #expect(sql == simCounts, "the tables hold exactly the simulated jobs")
        // Queue depth comes from the broker lists in DB0 and equals the jobs waiting in each queue.
        let broker = backend.redis.selecting(database: 0)
        for q in snapshot.queues {
            let lengths = try backend.namespace.brokerListKeys(queue: q.name).map { try broker.send("LLEN", $0).int ?? 0 }
            #expect(q.pending == Int(lengths.reduce(0, +)))
            #expect(q.pending == sim.read { $0.pendingCount(q.name) }, "queue \(q.name)")
        }
        // One source for every number (issue 19): the queues' figures add up to the status counts.
        #expect(snapshot.queues.reduce(0) { $0 + $1.failed } == snapshot.jobs.count(.failed))
        #expect(snapshot.queues.reduce(0) { $0 + $1.reserved } == snapshot.jobs.count(.running))
        #expect(snapshot.queues.reduce(0) { $0 + $1.pending } == snapshot.jobs.count(.queued) + snapshot.jobs.count(.pending))
        #expect(snapshot.workers.count == Pipeline.stages.count * 3)
        #expect(!snapshot.logs.recent.isEmpty && !snapshot.config.isEmpty && !snapshot.analytics.throughput.isEmpty)
        #expect(snapshot.managers.count == 4)
        // A broker message is a kombu envelope whose body decodes to the job.
        let keys = try snapshot.queues.flatMap { backend.namespace.brokerListKeys(queue: $0.name) }.filter {
            try broker.send("LLEN", $0).int ?? 0 > 0
        }
        let key = try #require(keys.first, "no queue holds a message after \(8 * 0.5) s of ingest")
        let raw = try #require(try broker.send("LINDEX", key, 0).bytes)
        let envelope = try #require(try JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any])
        let body = try #require(Data(base64Encoded: envelope["body"] as? String ?? ""), "body of \(key) is not base64")
        #expect(envelope["content-type"] as? String == "application/json")
        #expect(try JSONSerialization.jsonObject(with: body) is [Any], "protocol 2 body: [args, kwargs, embed]")
    }

    /// D81: a tick that fails (its PostgreSQL killed) keeps its events; once the server is back the
    /// next tick writes them, so the tables and the broker hold exactly the simulated jobs (the
    /// events were dropped before: the jobs those ticks created or moved never reached the tables).
    @Test func aFailedTickIsWrittenByTheNextOne() throws {
        let server = try PrivatePostgres()
        let postgres = try PostgresClient.migrated(server.url)
        defer { postgres.shutdown() }
        let redis = try RedisClient(url: TestServers.redisURL())
        defer { redis.shutdown() }
        let prefix = TestServers.unique("failedtick")
        let namespace = Namespace(prefix, brokerPrefix: prefix + ":")
        let sim = try LiveSimulation(config: Self.config, redis: redis, postgres: postgres, namespace: namespace, historySeconds: 120)
        var t = Date()
        t += 0.5
        try sim.step(to: t)
        try server.kill()
        for _ in 0..<4 {
            t += 1
            #expect(throws: (any Error).self) { try sim.step(to: t) }
        }
        try server.restart()
        t += 0.5
        #expect(TestServers.eventually { (try? sim.step(to: t)) != nil }, "no tick succeeded once PostgreSQL was back")
        let sql = Dictionary(
            uniqueKeysWithValues: try postgres.query("SELECT status, count(*) AS n FROM jobs GROUP BY status").rows.map {
                (try $0.get("status", as: String.self), try $0.get("n", as: Int.self))
            })
        let simCounts = sim.read { s in Dictionary(grouping: s.jobs.values, by: { $0.status.rawValue }).mapValues(\.count) }
        #expect(sql == simCounts, "the tables hold exactly the simulated jobs")
        let broker = redis.selecting(database: 0)
        for queue in sim.read({ Array($0.queues.keys) }) {
            let lengths = try namespace.brokerListKeys(queue: queue).map { try broker.send("LLEN", $0).int ?? 0 }
            #expect(Int(lengths.reduce(0, +)) == sim.read { $0.pendingCount(queue) }, "queue \(queue)")
        }
    }

    /// Both consoles try to warm in every round, at once; the leader's lease (3 intervals, 3 min here)
    /// outlives any stall, so the rounds are counted, not timed: one warm per round, all by one leader.
    /// Issue 19 item 6, live: an entry at version 2 changed by alice has both versions in
    /// config_history (the drill-down showed none), as the console reads them.
    @Test func seededConfigurationHasEveryVersionInItsHistory() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        _ = try LiveSimulation(
            config: Self.config, redis: backend.redis, postgres: backend.postgres, namespace: backend.namespace, historySeconds: 60)
        let entries = try backend.postgres.query("SELECT key, version, updated_by FROM config ORDER BY key").rows
        #expect(!entries.isEmpty)
        for row in entries {
            let key: String = try row.get("key")
            let version: Int = try row.get("version")
            let history = try ConfigHistory.load(backend.postgres, key: key)
            #expect(history.map(\.version) == Array((1...version).reversed()), "\(key) at version \(version)")
            #expect(try history.first?.changedBy == row.get("updated_by", as: String.self), "\(key)")
        }
    }

    @Test func twoWarmersWarmOncePerInterval() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let source = CountingSource(inner: PostgresSnapshotSource(postgres: backend.postgres, redis: backend.redis, namespace: backend.namespace))
        var managers: [AdminDataManager] = []
        for owner in ["console-a", "console-b"] {
            managers.append(
                AdminDataManager(
                    cache: RedisSnapshotCache(redis: try RedisClient(url: TestServers.redisURL()), namespace: backend.namespace),
                    source: source, bus: nil, options: .init(warmIntervalMillis: 60_000, owner: owner)))
        }
        let consoles = managers
        let rounds = 8
        var leaders: [[Bool]] = []
        for _ in 0..<rounds {
            let warmed = Mutex<[Bool]>(Array(repeating: false, count: managers.count))
            let errors = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: managers.count) { i in
                do {
                    let w = try consoles[i].warmIfLeader()
                    warmed.withLock { $0[i] = w }
                } catch { errors.withLock { $0.append("\(error)") } }
            }
            #expect(errors.withLock { $0 }.isEmpty, "\(errors.withLock { $0 })")
            leaders.append(warmed.withLock { $0 })
        }
        #expect(source.builds == rounds, "exactly one warm per round, got \(source.builds) in \(rounds) rounds: \(leaders)")
        #expect(Set(leaders).count == 1 && leaders[0].filter { $0 }.count == 1, "one console leads every round: \(leaders)")
        #expect(managers.map { $0.currentStats.warms }.sorted() == [0, rounds])
    }

    @Test func aMissOnTwentyConsolesRebuildsOnce() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let source = CountingSource(inner: PostgresSnapshotSource(postgres: backend.postgres, redis: backend.redis, namespace: backend.namespace))
        // Twenty consoles, each with its own Redis connection, miss the cache at the same moment (after a cascade).
        let consoles = try (0..<20).map { i in
            AdminDataManager(
                cache: RedisSnapshotCache(redis: try RedisClient(url: try TestServers.redisURL()), namespace: backend.namespace),
                source: source, bus: nil, options: .init(owner: "console-\(i)"))
        }
        let generations = Mutex<[Int]>([])
        let group = DispatchGroup()
        let gate = DispatchSemaphore(value: 0)
        for console in consoles {
            group.enter()
            Thread {
                gate.wait()
                if let (snapshot, _) = try? console.snapshot() { generations.withLock { $0.append(snapshot.generation) } }
                group.leave()
            }.start()
        }
        for _ in consoles { gate.signal() }
        group.wait()
        #expect(source.builds == 1, "one rebuild from PostgreSQL for twenty consoles, got \(source.builds)")
        #expect(generations.withLock { $0.count == 20 && Set($0).count == 1 }, "every console has the one rebuilt snapshot")
        let lock = try backend.redis.selecting(database: Namespace.DB.cache).send("EXISTS", backend.namespace.snapshotRebuildLockKey).int
        #expect(lock == 0, "the rebuild lock is released")
    }

    @Test func subscriberFollowsEventsAndReloadsAfterAGap() async throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let sim = try LiveSimulation(
            config: Self.config, redis: backend.redis, postgres: backend.postgres,
            namespace: backend.namespace, historySeconds: 120)
        var named = backend.redis.configuration
        let clientName = TestServers.unique("console")
        named.clientName = clientName
        let consoleBus = RedisEventBus(redis: RedisClient(named), namespace: backend.namespace, source: "console")
        let console = ConsoleModel(dataManager: sim.dataManager)
        let consumer = Task.detached { await console.follow(consoleBus.subscribe()) }
        defer { consumer.cancel() }
        #expect(await TestServers.eventuallyAsync { console.state.withLock { $0.connections } == 1 })

        var t = Date()
        for _ in 0..<6 {
            t += 0.5
            try sim.step(to: t)
        }
        let published = try consoleBus.currentSeq()
        #expect(await TestServers.eventuallyAsync { console.state.withLock { $0.lastSeq } == published })
        #expect(console.state.withLock { $0.seqs } == Array(1...published).map { Int64($0) }, "every event, in seq order")

        // Cut the console's subscription, publish while it is away, let it come back.
        let admin = try TestServers.redis()
        let list = try admin.send("CLIENT", "LIST").string ?? ""
        let line = try #require(list.split(separator: "\n").first { $0.contains(" name=\(clientName) ") && $0.contains(" sub=1 ") })
        let id = try #require(line.split(separator: " ").first { $0.hasPrefix("id=") }?.dropFirst(3))
        try admin.send("CLIENT", "KILL", "ID", String(id))
        for _ in 0..<6 {
            t += 0.5
            try sim.step(to: t)
        }
        #expect(await TestServers.eventuallyAsync { console.state.withLock { $0.reloads } >= 2 }, "reloaded after the reconnect")
        for _ in 0..<2 {
            t += 0.5
            try sim.step(to: t)
        }
        // The screen's model equals the database again (the simulator is stepped by hand: it stands still now).
        let matched = await TestServers.eventuallyAsync {
            guard let counts = console.state.withLock({ $0.holder.current?.jobs.byStatus }) else { return false }
            return (try? backend.sqlCounts()) == counts.filter { $0.value > 0 }
        }
        let sql = try backend.sqlCounts()
        #expect(matched, "screen \(console.state.withLock { $0.holder.current?.jobs.byStatus ?? [:] }) vs SQL \(sql)")
    }

    @Test func garbageInTheCacheIsReplacedByARebuild() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let cache = RedisSnapshotCache(redis: backend.redis, namespace: backend.namespace)
        let manager = AdminDataManager(
            cache: cache,
            source: PostgresSnapshotSource(
                postgres: backend.postgres, redis: backend.redis,
                namespace: backend.namespace), bus: nil)
        try backend.redis.selecting(database: 1).send("SET", backend.namespace.snapshotKey, [0xff, 0x00, 0x7b] as [UInt8])
        let (snapshot, origin) = try manager.snapshot()
        #expect(origin == .rebuilt && snapshot.schema == Snapshot.schemaID)
        // Signed (D66), the garbage has no MAC and is refused before it is decoded; unsigned, it fails to decode.
        #expect(manager.currentStats.decodeFailures + manager.currentStats.refused == 1)
        #expect(try Snapshot.decode(try #require(try cache.get())).generation == snapshot.generation)
        #expect(try manager.snapshot().1 == .cache)
    }

    @Test func controlCommandsReachTheSimulatorAndTheTables() async throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let sim = try LiveSimulation(
            config: Self.config, redis: backend.redis, postgres: backend.postgres,
            namespace: backend.namespace, historySeconds: 120)
        sim.start(tickMillis: 100)
        defer { sim.stop() }
        let worker = try #require(sim.read { $0.workers.keys.sorted().first })
        let command = try JSONEncoder().encode(FleetCommand.pauseWorker(worker))
        // PUBLISH reaches subscribers only: wait for the simulator's.
        #expect(
            await TestServers.eventuallyAsync {
                ((try? backend.redis.send("PUBSUB", "NUMSUB", backend.namespace.controlChannel))?.array?.dropFirst().first?.int ?? 0) >= 1
            })
        let channel = backend.namespace.controlChannel
        #expect(
            try backend.redis.send(
                "PUBLISH", channel, TestBus.sealControl(String(decoding: command, as: UTF8.self), namespace: backend.namespace.prefix)
            ).int == 1)
        #expect(
            await TestServers.eventuallyAsync {
                (try? backend.postgres.query("SELECT status FROM workers WHERE id = $1", [worker])[0].get("status", as: String.self)) == "paused"
            })
        #expect(
            try backend.redis.send("PUBLISH", channel, TestBus.sealControl("{\"command\":\"worker.explode\"}", namespace: backend.namespace.prefix))
                .int == 1)
        #expect(await TestServers.eventuallyAsync { sim.currentStats.lastError?.contains("unknown fleet command") == true })
        #expect(sim.currentStats.commandsApplied == 1)
    }
}

/// Counts builds across every console (the warmer test).
final class CountingSource: SnapshotSource {
    let inner: SnapshotSource
    private let count = Mutex(0)
    init(inner: SnapshotSource) { self.inner = inner }
    var builds: Int { count.withLock { $0 } }
    func buildSnapshot(generation: Int) throws -> Snapshot {
        count.withLock { $0 += 1 }
        return try inner.buildSnapshot(generation: generation)
    }
}

/// The live-update loop of a console, reduced to its data: load the snapshot, apply events in
/// seq order, reload on a reconnect or a gap.
final class ConsoleModel: Sendable {
    struct State {
        var holder = SnapshotHolder()
        var sequencer = EventSequencer()
        var seqs: [Int64] = []
        var lastSeq: Int64 = 0
        var reloads = 0
        var connections = 0
    }

    let state = Mutex(State())
    let dataManager: AdminDataManager

    init(dataManager: AdminDataManager) { self.dataManager = dataManager }

    func reload() {
        guard let snapshot = try? dataManager.rebuild() else { return }
        state.withLock {
            $0.holder.accept(snapshot)
            $0.sequencer.reset(to: snapshot.eventSeq)
            $0.reloads += 1
        }
    }

    func follow(_ stream: AsyncStream<BusMessage>) async {
        for await message in stream {
            switch message {
            case .connected:
                state.withLock { $0.connections += 1 }
                reload()
            case .event(let envelope):
                let decision = state.withLock { s -> EventSequencer.Decision in
                    let d = s.sequencer.admit(envelope.seq)
                    s.seqs.append(envelope.seq)
                    s.lastSeq = envelope.seq
                    if d == .apply { s.holder.apply(envelope.event, at: envelope.ts) }
                    return d
                }
                if case .gap = decision { reload() }
            case .changedElsewhere, .overflowed:
                reload()
            case .malformed, .disconnected, .sessionEnded, .refused:
                continue
            }
        }
    }
}
