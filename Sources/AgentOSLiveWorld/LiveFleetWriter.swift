import AgentOSAdapters
import AgentOSCore
import AgentOSWorld
import Foundation

/// Persists the simulated fleet the way the AgentOS backend would: rows in PostgreSQL (jobs,
/// job_events, workers, queues, managers, logs, alerts, config, per-minute stats), the waiting
/// jobs as kombu messages in the broker lists of DB0, the maintenance flag in DB1.
public final class LiveFleetWriter {
    private let db: PostgresClient
    private let broker: RedisClient
    private let flags: RedisClient
    private let ns: Namespace
    /// job id → (list key, message) of the messages this writer has in the broker.
    private var inBroker: [String: (key: [UInt8], message: [UInt8])] = [:]
    private var lastWorkerFlush = Date.distantPast
    /// The simulator's alert id → the row's.
    private var alertRows: [Int: Int] = [:]
    private let encoder = AgentJSON.encoder()

    public init(postgres: PostgresClient, redis: RedisClient, namespace: Namespace = Namespace()) {
        db = postgres
        broker = redis.selecting(database: Namespace.DB.queues)
        flags = redis.selecting(database: Namespace.DB.cache)
        ns = namespace
    }

    // MARK: rows as JSON for jsonb_to_recordset

    struct JobRow: Encodable {
        let id, name, pipeline, stage, queue, status, owner: String
        let priority, attempts, max_attempts: Int
        let progress: Double
        let worker_id, error, error_class, traceback: String?
        let created_at, updated_at: Date
        let started_at, finished_at: Date?
        /// A retry's next attempt (jobs.eta): the simulator's timer, so the retry set says when.
        let eta: Date?
        /// The submission (args, kwargs) on insert; the result once completed (D76).
        let payload: JSONTree
        let result: JSONTree?

        init(_ j: Job) {
            id = j.id
            name = j.name
            pipeline = j.pipeline
            stage = j.stage
            queue = j.queue
            status = j.status.rawValue
            owner = j.owner
            priority = j.priority
            attempts = j.attempts
            max_attempts = j.maxAttempts
            progress = j.progress
            worker_id = j.workerID
            error = j.error
            error_class = j.errorClass
            traceback = j.traceback
            created_at = j.createdAt
            updated_at = j.updatedAt
            started_at = j.startedAt
            finished_at = j.finishedAt
            eta = j.eta
            payload = SimJobPayload.payload(j)
            result = SimJobPayload.result(j)
        }
    }

    struct JobEventRow: Encodable {
        let job_id, type: String
        let ts: Date
        let stage, status, worker_id, message: String?
        init(_ e: JobEvent) {
            job_id = e.jobID
            type = e.type
            ts = e.ts
            stage = e.stage
            status = e.status
            worker_id = e.workerID
            message = e.message
        }
    }

    struct WorkerRow: Encodable {
        let id, hostname, stage, status, version: String
        let queues: [String]
        let concurrency, active, processed, failed, rss_bytes: Int
        let autoscale_min, autoscale_max, pid: Int?
        let load: Double
        let started_at, last_heartbeat: Date?
        init(_ w: WorkerInfo, now: Date) {
            id = w.id
            hostname = w.hostname
            stage = w.stage
            status = w.status.rawValue
            version = w.version
            queues = w.queues
            concurrency = w.concurrency
            active = w.active
            processed = w.processed
            failed = w.failed
            rss_bytes = w.rssBytes
            autoscale_min = w.autoscaleMin
            autoscale_max = w.autoscaleMax
            pid = w.pid
            load = w.load
            started_at = w.startedAt
            last_heartbeat = now.addingTimeInterval(-(w.heartbeatAgeSeconds ?? 0))
        }
    }

    struct LogRow: Encodable {
        let ts: Date
        let level, source, message: String
        let job_id, worker_id: String?
        init(_ l: LogLine) {
            ts = l.ts
            level = l.level.rawValue
            source = l.source
            message = l.message
            job_id = l.jobID
            worker_id = l.workerID
        }
    }

    private func json<T: Encodable>(_ rows: [T]) throws -> PostgresValue { .json(String(decoding: try encoder.encode(rows), as: UTF8.self)) }

    // MARK: seeding

    /// Writes the whole current state (used once at start, after fast-forwarding history).
    /// Returns nothing to publish: consumers load the snapshot first.
    public func seed(_ sim: FleetSimulator, history: [JobEvent]) throws {
        try db.transaction { tx in
            for q in sim.queues.values.sorted(by: { $0.name < $1.name }) {
                try tx.query(
                    """
                    INSERT INTO queues (name, stage, paused, rate_limit) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (name) DO UPDATE SET stage = EXCLUDED.stage, paused = EXCLUDED.paused, rate_limit = EXCLUDED.rate_limit, updated_at = now()
                    """, [q.name, q.stage, q.paused, q.rateLimit])
            }
            for entry in sim.config_.values.sorted(by: { $0.key < $1.key }) {
                try tx.query(
                    """
                    INSERT INTO config (key, type, value, default_value, constraints, description, version, updated_by)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING
                    """,
                    [
                        entry.key, entry.type.rawValue, PostgresValue.json(Self.jsonText(entry.value)),
                        PostgresValue.json(Self.jsonText(entry.defaultValue)),
                        PostgresValue.json(String(decoding: try encoder.encode(entry.constraints), as: UTF8.self)),
                        entry.description, entry.version, entry.updatedBy
                    ])
                // Its versions, so the drill-down and config.rollback find the past its version counts.
                for change in sim.configHistory[entry.key] ?? [] {
                    try tx.query(
                        """
                        INSERT INTO config_history (key, version, old_value, new_value, changed_by, changed_at)
                        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key, version) DO NOTHING
                        """,
                        [
                            entry.key, change.version, change.oldValue.map { PostgresValue.json($0) }, PostgresValue.json(change.newValue),
                            change.changedBy, change.changedAt
                        ])
                }
            }
            let jobs = sim.jobs.values.sorted { $0.id < $1.id }
            try insertJobs(jobs, tx)
            try insertHistory(history, tx)
            _ = try insertLogs(sim.logs, tx)
            var rows = alertRows
            for alert in sim.alerts.reversed() { _ = try insertAlert(alert, rows: &rows, tx) }
            alertRows = rows
            try upsertWorkers(sim, tx)
            for m in sim.managers.values.sorted(by: { $0.id < $1.id }) { try upsertManager(m, tx) }
            try upsertStats(sim, minutes: sim.config.statsWindowMinutes, tx)
        }
        try syncBroker(sim)
        try writeMaintenance(sim.maintenance)
    }

    // MARK: per tick

    /// Persists what `events` changed and returns the events to publish (log and alert ids
    /// replaced by the database's): `commitRows`, then `syncRedis`.
    public func persist(_ events: [AgentEvent], sim: FleetSimulator, history: [JobEvent]) throws -> [AgentEvent] {
        let out = try commitRows(events, sim: sim, history: history)
        try syncRedis(sim, after: events)
        return out
    }

    /// The PostgreSQL half of `persist`, in one transaction. The writer's own memory (alert rows,
    /// the last workers' flush) changes only once it committed, so a failed call can be made again
    /// with the same events; a committed one must not be (job_events and logs would be doubled).
    public func commitRows(_ events: [AgentEvent], sim: FleetSimulator, history: [JobEvent]) throws -> [AgentEvent] {
        var created: [String] = []
        var touched = Set<String>()
        var managers: [ManagerInfo] = []
        var queueNames = Set<String>()
        var workersChanged = false
        for event in events {
            switch event {
            case .jobCreated(let p): created.append(p.id)
            case .jobUpdated(let p), .jobCancelled(let p), .jobRetried(let p): touched.insert(p.id)
            case .managerUpdated(let m): managers.append(m)
            case .queueUpdated(let p, let cause) where cause != "queue.updated" || p.rateLimit != nil: queueNames.insert(p.name)
            case .workerUpdated: workersChanged = true
            default: break
            }
        }
        let createdSet = Set(created)
        var out = events
        var rows = alertRows
        var flushed = lastWorkerFlush
        try db.transaction { tx in
            try insertJobs(created.compactMap { sim.jobs[$0] }, tx)
            let updates = touched.subtracting(createdSet).sorted().compactMap { sim.jobs[$0] }
            if !updates.isEmpty {
                // A job the console cancelled or deleted stays so: the simulator only learns through control commands.
                try tx.query(
                    """
                    UPDATE jobs AS j SET stage = u.stage, queue = u.queue, status = u.status, priority = u.priority, progress = u.progress,
                        attempts = u.attempts, worker_id = u.worker_id, error = u.error, error_class = u.error_class, traceback = u.traceback,
                        updated_at = u.updated_at, started_at = u.started_at, finished_at = u.finished_at, eta = u.eta,
                        payload = CASE WHEN u.result IS NULL THEN j.payload ELSE j.payload || jsonb_build_object('result', u.result) END
                    FROM jsonb_to_recordset($1) AS u(id uuid, stage text, queue text, status text, priority int, progress float8, attempts int,
                        worker_id text, error text, error_class text, traceback text, updated_at timestamptz, started_at timestamptz, finished_at timestamptz,
                        eta timestamptz, result jsonb)
                    WHERE j.id = u.id AND (j.status <> 'cancelled' OR u.status = 'cancelled')
                    """, [try json(updates.map(JobRow.init))])
            }
            try insertHistory(history, tx)
            for i in out.indices {
                switch out[i] {
                case .logAppended(let lines):
                    out[i] = .logAppended(try insertLogs(lines, tx))
                case .alertRaised(let alert):
                    out[i] = .alertRaised(try insertAlert(alert, rows: &rows, tx))
                case .alertUpdated(let patch):
                    // The simulator's own changes (a log rule's alert resolved); its row by the row's id.
                    guard let row = rows[patch.id], let status = patch.status else { continue }
                    try tx.query("UPDATE alerts SET status = $2 WHERE id = $1", [row, status.rawValue])
                    var copy = patch
                    copy.id = row
                    out[i] = .alertUpdated(copy)
                default: break
                }
            }
            out += try expireSilences(tx)
            for m in managers { try upsertManager(m, tx) }
            for name in queueNames.sorted() {
                guard let q = sim.queues[name] else { continue }
                try tx.query("UPDATE queues SET paused = $2, rate_limit = $3, updated_at = now() WHERE name = $1", [name, q.paused, q.rateLimit])
            }
            if workersChanged && sim.now.timeIntervalSince(flushed) >= 1 {
                flushed = sim.now
                try upsertWorkers(sim, tx)
            }
            if !created.isEmpty || !touched.isEmpty { try upsertStats(sim, minutes: 2, tx) }
        }
        alertRows = rows
        lastWorkerFlush = flushed
        return out
    }

    /// The Redis half of `persist`: the broker lists made to hold exactly the waiting jobs, and the
    /// maintenance flag `events` set. Idempotent, so a failed call is simply made again.
    public func syncRedis(_ sim: FleetSimulator, after events: [AgentEvent]) throws {
        try syncBroker(sim)
        for case .maintenance(let m) in events.reversed() {
            try writeMaintenance(m)
            break
        }
    }

    // MARK: statements

    private func insertJobs(_ jobs: [Job], _ tx: PostgresConnection) throws {
        guard !jobs.isEmpty else { return }
        for chunk in stride(from: 0, to: jobs.count, by: 2_000).map({ Array(jobs[$0..<min($0 + 2_000, jobs.count)]) }) {
            try tx.query(
                """
                INSERT INTO jobs (id, name, pipeline, stage, queue, status, priority, progress, attempts, max_attempts, worker_id, owner,
                                  error, error_class, traceback, created_at, updated_at, started_at, finished_at, eta, payload)
                SELECT id, name, pipeline, stage, queue, status, priority, progress, attempts, max_attempts, worker_id, owner,
                       error, error_class, traceback, created_at, updated_at, started_at, finished_at, eta, payload
                FROM jsonb_to_recordset($1) AS u(id uuid, name text, pipeline text, stage text, queue text, status text, priority int,
                    progress float8, attempts int, max_attempts int, worker_id text, owner text, error text, error_class text, traceback text,
                    created_at timestamptz, updated_at timestamptz, started_at timestamptz, finished_at timestamptz, eta timestamptz,
                    payload jsonb)
                ON CONFLICT (id) DO NOTHING
                """, [try json(chunk.map(JobRow.init))])
        }
    }

    private func insertHistory(_ history: [JobEvent], _ tx: PostgresConnection) throws {
        guard !history.isEmpty else { return }
        try tx.query(
            """
            INSERT INTO job_events (job_id, ts, type, stage, status, worker_id, message)
            SELECT u.job_id, u.ts, u.type, u.stage, u.status, u.worker_id, u.message
            FROM jsonb_to_recordset($1) AS u(job_id uuid, ts timestamptz, type text, stage text, status text, worker_id text, message text)
            WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = u.job_id)
            """, [try json(history.map(JobEventRow.init))])
    }

    private func insertLogs(_ lines: [LogLine], _ tx: PostgresConnection) throws -> [LogLine] {
        guard !lines.isEmpty else { return [] }
        let ids = try tx.query(
            """
            INSERT INTO logs (ts, level, source, message, job_id, worker_id)
            SELECT ts, level, source, message, job_id, worker_id
            FROM ROWS FROM (jsonb_to_recordset($1) AS (ts timestamptz, level text, source text, message text, job_id uuid, worker_id text))
                WITH ORDINALITY AS u(ts, level, source, message, job_id, worker_id, n)
            ORDER BY n RETURNING id
            """, [try json(lines.map(LogRow.init))]
        ).rows.map { try $0.get("id", as: Int.self) }
        return zip(lines, ids).map { line, id in
            var copy = line
            copy.id = id
            return copy
        }
    }

    /// A new alert becomes a row; a repeat the simulator counted on one of its alerts updates that
    /// row (reopened if it was resolved; an acknowledgement or silence set by a console stays).
    private func insertAlert(_ alert: Alert, rows: inout [Int: Int], _ tx: PostgresConnection) throws -> Alert {
        var copy = alert
        if let row = rows[alert.id] {
            let status = try tx.query(
                """
                UPDATE alerts SET count = $2, last_seen = $3, message = $4, severity = $5,
                    status = CASE WHEN status = 'resolved' THEN 'active' ELSE status END
                WHERE id = $1 RETURNING status
                """, [row, alert.count, alert.lastSeen, alert.message, alert.severity.rawValue]
            ).rows.first?.get("status", as: String.self)
            copy.id = row
            copy.status = status.flatMap(AlertStatus.init(rawValue:)) ?? alert.status
            return copy
        }
        let id = try tx.query(
            """
            INSERT INTO alerts (ts, severity, source, title, message, status, kind, count, last_seen)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
            """,
            [
                alert.ts, alert.severity.rawValue, alert.source, alert.title, alert.message, alert.status.rawValue, alert.kind, alert.count,
                alert.lastSeen
            ])[0].get("id", as: Int.self)
        rows[alert.id] = id
        copy.id = id
        return copy
    }

    /// Silences (system.alert_silence) that ran out: the alert is back, acknowledged if it was.
    private func expireSilences(_ tx: PostgresConnection) throws -> [AgentEvent] {
        try tx.query(
            """
            UPDATE alerts SET status = CASE WHEN acked_at IS NULL THEN 'active' ELSE 'acked' END, silenced_until = NULL
            WHERE status = 'silenced' AND silenced_until <= now() RETURNING id, status
            """
        ).rows.map { row in
            .alertUpdated(AlertPatch(id: try row.get("id"), status: AlertStatus(rawValue: try row.get("status", as: String.self))))
        }
    }

    private func upsertWorkers(_ sim: FleetSimulator, _ tx: PostgresConnection) throws {
        let rows = sim.workers.values.map { WorkerRow($0.info, now: sim.now) }.sorted { $0.id < $1.id }
        try tx.query(
            """
            INSERT INTO workers (id, hostname, stage, queues, status, concurrency, autoscale_min, autoscale_max, active, processed, failed, load,
                                 rss_bytes, version, pid, started_at, last_heartbeat, updated_at)
            SELECT id, hostname, stage, ARRAY(SELECT jsonb_array_elements_text(queues)), status, concurrency, autoscale_min, autoscale_max, active,
                   processed, failed, load, rss_bytes, version, pid, started_at, last_heartbeat, now()
            FROM jsonb_to_recordset($1) AS u(id text, hostname text, stage text, queues jsonb, status text, concurrency int, autoscale_min int,
                autoscale_max int, active int, processed bigint, failed bigint, load float8, rss_bytes bigint, version text, pid int,
                started_at timestamptz, last_heartbeat timestamptz)
            ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname, stage = EXCLUDED.stage, queues = EXCLUDED.queues, status = EXCLUDED.status,
                concurrency = EXCLUDED.concurrency, autoscale_min = EXCLUDED.autoscale_min, autoscale_max = EXCLUDED.autoscale_max,
                active = EXCLUDED.active, processed = EXCLUDED.processed, failed = EXCLUDED.failed, load = EXCLUDED.load,
                rss_bytes = EXCLUDED.rss_bytes, version = EXCLUDED.version, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
                last_heartbeat = EXCLUDED.last_heartbeat, updated_at = now()
            """, [try json(rows)])
    }

    private func upsertManager(_ m: ManagerInfo, _ tx: PostgresConnection) throws {
        try tx.query(
            """
            INSERT INTO managers (id, kind, status, enabled, schedule, concurrency, last_run_at, next_run_at, last_result, last_error, runs, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
            ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, enabled = EXCLUDED.enabled, schedule = EXCLUDED.schedule,
                concurrency = EXCLUDED.concurrency, last_run_at = EXCLUDED.last_run_at, next_run_at = EXCLUDED.next_run_at,
                last_result = EXCLUDED.last_result, last_error = EXCLUDED.last_error, runs = EXCLUDED.runs, updated_at = now()
            """, [m.id, m.kind, m.status.rawValue, m.enabled, m.schedule, m.concurrency, m.lastRunAt, m.nextRunAt, m.lastResult, m.lastError, m.runs])
    }

    private func upsertStats(_ sim: FleetSimulator, minutes: Int, _ tx: PostgresConnection) throws {
        for (minute, stage, s) in sim.recentStats(minutes: minutes) {
            let sorted = s.durationsMs.sorted()
            try tx.query(
                """
                INSERT INTO stats_minutely (minute, stage, completed, failed, retried, p50_ms, p95_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (minute, stage) DO UPDATE SET completed = EXCLUDED.completed, failed = EXCLUDED.failed,
                    retried = EXCLUDED.retried, p50_ms = EXCLUDED.p50_ms, p95_ms = EXCLUDED.p95_ms
                """,
                [
                    minute, stage, s.completed, s.failed, s.retried,
                    sorted.isEmpty ? nil : FleetSimulator.percentile(sorted, 0.5), sorted.isEmpty ? nil : FleetSimulator.percentile(sorted, 0.95)
                ])
        }
    }

    private func writeMaintenance(_ m: Maintenance) throws {
        if m.enabled {
            try flags.send("SET", ns.maintenanceKey, [UInt8](try encoder.encode(m)))
        } else {
            try flags.send("DEL", ns.maintenanceKey)
        }
    }

    // MARK: broker (kombu lists)

    /// Places a job's message (or, without a target list, takes it out) in one atomic step, so a
    /// queue never holds two messages for a job. It removes the writer's own previous message
    /// (KEYS[2], ARGV[2]) and the message the job's copy names (KEYS[1]): the console's producers
    /// push their own message and copy on job.retry, job.move and job.set_priority before the
    /// owner hears of it. That copy's list is read from the message (its routing key and
    /// priority, as `Namespace.brokerListKey` builds it: the step is the priority rounded down
    /// to 0, 3, 6 or 9). KEYS[3], ARGV[3]: the target list and the new message; ARGV[1]: kombu's
    /// key prefix; ARGV[4]: the copy's TTL.
    static let placeScript = RedisScript(
        """
        local removed = 0
        if ARGV[2] ~= '' then removed = redis.call('LREM', KEYS[2], 0, ARGV[2]) end
        local copy = redis.call('GET', KEYS[1])
        if copy and copy ~= ARGV[2] then
            local ok, m = pcall(cjson.decode, copy)
            if ok and type(m) == 'table' and type(m.properties) == 'table' and type(m.properties.delivery_info) == 'table' then
                local queue = m.properties.delivery_info.routing_key
                local p = math.max(0, math.min(9, tonumber(m.properties.priority) or 0))
                local step = p - p % 3
                if type(queue) == 'string' then
                    local list = ARGV[1] .. queue
                    if step > 0 then list = list .. '\\6\\22' .. step end
                    removed = removed + redis.call('LREM', list, 0, copy)
                end
            end
        end
        if #KEYS < 3 then
            redis.call('DEL', KEYS[1])
        else
            redis.call('LPUSH', KEYS[3], ARGV[3])
            redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
        end
        return removed
        """)

    /// Makes DB0 hold exactly the jobs waiting in the simulator, one message each: a job that is
    /// new or changed place is placed by `placeScript`, one that left is taken out by it. What the
    /// writer believes is in the broker changes only once every reply came back: after a failure the
    /// same places are made again (the script removes the copy it finds, so a place made twice still
    /// leaves one message).
    private func syncBroker(_ sim: FleetSimulator) throws {
        var want: [String: (queue: String, priority: Int)] = [:]
        for (queue, lists) in sim.waiting {
            for (priority, ids) in lists.enumerated() { for id in ids { want[id] = (queue, priority) } }
        }
        var commands: [[any RedisArgument]] = []
        var placed: [(id: String, target: (key: [UInt8], message: [UInt8])?)] = []
        func place(_ id: String, to target: (key: [UInt8], message: [UInt8])?) {
            let old = inBroker[id]
            var keys: [any RedisArgument] = [ns.brokerMessageKey(job: id), old?.key ?? []]
            var args: [any RedisArgument] = [ns.brokerPrefix, old?.message ?? []]
            if let target {
                keys.append(target.key)
                args += [target.message, Namespace.brokerMessageTTLSeconds]
            }
            commands.append(["EVALSHA", Self.placeScript.sha1, keys.count] + keys + args)
            placed.append((id, target))
        }
        for id in inBroker.keys.sorted() where want[id] == nil { place(id, to: nil) }
        for (id, spot) in want.sorted(by: { $0.key < $1.key }) {
            let key = ns.brokerListKey(queue: spot.queue, priority: spot.priority)
            guard inBroker[id]?.key != key, let job = sim.jobs[id] else { continue }
            place(
                id, to: (key, KombuMessage.task(job: job, taskName: FleetSimulator.taskName(job.stage), deliveryTag: sim.deterministicTag(for: id))))
        }
        guard !commands.isEmpty else { return }
        // Loaded in the same pipeline (a restarted server has no scripts): no extra round trip.
        commands.insert(["SCRIPT", "LOAD", Self.placeScript.source], at: 0)
        for chunk in stride(from: 0, to: commands.count, by: 1_000) {
            for reply in try broker.pipeline(Array(commands[chunk..<min(chunk + 1_000, commands.count)])) {
                if case .error(let e) = reply { throw RedisError.server(e) }
            }
        }
        for (id, target) in placed { inBroker[id] = target }
    }

    static func jsonText(_ v: ConfigValue) -> String {
        switch v {
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        case .string(let s):
            let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }
}
