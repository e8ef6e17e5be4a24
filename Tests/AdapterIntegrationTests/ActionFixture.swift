import AgentOSAdapters
import AgentOSCore
import AgentOSLiveWorld
import AgentOSWorld
import Foundation
import Synchronization
import Testing

/// A fresh database and namespace seeded by the simulator, the live dispatcher on top, and a
/// listener on the control channel: what every action test starts from. The simulator stays the
/// fleet's owner: it obeys `{ns}:control` and moves on when a test calls `tick`.
final class ActionFixture: @unchecked Sendable {
    let backend: LiveBackend
    let actions: LiveActions
    let dataDir: URL
    let cache: RedisSnapshotCache
    let bus: RedisEventBus
    let dataManager: AdminDataManager
    let actor: Actor
    /// The owner of the seeded fleet (nil with `seed: false`).
    let sim: LiveSimulation?
    /// The simulator's clock: each tick is half a second of its time, whatever the machine's load.
    private var clock: Date
    private let control: RedisSubscriber
    private final class Sink: Sendable {
        let raw = Mutex<[[UInt8]]>([])
        let barriers = Mutex<Set<String>>([])
    }
    private let captured = Sink()
    private var barrierChannel: String { backend.namespace.prefix + ":test:barrier" }

    /// `postgresPassword`: put into the connection string the dispatcher (and pg_dump) gets, in place
    /// of the PGPASSFILE entry scripts/test.sh writes (the server checks it: scram-sha-256).
    init(
        user: String = "tester", role: Role = .admin, seed: Bool = true, extraGrants: [String: Grant] = [:], celery: CeleryMonitor? = nil,
        postgresPassword: String? = nil, scheduledShare: Double = 0
    ) throws {
        backend = try LiveBackend.make()
        clock = Date()
        if seed {
            let sim = try LiveSimulation(
                config: SimulatorConfig(seed: 5, rate: 3, scheduledShare: scheduledShare), redis: backend.redis, postgres: backend.postgres,
                namespace: backend.namespace, historySeconds: 120, now: clock)
            for _ in 0..<4 {
                clock += 0.5
                try sim.step(to: clock)
            }
            sim.listen()
            self.sim = sim
        } else {
            sim = nil
        }
        let base = ProcessInfo.processInfo.environment["AGENTOS_TEST_TMPDIR"] ?? NSTemporaryDirectory()
        dataDir = URL(fileURLWithPath: base).appendingPathComponent(TestServers.unique("data"))
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        cache = RedisSnapshotCache(redis: backend.redis, namespace: backend.namespace)
        bus = RedisEventBus(redis: backend.redis, namespace: backend.namespace, source: "test")
        dataManager = AdminDataManager(
            cache: cache, source: PostgresSnapshotSource(postgres: backend.postgres, redis: backend.redis, namespace: backend.namespace),
            bus: bus)
        var grants = extraGrants
        grants[user] = Grant(role: role)
        var withPassword = URLComponents(string: backend.url)!
        withPassword.password = postgresPassword
        let pgURL = postgresPassword == nil ? backend.url : withPassword.string!
        let pgBin = ProcessInfo.processInfo.environment["AGENTOS_TEST_PG_BIN"].map { $0 + "/pg_dump" }
        actions = try LiveActions(
            redis: backend.redis, postgres: backend.postgres, namespace: backend.namespace, dataDirectory: dataDir,
            postgresURL: pgURL, dataManager: dataManager, cache: cache, bus: bus, pgDump: pgBin,
            permissions: StaticPermissions(grants), celery: celery)
        actor = Actor(user: user, ip: "127.0.0.1", host: "test", sessionID: "test-session")
        // Captured on the subscriber's own thread: a task on the cooperative pool can wait behind the other
        // suites' work for longer than a test waits for its control message.
        // The barrier channel on the same connection: a barrier seen means every earlier control message was seen.
        let sink = captured
        let controlChannel = backend.namespace.controlChannel
        let names = backend.namespace
        control = RedisSubscriber(backend.redis.configuration, channels: [controlChannel, backend.namespace.prefix + ":test:barrier"]) { event in
            guard case .message(let channel, let payload, _) = event else { return }
            if channel == controlChannel {
                // Verified as the simulator verifies it (D66) and kept without its MAC; a refused one as it came.
                let body = (try? BusAuth.openControl(payload, keys: names.busKeys, namespace: names.prefix).get()) ?? payload
                sink.raw.withLock { $0.append(body) }
            } else {
                sink.barriers.withLock { _ = $0.insert(String(decoding: payload, as: UTF8.self)) }
            }
        }
        control.start()
        // Subscribed before any action runs (the subscriber has its own thread: polling does not starve it).
        let redis = backend.redis
        let listeners = seed ? 2 : 1
        let subscribed = TestServers.eventually(30) {
            ((try? redis.send("PUBSUB", "NUMSUB", controlChannel))?.array?.dropFirst().first?.int ?? 0) >= listeners
        }
        if !subscribed { Issue.record("control listeners did not subscribe (the fixture's and the simulator's)") }
    }

    func close() {
        sim?.stop()
        control.stop()
        // Every command an action published is one the table knows (ControlMessageTableTests).
        for message in rawControlMessages {
            let command = ControlTable.command(message)
            if !ControlTable.decodes(message) && !ControlTable.noConsumer.contains(command) {
                Issue.record("a control command no table lists: \(String(decoding: message, as: UTF8.self))")
            }
        }
        try? FileManager.default.removeItem(at: dataDir)
        backend.drop()
    }

    /// Lets the owner take every control message published so far (a barrier proves the count),
    /// then advances it `n` ticks of half a second.
    func tick(_ n: Int = 2, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let sim = try #require(self.sim, "an unseeded fixture has no owner to tick", sourceLocation: sourceLocation)
        let published = try sync(sourceLocation: sourceLocation).count
        try #require(
            TestServers.eventually(60) { sim.currentStats.controlMessages >= published },
            "the simulator took \(sim.currentStats.controlMessages) of \(published) control messages", sourceLocation: sourceLocation)
        for _ in 0..<n {
            clock += 0.5
            try sim.step(to: clock)
        }
    }

    /// Every control message published so far (a barrier on the listener's connection proves none is still on its way).
    @discardableResult
    func sync(sourceLocation: SourceLocation = #_sourceLocation) throws -> [[UInt8]] {
        let token = UUID().uuidString
        try backend.redis.send("PUBLISH", barrierChannel, token)
        let sink = captured
        try #require(TestServers.eventually(60) { sink.barriers.withLock { $0.contains(token) } }, "barrier not seen", sourceLocation: sourceLocation)
        return rawControlMessages
    }

    /// Ticks (at least twice) until `condition` holds; fails after `limit` ticks.
    func tick(until condition: () throws -> Bool, limit: Int = 80, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try tick(2, sourceLocation: sourceLocation)
        var n = 2
        while try !condition() {
            try #require(n < limit, "after \(n) ticks: \(what)", sourceLocation: sourceLocation)
            try tick(1, sourceLocation: sourceLocation)
            n += 1
        }
    }

    /// The simulator's view of a worker (what only the owner knows).
    func simWorker(_ id: String) -> WorkerInfo? { sim?.read { $0.workers[id]?.info } }

    /// The newest job_events row: later rows happened after this point.
    func eventMark() throws -> Int { try scalar("SELECT coalesce(max(id), 0)::bigint FROM job_events", as: Int.self) }

    /// Jobs the simulator started since `mark` (its job history, in SQL), on `worker` or on workers of `stage` but `worker`.
    func started(since mark: Int, worker: String? = nil, stageBut other: (stage: String, worker: String)? = nil, job: String? = nil) throws -> Int {
        try count(
            """
            SELECT count(*) FROM job_events e WHERE e.id > $1 AND e.type = 'started'
              AND ($2::text IS NULL OR e.worker_id = $2)
              AND ($3::text IS NULL OR (e.stage = $3 AND e.worker_id <> $4))
              AND ($5::uuid IS NULL OR e.job_id = $5::uuid)
            """, [mark, worker, other?.stage, other?.worker, job])
    }

    var db: PostgresClient { backend.postgres }
    var ns: Namespace { backend.namespace }
    func redis(_ database: Int) -> RedisClient { backend.redis.selecting(database: database) }

    /// Runs an action as the fixture's operator; critical actions get their typed confirmation and a reason.
    func run(_ action: String, _ payload: [String: PayloadValue] = [:], key: String? = nil, actor: Actor? = nil) -> ActionReport {
        let spec = ActionCatalog.spec(action)
        let target = spec?.target(in: payload) ?? "system"
        let critical = spec?.confirmation == .typed
        let report = actions.dispatcher.dispatch(
            ActionRequest(
                action: action, payload: payload, actor: actor ?? self.actor, idempotencyKey: key,
                reason: critical ? "TICKET-1" : nil, confirmation: critical ? target : nil))
        actions.history.drain() // action_history is written behind the request
        return report
    }

    func scalar<T: PostgresDecodable>(_ sql: String, _ params: [any PostgresBindable] = [], as type: T.Type = T.self) throws -> T {
        try #require(try db.query(sql, params).rows.first).get(0, as: T.self)
    }

    func count(_ sql: String, _ params: [any PostgresBindable] = []) throws -> Int { try scalar(sql, params, as: Int.self) }

    /// A job row of its own (and its kombu message when it waits; `producerCopy`: with the copy
    /// AgentOS's producers keep).
    @discardableResult
    func insertJob(
        status: JobStatus, queue: String = "video_downloader", owner: String = "tester", priority: Int = 5,
        errorClass: String? = nil, finishedDaysAgo: Int? = nil, producerCopy: Bool = false
    ) throws -> String {
        let id = UUID().uuidString.lowercased()
        try db.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, priority, owner, error_class, error, started_at, finished_at)
            VALUES ($1::uuid, 'fixture.mp4', $2, $2, $3, $4, $5, $6, CASE WHEN $6::text IS NULL THEN NULL ELSE 'boom' END,
                    CASE WHEN $3 IN ('running','completed','failed') THEN now() END,
                    CASE WHEN $7::int IS NOT NULL THEN now() - make_interval(days => $7::int) WHEN $3 IN ('completed','failed','cancelled') THEN now() END)
            """, [id, queue, status.rawValue, priority, owner, errorClass, finishedDaysAgo])
        if status.isWaiting {
            let job = Job(
                id: id, name: "fixture.mp4", stage: queue, queue: queue, status: status, priority: priority, owner: owner, createdAt: Date())
            let message = KombuMessage.task(job: job, taskName: "agentos.\(queue)", deliveryTag: "tag-" + id)
            if producerCopy {
                // As AgentOS's own producers push: the message and its copy.
                _ = try redis(0).pipeline(ns.brokerPush(queue: queue, priority: priority, job: id, message: message))
            } else {
                // As another producer (Celery's apply_async) pushes: the message alone.
                try redis(0).send("LPUSH", ns.brokerListKey(queue: queue, priority: priority), message)
            }
        }
        return id
    }

    /// Every message in a queue's broker lists.
    func brokerMessages(_ queue: String) throws -> [String] {
        try ns.brokerListKeys(queue: queue).flatMap { key in
            (try redis(0).send("LRANGE", key, 0, -1).array ?? []).compactMap(\.string)
        }
    }

    func jobStatus(_ id: String) throws -> String? {
        try db.query("SELECT status FROM jobs WHERE id = $1::uuid", [id]).rows.first?.get("status", as: String.self)
    }

    func anyID(_ sql: String) throws -> String { try scalar(sql, as: String.self) }

    /// Control messages seen so far, as published.
    var rawControlMessages: [[UInt8]] { captured.raw.withLock { $0 } }

    /// Control messages seen so far, as fields.
    var controlMessages: [[String: PayloadValue]] {
        rawControlMessages.compactMap { try? JSONDecoder().decode([String: PayloadValue].self, from: Data($0)) }
    }

    func sawControl(_ command: String, target: String? = nil) async -> Bool {
        await TestServers.eventuallyAsync(5) {
            controlMessages.contains { $0["command"] == .string(command) && (target == nil || $0["target"] == .string(target!)) }
        }
    }

    /// (phase, outcome) of the audit rows of one request, in order.
    func auditRows(_ request: UUID) throws -> [(String, String?)] {
        try db.query("SELECT phase, outcome FROM audit_logs WHERE request_id = $1 ORDER BY seq", [request]).rows.map {
            (try $0.get("phase", as: String.self), try $0.get("outcome", as: String?.self))
        }
    }

    /// The action succeeded and left an intent and a success outcome row, the chain intact.
    func expectSuccess(_ report: ActionReport, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(report.succeeded, "\(report.action): \(report.message)", sourceLocation: sourceLocation)
        let rows = try auditRows(report.requestID)
        #expect(
            rows.map(\.0) == ["intent", "outcome"] && rows.last?.1 == "success", "\(report.action) audit rows \(rows)", sourceLocation: sourceLocation
        )
        let verification = try AuditVerifier.verify(actions.audit)
        #expect(verification.ok, "\(verification.summary)", sourceLocation: sourceLocation)
    }

    func file(_ report: ActionReport) throws -> String {
        guard case .success(let r) = report.outcome, case .string(let path)? = r.details["path"] else {
            Issue.record("\(report.action) reported no file: \(report.message)")
            return ""
        }
        return path
    }
}

extension ActionReport {
    var result: ActionResult? { if case .success(let r) = outcome { return r } else { return nil } }
}
