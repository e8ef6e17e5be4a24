/// The 83 admin actions (ACTIONS.md) as data. Key bindings, the action menu, the help, the
/// headless CLI and `can-i --list` are generated from this list; nothing lists actions twice.
public enum ActionCatalog {
    public static let stages = Pipeline.stages
    static let services = BackendService.allCases.map(\.rawValue)
    static let logLevels = ["debug", "info", "warning", "error", "critical"]
    static let tables = [
        "jobs", "job_events", "workers", "queues", "managers", "logs", "config", "config_history", "alerts",
        "stats_minutely", "audit_logs", "action_history", "idempotency_results"
    ]

    static let jobID = FieldSpec("id", .uuid, help: "job id")
    static let queue = FieldSpec("queue", .name, help: "queue name")
    static let worker = FieldSpec("id", .name, help: "worker id")
    static let manager = FieldSpec("id", .name, help: "manager id")
    static let days = FieldSpec("days", .int(min: 1, max: 3650), help: "older than N days")
    static let source = FieldSpec("source", .name, help: "log source")
    static let configKey = FieldSpec("key", .name, help: "configuration key")

    public static let all: [ActionSpec] = jobs + workers + managers + system + database + logs + config + analytics

    // Jobs & Queue (12)
    static let jobs: [ActionSpec] = [
        .init("job.cancel", .jobs, "Cancel job", .jobCancel, destructive: true, fields: [jobID], key: "c"),
        .init("job.kill", .jobs, "Kill running job", .jobCancel, .high, destructive: true, fields: [jobID], service: .workers, key: "x"),
        .init("job.retry", .jobs, "Retry job", .jobCancel, fields: [jobID], key: "r"),
        .init("job.delete", .jobs, "Delete job", .jobManage, .high, destructive: true, fields: [jobID], key: "D"),
        .init(
            "job.set_priority", .jobs, "Set job priority", .jobManage,
            fields: [jobID, FieldSpec("priority", .int(min: 0, max: 9), help: "0 = highest")], key: "p"),
        .init("job.move", .jobs, "Move job to queue", .jobManage, fields: [jobID, FieldSpec("to", .name, help: "target queue")], key: "m"),
        .init("queue.clear", .jobs, "Clear queue", .queueClear, .critical, destructive: true, fields: [queue], rate: 10, bulk: true, key: "C"),
        .init("queue.pause", .jobs, "Pause queue", .queueManage, .high, fields: [queue], key: "P"),
        .init("queue.resume", .jobs, "Resume queue", .queueManage, fields: [queue], key: "u"),
        .init(
            "queue.retry_failed", .jobs, "Retry failed jobs of queue", .queueManage, .high,
            fields: [queue, FieldSpec("error_class", .name, required: false, help: "only this error class")], bulk: true, key: "F"),
        .init("queue.purge_failed", .jobs, "Purge failed jobs of queue", .queueManage, .high, destructive: true, fields: [queue], bulk: true),
        .init(
            "queue.set_rate_limit", .jobs, "Set queue rate limit", .queueManage,
            fields: [queue, FieldSpec("limit", .int(min: 0, max: 1_000_000), help: "tasks/min, 0 = unlimited")], key: "L")
    ]

    // Agents & Workers (15)
    static let workers: [ActionSpec] = [
        .init(
            "worker.restart", .workers, "Restart worker", .workerRestart, .high, destructive: true, fields: [worker], service: .workers, rate: 30,
            key: "r"),
        .init(
            "worker.shutdown", .workers, "Shut down worker (warm)", .workerRestart, .high, destructive: true, fields: [worker], service: .workers,
            key: "X"),
        .init("worker.start", .workers, "Start worker", .workerManage, fields: [worker], service: .workers, key: "t"),
        .init("worker.pause", .workers, "Pause worker (stop consuming)", .workerManage, fields: [worker], service: .workers, key: "p"),
        .init("worker.resume", .workers, "Resume worker", .workerManage, fields: [worker], service: .workers, key: "u"),
        .init("worker.drain", .workers, "Drain worker", .workerManage, .high, destructive: true, fields: [worker], service: .workers, key: "d"),
        .init(
            "worker.scale", .workers, "Set worker concurrency", .workerRestart,
            fields: [worker, FieldSpec("concurrency", .int(min: 1, max: 64))], service: .workers, key: "="),
        .init(
            "worker.pool_grow", .workers, "Grow worker pool", .workerManage,
            fields: [worker, FieldSpec("n", .int(min: 1, max: 32), default: .int(1))], service: .workers, key: "+"),
        .init(
            "worker.pool_shrink", .workers, "Shrink worker pool", .workerManage,
            fields: [worker, FieldSpec("n", .int(min: 1, max: 32), default: .int(1))], service: .workers, key: "-"),
        .init(
            "worker.autoscale", .workers, "Set worker autoscale", .workerManage,
            fields: [worker, FieldSpec("min", .int(min: 0, max: 64)), FieldSpec("max", .int(min: 1, max: 64))], service: .workers),
        .init(
            "worker.restart_all", .workers, "Restart all workers (rolling)", .workerRestart, .critical, destructive: true,
            fields: [FieldSpec("stage", .choice(stages), required: false, help: "only this stage")], target: "stage",
            service: .workers, rate: 5, bulk: true),
        .init(
            "worker.rate_limit", .workers, "Set task rate limit", .workerManage,
            fields: [worker, FieldSpec("task", .name), FieldSpec("rate", .text(maxLength: 16), help: "e.g. 10/m, 2/s, 0 = none")], service: .workers),
        .init(
            "worker.time_limit", .workers, "Set task time limits", .workerManage,
            fields: [worker, FieldSpec("task", .name), FieldSpec("soft", .int(min: 1, max: 86_400)), FieldSpec("hard", .int(min: 1, max: 86_400))],
            service: .workers),
        .init("worker.ping", .workers, "Ping worker", .workerManage, fields: [worker], service: .workers, key: "i"),
        .init("worker.forget", .workers, "Forget offline worker", .workerManage, destructive: true, fields: [worker], key: "D")
    ]

    // Managers (10)
    static let managers: [ActionSpec] = [
        .init("manager.start", .managers, "Start manager", .managerControl, fields: [manager], key: "t"),
        .init("manager.stop", .managers, "Stop manager", .managerControl, .high, destructive: true, fields: [manager], key: "X"),
        .init("manager.pause", .managers, "Pause manager", .managerControl, fields: [manager], key: "p"),
        .init("manager.resume", .managers, "Resume manager", .managerControl, fields: [manager], key: "u"),
        .init("manager.restart", .managers, "Restart manager", .managerControl, .high, destructive: true, fields: [manager], key: "r"),
        .init("manager.trigger", .managers, "Run manager now", .managerControl, fields: [manager], key: "T"),
        .init(
            "manager.set_schedule", .managers, "Set manager schedule", .managerControl,
            fields: [manager, FieldSpec("schedule", .schedule, help: "cron (5 fields) or 30s/5m/1h")], key: "e"),
        .init(
            "manager.set_concurrency", .managers, "Set manager concurrency", .managerControl,
            fields: [manager, FieldSpec("concurrency", .int(min: 1, max: 32))], key: "="),
        .init("manager.enable", .managers, "Enable manager", .managerControl, fields: [manager], key: "E"),
        .init("manager.disable", .managers, "Disable manager", .managerControl, .high, destructive: true, fields: [manager], key: "d")
    ]

    // System Controls (16)
    static let system: [ActionSpec] = [
        .init("system.backup", .system, "Back up everything", .systemBackup, .critical, target: "system", service: .filesystem, rate: 2),
        .init("system.reset", .system, "Reset runtime state", .admin, .critical, destructive: true, target: "system", service: .redis, rate: 1),
        .init(
            "system.maintenance_on", .system, "Maintenance mode on", .systemOperate, .critical,
            fields: [FieldSpec("message", .text(maxLength: 200), required: false)], target: "system", service: .redis, key: "M"),
        .init("system.maintenance_off", .system, "Maintenance mode off", .systemOperate, .high, target: "system", service: .redis, key: "N"),
        .init("system.cache_refresh", .system, "Refresh the SSOT cache", .systemOperate, target: "system", service: .redis, key: "c"),
        .init("system.cache_invalidate", .system, "Invalidate admin cache", .systemOperate, target: "system", service: .redis),
        .init("system.health_check", .system, "Run health check", .systemOperate, target: "system", key: "h"),
        .init(
            "system.broadcast", .system, "Broadcast banner", .systemOperate,
            fields: [
                FieldSpec("message", .text(maxLength: 200)), FieldSpec("level", .choice(["info", "warning", "critical"]), default: .string("info")),
                FieldSpec("ttl", .int(min: 10, max: 86_400), default: .int(600), help: "seconds")
            ], target: "system", service: .redis, key: "b"),
        .init(
            "system.alert_ack", .system, "Acknowledge alert", .systemOperate, fields: [FieldSpec("id", .int(min: 1, max: Int.max), help: "alert id")],
            key: "a"),
        .init(
            "system.alert_silence", .system, "Silence alert", .systemOperate, .high,
            fields: [
                FieldSpec("id", .int(min: 1, max: Int.max), help: "alert id"), FieldSpec("minutes", .int(min: 1, max: 10_080), default: .int(60))
            ]),
        .init(
            "system.breaker_reset", .system, "Close circuit breaker", .admin, .high, fields: [FieldSpec("service", .choice(services))],
            service: .redis),
        .init(
            "system.breaker_trip", .system, "Open circuit breaker", .admin, .high, destructive: true,
            fields: [FieldSpec("service", .choice(services))], service: .redis),
        .init("system.rate_limit_reset", .system, "Reset a user's rate limits", .admin, .high, fields: [FieldSpec("user", .name)], service: .redis),
        .init(
            "system.session_terminate", .system, "End console session", .admin, .high, destructive: true, fields: [FieldSpec("session", .name)],
            service: .redis),
        .init(
            "system.io_cleanup", .system, "Delete old processed media", .systemOperate, .high, destructive: true, fields: [days], service: .filesystem
        ),
        .init("system.audit_verify", .system, "Verify the audit chain", .auditView, target: "system", key: "V")
    ]

    // System Controls: database (8)
    static let database: [ActionSpec] = [
        .init("database.backup", .system, "Back up PostgreSQL", .databaseAdmin, .critical, target: "system", rate: 3),
        .init(
            "database.vacuum", .system, "VACUUM (ANALYZE)", .databaseAdmin, .high,
            fields: [FieldSpec("table", .choice(["all"] + tables), default: .string("all"))], target: "table"),
        .init("database.reindex", .system, "REINDEX CONCURRENTLY", .databaseAdmin, .high, fields: [FieldSpec("table", .choice(tables))]),
        .init(
            "database.cancel_query", .system, "Cancel query", .databaseAdmin, .high, destructive: true,
            fields: [FieldSpec("pid", .int(min: 1, max: Int(Int32.max)))]),
        .init(
            "database.terminate_backend", .system, "Terminate backend", .databaseAdmin, .critical, destructive: true,
            fields: [FieldSpec("pid", .int(min: 1, max: Int(Int32.max)))]),
        .init(
            "database.kill_idle", .system, "Kill idle-in-transaction sessions", .databaseAdmin, .high, destructive: true,
            fields: [FieldSpec("minutes", .int(min: 1, max: 1_440), default: .int(10))], target: "system"),
        .init(
            "database.purge_history", .system, "Purge finished jobs", .databaseAdmin, .critical, destructive: true, fields: [days], target: "system"),
        .init("database.migrate", .system, "Apply pending migrations", .databaseAdmin, .critical, target: "system")
    ]

    // System Logs (10)
    static let logs: [ActionSpec] = [
        .init(
            "logs.export", .logs, "Export log lines", .logExport,
            fields: [
                FieldSpec("format", .choice(["jsonl", "csv"]), default: .string("jsonl")),
                FieldSpec("level", .choice(logLevels), required: false, help: "this level and above"),
                FieldSpec("source", .name, required: false), FieldSpec("search", .text(maxLength: 200), required: false),
                FieldSpec("limit", .int(min: 1, max: 1_000_000), default: .int(10_000))
            ],
            target: "format", service: .filesystem, key: "x"),
        .init(
            "logs.set_level", .logs, "Set service log level", .logManage,
            fields: [FieldSpec("service", .name), FieldSpec("level", .choice(logLevels))]),
        .init("logs.archive", .logs, "Archive old log lines", .logManage, .high, destructive: true, fields: [days], service: .filesystem),
        .init("logs.purge", .logs, "Purge old log lines", .logManage, .high, destructive: true, fields: [days]),
        .init("logs.mute_source", .logs, "Mute log source", .logManage, fields: [source], key: "m"),
        .init("logs.unmute_source", .logs, "Unmute log source", .logManage, fields: [source], key: "M"),
        .init(
            "logs.ack_errors", .logs, "Acknowledge error lines", .logManage,
            fields: [FieldSpec("source", .name, required: false, help: "only this source")], target: "source", key: "a"),
        .init(
            "logs.alert_rule_add", .logs, "Add log alert rule", .logManage,
            fields: [
                FieldSpec("pattern", .text(maxLength: 200), help: "regular expression"),
                FieldSpec("level", .choice(logLevels), default: .string("error")),
                FieldSpec("severity", .choice(["info", "warning", "error", "critical"]), default: .string("warning"))
            ], target: "pattern"),
        .init(
            "logs.alert_rule_remove", .logs, "Remove log alert rule", .logManage, destructive: true,
            fields: [FieldSpec("id", .int(min: 1, max: Int.max))]),
        .init(
            "logs.bookmark", .logs, "Bookmark log line", .logManage,
            fields: [FieldSpec("id", .int(min: 1, max: Int.max), help: "log line id"), FieldSpec("note", .text(maxLength: 500))], key: "B")
    ]

    // Configuration (8)
    static let config: [ActionSpec] = [
        .init(
            "config.set", .config, "Set configuration value", .configUpdate,
            fields: [configKey, FieldSpec("value", .text(maxLength: 1_000)), FieldSpec("reason", .text(maxLength: 200), required: false)], key: "e"),
        .init("config.reset", .config, "Reset to default", .configUpdate, destructive: true, fields: [configKey], key: "z"),
        .init(
            "config.rollback", .config, "Roll back to version", .configUpdate, destructive: true,
            fields: [configKey, FieldSpec("version", .int(min: 1, max: Int(Int32.max)))], key: "b"),
        .init(
            "config.import", .config, "Import configuration file", .configUpdate, .high, fields: [FieldSpec("file", .path)], target: "file",
            service: .filesystem),
        .init(
            "config.export", .config, "Export configuration", .configUpdate,
            fields: [FieldSpec("format", .choice(["json"]), default: .string("json"))],
            target: "system", service: .filesystem, key: "x"),
        .init("config.validate", .config, "Validate configuration file", .configUpdate, fields: [FieldSpec("file", .path)], service: .filesystem),
        .init(
            "config.reload", .config, "Tell services to reload", .configUpdate,
            fields: [FieldSpec("service", .name, required: false)], target: "service", service: .redis),
        .init(
            "config.lock", .config, "Freeze or unfreeze changes", .configUpdate, .high,
            fields: [FieldSpec("locked", .bool), FieldSpec("key", .name, required: false, help: "one key; all when absent")], target: "key", key: "F")
    ]

    // Analytics (4)
    static let window = FieldSpec("window", .int(min: 1, max: 1_440), default: .int(60), help: "minutes")
    static let analytics: [ActionSpec] = [
        .init(
            "analytics.export_csv", .analytics, "Export series as CSV", .analyticsView, fields: [window], target: "window", service: .filesystem,
            key: "x"),
        .init(
            "analytics.export_json", .analytics, "Export series as JSON", .analyticsView, fields: [window], target: "window", service: .filesystem,
            key: "X"),
        .init("analytics.report", .analytics, "Write a report", .analyticsView, fields: [window], target: "window", service: .filesystem, key: "r"),
        .init("analytics.reset_counters", .analytics, "Reset counters", .admin, .high, destructive: true, target: "system")
    ]

    private static let index: [String: ActionSpec] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    public static func spec(_ name: String) -> ActionSpec? { index[name] }
}
