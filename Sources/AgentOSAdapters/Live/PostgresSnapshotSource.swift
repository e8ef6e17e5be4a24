import AgentOSCore
import Dispatch
import Foundation
import Synchronization

/// Builds the SSOT snapshot from PostgreSQL (the AgentOS tables) and Redis (queue lists in DB0,
/// runtime flags in DB1), running the independent queries in parallel on pooled connections.
/// Work grows with what is shown: counts are SQL aggregates, rows come from bounded windows.
public final class PostgresSnapshotSource: SnapshotSource {
    private let db: PostgresClient
    private let redis: RedisClient
    private let queues: RedisClient
    private let ns: Namespace

    public init(postgres: PostgresClient, redis: RedisClient, namespace: Namespace = Namespace()) {
        self.db = postgres
        self.redis = redis.selecting(database: Namespace.DB.cache)
        self.queues = redis.selecting(database: Namespace.DB.queues)
        self.ns = namespace
    }

    static let jobColumns = """
        id::text AS id, name, pipeline, stage, queue, status, priority, progress, attempts, max_attempts, worker_id, owner,
        created_at, updated_at, started_at, finished_at, error, error_class, traceback, eta
        """

    /// The queries run in parallel on several connections, all reading one consistent database
    /// snapshot (pg_export_snapshot + SET TRANSACTION SNAPSHOT), so counts and rows agree.
    public func buildSnapshot(generation: Int) throws -> Snapshot {
        let parts = Parts()
        let tasks: [@Sendable (PostgresConnection) throws -> Void] = [
            { parts.set(\.counts, try self.jobCounts($0)) },
            { parts.set(\.recent, try self.jobs($0, where: "TRUE", limit: Snapshot.recentJobLimit)) },
            { parts.set(\.failed, try self.jobs($0, where: "status = 'failed'", limit: Snapshot.failedJobLimit)) },
            { parts.set(\.queues, try self.queueInfo($0)) },
            { parts.set(\.workers, try self.workers($0)) },
            { parts.set(\.managers, try self.managers($0)) },
            { parts.set(\.logs, try self.logs($0)) },
            { parts.set(\.config, try self.config($0)) },
            { parts.set(\.analytics, try self.analytics($0)) },
            { parts.set(\.alerts, try self.alerts($0)) },
            { parts.set(\.audit, try self.audit($0)) },
            { parts.set(\.system, try self.system($0)) }
        ]
        // Fold the counter deltas first (its own short transaction; skipped while another console does it).
        _ = try db.query("SELECT job_counts_compact() AS folded")
        let failures = Mutex<[Error]>([])
        let lanes = min(4, tasks.count)
        try db.withConnection { leader in
            try leader.transaction(isolation: "REPEATABLE READ READ ONLY") { tx in
                let id: String = try tx.query("SELECT pg_export_snapshot() AS id")[0].get("id")
                guard id.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
                    throw PostgresError(kind: .client, message: "unexpected snapshot id \(id)")
                }
                DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                    do {
                        let run: (PostgresConnection) throws -> Void = { conn in
                            for i in stride(from: lane, to: tasks.count, by: lanes) { try tasks[i](conn) }
                        }
                        if lane == 0 {
                            try run(tx)
                        } else {
                            try self.db.withConnection { conn in
                                try conn.transaction(isolation: "REPEATABLE READ READ ONLY") { other in
                                    try other.execute("SET TRANSACTION SNAPSHOT '\(id)'")
                                    try run(other)
                                }
                            }
                        }
                    } catch {
                        failures.withLock { $0.append(error) }
                    }
                }
            }
        }
        if let first = failures.withLock({ $0.first }) { throw first }
        let p = parts.value
        let counts = p.counts ?? ([:], [:], 0)
        var snapshot = Snapshot(
            generation: generation, generatedAt: Date(), source: "live", system: p.system ?? SystemState(),
            queues: p.queues ?? [],
            jobs: JobsSummary(total: counts.2, byStatus: counts.0, byStage: counts.1, recent: p.recent ?? [], failed: p.failed ?? []),
            workers: p.workers ?? [], managers: p.managers ?? [], logs: p.logs ?? LogsSummary(), config: p.config ?? [],
            analytics: p.analytics ?? Analytics(), alerts: p.alerts ?? [], audit: p.audit ?? [])
        snapshot.system.cache.generation = generation
        return snapshot
    }

    // MARK: parts

    struct Values: Sendable {
        var counts: ([String: Int], [String: [String: Int]], Int)?
        var recent: [Job]?
        var failed: [Job]?
        var queues: [QueueInfo]?
        var workers: [WorkerInfo]?
        var managers: [ManagerInfo]?
        var logs: LogsSummary?
        var config: [ConfigEntry]?
        var analytics: Analytics?
        var alerts: [Alert]?
        var audit: [AuditEntry]?
        var system: SystemState?
    }

    final class Parts: Sendable {
        private let m = Mutex(Values())
        func set<T>(_ key: WritableKeyPath<Values, T?>, _ value: T) { m.withLock { $0[keyPath: key] = value } }
        var value: Values { m.withLock { $0 } }
    }

    func jobCounts(_ db: PostgresConnection) throws -> ([String: Int], [String: [String: Int]], Int) {
        var byStatus: [String: Int] = [:]
        var byStage: [String: [String: Int]] = [:]
        var total = 0
        // Kept by triggers (migration 4): folded counts plus the deltas not folded yet.
        for row in try db.query(
            """
            SELECT status, stage, sum(n)::bigint AS n FROM (
                SELECT status, stage, n FROM job_counts UNION ALL SELECT status, stage, d FROM job_count_deltas
            ) AS c GROUP BY status, stage HAVING sum(n) <> 0
            """)
        {
            let status: String = try row.get("status")
            let stage: String = try row.get("stage")
            let n: Int = try row.get("n")
            byStatus[status, default: 0] += n
            byStage[stage, default: [:]][status, default: 0] += n
            total += n
        }
        return (byStatus, byStage, total)
    }

    /// Jobs whose id starts with `idPrefix` (hex digits, dashes ignored), newest first: `:job` beyond
    /// the recent window. A range of UUIDs, so the primary key's index answers it.
    public static func findJobs(_ db: PostgresClient, idPrefix: String, limit: Int) throws -> [Job] {
        let hex = idPrefix.lowercased().filter(\.isHexDigit)
        guard !hex.isEmpty, hex.count <= 32, hex.count == idPrefix.filter({ $0 != "-" }).count else { return [] }
        func uuid(_ pad: Character) -> String {
            let h = Array(hex + String(repeating: pad, count: 32 - hex.count))
            return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(h[$0]) }.joined(separator: "-")
        }
        return try db.query(
            "SELECT \(jobColumns) FROM jobs WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY created_at DESC, id LIMIT $3",
            [uuid("0"), uuid("f"), limit]
        ).rows.map(job)
    }

    /// A job's whole stored row as JSON, for its complete record (D76); nil: no such job.
    public static func jobRecord(_ db: PostgresClient, id: String) throws -> JobRecord? {
        guard UUID(uuidString: id) != nil else { return nil }
        guard let row = try db.query("SELECT to_jsonb(j)::text AS raw FROM jobs j WHERE id = $1::uuid", [id]).rows.first else { return nil }
        return JobRecord(raw: try JSONTree.parse(Array(try row.get("raw", as: String.self).utf8)))
    }

    func jobs(_ db: PostgresConnection, where condition: String, limit: Int) throws -> [Job] {
        try db.query("SELECT \(Self.jobColumns) FROM jobs WHERE \(condition) ORDER BY updated_at DESC, id LIMIT $1", [limit])
            .rows.map(Self.job)
    }

    static func job(_ row: PostgresRow) throws -> Job {
        Job(
            id: try row.get("id"), name: try row.get("name"), pipeline: try row.get("pipeline"), stage: try row.get("stage"),
            queue: try row.get("queue"), status: try status(row.get("status", as: String.self), JobStatus.self, "jobs.status"),
            priority: try row.get("priority"), progress: try row.get("progress"), attempts: try row.get("attempts"),
            maxAttempts: try row.get("max_attempts"), workerID: try row.get("worker_id"), owner: try row.get("owner"),
            createdAt: try row.get("created_at"), updatedAt: try row.get("updated_at"), startedAt: try row.get("started_at"),
            finishedAt: try row.get("finished_at"), error: try row.get("error"), errorClass: try row.get("error_class"),
            traceback: try row.get("traceback"), eta: try row.get("eta"))
    }

    static func status<T: RawRepresentable>(_ raw: String, _ type: T.Type, _ column: String) throws -> T where T.RawValue == String {
        guard let v = T(rawValue: raw) else { throw PostgresError(kind: .decode, message: "\(column): unknown value '\(raw)'") }
        return v
    }

    /// Queue depth from the broker lists (the sum of kombu's four priority buckets), the rest from SQL.
    /// The oldest waiting job of a queue is one step of a loose index scan on `jobs_queue_status_updated_idx`:
    /// the first row at or after (queue, status) in that index's order, if it has that queue and status.
    /// Written as `min(updated_at) … WHERE queue = … AND status = …` (or its ORDER BY … LIMIT 1 form),
    /// the planner may walk `jobs_updated_idx` backwards and filter, which reads the whole history for a
    /// queue with nothing waiting (~12 ms per queue and status at 100,000 jobs); the row comparison
    /// leaves it only the composite index.
    func queueInfo(_ db: PostgresConnection) throws -> [QueueInfo] {
        let rows = try db.query(
            """
            SELECT q.name, coalesce(q.stage, '') AS stage, q.paused, q.rate_limit,
                   coalesce((SELECT sum(n) FROM job_counts c WHERE c.queue = q.name AND c.status = 'running'), 0)
                     + coalesce((SELECT sum(d) FROM job_count_deltas c WHERE c.queue = q.name AND c.status = 'running'), 0) AS reserved,
                   coalesce((SELECT sum(n) FROM job_counts c WHERE c.queue = q.name AND c.status = 'failed'), 0)
                     + coalesce((SELECT sum(d) FROM job_count_deltas c WHERE c.queue = q.name AND c.status = 'failed'), 0) AS failed,
                   extract(epoch FROM now() - least(
                       (SELECT CASE WHEN j.queue = q.name AND j.status = 'queued' THEN j.updated_at END FROM jobs j
                        WHERE (j.queue, j.status) >= (q.name, 'queued') ORDER BY j.queue, j.status, j.updated_at LIMIT 1),
                       (SELECT CASE WHEN j.queue = q.name AND j.status = 'pending' THEN j.updated_at END FROM jobs j
                        WHERE (j.queue, j.status) >= (q.name, 'pending') ORDER BY j.queue, j.status, j.updated_at LIMIT 1))) AS oldest,
                   (SELECT count(*) FROM workers w WHERE q.name = ANY(w.queues) AND w.status = 'online') AS consumers
            FROM queues q ORDER BY q.name
            """)
        var list: [QueueInfo] = []
        var commands: [[any RedisArgument]] = []
        for row in rows {
            let name: String = try row.get("name")
            for key in ns.brokerListKeys(queue: name) { commands.append(["LLEN", key]) }
            list.append(
                QueueInfo(
                    name: name, stage: try row.get("stage"), pending: 0, reserved: try row.get("reserved"),
                    failed: try row.get("failed"), paused: try row.get("paused"), rateLimit: try row.get("rate_limit"),
                    consumers: try row.get("consumers"), oldestAgeSeconds: try row.get("oldest")))
        }
        let lengths = try queues.pipeline(commands)
        for i in list.indices {
            list[i].pending = (0..<4).reduce(0) { $0 + Int(lengths[i * 4 + $1].int ?? 0) }
        }
        let order = Dictionary(uniqueKeysWithValues: Pipeline.stages.enumerated().map { ($1, $0) })
        return list.sorted { (order[$0.name] ?? 99, $0.name) < (order[$1.name] ?? 99, $1.name) }
    }

    func workers(_ db: PostgresConnection) throws -> [WorkerInfo] {
        try db.query(
            """
            SELECT id, hostname, stage, queues, status, concurrency, autoscale_min, autoscale_max, active, processed, failed, load,
                   rss_bytes, version, pid, started_at, extract(epoch FROM now() - last_heartbeat) AS heartbeat_age
            FROM workers ORDER BY stage, id
            """
        ).rows.map { row in
            WorkerInfo(
                id: try row.get("id"), hostname: try row.get("hostname"), stage: try row.get("stage"),
                queues: try row.get("queues", as: PostgresTextArray.self).items.compactMap { $0 },
                status: try Self.status(row.get("status", as: String.self), WorkerStatus.self, "workers.status"),
                concurrency: try row.get("concurrency"), autoscaleMin: try row.get("autoscale_min"), autoscaleMax: try row.get("autoscale_max"),
                active: try row.get("active"), processed: try row.get("processed"), failed: try row.get("failed"), load: try row.get("load"),
                rssBytes: try row.get("rss_bytes"), heartbeatAgeSeconds: try row.get("heartbeat_age"), version: try row.get("version"),
                pid: try row.get("pid"), startedAt: try row.get("started_at"))
        }.sorted { (Pipeline.order($0.stage), $0.id) < (Pipeline.order($1.stage), $1.id) }
    }

    func managers(_ db: PostgresConnection) throws -> [ManagerInfo] {
        try db.query("SELECT * FROM managers ORDER BY id").rows.map { row in
            ManagerInfo(
                id: try row.get("id"), kind: try row.get("kind"),
                status: try Self.status(row.get("status", as: String.self), ManagerStatus.self, "managers.status"),
                enabled: try row.get("enabled"), schedule: try row.get("schedule"), concurrency: try row.get("concurrency"),
                lastRunAt: try row.get("last_run_at"), nextRunAt: try row.get("next_run_at"), lastResult: try row.get("last_result"),
                lastError: try row.get("last_error"), runs: try row.get("runs"))
        }
    }

    func logs(_ db: PostgresConnection) throws -> LogsSummary {
        let recent = try db.query(
            """
            SELECT id, ts, level, source, message, job_id::text AS job_id, worker_id FROM logs ORDER BY id DESC LIMIT $1
            """, [Snapshot.recentLogLimit]
        ).rows.map { row in
            LogLine(
                id: try row.get("id"), ts: try row.get("ts"),
                level: try Self.status(row.get("level", as: String.self), LogLevel.self, "logs.level"),
                source: try row.get("source"), message: try row.get("message"), jobID: try row.get("job_id"), workerID: try row.get("worker_id"))
        }
        var byLevel: [String: Int] = [:]
        var bySource: [String: Int] = [:]
        // Acknowledged error lines (logs.ack_errors) leave the figures.
        for row in try db.query(
            "SELECT level, source, count(*)::bigint AS n FROM logs WHERE ts > now() - interval '24 hours' AND NOT acked GROUP BY level, source")
        {
            let n: Int = try row.get("n")
            byLevel[try row.get("level"), default: 0] += n
            bySource[try row.get("source"), default: 0] += n
        }
        let bookmarks = try db.query(
            "SELECT id, log_id, note, created_by, created_at FROM log_bookmarks ORDER BY id DESC LIMIT $1", [Snapshot.recentBookmarkLimit]
        ).rows.map { row in
            LogBookmark(
                id: try row.get("id"), logID: try row.get("log_id"), note: try row.get("note"), by: try row.get("created_by"),
                ts: try row.get("created_at"))
        }
        return LogsSummary(recent: recent.reversed(), byLevel: byLevel, bySource: bySource, bookmarks: bookmarks.reversed())
    }

    /// Every `config` entry (also what `agentos sim` reads on config.changed and config.reload).
    public func config(_ db: PostgresConnection) throws -> [ConfigEntry] {
        let decoder = AgentJSON.decoder()
        return try db.query(
            """
            SELECT key, type, value::text AS value, default_value::text AS default_value, constraints::text AS constraints, description,
                   version, locked, updated_at, updated_by FROM config ORDER BY key
            """
        ).rows.map { row in
            func json<T: Decodable>(_ column: String, _ type: T.Type) throws -> T {
                do { return try decoder.decode(T.self, from: Data(try row.get(column, as: String.self).utf8)) } catch {
                    throw PostgresError(kind: .decode, message: "config.\(column) of \((try? row.get("key", as: String.self)) ?? "?"): \(error)")
                }
            }
            return ConfigEntry(
                key: try row.get("key"), type: try Self.status(row.get("type", as: String.self), ConfigType.self, "config.type"),
                value: try json("value", ConfigValue.self), defaultValue: try json("default_value", ConfigValue.self),
                constraints: try json("constraints", ConfigConstraints.self), description: try row.get("description"),
                version: try row.get("version"), locked: try row.get("locked"), updatedAt: try row.get("updated_at"),
                updatedBy: try row.get("updated_by"))
        }
    }

    func analytics(_ db: PostgresConnection) throws -> Analytics {
        let minutes = try db.query(
            """
            SELECT minute, sum(completed)::bigint AS completed, sum(failed)::bigint AS failed FROM stats_minutely
            WHERE minute > now() - interval '\(Analytics.throughputHistoryMinutes) minutes' GROUP BY minute ORDER BY minute
            """
        ).rows.map { Analytics.Minute(minute: try $0.get("minute"), completed: try $0.get("completed"), failed: try $0.get("failed")) }
        let latency = try db.query(
            """
            SELECT stage, (sum(p50_ms * completed) / nullif(sum(completed), 0)) AS p50, max(p95_ms) AS p95 FROM stats_minutely
            WHERE minute > now() - interval '60 minutes' AND p50_ms IS NOT NULL GROUP BY stage
            """
        ).rows.compactMap { row -> Analytics.StageLatency? in
            guard let p50: Double = try row.get("p50"), let p95: Double = try row.get("p95") else { return nil }
            return Analytics.StageLatency(stage: try row.get("stage"), p50Ms: p50, p95Ms: p95)
        }.sorted { Pipeline.order($0.stage) < Pipeline.order($1.stage) }
        let errors = try db.query(
            """
            SELECT error_class, count(*)::bigint AS n, max(updated_at) AS last FROM jobs
            WHERE error_class IS NOT NULL AND updated_at > now() - interval '60 minutes' GROUP BY error_class ORDER BY n DESC, error_class LIMIT 20
            """
        ).rows.map { Analytics.ErrorClass(name: try $0.get("error_class"), count: try $0.get("n"), lastSeen: try $0.get("last")) }
        return Analytics(windowMinutes: 60, throughput: minutes, stageLatency: latency, errorClasses: errors, taskTypes: try taskTypes(db))
    }

    /// The task types (D70) over each of the Analytics view's windows of complete minutes, from
    /// job_events: an attempt ends with stage_completed or completed (succeeded) or retrying or failed,
    /// in the stage the event names; a succeeded attempt's runtime runs from its job's last `started`
    /// in that stage.
    func taskTypes(_ db: PostgresConnection) throws -> [Analytics.TaskType] {
        let windows = Analytics.taskTypeWindows.map(String.init).joined(separator: ",")
        let bounds = Analytics.taskHistogramBoundsMs.map { String(Int($0)) }.joined(separator: ",")
        let buckets = (0...Analytics.taskHistogramBoundsMs.count).map {
            "count(*) FILTER (WHERE ok AND width_bucket(ms, ARRAY[\(bounds)]::float8[]) = \($0))"
        }.joined(separator: ", ")
        return try db.query(
            """
            WITH bounds AS (
                SELECT w AS minutes, date_trunc('minute', now()) - make_interval(mins => w) AS from_ts, date_trunc('minute', now()) AS to_ts
                FROM unnest(ARRAY[\(windows)]) AS w
            ), ended AS (
                SELECT e.stage, e.ts, e.type IN ('stage_completed', 'completed') AS ok,
                    CASE WHEN e.type IN ('stage_completed', 'completed') THEN
                        (extract(epoch FROM e.ts - (
                            SELECT max(s.ts) FROM job_events s
                            WHERE s.job_id = e.job_id AND s.type = 'started' AND s.stage = e.stage AND s.ts <= e.ts)) * 1000)::float8
                    END AS ms
                FROM job_events e
                WHERE e.type IN ('stage_completed', 'completed', 'retrying', 'failed') AND e.stage IS NOT NULL
                    AND e.ts >= (SELECT min(from_ts) FROM bounds) AND e.ts < date_trunc('minute', now())
            )
            SELECT b.minutes, b.from_ts, b.to_ts, x.stage, count(*) FILTER (WHERE ok)::bigint AS succeeded,
                count(*) FILTER (WHERE NOT ok)::bigint AS failed,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE ok) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) FILTER (WHERE ok) AS p95,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FILTER (WHERE ok) AS p99,
                ARRAY[\(buckets)]::bigint[]::text AS histogram
            FROM bounds b JOIN ended x ON x.ts >= b.from_ts AND x.ts < b.to_ts
            GROUP BY b.minutes, b.from_ts, b.to_ts, x.stage
            """
        ).rows.map { row in
            let histogram: String = try row.get("histogram")
            return Analytics.TaskType(
                stage: try row.get("stage"), windowMinutes: try row.get("minutes"), from: try row.get("from_ts"), to: try row.get("to_ts"),
                succeeded: try row.get("succeeded"), failed: try row.get("failed"), p50Ms: try row.get("p50"), p95Ms: try row.get("p95"),
                p99Ms: try row.get("p99"),
                histogram: histogram.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").compactMap { Int($0) })
        }.sorted {
            ($0.windowMinutes, Pipeline.order($0.stage), $0.stage)
                < ($1.windowMinutes, Pipeline.order($1.stage), $1.stage)
        }
    }

    func alerts(_ db: PostgresConnection) throws -> [Alert] {
        try db.query(
            """
            SELECT id, ts, severity, source, title, message, status, acked_by, silenced_until, kind, count, last_seen FROM alerts
            WHERE status <> 'resolved' ORDER BY ts DESC, id DESC LIMIT 100
            """
        ).rows.map { row in
            Alert(
                id: try row.get("id"), ts: try row.get("ts"),
                severity: try Self.status(row.get("severity", as: String.self), AlertSeverity.self, "alerts.severity"),
                source: try row.get("source"), title: try row.get("title"), message: try row.get("message"),
                status: try Self.status(row.get("status", as: String.self), AlertStatus.self, "alerts.status"),
                ackedBy: try row.get("acked_by"), silencedUntil: try row.get("silenced_until"), kind: try row.get("kind"),
                count: try row.get("count"), lastSeen: try row.get("last_seen"))
        }
    }

    func audit(_ db: PostgresConnection) throws -> [AuditEntry] {
        try db.query(
            """
            SELECT seq, timestamp, coalesce(acting_as, user_id) AS who, action, phase, outcome, target FROM audit_logs ORDER BY seq DESC LIMIT 50
            """
        ).rows.map { row in
            AuditEntry(
                seq: try row.get("seq"), ts: try row.get("timestamp"), user: try row.get("who"), action: try row.get("action"),
                phase: try row.get("phase"), outcome: try row.get("outcome"), target: try row.get("target"))
        }
    }

    func system(_ db: PostgresConnection) throws -> SystemState {
        let pingStart = DispatchTime.now().uptimeNanoseconds
        let flags = try redis.pipeline([["GET", ns.maintenanceKey], ["GET", ns.broadcastKey]])
        let redisMs = Double(DispatchTime.now().uptimeNanoseconds - pingStart) / 1_000_000
        let decoder = AgentJSON.decoder()
        let maintenance = flags[0].bytes.flatMap { try? decoder.decode(Maintenance.self, from: Data($0)) } ?? Maintenance()
        var broadcast = flags[1].bytes.flatMap { try? decoder.decode(Broadcast.self, from: Data($0)) }
        if let b = broadcast, let expires = b.expiresAt, expires < Date() { broadcast = nil }
        let activity = try db.query(
            """
            SELECT pid, coalesce(usename, '') AS usename, coalesce(state, '') AS state,
                   coalesce(extract(epoch FROM now() - query_start), 0) AS duration, left(query, 200) AS query
            FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            ORDER BY query_start NULLS LAST
            """)
        var running: [DatabaseActivity.Query] = []
        var idleInTx = 0
        for row in activity {
            let state: String = try row.get("state")
            if state == "idle in transaction" || state == "idle in transaction (aborted)" { idleInTx += 1 }
            if state == "active" || state.hasPrefix("idle in transaction") {
                running.append(
                    DatabaseActivity.Query(
                        pid: try row.get("pid"), user: try row.get("usename"), state: state,
                        durationSeconds: try row.get("duration"), query: try row.get("query")))
            }
        }
        let workerStates = try db.query("SELECT status, count(*)::bigint AS n FROM workers GROUP BY status")
        var up = 0
        var offline = 0
        for row in workerStates {
            let n: Int = try row.get("n")
            if try row.get("status", as: String.self) == "offline" { offline += n } else { up += n }
        }
        let services = [
            ServiceHealth(name: "redis", status: .ok, detail: redis.configuration.endpointDescription, latencyMs: (redisMs * 100).rounded() / 100),
            ServiceHealth(name: "postgres", status: .ok, detail: self.db.target),
            ServiceHealth(
                name: "workers", status: up + offline == 0 ? .unknown : offline == 0 ? .ok : offline * 3 > up + offline ? .down : .degraded,
                detail: "\(up)/\(up + offline) up"),
            ServiceHealth(name: "event bus", status: .ok, detail: ns.eventsChannel)
        ]
        var state = SystemState(
            services: services, maintenance: maintenance, broadcast: broadcast,
            database: DatabaseActivity(connections: activity.count + 1, running: running, idleInTransaction: idleInTx))
        state.actions = try Self.actionFigures(db)
        state.sessions = try ConsoleSessionStore(redis: redis, namespace: ns).list()
        return state
    }

    /// The action key figures from `audit_logs` (every console's requests): finished requests of
    /// the last 5 minutes (outcome and denied rows), denials, backend failures, p99 of duration_ms.
    static func actionFigures(_ db: PostgresConnection, windowSeconds: Int = ActionFigures.defaultWindowSeconds) throws -> ActionFigures {
        let row = try db.query(
            """
            SELECT count(*)::bigint AS n, count(*) FILTER (WHERE phase = 'denied')::bigint AS denied,
                   count(*) FILTER (WHERE phase = 'outcome' AND outcome IN ('failure', 'unavailable'))::bigint AS failed,
                   percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms)::double precision AS p99
            FROM audit_logs WHERE phase IN ('outcome', 'denied') AND timestamp > now() - interval '\(windowSeconds) seconds'
            """)[0]
        return ActionFigures(
            windowSeconds: windowSeconds, finished: try row.get("n"), denials: try row.get("denied"),
            failures: try row.get("failed"), p99Ms: try row.get("p99", as: Double?.self))
    }
}
