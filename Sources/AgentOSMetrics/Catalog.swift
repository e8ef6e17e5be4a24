/// Every metric the exporter exposes: name, type, labels and help. The exporter registers only
/// these names, the Grafana dashboards may use only these (checked by a test), and README lists them.
public enum MetricsCatalog {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public struct Metric: Sendable, Equatable {
        public let name: String
        public let kind: Kind
        public let labels: [String]
        public let help: String
        public let source: String

        init(_ name: String, _ kind: Kind, _ labels: [String] = [], _ help: String, source: String) {
            self.name = name
            self.kind = kind
            self.labels = labels
            self.help = help
            self.source = source
        }

        /// The names of the samples in the text format (`_bucket`, `_sum` and `_count` for histograms).
        public var sampleNames: [String] {
            kind == .histogram ? [name + "_bucket", name + "_sum", name + "_count"] : [name]
        }
    }

    /// Seconds: the buckets of the action and stage histograms (1 ms … 60 s).
    public static let durationBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    public static let all: [Metric] = [
        // Actions (audit_logs: every console's finished requests; action_history: the stage timings)
        Metric(
            "agentos_actions_total", .counter, ["action", "outcome"],
            "Finished action requests by outcome (success, replayed, failure, denied, rate_limited, invalid, conflict, idempotency_conflict, not_found, breaker_open, unavailable, audit_unavailable).",
            source: "audit_logs outcome/denied rows; audit_unavailable from action_history"),
        Metric(
            "agentos_action_duration_seconds", .histogram, ["action"], "Duration of finished action requests (audit duration_ms).",
            source: "audit_logs outcome/denied rows"),
        Metric(
            "agentos_action_stage_duration_seconds", .histogram, ["stage"],
            "Time spent in each pipeline stage (validate, rbac, ratelimit, idempotency, breaker, audit_intent, execute, audit_outcome, cascade).",
            source: "action_history.timings"),
        Metric(
            "agentos_action_denials_total", .counter, ["action", "reason"],
            "Requests stopped before execution, by reason (denied, rate_limited, invalid, idempotency_conflict, breaker_open, …).",
            source: "audit_logs denied rows"),
        Metric(
            "agentos_auth_failures_total", .counter, ["user"], "RBAC refusals (and critical actions without confirmation) by Unix account.",
            source: "audit_logs denied rows with outcome denied"),
        // Compliance (audit_logs)
        Metric("agentos_audit_rows_total", .counter, ["phase"], "Audit rows by phase (intent, outcome, denied, preview).", source: "audit_logs"),
        Metric(
            "agentos_audit_critical_actions_total", .counter, ["action"], "Critical actions attempted (intent rows).",
            source: "audit_logs intent rows"),
        Metric(
            "agentos_audit_impersonations_total", .counter, [], "Actions run with --as (intent rows with acting_as).",
            source: "audit_logs intent rows"),
        Metric("agentos_audit_last_seq", .gauge, [], "Sequence number of the newest audit row.", source: "audit_logs"),
        Metric("agentos_audit_last_timestamp_seconds", .gauge, [], "Time of the newest audit row (Unix seconds).", source: "audit_logs"),
        Metric(
            "agentos_audit_chain_valid", .gauge, [], "1 while the hash chain of every row read so far verifies, 0 once a row breaks it.",
            source: "audit_logs"),
        Metric("agentos_audit_chain_broken_seq", .gauge, [], "The first row that breaks the chain (0: none).", source: "audit_logs"),
        // SSOT cache (Redis DB1)
        Metric("agentos_ssot_cache_hits_total", .counter, [], "SSOT snapshot lookups served from the cache.", source: "DB1 stats hash"),
        Metric("agentos_ssot_cache_misses_total", .counter, [], "SSOT snapshot lookups that rebuilt the snapshot.", source: "DB1 stats hash"),
        Metric("agentos_ssot_generation", .gauge, [], "Generation of the newest SSOT snapshot (one per rebuild).", source: "DB1 generation key"),
        Metric("agentos_ssot_cached", .gauge, [], "1 while a snapshot is cached, 0 after an invalidation or expiry.", source: "DB1 snapshot key"),
        Metric("agentos_ssot_build_seconds", .gauge, [], "Rebuild time of the cached snapshot.", source: "DB1 snapshot"),
        Metric("agentos_ssot_age_seconds", .gauge, [], "Age of the cached snapshot.", source: "DB1 snapshot"),
        // Breakers (DB4), rate limits (DB3), events (DB5), sessions (DB6)
        Metric(
            "agentos_breaker_state", .gauge, ["service", "state"],
            "1 for the current state of each backend's circuit breaker (closed, open, half_open).", source: "DB4"),
        Metric("agentos_breaker_window_failures", .gauge, ["service"], "Failures in the breaker's current window.", source: "DB4"),
        Metric("agentos_ratelimit_windows", .gauge, [], "Active rate-limit windows (user × action and source IP).", source: "DB3"),
        Metric("agentos_events_published_total", .counter, [], "Events published on the bus (the sequence counter).", source: "DB5 seq key"),
        Metric("agentos_console_sessions", .gauge, [], "Console sessions with a live heartbeat.", source: "DB6"),
        // The platform (PostgreSQL and DB0)
        Metric("agentos_queue_depth", .gauge, ["queue"], "Messages waiting in a queue's broker lists.", source: "DB0 kombu lists"),
        Metric("agentos_queue_paused", .gauge, ["queue"], "1 while a queue is paused.", source: "queues"),
        Metric("agentos_jobs", .gauge, ["status"], "Jobs by status.", source: "job_counts + job_count_deltas"),
        Metric("agentos_workers", .gauge, ["status"], "Workers by status.", source: "workers"),
        // The exporter itself
        Metric("agentos_exporter_up", .gauge, ["store"], "1 when the last collection could read the store (redis, postgres).", source: "exporter"),
        Metric("agentos_exporter_errors_total", .counter, ["store"], "Collections that failed to read a store.", source: "exporter"),
        Metric("agentos_exporter_collect_seconds", .gauge, [], "Duration of the last collection.", source: "exporter")
    ]

    public static func metric(_ name: String) -> Metric? { all.first { $0.name == name } }

    /// Every sample name the exposition may contain.
    public static var sampleNames: Set<String> { Set(all.flatMap(\.sampleNames)) }

    static func help(_ name: String) -> String { metric(name)?.help ?? "" }
}
