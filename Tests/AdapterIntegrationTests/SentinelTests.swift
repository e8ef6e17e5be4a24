import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// `redis-sentinel://` against a real master, replica and three sentinels (`SentinelCluster`).
@Suite("Redis Sentinel", .serialized) // one topology at a time: the failover figures are not inflated by the others
struct SentinelTests {
    /// A client and a started subscriber through the cluster's sentinels.
    struct Through {
        let config: RedisConfiguration
        let client: RedisClient
        let subscriber: RedisSubscriber
        let collector: EventCollector
        let key = TestServers.unique("ha")
        let channel = TestServers.unique("ha-events")

        init(_ cluster: SentinelCluster) throws {
            config = try RedisConfiguration(url: cluster.url)
            client = RedisClient(config)
            subscriber = RedisSubscriber(config, channels: [channel], backoff: Backoff(baseMillis: 20, capMillis: 200))
            collector = EventCollector(subscriber)
            subscriber.start()
        }

        func close() {
            subscriber.stop()
            client.shutdown()
        }
    }

    @Test func followsTheSentinelsWhenTheMasterDies() async throws {
        let cluster = try SentinelCluster()
        defer { cluster.stopMonitor() }
        let through = try Through(cluster)
        defer { through.close() }
        let (client, collector, key, channel) = (through.client, through.collector, through.key, through.channel)
        try client.send("SET", key, "before")
        #expect(try cluster.direct(cluster.masterPort).send("GET", key).string == "before")
        #expect(try client.send("WAIT", 1, 10_000).int == 1, "the replica has the key before the master dies")
        #expect(await collector.wait { $0.subscriptions == [false] })

        let killed = Date()
        cluster.kill(port: cluster.masterPort)
        var attempts = 0
        let written = await TestServers.eventuallyAsync(60) {
            attempts += 1
            return (try? client.send("SET", key, "after")) != nil
        }
        let firstWriteMillis = HAFigures.millis(since: killed)
        #expect(written, "no write succeeded through the sentinels after the master died")
        #expect(cluster.role(cluster.replicaPort) == "master")
        #expect(try cluster.direct(cluster.replicaPort).send("GET", key).string == "after")

        #expect(await collector.wait { $0.subscriptions.last == true }, "the subscriber did not come back with a possible gap")
        try client.send("PUBLISH", channel, "on the new master")
        #expect(await collector.wait { $0.messages.contains(Array("on the new master".utf8)) })
        HAFigures.record([
            "figure": "redis master killed", "first_write_ms": firstWriteMillis, "write_attempts": attempts,
            "new_master": cluster.replicaPort, "lost_writes": (try? cluster.direct(cluster.replicaPort).send("GET", key).string) == "after" ? 0 : 1
        ])
    }

    @Test func aManualFailoverMovesThePoolAndTheSubscriberOffALiveMaster() async throws {
        let cluster = try SentinelCluster()
        defer { cluster.stopMonitor() }
        let through = try Through(cluster)
        defer { through.close() }
        let (client, collector, key, channel) = (through.client, through.collector, through.key, through.channel)
        try client.send("SET", key, "1") // leaves a connection to the old master in the pool
        #expect(await collector.wait { $0.subscriptions == [false] })
        let monitor = try #require(SentinelMonitor.shared(for: through.config))
        let generation = monitor.generation

        try cluster.manualFailover()
        #expect(await TestServers.eventuallyAsync { monitor.generation > generation }, "+switch-master never reached the monitor")
        // The old master is still up (a pub/sub client there would keep hearing replicated messages):
        // the subscriber leaves it because the sentinels said so.
        #expect(await collector.wait { $0.subscriptions == [false, true] })
        #expect(collector.events.contains(.disconnected(reason: "redis failover: new master 127.0.0.1:\(cluster.replicaPort)", retryInMillis: 0)))
        // Sentinel demotes the old master only seconds later: until then a write on the old connection
        // would succeed there, so this one landing on the new master shows the pool moved.
        try client.send("SET", key, "2")
        #expect(try cluster.direct(cluster.replicaPort).send("GET", key).string == "2")
        try client.send("PUBLISH", channel, "after the switch")
        #expect(await collector.wait { $0.messages.contains(Array("after the switch".utf8)) })
        // `agentos check` names the master the sentinels report.
        let check = try Binaries.run(Binaries.built("agentos"), ["check", "--redis", cluster.url])
        #expect(check.output.contains("master 127.0.0.1:\(cluster.replicaPort) named by the sentinels"), "\(check.output)")
    }

    @Test func aReplicaTheSentinelsNameIsRefusedByRole() throws {
        let cluster = try SentinelCluster()
        defer { cluster.stopMonitor() }
        let wrong = TestServers.unique("wrong")
        let sentinel = cluster.direct(cluster.sentinelPorts[0])
        defer { sentinel.shutdown() }
        // One sentinel told to watch the replica as if it were a master (quorum above the sentinels, so it never fails over).
        try sentinel.send("SENTINEL", "MONITOR", wrong, "127.0.0.1", cluster.replicaPort, 5)
        defer { _ = try? sentinel.send("SENTINEL", "REMOVE", wrong) }
        let config = try RedisConfiguration(url: "redis-sentinel://127.0.0.1:\(cluster.sentinelPorts[0])/\(wrong)")
        defer { SentinelMonitor.shared(for: config)?.stop() }
        let client = RedisClient(config)
        do {
            try client.send("SET", TestServers.unique("ha"), "x")
            Issue.record("a write went to the replica \(cluster.replicaPort)")
        } catch {
            guard case .noMaster(let why) = error else {
                Issue.record("expected noMaster, got \(error)")
                return
            }
            #expect(why.contains("slave") && why.contains(String(cluster.replicaPort)), "\(why)")
        }
    }

    /// A stream of actions through the live pipeline, its Redis behind the sentinels, while the
    /// master is killed: refused with a reason while no master answers (nothing executed), executed
    /// once otherwise, no audit row lost, and a rebuilt snapshot equals the database.
    @Test func actionsDuringAMasterDeathRunOnceAndLoseNoAuditRow() throws {
        // The topology of issue 22 item 5: two replicas, one of them promoted.
        let cluster = try SentinelCluster(replicas: 2)
        defer { cluster.stopMonitor() }
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let redis = try RedisClient(url: cluster.url)
        defer { redis.shutdown() }
        let stack = try ReliabilityStack(postgres: backend.postgres, postgresURL: backend.url, redis: redis, options: ActionStream.options)
        defer { stack.close() }
        let sim = try SimAlongside(redisURL: cluster.url, postgresURL: backend.url)
        let stream = try ActionStream(stack)
        #expect(TestServers.eventually { stream.succeeded(after: .distantPast) >= 20 }, "the stream did not run before the failover")
        sim.waitUntilPublishing()
        let killed = Date()
        cluster.kill(port: cluster.masterPort)
        #expect(TestServers.eventually(60) { stream.succeeded(after: killed) >= 20 }, "no action succeeded after the master died")
        #expect(cluster.replicaPorts.filter { cluster.role($0) == "master" }.count == 1)
        sim.expectPublishingAgain()
        let figures = try stream.finish(database: backend.postgres, since: killed)
        let simulated = sim.finish()
        #expect(simulated.ranThrough, "agentos sim did not run through the failover: \(simulated.summary)")
        #expect(figures.unknown == 0, "PostgreSQL stayed up: no outcome is unknown")
        // Refused before anything ran (unavailable: the Redis stages come before the execution), saying why.
        #expect(figures.refusals.allSatisfy { $0.hasPrefix("unavailable: ") && $0.contains("Redis") }, "\(figures.refusals)")
        #expect(figures.refusals.contains { $0.contains("no Redis master known") }, "\(figures.refusals)")
        HAFigures.record(
            figures.json(
                "redis actions during master death",
                extra: ["sim": simulated.summary, "sim_ran_through": simulated.ranThrough, "sim_events": simulated.events]))
    }

    /// A sentinel-run master and replica, a `read_from=replica` client and a snapshot already on the
    /// replica (WAIT): the set-up of the replica-read tests.
    static func replicaReads() throws -> (SentinelCluster, RedisClient, RedisSnapshotCache, Data) {
        let cluster = try SentinelCluster()
        do {
            let redis = try RedisClient(url: cluster.url + "?read_from=replica")
            let cache = RedisSnapshotCache(redis: redis, namespace: Namespace(TestServers.unique("reads")))
            let body = Data(#"{"snapshot":1}"#.utf8)
            try cache.put(body, generation: 1, ttlSeconds: 300)
            #expect(try redis.send("WAIT", 1, 10_000).int == 1, "the replica has the snapshot")
            return (cluster, redis, cache, body)
        } catch {
            cluster.stopMonitor()
            throw error
        }
    }

    /// The route says the last read went to the cluster's replica, with a small measured lag (both
    /// offsets read, nothing written since WAIT: the master's pings at most); false when it did not.
    static func expectReadsOnTheReplica(_ cache: RedisSnapshotCache, _ cluster: SentinelCluster) -> Bool {
        guard case .replica(let address, let lag) = cache.readRoute else {
            Issue.record("the reads did not go to the replica: \(cache.readRoute)")
            return false
        }
        #expect(address == "127.0.0.1:\(cluster.replicaPort)")
        #expect(lag.map { (0..<1_000_000).contains($0) } == true, "lag \(String(describing: lag))")
        #expect(cache.readRoute.statusText == "reads: replica 127.0.0.1:\(cluster.replicaPort) lag \(lag ?? -1) B")
        return true
    }

    /// `read_from=replica` (D81): the snapshot's GET goes to the replica (its EVALSHA count rises, the
    /// master's does not) and the replica's lag is measured; writes through the same client still go to
    /// the master; with the replica killed the read goes to the master and the route says why.
    @Test func snapshotReadsGoToTheReplicaAndFallBackToTheMasterWhenItDies() throws {
        let (cluster, redis, cache, body) = try Self.replicaReads()
        defer {
            try? cache.invalidate()
            redis.shutdown()
            cluster.stopMonitor()
        }
        #expect(cache.readRoute == .notYet)

        let before = (master: cluster.evalshaCalls(cluster.masterPort), replica: cluster.evalshaCalls(cluster.replicaPort))
        for _ in 0..<3 { #expect(try cache.get() == body) }
        #expect(cluster.evalshaCalls(cluster.replicaPort) >= before.replica + 3, "the snapshot reads did not reach the replica")
        #expect(cluster.evalshaCalls(cluster.masterPort) == before.master, "a snapshot read went to the master")
        guard Self.expectReadsOnTheReplica(cache, cluster) else { return }
        let key = TestServers.unique("ha")
        try redis.send("SET", key, "on the master") // a replica would answer READONLY
        #expect(try cluster.direct(cluster.masterPort).send("GET", key).string == "on the master")

        cluster.kill(port: cluster.replicaPort)
        #expect(try cache.get() == body, "the read did not fall back to the master")
        #expect(cluster.evalshaCalls(cluster.masterPort) >= before.master + 1)
        guard case .fellBack(let reason) = cache.readRoute else {
            Issue.record("the route does not say the read fell back: \(cache.readRoute)")
            return
        }
        // The sentinels see it disconnected at once, or its connection is refused: either way it is named.
        #expect(reason.contains("127.0.0.1:\(cluster.replicaPort)"), "\(reason)")
        #expect(cache.readRoute.statusText?.hasPrefix("reads: master (replica: ") == true)
    }

    /// A burst of snapshot reads from the replica measures the lag at most once per
    /// `RedisClient.replicaLagIntervalNanos` (D82): the master's INFO count rises by a few (the first
    /// read's measurement, one per interval since, the sentinels' own every 10 s and the count's own
    /// INFO), not once per read; the route still shows the measured lag.
    @Test func aBurstOfReplicaReadsAsksTheMasterForItsOffsetAtMostOncePerInterval() throws {
        let (cluster, redis, cache, body) = try Self.replicaReads()
        defer {
            try? cache.invalidate()
            redis.shutdown()
            cluster.stopMonitor()
        }

        let reads = 200
        let infosBefore = cluster.calls(of: "info", on: cluster.masterPort)
        let evalshasBefore = cluster.calls(of: "evalsha", on: cluster.masterPort)
        let start = Monotonic.nanos()
        for _ in 0..<reads { #expect(try cache.get() == body) }
        let intervals = Int((Monotonic.nanos() - start) / RedisClient.replicaLagIntervalNanos)
        let seconds = Int((Monotonic.nanos() - start) / 1_000_000_000)
        let infos = cluster.calls(of: "info", on: cluster.masterPort) - infosBefore
        let allowed = (1 + intervals) + 3 * (1 + seconds / 10) + 1
        #expect(infos <= allowed, "\(reads) replica reads sent the master \(infos) INFO (at most \(allowed) expected)")
        #expect(cluster.calls(of: "evalsha", on: cluster.masterPort) == evalshasBefore, "a snapshot read went to the master")
        guard Self.expectReadsOnTheReplica(cache, cluster) else { return }
    }

    /// After a failover the replica reads leave the replica that became master, and come back to a
    /// replica only one that follows the new master (here the old master, demoted): the value read is
    /// the one written after the switch. A replica that follows no master is refused by ROLE.
    @Test func afterAFailoverReplicaReadsFollowTheNewMaster() async throws {
        let cluster = try SentinelCluster()
        defer { cluster.stopMonitor() }
        let redis = try RedisClient(url: cluster.url + "?read_from=replica")
        defer { redis.shutdown() }
        let ns = Namespace(TestServers.unique("reads"))
        let cache = RedisSnapshotCache(redis: redis, namespace: ns)
        defer { try? cache.invalidate() }
        try cache.put(Data("before".utf8), generation: 1, ttlSeconds: 300)
        #expect(try redis.send("WAIT", 1, 10_000).int == 1)
        #expect(try cache.get() == Data("before".utf8))
        #expect(cache.readRoute.address == "127.0.0.1:\(cluster.replicaPort)")

        let monitor = try #require(SentinelMonitor.shared(for: try RedisConfiguration(url: cluster.url)))
        let generation = monitor.generation
        try cluster.manualFailover()
        #expect(await TestServers.eventuallyAsync { monitor.generation > generation }, "+switch-master never reached the monitor")
        try cache.put(Data("after".utf8), generation: 2, ttlSeconds: 300)
        // The old master is named a replica of the new one only once Sentinel has reconfigured it.
        let followed = await TestServers.eventuallyAsync(60) {
            (try? cache.get()) == Data("after".utf8) && cache.readRoute.address == "127.0.0.1:\(cluster.masterPort)"
        }
        #expect(followed, "the reads did not reach the demoted old master: \(cache.readRoute)")
        #expect(cluster.role(cluster.masterPort) == "slave")

        // Detached by hand, it is still listed as a replica until the sentinels next ask it (every 10 s):
        // a new connection's ROLE check refuses it, and the read goes to the master.
        let detached = cluster.direct(cluster.masterPort)
        defer { detached.shutdown() }
        try detached.send("REPLICAOF", "NO", "ONE")
        let fresh = try RedisClient(url: cluster.url + "?read_from=replica")
        defer { fresh.shutdown() }
        let freshCache = RedisSnapshotCache(redis: fresh, namespace: ns)
        #expect(try freshCache.get() == Data("after".utf8))
        guard case .fellBack(let reason) = freshCache.readRoute else {
            Issue.record("a replica that follows no master was read: \(freshCache.readRoute)")
            return
        }
        #expect(reason.contains("127.0.0.1:\(cluster.masterPort)") && reason.contains("ROLE"), "\(reason)")
    }
}
