import AgentOSAdapters
import AgentOSCore
import Foundation

/// `--only cancel`: job.cancel as a real deployment runs it (issue 17): an operator's own PostgreSQL
/// login and Redis ACL user, the server's API enforcing the role (`open_action`, the keyed seal of
/// `audit_append`), beside the floor: the same Redis commands and PostgreSQL calls, with the same
/// commits, sent bare on the same logins.
extension BenchCommand {
    /// The cancel figure's operator login (a role is cluster-wide: the bench drops it at the end).
    static var operatorLogin: String { "bench_op_\(ProcessInfo.processInfo.processIdentifier)" }

    /// An operator provisioned as `agentos operator grant` does it, and their own URLs.
    struct BenchOperator {
        let login: String
        let postgresURL: String
        let redisURL: String
    }

    func provisionOperator(pg: PostgresClient, url: String, redisURL: String, ns: Namespace) throws -> BenchOperator {
        let login = Self.operatorLogin
        let password = "bench-" + UUID().uuidString // random, never printed
        try OperatorAdmin(
            postgres: pg, redis: try RedisClient(url: redisURL), actor: Actor(user: "bench", host: "bench", sessionID: "bench"), namespace: ns
        )
        .grant(login, role: .operator, password: password)
        func with(_ url: String, postgres: Bool) throws -> String {
            guard var comps = URLComponents(string: url), comps.scheme != nil else {
                guard postgres else { throw BenchError("the Redis URL \(url) is not a URL") }
                return url + " user=\(login) password=\(password)"
            }
            comps.user = login
            comps.password = password
            return comps.string ?? url
        }
        return BenchOperator(login: login, postgresURL: try with(url, postgres: true), redisURL: try with(redisURL, postgres: false))
    }

    /// job.cancel of a pending job (its kombu message in DB0) through every stage, as the operator:
    /// rate limit, idempotency (Redis + the durable row), breaker, intent row, the effect opened in
    /// the server with its outcome row in one transaction, LREM, control PUBLISH, cache
    /// invalidation and three events. The baseline sends the same calls bare (`CancelFloor`).
    func jobCancelFigure(pg: PostgresClient, url: String, redisURL: String, ns: Namespace) throws -> BenchResult {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-bench-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let op = try provisionOperator(pg: pg, url: url, redisURL: redisURL, ns: ns)
        let opPostgres = PostgresClient(op.postgresURL)
        let (actions, opRedis) = try benchActions(
            pg: opPostgres, url: op.postgresURL, redisURL: op.redisURL, ns: ns, dataDir: dataDir, permissions: nil)
        guard let identity = actions.identity, identity.enforced, identity.login == op.login else {
            throw BenchError("job.cancel: the operator's console is not enforced by the server (\(String(describing: actions.identity)))")
        }
        let owner = try RedisClient(url: redisURL)
        let warmUp = min(10, iterations)
        // Steady state: a running system's tables have rows and statistics. On a fresh database the
        // first statements would be planned (and their plans cached) for empty audit and idempotency
        // tables, scanning them whole until autovacuum analyzes them a minute later.
        let steady = 200
        let ids = try queuedJobs(steady + iterations + warmUp, pg: pg, raw: owner, ns: ns, tag: "cancel")
        // One login, one rate-limit window (50/min for job.*, burst ×2): emptied (untimed) every 40
        // actions, so every request is admitted while the limiter still runs in full.
        let rateKeys = ["rl:\(op.login):job.cancel", "rl:\(op.login):job.cancel-floor"].flatMap { [ns.rateKey($0), ns.rateKey($0) + ":burst"] }
        let limiter = owner.selecting(database: Namespace.DB.rateLimit)
        func emptyRateWindows(_ i: Int) throws { if i % 40 == 0 { _ = try limiter.send(["DEL"] + rateKeys) } }
        var stages: [String: [Double]] = [:]
        func cancel(_ i: Int) throws {
            let report = actions.dispatcher.dispatch(
                ActionRequest(
                    action: ActionName.jobCancel.rawValue, payload: ["id": .string(ids[i])],
                    actor: Actor(user: "bench", host: "bench", sessionID: "bench"), idempotencyKey: "bench-\(i)"))
            guard report.succeeded else { throw BenchError("job.cancel: \(report.message)") }
            if i >= steady + warmUp { for (stage, ms) in report.timings { stages[stage, default: []].append(ms) } }
        }
        for i in 0..<steady {
            try emptyRateWindows(i)
            try cancel(i)
        }
        try pg.execute("ANALYZE")
        try CancelFloor.allowEvents(of: op.login, ns, on: owner)
        let floor = try CancelFloor(
            login: op.login, ns: ns, postgres: opPostgres, redis: opRedis, owner: owner,
            jobs: try queuedJobs(iterations + warmUp, pg: pg, raw: owner, ns: ns, tag: "floor"))
        // The figure and the floor in alternating blocks of 10, so both meet the same load on this
        // shared machine (one loop after the other read ratios from 1.1 to 1.9 in the same minute).
        // CPU is summed per block; the console's block ends with its write-behind history drained,
        // so that work is counted as the console's, not as the floor's that follows.
        var figure: [Double] = []
        var bare: [Double] = []
        // CPU split into user space and the kernel (getrusage; the total is their sum): the floor's
        // share shows what no client-side cut can remove.
        var split = (console: (user: 0.0, system: 0.0), floor: (user: 0.0, system: 0.0))
        let total = warmUp + iterations
        for start in stride(from: 0, to: total, by: 10) {
            let block = start..<min(start + 10, total)
            var splitBefore = Self.processCPUSplit()
            for i in block {
                try emptyRateWindows(steady + i)
                let t = DispatchTime.now().uptimeNanoseconds
                try cancel(steady + i)
                if i >= warmUp { figure.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1_000_000) }
            }
            actions.history.drain()
            var splitAfter = Self.processCPUSplit()
            split.console.user += splitAfter.user - splitBefore.user
            split.console.system += splitAfter.system - splitBefore.system
            splitBefore = splitAfter
            for i in block {
                try emptyRateWindows(i)
                let t = DispatchTime.now().uptimeNanoseconds
                try floor.send(i)
                if i >= warmUp { bare.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1_000_000) }
            }
            splitAfter = Self.processCPUSplit()
            split.floor.user += splitAfter.user - splitBefore.user
            split.floor.system += splitAfter.system - splitBefore.system
        }
        figure.sort()
        bare.sort()
        let cpuPerAction = (split.console.user + split.console.system) / Double(total)
        let floorCPU = (split.floor.user + split.floor.system) / Double(total)
        let cancelled = try pg.query(
            "SELECT count(*) AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'cancelled'", [PostgresValue.textArray(ids)]
        )
        .rows[0].get("n", as: Int.self)
        guard cancelled == ids.count else { throw BenchError("job.cancel cancelled \(cancelled) of \(ids.count) jobs") }
        // Where the time goes, stage by stage (p50 of each), on stderr beside the table.
        let breakdown = stages.map { ($0.key, BenchResult.percentile($0.value.sorted(), 0.5)) }.sorted { $0.1 > $1.1 }
            .map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: ", ")
        FileHandle.standardError.write(Data("job.cancel stages (p50 ms): \(breakdown)\n".utf8))
        try floor.check()
        FileHandle.standardError.write(
            Data(
                String(
                    format: "job.cancel CPU of this process per action: %.3f ms (user %.3f, kernel %.3f); the floor's bare calls: %.3f ms "
                        + "(user %.3f, kernel %.3f); beyond the floor: %.3f ms\n", cpuPerAction, split.console.user / Double(total),
                    split.console.system / Double(total), floorCPU, split.floor.user / Double(total), split.floor.system / Double(total),
                    cpuPerAction - floorCPU
                ).utf8))
        var result = BenchResult(
            name: "job.cancel end to end, an operator's own login (7 stages, audit, cascade)", figure: figure, baseline: bare,
            baselineName: "the same \(CancelFloor.redisRoundTrips) Redis and \(CancelFloor.postgresRoundTrips) PostgreSQL round trips "
                + "(2 commits), the same calls, bare", goalMs: 1.5, goalP99Ms: 5, goalRatio: 1.5)
        result.cpuPerAction = (cpuPerAction, 0.15)
        return result
    }
}

/// The floor under an enforced job.cancel: every Redis command and PostgreSQL call the console
/// sends for one cancel, in the same round trips and on the same logins, built before the clock
/// starts and sent bare. Each call does its real work: the admission script (the limiter, the
/// claim and the breaker's state, D87), the durable look-up, the intent sealed by `audit_append`
/// and committed, the action opened in the server, the job's UPDATE, its event, the outcome row
/// and the durable result committed together, the follow-ups (the message's removal with the
/// control command, the result, the breaker's success, the cache invalidation, three events
/// numbered as the bus numbers them).
final class CancelFloor {
    static let redisRoundTrips = 2
    static let postgresRoundTrips = 3

    struct Call {
        let admission: [any RedisArgument]
        let lookup: PostgresConnection.Statement
        let effect: [PostgresConnection.Statement]
        let commit: [PostgresConnection.Statement]
        /// The message's removal and its control command first (D87), then the rest.
        let followUps: [[any RedisArgument]]
    }

    let calls: [Call]
    let jobs: [String]
    let postgres: PostgresClient
    let rateDB, home: RedisClient
    let bus: RedisEventBus
    let firstSeq: Int64

    init(login: String, ns: Namespace, postgres: PostgresClient, redis: RedisClient, owner: RedisClient, jobs: [String]) throws {
        typealias St = PostgresConnection.Statement
        self.postgres = postgres
        self.jobs = jobs
        rateDB = redis.selecting(database: Namespace.DB.rateLimit)
        home = redis
        // The events under a namespace of their own: the console's cancels, interleaved with the
        // floor's, take numbers from the same counter otherwise, and the floor's are numbered ahead.
        let eventsNS = Self.eventsNamespace(ns)
        bus = RedisEventBus(redis: owner, namespace: eventsNS, source: "bench")
        // The scripts the console sends by SHA are loaded (the figure before ran them).
        for script in [RedisAdmissionGate.script, RedisBreakerStore.script, RedisEventBus.publishScript] {
            _ = try owner.send("SCRIPT", "LOAD", script.source)
        }
        let spec = ActionCatalog.spec(.jobCancel)
        let rule = RateRule(
            // Under the login's own windows: its Redis user writes no other login's (D83).
            key: "rl:\(login):job.cancel-floor", limit: spec.ratePerMinute, burstMultiplier: ActionDispatcher.Options().burstMultiplier)
        let breakers = RedisBreakerStore(redis: redis, namespace: ns)
        let idempotency = RedisIdempotencyStore(redis: redis, postgres: postgres, namespace: ns)
        let gate = RedisAdmissionGate(
            redis: redis, rateLimits: RedisRateLimitStore(redis: redis, namespace: ns), idempotency: idempotency, breakers: breakers, namespace: ns)
        let (cacheDB, invalidate) = RedisSnapshotCache(redis: owner, namespace: ns).invalidateCommand
        let firstSeq = try bus.currentSeq() + 1
        self.firstSeq = firstSeq
        let ttl = ActionDispatcher.Options().idempotencyTTLSeconds
        calls = try jobs.enumerated().map { i, id in
            let requestID = UUID()
            let rid = requestID.uuidString.lowercased()
            let scope = IdempotencyScope(user: login, action: spec.name, key: "floor-\(i)")
            let fingerprint = String(repeating: rid.replacingOccurrences(of: "-", with: ""), count: 2) // 64 hex digits, as a SHA-256
            let result = ActionResult("cancelled job \(id)")
            func draft(_ phase: AuditDraft.Phase, _ outcome: String?, _ result: String?) -> AuditDraft {
                AuditDraft(
                    id: UUID(), timestamp: Date(), user: login, actingAs: nil, role: "operator", action: spec.name, phase: phase, outcome: outcome,
                    requestID: requestID, idempotencyKey: scope.key, sessionID: "bench", target: id, reason: nil,
                    payload: CanonicalJSON.object(["id": .string(id)]), result: result, ip: nil, userAgent: "agentos-console",
                    durationMs: phase == .intent ? nil : 1)
            }
            let events: [AgentEvent] = [
                .jobCancelled(JobPatch(id: id, status: .cancelled, updatedAt: Date(), finishedAt: Date())),
                .actionExecuted(
                    ActionNotice(action: spec.name, user: login, outcome: "success", target: id, requestID: rid, summary: result.message)),
                .cacheInvalidated
            ]
            let first = firstSeq + Int64(i * events.count)
            let messages = try events.enumerated().map { n, event in
                try RedisEventBus.message(event, seq: first + Int64(n), ts: Date(), source: "bench", namespace: eventsNS) as any RedisArgument
            }
            let completion = FollowUps.Completion(
                scope: scope, fingerprint: fingerprint, requestID: requestID, result: result, ttlSeconds: ttl, durableStored: true)
            let control = CanonicalJSON.object(["command": .string(spec.name), "target": .string(id), "by": .string(login)])
            let messageKeys: [any RedisArgument] = [ns.brokerMessageKey(job: id)] + ns.brokerListKeys(queue: "video_cutter")
            let admission = gate.arguments(
                AdmissionAsk(
                    rules: [rule], member: rid, nowMillis: nil,
                    claim: (scope, fingerprint, requestID, ActionDispatcher.Options().idempotencyLockMillis), service: spec.service.rawValue))
            return Call(
                admission: ["EVALSHA", RedisAdmissionGate.script.sha1, admission.keys.count] + admission.keys + admission.args,
                lookup: RedisIdempotencyStore.durableLookup(scope),
                effect: [St("BEGIN")] + PostgresAuditLog.appending(draft(.intent, nil, nil)).statements + [
                    St("COMMIT"), St("BEGIN"),
                    St("SELECT agentos_api.open_action($1::uuid, $2::text, $3::text)", [requestID, spec.name, id]),
                    St(LiveActionExecutor.cancelSQL, [id, String?.none])
                ],
                commit: [St(LiveActionExecutor.jobEventSQL, [id, "cancelled", "cancelled", "cancelled by \(login)"])]
                    + PostgresAuditLog.appending(
                        draft(.outcome, "success", CanonicalJSON.object(["message": .string(result.message), "affected": .int(0)]))
                    )
                    .statements
                    + [
                        RedisIdempotencyStore.durable(scope, fingerprint: fingerprint, requestID: requestID, result: result, ttlSeconds: ttl),
                        St("COMMIT")
                    ],
                followUps: [
                    ["SELECT", Namespace.DB.queues],
                    ["EVAL", LiveActionExecutor.unqueueScript.source, messageKeys.count] + messageKeys + [id],
                    ["PUBLISH", ns.controlChannel, BusAuth.sealControl(control, keys: ns.busKeys, namespace: ns.prefix)],
                    ["SELECT", Namespace.DB.idempotency], idempotency.completionCommand(completion).command,
                    ["SELECT", Namespace.DB.breakers], breakers.successCommand(spec.service.rawValue, probe: false).command,
                    ["SELECT", cacheDB], invalidate,
                    ["SELECT", Namespace.DB.events],
                    ["EVALSHA", RedisEventBus.publishScript.sha1, 1, eventsNS.eventsSeqKey, eventsNS.eventsChannel, first] + messages,
                    ["SELECT", redis.configuration.database]
                ])
        }
    }

    /// Where the floor numbers and sends its events.
    static func eventsNamespace(_ ns: Namespace) -> Namespace {
        Namespace(ns.prefix + "-floor", brokerPrefix: ns.brokerPrefix, busKeys: ns.busKeys)
    }

    /// The operator's Redis user may write the floor's event counter and publish on its channel:
    /// the console's rules name only the console's (D83); this bench-only namespace is added.
    static func allowEvents(of login: String, _ ns: Namespace, on owner: RedisClient) throws {
        let names = eventsNamespace(ns)
        try ok(
            owner.send(
                "ACL", "SETUSER", login, "~" + RedisGlob.escaped(names.eventsSeqKey), "(+publish &" + RedisGlob.escaped(names.eventsChannel) + ")"))
    }

    /// One cancel's calls, bare: 2 Redis and 3 PostgreSQL round trips.
    func send(_ i: Int) throws {
        let c = calls[i]
        try Self.ok(rateDB.send(c.admission))
        try postgres.withConnection { db in
            _ = try db.query(c.lookup.sql, c.lookup.params)
            _ = try db.pipeline(c.effect)
            _ = try db.pipeline(c.commit)
        }
        for reply in try home.pipeline(c.followUps) { try Self.ok(reply) }
    }

    static func ok(_ reply: RedisValue) throws {
        if let message = reply.errorMessage { throw BenchError("the floor's Redis call failed: \(message)") }
    }

    /// Every call did its work: each job cancelled, each batch of events published under its numbers.
    func check() throws {
        let cancelled = try postgres.query(
            "SELECT count(*) AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'cancelled'", [PostgresValue.textArray(jobs)]
        ).rows[0].get("n", as: Int.self)
        guard cancelled == jobs.count else { throw BenchError("the floor cancelled \(cancelled) of \(jobs.count) jobs") }
        let seq = try bus.currentSeq()
        guard seq == firstSeq - 1 + Int64(jobs.count * 3) else {
            throw BenchError("the floor's events: the counter is at \(seq), not \(firstSeq - 1 + Int64(jobs.count * 3))")
        }
    }
}
