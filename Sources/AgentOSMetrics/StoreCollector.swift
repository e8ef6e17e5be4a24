import AgentOSAdapters
import AgentOSCore
import Dispatch
import Foundation
import Prometheus
import Synchronization

/// Reads the shared stores and keeps the Prometheus metrics of one deployment. Every console runs
/// its own ActionDispatcher, so the facts are in the stores, not in a process: append-only rows
/// (audit_logs by seq, action_history by id) are read incrementally into counters and histograms,
/// everything else (Redis counters and state, table aggregates) is read afresh into gauges.
/// `collect()` is serialised; the registry may be emitted from any thread.
public final class StoreCollector: Sendable {
    public struct Options: Sendable {
        /// Rows per page when catching up on audit_logs and action_history.
        public var pageSize = 5_000
        /// How long an action_history id that was skipped (a concurrent insert not yet committed) is looked for again.
        public var gapSeconds: Double = 60
        public init() {}
    }

    public let registry = PrometheusCollectorRegistry()
    private let db: PostgresClient
    private let broker: RedisClient, cache: RedisClient, events: RedisClient, sessions: RedisClient, rateLimits: RedisClient
    private let breakers: RedisBreakerStore
    private let ns: Namespace
    private let options: Options
    private let state = Mutex(State())

    struct State {
        var auditNext = 1
        var verifier = AuditVerifier()
        var historyCursor: Int64 = 0
        var historyGaps: [Int64: Date] = [:]
        var absolute: [String: Int64] = [:]
        var labelled: [String: Set<[String]>] = [:]
    }

    public init(postgres: PostgresClient, redis: RedisClient, namespace: Namespace, options: Options = Options()) {
        db = postgres
        broker = redis.selecting(database: Namespace.DB.queues)
        cache = redis.selecting(database: Namespace.DB.cache)
        events = redis.selecting(database: Namespace.DB.events)
        sessions = redis.selecting(database: Namespace.DB.sessions)
        rateLimits = redis.selecting(database: Namespace.DB.rateLimit)
        breakers = RedisBreakerStore(redis: redis, namespace: namespace)
        ns = namespace
        self.options = options
        // Unlabelled metrics exist from the start, so the exposition always names them.
        for m in MetricsCatalog.all where m.labels.isEmpty {
            switch m.kind {
            case .counter: _ = counter(m.name)
            case .gauge: _ = gauge(m.name)
            case .histogram: _ = registry.makeValueHistogram(descriptor: Self.descriptor(m.name), buckets: MetricsCatalog.durationBuckets)
            }
        }
        for stage in ActionHistoryEntry.stages { _ = stageHistogram(stage) }
        gauge("agentos_audit_chain_valid").set(1.0)
    }

    /// What one collection read, and what failed.
    public struct Report: Sendable {
        public var auditRows = 0
        public var historyRows = 0
        public var errors: [String] = []
        public var seconds: Double = 0
    }

    /// Reads every store once. Never throws: a store that cannot be read is reported, counted in
    /// `agentos_exporter_errors_total` and marked down in `agentos_exporter_up`; the rest goes on.
    @discardableResult
    public func collect() -> Report {
        state.withLock { s in
            let start = DispatchTime.now().uptimeNanoseconds
            var report = Report()
            var pgUp = true
            var redisUp = true
            func attempt(_ store: String, _ what: String, _ body: () throws -> Void) {
                do { try body() } catch {
                    report.errors.append("\(what): \(error)")
                    if store == "postgres" { pgUp = false } else { redisUp = false }
                }
            }
            attempt("postgres", "audit_logs") { report.auditRows = try readAudit(&s) }
            attempt("postgres", "action_history") { report.historyRows = try readHistory(&s) }
            attempt("postgres", "jobs") { try readJobs(&s) }
            attempt("postgres", "workers") { try readWorkers(&s) }
            attempt("postgres", "queues") { try readQueues(&s) }
            attempt("redis", "ssot cache") { try readCache(&s) }
            attempt("redis", "breakers") { try readBreakers(&s) }
            attempt("redis", "events") {
                try setAbsolute(&s, "agentos_events_published_total", try events.send("GET", ns.eventsSeqKey).string.flatMap { Int64($0) } ?? 0)
            }
            attempt("redis", "sessions") {
                gauge("agentos_console_sessions").set(Double(try count(sessions, "\(RedisGlob.escaped(ns.prefix)):session:*")))
            }
            attempt("redis", "rate limits") {
                gauge("agentos_ratelimit_windows").set(Double(try count(rateLimits, "\(RedisGlob.escaped(ns.prefix)):rl:*")))
            }
            for (store, up) in [("postgres", pgUp), ("redis", redisUp)] {
                gauge("agentos_exporter_up", [("store", store)]).set(up ? 1.0 : 0.0)
                let errors = counter("agentos_exporter_errors_total", [("store", store)])
                if !up { errors.increment() }
            }
            report.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            gauge("agentos_exporter_collect_seconds").set(report.seconds)
            return report
        }
    }

    /// The Prometheus text format (0.0.4).
    public func exposition() -> String { registry.emitToString() }

    // MARK: metrics by name

    static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: MetricsCatalog.help(name))
    }

    func gauge(_ name: String, _ labels: [(String, String)] = []) -> Gauge {
        labels.isEmpty ? registry.makeGauge(descriptor: Self.descriptor(name)) : registry.makeGauge(descriptor: Self.descriptor(name), labels: labels)
    }

    func counter(_ name: String, _ labels: [(String, String)] = []) -> Counter {
        labels.isEmpty
            ? registry.makeCounter(descriptor: Self.descriptor(name)) : registry.makeCounter(descriptor: Self.descriptor(name), labels: labels)
    }

    func histogram(_ name: String, _ labels: [(String, String)]) -> ValueHistogram {
        registry.makeValueHistogram(descriptor: Self.descriptor(name), labels: labels, buckets: MetricsCatalog.durationBuckets)
    }

    func stageHistogram(_ stage: String) -> ValueHistogram { histogram("agentos_action_stage_duration_seconds", [("stage", stage)]) }

    /// A counter kept equal to an absolute count in a store (reset when the store's count went back).
    func setAbsolute(_ s: inout State, _ name: String, _ value: Int64) throws {
        let c = counter(name)
        let last = s.absolute[name] ?? 0
        if value < last {
            c.reset()
            c.increment(by: value)
        } else if value > last {
            c.increment(by: value - last)
        }
        s.absolute[name] = value
    }

    /// Sets a labelled gauge family to exactly `values`: label sets that disappeared are unregistered.
    func setFamily(_ s: inout State, _ name: String, _ labelNames: [String], _ values: [[String]: Double]) {
        for (labels, value) in values { gauge(name, Array(zip(labelNames, labels))).set(value) }
        for gone in (s.labelled[name] ?? []).subtracting(values.keys) {
            registry.unregisterGauge(gauge(name, Array(zip(labelNames, gone))))
        }
        s.labelled[name] = Set(values.keys)
    }

    // MARK: PostgreSQL

    /// New audit rows since the last collection: outcomes, durations, denials, compliance counts,
    /// and the hash chain verified row by row (the same verifier as `agentos audit verify`).
    func readAudit(_ s: inout State) throws -> Int {
        var read = 0
        var lastSeq = 0
        var lastTime: Date?
        try PostgresAuditLog(postgres: db).scan(from: s.auditNext, pageSize: options.pageSize) { page in
            for r in page {
                let d = r.draft
                counter("agentos_audit_rows_total", [("phase", d.phase.rawValue)]).increment()
                switch d.phase {
                case .intent:
                    if ActionCatalog.spec(d.action)?.risk == .critical {
                        counter("agentos_audit_critical_actions_total", [("action", d.action)]).increment()
                    }
                    if d.actingAs != nil { counter("agentos_audit_impersonations_total").increment() }
                case .preview, .received:
                    break // nothing ran, or another row counts the action: counted by phase only
                case .outcome, .denied:
                    let outcome = d.outcome ?? "unknown"
                    counter("agentos_actions_total", [("action", d.action), ("outcome", outcome)]).increment()
                    histogram("agentos_action_duration_seconds", [("action", d.action)]).record(Double(max(0, d.durationMs ?? 0)) / 1_000)
                    if d.phase == .denied {
                        counter("agentos_action_denials_total", [("action", d.action), ("reason", outcome)]).increment()
                        if outcome == "denied" { counter("agentos_auth_failures_total", [("user", d.user)]).increment() }
                    }
                }
                lastSeq = r.seq
                lastTime = d.timestamp
            }
            s.verifier.feed(page)
            read += page.count
        }
        if read > 0 {
            s.auditNext = lastSeq + 1
            gauge("agentos_audit_last_seq").set(Double(lastSeq))
            if let lastTime { gauge("agentos_audit_last_timestamp_seconds").set(lastTime.timeIntervalSince1970) }
            let result = s.verifier.result
            gauge("agentos_audit_chain_valid").set(result.ok ? 1.0 : 0.0)
            gauge("agentos_audit_chain_broken_seq").set(Double(result.broken?.seq ?? 0))
        }
        return read
    }

    /// New action_history rows: the stage histograms, and the audit_unavailable outcomes (which
    /// have no audit row). Ids come from a sequence, so a row can commit after a higher id was
    /// read: skipped ids are looked for again for `gapSeconds`.
    func readHistory(_ s: inout State) throws -> Int {
        var read = 0
        let now = Date()
        s.historyGaps = s.historyGaps.filter { now.timeIntervalSince($0.value) < options.gapSeconds }
        while true {
            let gaps = s.historyGaps.keys.sorted().prefix(1_000).map(String.init).joined(separator: ",")
            let rows = try db.query(
                """
                SELECT id, action, outcome, timings::text AS timings FROM action_history
                WHERE id > $1\(gaps.isEmpty ? "" : " OR id IN (\(gaps))") ORDER BY id LIMIT $2
                """, [s.historyCursor, options.pageSize]
            ).rows
            var fresh = 0
            for row in rows {
                let id: Int64 = try row.get("id")
                if s.historyGaps.removeValue(forKey: id) == nil {
                    guard id > s.historyCursor else { continue }
                    if s.historyCursor > 0 {
                        for missing in max(s.historyCursor + 1, id - 1_000)..<id { s.historyGaps[missing] = now }
                    }
                    s.historyCursor = id
                    fresh += 1
                }
                let outcome: String = try row.get("outcome")
                if outcome == "audit_unavailable" {
                    counter("agentos_actions_total", [("action", try row.get("action")), ("outcome", outcome)]).increment()
                }
                let text: String = try row.get("timings")
                if let timings = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
                    for (stage, value) in timings.sorted(by: { $0.key < $1.key }) {
                        guard let ms = (value as? NSNumber)?.doubleValue, ms.isFinite else { continue }
                        stageHistogram(stage).record(max(0, ms) / 1_000)
                    }
                }
                read += 1
            }
            if rows.count < options.pageSize || fresh == 0 { break }
        }
        return read
    }

    func readJobs(_ s: inout State) throws {
        var values: [[String]: Double] = Dictionary(uniqueKeysWithValues: JobStatus.allCases.map { ([$0.rawValue], 0) })
        for row in try db.query(
            """
            SELECT status, sum(n)::bigint AS n FROM (SELECT status, n FROM job_counts UNION ALL SELECT status, d FROM job_count_deltas) t GROUP BY status
            """)
        {
            values[[try row.get("status")]] = Double(try row.get("n", as: Int.self))
        }
        setFamily(&s, "agentos_jobs", ["status"], values)
    }

    func readWorkers(_ s: inout State) throws {
        var values: [[String]: Double] = Dictionary(uniqueKeysWithValues: WorkerStatus.allCases.map { ([$0.rawValue], 0) })
        for row in try db.query("SELECT status, count(*)::bigint AS n FROM workers GROUP BY status") {
            values[[try row.get("status")]] = Double(try row.get("n", as: Int.self))
        }
        setFamily(&s, "agentos_workers", ["status"], values)
    }

    /// Queue names from the `queues` table, depths from their kombu lists in DB0.
    func readQueues(_ s: inout State) throws {
        let rows = try db.query("SELECT name, paused FROM queues ORDER BY name").rows
        var paused: [[String]: Double] = [:]
        var names: [String] = []
        for row in rows {
            let name: String = try row.get("name")
            names.append(name)
            paused[[name]] = try row.get("paused", as: Bool.self) ? 1 : 0
        }
        setFamily(&s, "agentos_queue_paused", ["queue"], paused)
        let keys = names.map { ns.brokerListKeys(queue: $0) }
        var depths: [[String]: Double] = [:]
        if !names.isEmpty {
            let replies = try broker.pipeline(keys.flatMap { $0.map { ["LLEN", $0] as [any RedisArgument] } })
            var i = 0
            for (name, lists) in zip(names, keys) {
                depths[[name]] = Double(replies[i..<(i + lists.count)].reduce(Int64(0)) { $0 + ($1.int ?? 0) })
                i += lists.count
            }
        }
        setFamily(&s, "agentos_queue_depth", ["queue"], depths)
    }

    // MARK: Redis

    func readCache(_ s: inout State) throws {
        let replies = try cache.pipeline([
            ["HMGET", ns.snapshotStatsKey, "hits", "misses"], ["GET", ns.snapshotGenerationKey], ["GET", ns.snapshotKey]
        ])
        let stats = replies[0].array ?? []
        func number(_ v: RedisValue?) -> Int64 { v?.string.flatMap { Int64($0) } ?? 0 }
        try setAbsolute(&s, "agentos_ssot_cache_hits_total", number(stats.first))
        try setAbsolute(&s, "agentos_ssot_cache_misses_total", number(stats.dropFirst().first))
        gauge("agentos_ssot_generation").set(Double(number(replies[1])))
        if let bytes = replies[2].bytes, let snapshot = try? Snapshot.decode(Data(bytes)) {
            gauge("agentos_ssot_cached").set(1.0)
            gauge("agentos_ssot_build_seconds").set(snapshot.system.cache.buildMs / 1_000)
            gauge("agentos_ssot_age_seconds").set(max(0, Date().timeIntervalSince(snapshot.generatedAt)))
        } else {
            gauge("agentos_ssot_cached").set(0.0)
        }
    }

    func readBreakers(_ s: inout State) throws {
        var states: [[String]: Double] = [:]
        var failures: [[String]: Double] = [:]
        for info in try breakers.states(nowMillis: nil) {
            for state in BreakerState.allCases { states[[info.service, state.rawValue]] = info.state == state ? 1 : 0 }
            failures[[info.service]] = Double(info.failures)
        }
        setFamily(&s, "agentos_breaker_state", ["service", "state"], states)
        setFamily(&s, "agentos_breaker_window_failures", ["service"], failures)
    }

    /// Keys matching `pattern` in `database` (SCAN, never KEYS).
    func count(_ client: RedisClient, _ pattern: String) throws -> Int {
        var cursor = "0"
        var n = 0
        repeat {
            let reply = try client.send("SCAN", cursor, "MATCH", pattern, "COUNT", 1_000).array ?? []
            cursor = reply.first?.string ?? "0"
            n += reply.dropFirst().first?.array?.count ?? 0
        } while cursor != "0"
        return n
    }
}
