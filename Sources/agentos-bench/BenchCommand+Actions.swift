import AgentOSAdapters
import AgentOSCore
import ConsoleApp
import ConsoleTerminal
import Foundation
import Synchronization

/// The other risk classes (a high, a critical, a bulk and a system action) and the event throughput.
extension BenchCommand {
    /// The dispatcher a live console has, on the bench database.
    /// `permissions` nil: the server's (an operator's own login, D71).
    func benchActions(
        pg: PostgresClient, url: String, redisURL: String, ns: Namespace, dataDir: URL,
        permissions: PermissionSource? = StaticPermissions(fallback: Grant(role: .admin))
    ) throws -> (LiveActions, RedisClient) {
        let raw = try RedisClient(url: redisURL)
        let cache = RedisSnapshotCache(redis: raw, namespace: ns)
        let bus = RedisEventBus(redis: raw, namespace: ns, source: "bench")
        let manager = AdminDataManager(cache: cache, source: PostgresSnapshotSource(postgres: pg, redis: raw, namespace: ns), bus: bus)
        let env = ProcessInfo.processInfo.environment
        let pgDump = env["AGENTOS_PG_DUMP"] ?? env["AGENTOS_TEST_PG_BIN"].map { "\($0)/pg_dump" }
        let actions = try LiveActions(
            redis: raw, postgres: pg, namespace: ns, dataDirectory: dataDir, postgresURL: url, dataManager: manager,
            cache: cache, bus: bus, pgDump: pgDump, permissions: permissions)
        return (actions, raw)
    }

    /// queue.retry_failed on 1,000 failed jobs, queue.clear on 10,000 pending ones, worker.restart_all and
    /// database.backup, each through the whole dispatcher, beside the same effect done bare (the SQL and the
    /// Redis commands alone, or pg_dump run by hand). The seed's targets are 200 / 300 / 1,000 / 5,000 ms.
    func riskClassFigures(pg: PostgresClient, url: String, redisURL: String, ns: Namespace) throws -> [BenchResult] {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-bench-risk-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let (actions, raw) = try benchActions(pg: pg, url: url, redisURL: redisURL, ns: ns, dataDir: dataDir)
        let broker = raw.selecting(database: Namespace.DB.queues)
        var serial = 0
        func dispatch(_ name: ActionName, _ payload: [String: PayloadValue]) throws -> ActionResult {
            serial += 1
            let spec = ActionCatalog.spec(name)
            let target = spec.confirmation == .typed ? spec.target(in: payload) : nil
            let report = actions.dispatcher.dispatch(
                ActionRequest(
                    action: name.rawValue, payload: payload, actor: Actor(user: "bench-risk-\(serial)"),
                    idempotencyKey: "bench-risk-\(serial)-\(UUID())", reason: "benchmark",
                    confirmation: target))
            guard case .success(let result) = report.outcome else { throw BenchError("\(name.rawValue): \(report.message)") }
            return result
        }
        let template = KombuMessage.task(
            job: Job(
                id: UUID().uuidString.lowercased(), name: "bench", stage: "video_cutter", queue: "video_cutter",
                status: .queued, createdAt: Date()),
            taskName: "agentos.video_cutter", deliveryTag: "tag-bench", origin: "agentos-console")
        func queuedMessages(_ queue: String) throws -> Int {
            try broker.pipeline(ns.brokerListKeys(queue: queue).map { ["LLEN", $0] }).reduce(0) { $0 + Int($1.int ?? 0) }
        }
        var results: [BenchResult] = []
        let runs = max(3, iterations / 40)

        // High: re-enqueue 1,000 failed jobs (their UPDATE, 1,000 job events, 1,000 kombu messages).
        let retryQueue = "bench_retry"
        try pg.execute("INSERT INTO queues (name, stage) VALUES ('\(retryQueue)', 'video_cutter') ON CONFLICT DO NOTHING")
        func seedFailed() throws {
            try pg.execute("DELETE FROM jobs WHERE queue = '\(retryQueue)'")
            try pg.execute(
                """
                INSERT INTO jobs (id, name, stage, queue, status, priority, attempts, owner, error, error_class, created_at, updated_at, finished_at)
                SELECT gen_random_uuid(), 'retry ' || g, 'video_cutter', '\(retryQueue)', 'failed', 0, 1, 'bench', 'synthetic failure',
                       'BenchError', now(), now(), now() FROM generate_series(1, 1000) AS g
                """)
            _ = try broker.send(["DEL"] + ns.brokerListKeys(queue: retryQueue))
        }
        let retry = try measureEach(runs, setup: seedFailed) {
            let report = try dispatch(.queueRetryFailed, ["queue": .string(retryQueue)])
            guard report.affected == 1_000, try queuedMessages(retryQueue) == 1_000 else {
                throw BenchError("queue.retry_failed re-enqueued \(report.affected) jobs, \(try queuedMessages(retryQueue)) messages")
            }
        }
        let retryBare = try measureEach(runs, setup: seedFailed) {
            let ids = try pg.query(
                """
                UPDATE jobs SET status = 'queued', attempts = attempts + 1, error = NULL, error_class = NULL, updated_at = now()
                WHERE queue = $1 AND status = 'failed' RETURNING id::text AS id
                """, [retryQueue]
            ).rows.map { try $0.get("id", as: String.self) }
            _ = try broker.pipeline(ids.flatMap { ns.brokerPush(queue: retryQueue, priority: 0, job: $0, message: template) })
        }
        results.append(
            BenchResult(
                name: "queue.retry_failed, 1,000 failed jobs (high)", figure: retry, baseline: retryBare,
                baselineName: "the UPDATE and the 1,000 pushes, bare", goalMs: 200))

        // Critical: clear a queue of 10,000 pending jobs (rows deleted, every priority list and message copy gone).
        let clearQueue = "bench_clear"
        try pg.execute("INSERT INTO queues (name, stage) VALUES ('\(clearQueue)', 'video_cutter') ON CONFLICT DO NOTHING")
        func seedPending() throws {
            try pg.execute("DELETE FROM jobs WHERE queue = '\(clearQueue)'")
            let ids = try pg.query(
                """
                INSERT INTO jobs (id, name, stage, queue, status, priority, owner, created_at, updated_at)
                SELECT gen_random_uuid(), 'pending ' || g, 'video_cutter', '\(clearQueue)', 'queued', 0, 'bench', now(), now()
                FROM generate_series(1, 10000) AS g RETURNING id::text AS id
                """
            ).rows.map { try $0.get("id", as: String.self) }
            for chunk in stride(from: 0, to: ids.count, by: 1_000) {
                _ = try broker.pipeline(
                    ids[chunk..<min(chunk + 1_000, ids.count)].flatMap {
                        ns.brokerPush(queue: clearQueue, priority: 0, job: $0, message: template)
                    })
            }
        }
        let clear = try measureEach(runs, setup: seedPending) {
            let report = try dispatch(.queueClear, ["queue": .string(clearQueue)])
            guard report.affected == 10_000, try queuedMessages(clearQueue) == 0 else {
                throw BenchError("queue.clear removed \(report.affected) jobs, \(try queuedMessages(clearQueue)) messages left")
            }
        }
        let clearBare = try measureEach(runs, setup: seedPending) {
            let ids = try pg.query("DELETE FROM jobs WHERE queue = $1 AND status IN ('pending','queued') RETURNING id::text AS id", [clearQueue])
                .rows.map { try $0.get("id", as: String.self) }
            _ = try broker.send(["DEL"] + ns.brokerListKeys(queue: clearQueue))
            for chunk in stride(from: 0, to: ids.count, by: 1_000) {
                _ = try broker.send(["DEL"] + ids[chunk..<min(chunk + 1_000, ids.count)].map { ns.brokerMessageKey(job: $0) })
            }
        }
        results.append(
            BenchResult(
                name: "queue.clear, 10,000 pending jobs (critical)", figure: clear, baseline: clearBare,
                baselineName: "the DELETE and the DELs of lists and copies, bare", goalMs: 300))

        // Bulk: a rolling restart of every worker (one UPDATE, one control command per worker).
        let workers = try pg.query("SELECT count(*) AS n FROM workers").rows[0].get("n", as: Int.self)
        let online = { _ = try pg.execute("UPDATE workers SET status = 'online'") }
        let restart = try measureEach(max(runs, iterations / 10), setup: online) {
            let report = try dispatch(.workerRestartAll, [:])
            guard report.affected == workers else { throw BenchError("worker.restart_all restarted \(report.affected) of \(workers)") }
        }
        let restartBare = try measureEach(max(runs, iterations / 10), setup: online) {
            let ids = try pg.query(
                "UPDATE workers SET status = 'restarting', updated_at = now() WHERE status NOT IN ('offline','stopped') RETURNING id"
            )
            .rows.map { try $0.get("id", as: String.self) }
            _ = try raw.pipeline(ids.map { ["PUBLISH", ns.controlChannel, "{\"command\":\"worker.restart\",\"target\":\"\($0)\"}"] })
        }
        results.append(
            BenchResult(
                name: "worker.restart_all, \(workers) workers (bulk)", figure: restart, baseline: restartBare,
                baselineName: "the UPDATE and \(workers) PUBLISHes, bare", goalMs: 1_000))

        // System: pg_dump of the whole bench database (the jobs of the rebuild figure included), with its manifest.
        let dumps = dataDir.appendingPathComponent("bare-dumps")
        try FileManager.default.createDirectory(at: dumps, withIntermediateDirectories: true)
        let size = try pg.query("SELECT pg_database_size(current_database()) AS b").rows[0].get("b", as: Int.self)
        let backup = try measureEach(3, setup: {}) { _ = try dispatch(.databaseBackup, [:]) }
        let tool = ProcessInfo.processInfo.environment["AGENTOS_TEST_PG_BIN"].map { "\($0)/pg_dump" } ?? "/usr/bin/pg_dump"
        let backupBare = try measureEach(3, setup: {}) {
            // As the action does it: the password in a passfile, never on pg_dump's argv.
            try PostgresChildConnection.with(url) { child in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: tool)
                p.arguments = [
                    "--format=custom", "--no-owner", "--file=\(dumps.appendingPathComponent("bare.dump").path)", "--dbname=\(child.conninfo)"
                ]
                p.environment = child.environment
                try p.run()
                p.waitUntilExit()
                guard p.terminationStatus == 0 else { throw BenchError("pg_dump exited with \(p.terminationStatus)") }
            }
        }
        results.append(
            BenchResult(
                name: "database.backup, pg_dump of \(size / 1_000_000) MB (system)", figure: backup, baseline: backupBare,
                baselineName: "pg_dump run by hand", goalMs: 5_000))
        return results
    }

    /// Events per second the console applies (decode, fold into the model, a frame every 14 ms) with
    /// no growing backlog, published through the real bus at rising rates; beside a bare subscriber that
    /// only receives. A rate is sustained when, at the end of its two seconds, the unapplied events are
    /// fewer than 100 ms worth.
    func eventThroughputFigure(redisURL: String) throws -> BenchResult {
        let rates = [5_000, 10_000, 20_000, 40_000, 80_000]
        let applied = try sustainedRate(redisURL: redisURL, rates: rates, tag: "apply") { ns, counter in
            let bus = RedisEventBus(redis: try RedisClient(url: redisURL), namespace: ns, source: "bench")
            let stream = bus.subscribe()
            var snapshot = Self.snapshot(targetBytes: 55_000)
            snapshot.eventSeq = 0
            var initial = AppState(
                connection: ConnectionState(mode: "live", environment: "bench"), operatorInfo: OperatorInfo(user: "bench", role: "admin"),
                now: Date(), width: 160, height: 48)
            _ = App.update(&initial, .snapshotLoaded(snapshot))
            let loaded = initial
            let task = Task.detached {
                var state = loaded
                var previous = App.render(state)
                var lastFrame = DispatchTime.now().uptimeNanoseconds
                let frame = UInt64(ConsoleRuntime.frameInterval * 1_000_000_000)
                for await message in stream {
                    _ = App.update(&state, .bus(message))
                    if case .event = message { counter.value.add(1, ordering: .relaxed) }
                    let now = DispatchTime.now().uptimeNanoseconds
                    if now - lastFrame >= frame {
                        App.settle(&state)
                        let next = App.render(state)
                        _ = next.changes(since: previous)
                        previous = next
                        lastFrame = now
                    }
                }
            }
            return (bus, { task.cancel() })
        }
        let bare = try sustainedRate(redisURL: redisURL, rates: rates, tag: "bare") { ns, counter in
            let redis = try RedisClient(url: redisURL)
            let bus = RedisEventBus(redis: redis, namespace: ns, source: "bench")
            let subscriber = RedisSubscriber(redis.selecting(database: Namespace.DB.events).configuration, channels: [ns.eventsChannel])
            subscriber.start()
            let task = Task.detached {
                for await event in subscriber.events { if case .message = event { counter.value.add(1, ordering: .relaxed) } }
            }
            return (
                bus,
                {
                    subscriber.stop()
                    task.cancel()
                }
            )
        }
        var result = BenchResult(
            name: "events applied per second, no growing backlog (decode + fold + frames)", figure: [applied], baseline: [bare],
            baselineName: "a bare subscriber that only receives", unit: .perSecond)
        result.goalAtLeast = 20_000
        return result
    }

    /// The highest of `rates` at which the consumer `start` sets up kept up (and the rate reached, if the
    /// publisher could not reach the next one).
    private func sustainedRate(
        redisURL: String, rates: [Int], tag: String,
        start: (Namespace, EventCounter) throws -> (RedisEventBus, () -> Void)
    ) throws -> Double {
        let ns = Namespace("bench-ev-\(tag)-\(ProcessInfo.processInfo.processIdentifier)")
        let counter = EventCounter()
        let (bus, stop) = try start(ns, counter)
        defer { stop() }
        Thread.sleep(forTimeInterval: 0.3) // subscribed
        let events = (0..<1_000).map { AgentEvent.jobUpdated(JobPatch(id: "job-\($0)", progress: Double($0 % 100) / 100)) }
        var published = 0
        var best = 0.0
        for rate in rates {
            let perTick = rate / 100
            let began = DispatchTime.now().uptimeNanoseconds
            var ticks = 0
            while DispatchTime.now().uptimeNanoseconds - began < 2_000_000_000 {
                try bus.publish(batch: (0..<perTick).map { events[($0 + published) % events.count] })
                published += perTick
                ticks += 1
                let due = began + UInt64(ticks) * 10_000_000
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now { usleep(UInt32((due - now) / 1_000)) }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
            let reached = Double(ticks * perTick) / seconds
            let backlog = published - counter.value.load(ordering: .relaxed)
            FileHandle.standardError.write(
                Data(String(format: "events %@: target %d/s, published %.0f/s, backlog %d\n", tag, rate, reached, backlog).utf8))
            guard Double(backlog) < reached * 0.1 else { break }
            best = reached
            if reached < Double(rate) * 0.9 { break } // the publisher's limit: the consumer kept up with all it got
            // Let the consumer drain before the next step.
            let drained = DispatchTime.now().uptimeNanoseconds
            while counter.value.load(ordering: .relaxed) < published, DispatchTime.now().uptimeNanoseconds - drained < 2_000_000_000 { usleep(5_000) }
        }
        return best
    }

    final class EventCounter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Runs `setup` (untimed) and then `body` (timed), `n` times; samples in milliseconds, sorted.
    func measureEach(_ n: Int, setup: () throws -> Void, _ body: () throws -> Void) throws -> [Double] {
        var samples: [Double] = []
        for _ in 0..<n {
            try setup()
            let t = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1_000_000)
        }
        return samples.sorted()
    }
}
