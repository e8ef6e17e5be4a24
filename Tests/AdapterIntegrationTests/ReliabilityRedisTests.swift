import AgentOSCore
import AgentOSWorld
import Foundation
import Synchronization
import Testing

@testable import AgentOSAdapters

/// Checks 2, 7, 8, 9 and 10: Redis killed under actions, the sliding-window limiter hammered,
/// TTLs on every limiter key, the shared breaker on an injected clock across processes, and a
/// subscriber cut off while events flow.
@Suite("Reliability: Redis faults, limits and breakers", .serialized)
struct ReliabilityRedisTests {
    /// Check 2: redis-server killed (-9) and restarted repeatedly during the actions: no side
    /// effect without an intent row, every request id accounted for in the audit trail.
    @Test func check02RedisKilledDuringActionsLeavesNoEffectWithoutIntent() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 2, test: "ReliabilityRedisTests/check02RedisKilledDuringActionsLeavesNoEffectWithoutIntent")
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let redis = try RedisClient(url: server.url)
        let stack = try ReliabilityStack(postgres: backend.postgres, postgresURL: backend.url, redis: redis)
        defer { stack.close() }
        let (dispatcher, counter) = stack.actions.dispatcher.counting()

        let n = Reliability.size(fast: 200, full: 1_000)
        let kills = Reliability.size(fast: 3, full: 8)
        let ids = try backend.postgres.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, priority, owner)
            SELECT gen_random_uuid(), 'rel2-' || g, 'video_downloader', 'video_downloader', 'queued', 5, 'rel' FROM generate_series(1, $1::int) g
            RETURNING id::text AS id
            """, [n]
        ).rows.map { try $0.get("id", as: String.self) }
        let broker = redis.selecting(database: 0)
        for chunk in stride(from: 0, to: ids.count, by: 200) {
            let commands = ids[chunk..<min(chunk + 200, ids.count)].flatMap { id in
                let job = Job(
                    id: id, name: "rel2", stage: "video_downloader", queue: "video_downloader", status: .queued, priority: 5, owner: "rel",
                    createdAt: Date())
                return stack.ns.brokerPush(
                    queue: "video_downloader", priority: 5, job: id,
                    message: KombuMessage.task(job: job, taskName: "agentos.video_downloader", deliveryTag: "t-" + id))
            }
            _ = try broker.pipeline(commands)
        }

        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        let requests = Mutex<[UUID]>([])
        let successes = Atomic<Int>(0)
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while true {
                    let i = next.add(1, ordering: .relaxed).oldValue
                    guard i < n else { return }
                    let request = ActionRequest(
                        action: "job.cancel", payload: ["id": .string(ids[i])],
                        actor: Actor(user: "op\(i % 50)", sessionID: "rel-2"))
                    requests.withLock { $0.append(request.requestID) }
                    if dispatcher.dispatch(request).succeeded { successes.add(1, ordering: .relaxed) } else { usleep(10_000) }
                    done.add(1, ordering: .relaxed)
                }
            }
        }
        var killed = 0
        for k in 1...kills {
            let at = n * k / (kills + 1)
            while done.load(ordering: .relaxed) < at { usleep(1_000) }
            server.kill()
            killed += 1
            usleep(250_000)
            try server.start()
        }
        group.wait()
        stack.actions.history.drain()

        let rows = try stack.auditRows()
        let all = requests.withLock { $0 }
        let unaccounted = all.filter { rows[$0]?.isEmpty ?? true }
        let executedWithoutIntent = counter.executed.filter { !(rows[$0]?.contains { $0.phase == "intent" } ?? false) }
        let cancelledWithoutIntent = try backend.postgres.query(
            """
            SELECT count(*) AS n FROM jobs j WHERE j.status = 'cancelled'
               AND NOT EXISTS (SELECT 1 FROM audit_logs a WHERE a.phase = 'intent' AND a.action = 'job.cancel' AND a.target = j.id::text)
            """
        ).rows[0].get("n", as: Int.self)
        let cancelled = try backend.postgres.query("SELECT count(*) AS n FROM jobs WHERE status = 'cancelled'").rows[0].get("n", as: Int.self)
        let verification = try AuditVerifier.verify(stack.actions.audit)
        figures.expect(all.count == n && unaccounted.isEmpty, "\(unaccounted.count) request ids without an audit row")
        figures.expect(
            executedWithoutIntent.isEmpty && cancelledWithoutIntent == 0,
            "executed without intent: \(executedWithoutIntent.count); cancelled jobs without intent: \(cancelledWithoutIntent)")
        figures.expect(verification.ok, "\(verification.summary)")
        figures.expect(
            killed == kills && successes.load(ordering: .relaxed) > 0 && successes.load(ordering: .relaxed) < n,
            "\(successes.load(ordering: .relaxed)) of \(n) succeeded across \(killed) kills")

        figures.attempted = n
        figures.executed = counter.count
        figures.refused = n - successes.load(ordering: .relaxed)
        figures.auditRows = all.compactMap { rows[$0]?.count }.reduce(0, +)
        figures.unaudited = unaccounted.count + executedWithoutIntent.count + cancelledWithoutIntent
        figures.notes =
            "\(killed) kill -9 + restarts; \(cancelled) jobs cancelled; \(unaccounted.count) request ids unaccounted; \(executedWithoutIntent.count + cancelledWithoutIntent) effects without intent"
        Reliability.record(figures, started: started)
    }

    /// Check 7: a limit of 10 per 60 s hammered by many clients (own connections, concurrent):
    /// exactly 10 admitted; another user unaffected; a retry after the advertised time succeeds.
    @Test func check07LimitHammeredByManyClientsAdmitsExactlyTen() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 7, test: "ReliabilityRedisTests/check07LimitHammeredByManyClientsAdmitsExactlyTen")
        let ns = Namespace(TestServers.unique("rel7"))
        let url = try TestServers.redisURL()
        let clients = 16
        let perClient = Reliability.size(fast: 25, full: 250)
        let t0: Int64 = 1_800_000_000_000
        let alice = RateRule(key: "rl:alice:queue.clear", limit: 10)
        let bob = RateRule(key: "rl:bob:queue.clear", limit: 10)
        let admitted = Mutex<[String: Int]>([:])
        let retryAfter = Mutex<Set<Int>>([])
        DispatchQueue.concurrentPerform(iterations: clients) { c in
            guard let client = try? RedisClient(url: url) else {
                admitted.withLock { $0["error", default: 0] += 1 }
                return
            }
            defer { client.shutdown() }
            let store = RedisRateLimitStore(redis: client, namespace: ns)
            for i in 0..<perClient {
                let rule = (c + i) % 4 == 0 ? bob : alice
                switch try? store.admit([rule], member: UUID().uuidString, nowMillis: t0 + Int64(i % 3)) {
                case .admitted: admitted.withLock { $0[rule.key, default: 0] += 1 }
                case .refused(let ms): if rule.key == alice.key { retryAfter.withLock { _ = $0.insert(ms) } }
                case nil: admitted.withLock { $0["error", default: 0] += 1 }
                }
            }
        }
        let counts = admitted.withLock { $0 }
        figures.expect(counts[alice.key] == 10 && counts[bob.key] == 10 && counts["error"] == nil, "\(counts)")
        // The oldest entry is at most t0 + 2: the advertised wait is what makes room again.
        let store = RedisRateLimitStore(redis: try RedisClient(url: url), namespace: ns)
        let eleventh = try store.admit([alice], member: UUID().uuidString, nowMillis: t0 + 1_000)
        guard case .refused(let wait) = eleventh else {
            Issue.record("an 11th request was not refused: \(eleventh)")
            return
        }
        let early = try store.admit([alice], member: UUID().uuidString, nowMillis: t0 + 1_000 + Int64(wait) - 1)
        figures.expect(early != .admitted, "admitted 1 ms before the advertised \(wait) ms")
        let retry = try store.admit([alice], member: UUID().uuidString, nowMillis: t0 + 1_000 + Int64(wait))
        figures.expect(retry == .admitted, "retry after \(wait) ms: \(retry)")
        let carol = try store.admit([RateRule(key: "rl:carol:queue.clear", limit: 10)], member: UUID().uuidString, nowMillis: t0 + 1_000)
        figures.expect(carol == .admitted, "another user: \(carol)")

        figures.attempted = clients * perClient + 3
        figures.executed = (counts[alice.key] ?? 0) + (counts[bob.key] ?? 0) + (retry == .admitted ? 1 : 0)
        figures.refused = figures.attempted - figures.executed - 1
        figures.notes =
            "\(clients) connections in parallel; admitted alice \(counts[alice.key] ?? 0), bob \(counts[bob.key] ?? 0); advertised wait \(wait) ms, retry \(retry == .admitted ? "admitted" : "refused")"
        Reliability.record(figures, started: started)
    }

    /// Check 8: after 10,000 users, no rate-limit key is left without a TTL.
    @Test func check08NoRateLimitKeyWithoutATTLAfterTenThousandUsers() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 8, test: "ReliabilityRedisTests/check08NoRateLimitKeyWithoutATTLAfterTenThousandUsers")
        let ns = Namespace(TestServers.unique("rel8"))
        let url = try TestServers.redisURL()
        let users = 10_000
        let errors = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { part in
            guard let client = try? RedisClient(url: url) else {
                errors.add(1, ordering: .relaxed)
                return
            }
            defer { client.shutdown() }
            let store = RedisRateLimitStore(redis: client, namespace: ns)
            for u in stride(from: part, to: users, by: 4) {
                let rules = [
                    RateRule(key: "rl:user\(u):job.cancel", limit: 50, burstMultiplier: 2),
                    RateRule(key: "rl:ip:10.0.\(u / 250).\(u % 250)", limit: 100)
                ]
                if (try? store.admit(rules, member: UUID().uuidString, nowMillis: nil)) == nil { errors.add(1, ordering: .relaxed) }
            }
        }
        let db = try RedisClient(url: url, database: Namespace.DB.rateLimit)
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try db.send("SCAN", cursor, "MATCH", "\(ns.prefix):rl:*", "COUNT", 1_000).array ?? []
            cursor = reply.first?.string ?? "0"
            keys += (reply.dropFirst().first?.array ?? []).compactMap(\.string)
        } while cursor != "0"
        var withoutTTL = 0
        for chunk in stride(from: 0, to: keys.count, by: 500) {
            let ttls = try db.pipeline(keys[chunk..<min(chunk + 500, keys.count)].map { ["PTTL", $0] })
            withoutTTL += ttls.filter { ($0.int ?? -1) < 0 }.count
        }
        figures.expect(errors.load(ordering: .relaxed) == 0, "\(errors.load(ordering: .relaxed)) admissions failed")
        figures.expect(keys.count == users * 2, "keys \(keys.count)")
        figures.expect(withoutTTL == 0, "\(withoutTTL) of \(keys.count) keys without a TTL")
        _ = try? db.send("EVAL", "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 0", 0, "\(ns.prefix):rl:*")
        figures.attempted = users
        figures.executed = users - errors.load(ordering: .relaxed)
        figures.notes = "\(keys.count) rl:* keys (user and source IP), \(withoutTTL) without a TTL"
        Reliability.record(figures, started: started)
    }

    /// Check 9: the shared breaker on an injected clock: opens exactly at the threshold; OPEN
    /// makes no backend call; HALF_OPEN admits exactly 3 probes across several processes
    /// (redis-cli running the breaker's own script at once); a hung probe reopens it.
    @Test func check09BreakerOpensAtTheThresholdAndHalfOpenAdmitsExactlyThreeProbesAcrossProcesses() throws {
        let started = Date()
        var figures = Reliability.Figures(
            check: 9, test: "ReliabilityRedisTests/check09BreakerOpensAtTheThresholdAndHalfOpenAdmitsExactlyThreeProbesAcrossProcesses")
        let redis = try RedisClient(url: TestServers.redisURL())
        let ns = Namespace(TestServers.unique("rel9"))
        let store = RedisBreakerStore(redis: redis, namespace: ns)
        let n = BreakerMachine.Numbers()
        let t0: Int64 = 1_800_000_000_000
        func state(_ service: String, _ now: Int64) throws -> BreakerState? {
            let all = try store.states(nowMillis: now)
            return all.first { $0.service == service }?.state
        }

        // Threshold: 10 successes, then failures: the 10th failure (10 of 20 = 50%) opens it, not the 9th.
        for _ in 0..<10 { try store.record("postgres", success: true, probe: false, nowMillis: t0) }
        for _ in 0..<9 { try store.record("postgres", success: false, probe: false, nowMillis: t0) }
        let beforeThreshold = try state("postgres", t0)
        try store.record("postgres", success: false, probe: false, nowMillis: t0)
        let atThreshold = try state("postgres", t0)
        // Fewer than 5 calls never open: 4 failures of 4.
        for _ in 0..<4 { try store.record("redis", success: false, probe: false, nowMillis: t0) }
        let fourOfFour = try state("redis", t0)
        try store.record("redis", success: false, probe: false, nowMillis: t0)
        let fiveOfFive = try state("redis", t0)
        figures.expect(
            beforeThreshold == .closed && atThreshold == .open && fourOfFour == .closed && fiveOfFive == .open,
            "9 of 19: \(String(describing: beforeThreshold)), 10 of 20: \(String(describing: atThreshold)), 4 of 4: \(String(describing: fourOfFour)), 5 of 5: \(String(describing: fiveOfFive))"
        )
        let stillOpen = try store.acquire("postgres", nowMillis: t0 + Int64(n.openMillis) - 1)
        figures.expect(stillOpen == .rejected(retryAfterMillis: 1), "1 ms before half-open: \(stillOpen)")

        // OPEN: the live dispatcher makes no backend call (the breaker is open for real time now).
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let stack = try ReliabilityStack(postgres: backend.postgres, postgresURL: backend.url, redis: redis)
        defer { stack.close() }
        let service = try #require(ActionCatalog.spec("job.cancel")).service.rawValue
        try stack.actions.breakers.force(service, open: true, nowMillis: nil)
        let (dispatcher, counter) = stack.actions.dispatcher.counting()
        var openRefusals = 0
        let openAttempts = 40
        for i in 0..<openAttempts {
            let report = dispatcher.dispatch(
                ActionRequest(
                    action: "job.cancel", payload: ["id": .string(UUID().uuidString.lowercased())],
                    actor: Actor(user: "op\(i)")))
            if case .breakerOpen(service: service, _)? = report.failure { openRefusals += 1 }
        }
        figures.expect(openRefusals == openAttempts && counter.count == 0, "refused \(openRefusals)/\(openAttempts), backend calls \(counter.count)")

        // HALF_OPEN across processes: the breaker opened at t0; 30 s later several redis-cli
        // processes run the breaker's acquire at once, their clocks 0-4 ms apart (consoles'
        // clocks differ). Whatever order they arrive in, exactly `probes` get a probe permit.
        try store.force("workers", open: true, nowMillis: t0)
        _ = try redis.selecting(database: Namespace.DB.breakers).send("SCRIPT", "LOAD", RedisBreakerStore.script.source)
        let processes = Reliability.size(fast: 8, full: 24)
        let port = try #require(URLComponents(string: try TestServers.redisURL())?.port)
        let dir = (Reliability.tmp as NSString).appendingPathComponent(TestServers.unique("rel9"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let halfOpenAt = t0 + Int64(n.openMillis)
        let clock = { (i: Int) in halfOpenAt + Int64(i % 5) }
        let pids = try (0..<processes).map { i in
            try Child.spawn(
                [
                    "redis-cli", "-h", "127.0.0.1", "-p", String(port), "-n", String(Namespace.DB.breakers), "EVALSHA", RedisBreakerStore.script.sha1,
                    "1",
                    ns.breakerKey("workers"), "acquire", String(clock(i)), String(n.window), String(n.minimumCalls),
                    String(n.failurePercent), String(n.openMillis), String(n.probes), String(n.probeTimeoutMillis)
                ],
                stdout: "\(dir)/\(i).out", stderr: "\(dir)/\(i).err")
        }
        var permits: [String: Int] = [:]
        var probeStarts: [Int64] = []
        for (i, pid) in pids.enumerated() {
            let status = Child.wait(pid)
            let first =
                String(decoding: FileManager.default.contents(atPath: "\(dir)/\(i).out") ?? Data(), as: UTF8.self)
                .split(separator: "\n").first.map(String.init) ?? "no output (exit \(status))"
            // A probe holds its permit from its own clock; the others wait the probe timeout.
            if first == "-1" { probeStarts.append(clock(i)) }
            permits[first == "-1" ? "probe" : first == String(n.probeTimeoutMillis) ? "rejected" : first, default: 0] += 1
        }
        figures.expect(permits == ["probe": n.probes, "rejected": processes - n.probes], "\(permits)")
        // A probe that never reports: the breaker reopens once the oldest probe is probeTimeout old, not a millisecond before.
        let oldest = try #require(probeStarts.min())
        let notYet = try store.acquire("workers", nowMillis: oldest + n.probeTimeoutMillis - 1)
        let beforeHung = try state("workers", oldest + n.probeTimeoutMillis - 1)
        let hung = try store.acquire("workers", nowMillis: oldest + n.probeTimeoutMillis)
        let afterHung = try state("workers", oldest + n.probeTimeoutMillis)
        figures.expect(
            notYet == .rejected(retryAfterMillis: Int(n.probeTimeoutMillis)) && beforeHung == .halfOpen,
            "1 ms before the oldest probe (\(oldest)) hangs: \(notYet), \(String(describing: beforeHung))")
        figures.expect(
            hung == .rejected(retryAfterMillis: Int(n.openMillis)) && afterHung == .open,
            "when the oldest probe (\(oldest)) hangs: \(hung), \(String(describing: afterHung))")

        figures.attempted = 20 + 5 + openAttempts + processes
        figures.executed = counter.count + (permits["probe"] ?? 0)
        figures.refused = openRefusals + (permits["rejected"] ?? 0)
        figures.auditRows = try backend.postgres.query("SELECT count(*) AS n FROM audit_logs WHERE outcome = 'breaker_open'").rows[0].get(
            "n", as: Int.self)
        figures.notes =
            "state after 9 failures of 19: \(beforeThreshold?.rawValue ?? "?"), 10 of 20: \(atThreshold?.rawValue ?? "?"), 4 of 4: \(fourOfFour?.rawValue ?? "?"), 5 of 5: \(fiveOfFive?.rawValue ?? "?"); OPEN: \(counter.count) backend calls of \(openAttempts); HALF_OPEN over \(processes) redis-cli processes: \(permits["probe"] ?? 0) probes; reopened when the oldest probe hung: \(afterHung?.rawValue ?? "?")"
        Reliability.record(figures, started: started)
    }
}
