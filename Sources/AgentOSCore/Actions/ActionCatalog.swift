/// The 83 admin actions (`ActionName`) as data. Key bindings, the action menu, the help, the
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
        .init(.jobCancel, .jobs, "Cancel job", .jobCancel, destructive: true, fields: [jobID], key: "c"),
        .init(.jobKill, .jobs, "Kill running job", .jobCancel, .high, destructive: true, fields: [jobID], service: .workers, key: "x"),
        .init(.jobRetry, .jobs, "Retry job", .jobCancel, fields: [jobID], key: "r"),
        .init(.jobDelete, .jobs, "Delete job", .jobManage, .high, destructive: true, fields: [jobID], key: "D"),
        .init(
            .jobSetPriority, .jobs, "Set job priority", .jobManage,
            fields: [jobID, FieldSpec("priority", .int(min: 0, max: 9), help: "0 = highest")], key: "p"),
        .init(.jobMove, .jobs, "Move job to queue", .jobManage, fields: [jobID, FieldSpec("to", .name, help: "target queue")], key: "m"),
        .init(.queueClear, .jobs, "Clear queue", .queueClear, .critical, destructive: true, fields: [queue], rate: 10, bulk: true, key: "C"),
        .init(.queuePause, .jobs, "Pause queue", .queueManage, .high, fields: [queue], key: "P"),
        .init(.queueResume, .jobs, "Resume queue", .queueManage, fields: [queue], key: "u"),
        .init(
            .queueRetryFailed, .jobs, "Retry failed jobs of queue", .queueManage, .high,
            fields: [queue, FieldSpec("error_class", .name, required: false, help: "only this error class")], bulk: true, key: "F"),
        .init(.queuePurgeFailed, .jobs, "Purge failed jobs of queue", .queueManage, .high, destructive: true, fields: [queue], bulk: true),
        .init(
            .queueSetRateLimit, .jobs, "Set queue rate limit", .queueManage,
            fields: [queue, FieldSpec("limit", .int(min: 0, max: 1_000_000), help: "tasks/min, 0 = unlimited")], key: "L")
    ]

    // Agents & Workers (15)
    static let workers: [ActionSpec] = [
        .init(
            .workerRestart, .workers, "Restart worker", .workerRestart, .high, destructive: true, fields: [worker], service: .workers, rate: 30,
            key: "r"),
        .init(
            .workerShutdown, .workers, "Shut down worker (warm)", .workerRestart, .high, destructive: true, fields: [worker], service: .workers,
            key: "X"),
        .init(.workerStart, .workers, "Start worker", .workerManage, fields: [worker], service: .workers, key: "t"),
        .init(.workerPause, .workers, "Pause worker (stop consuming)", .workerManage, fields: [worker], service: .workers, key: "p"),
        .init(.workerResume, .workers, "Resume worker", .workerManage, fields: [worker], service: .workers, key: "u"),
        .init(.workerDrain, .workers, "Drain worker", .workerManage, .high, destructive: true, fields: [worker], service: .workers, key: "d"),
        .init(
            .workerScale, .workers, "Set worker concurrency", .workerRestart,
            fields: [worker, FieldSpec("concurrency", .int(min: 1, max: 64))], service: .workers, key: "="),
        .init(
            .workerPoolGrow, .workers, "Grow worker pool", .workerManage,
            fields: [worker, FieldSpec("n", .int(min: 1, max: 32), default: .int(1))], service: .workers, key: "+"),
        .init(
            .workerPoolShrink, .workers, "Shrink worker pool", .workerManage,
            fields: [worker, FieldSpec("n", .int(min: 1, max: 32), default: .int(1))], service: .workers, key: "-"),
        .init(
            .workerAutoscale, .workers, "Set worker autoscale", .workerManage,
            fields: [worker, FieldSpec("min", .int(min: 0, max: 64)), FieldSpec("max", .int(min: 1, max: 64))], service: .workers),
        .init(
            .workerRestartAll, .workers, "Restart all workers (rolling)", .workerRestart, .critical, destructive: true,
            fields: [FieldSpec("stage", .choice(stages), required: false, help: "only this stage")], target: "stage",
            service: .workers, rate: 5, bulk: true),
        .init(
            .workerRateLimit, .workers, "Set task rate limit", .workerManage,
            fields: [worker, FieldSpec("task", .name), FieldSpec("rate", .text(maxLength: 16), help: "e.g. 10/m, 2/s, 0 = none")], service: .workers),
        .init(
            .workerTimeLimit, .workers, "Set task time limits", .workerManage,
            fields: [worker, FieldSpec("task", .name), FieldSpec("soft", .int(min: 1, max: 86_400)), FieldSpec("hard", .int(min: 1, max: 86_400))],
            service: .workers),
        .init(.workerPing, .workers, "Ping worker", .workerManage, fields: [worker], service: .workers, key: "i"),
        .init(.workerForget, .workers, "Forget offline worker", .workerManage, destructive: true, fields: [worker], key: "D")
    ]

    // Managers (10)
    static let managers: [ActionSpec] = [
        .init(.managerStart, .managers, "Start manager", .managerControl, fields: [manager], key: "t"),
        .init(.managerStop, .managers, "Stop manager", .managerControl, .high, destructive: true, fields: [manager], key: "X"),
        .init(.managerPause, .managers, "Pause manager", .managerControl, fields: [manager], key: "p"),
        .init(.managerResume, .managers, "Resume manager", .managerControl, fields: [manager], key: "u"),
        .init(.managerRestart, .managers, "Restart manager", .managerControl, .high, destructive: true, fields: [manager], key: "r"),
        .init(.managerTrigger, .managers, "Run manager now", .managerControl, fields: [manager], key: "T"),
        .init(
            .managerSetSchedule, .managers, "Set manager schedule", .managerControl,
            fields: [manager, FieldSpec("schedule", .schedule, help: "cron (5 fields) or 30s/5m/1h")], key: "e"),
        .init(
            .managerSetConcurrency, .managers, "Set manager concurrency", .managerControl,
            fields: [manager, FieldSpec("concurrency", .int(min: 1, max: 32))], key: "="),
        .init(.managerEnable, .managers, "Enable manager", .managerControl, fields: [manager], key: "E"),
        .init(.managerDisable, .managers, "Disable manager", .managerControl, .high, destructive: true, fields: [manager], key: "d")
    ]

    // System Controls (16)
    static let system: [ActionSpec] = [
        .init(.systemBackup, .system, "Back up everything", .systemBackup, .critical, target: "system", service: .filesystem, rate: 2),
        .init(.systemReset, .system, "Reset runtime state", .admin, .critical, destructive: true, target: "system", service: .redis, rate: 1),
        .init(
            .systemMaintenanceOn, .system, "Maintenance mode on", .systemOperate, .critical,
            fields: [FieldSpec("message", .text(maxLength: 200), required: false)], target: "system", service: .redis, key: "M"),
        .init(.systemMaintenanceOff, .system, "Maintenance mode off", .systemOperate, .high, target: "system", service: .redis, key: "N"),
        .init(.systemCacheRefresh, .system, "Refresh the SSOT cache", .systemOperate, target: "system", service: .redis, key: "c"),
        .init(.systemCacheInvalidate, .system, "Invalidate admin cache", .systemOperate, target: "system", service: .redis),
        .init(.systemHealthCheck, .system, "Run health check", .systemOperate, target: "system", key: "h"),
        .init(
            .systemBroadcast, .system, "Broadcast banner", .systemOperate,
            fields: [
                FieldSpec("message", .text(maxLength: 200)), FieldSpec("level", .choice(["info", "warning", "critical"]), default: .string("info")),
                FieldSpec("ttl", .int(min: 10, max: 86_400), default: .int(600), help: "seconds")
            ], target: "system", service: .redis, key: "b"),
        .init(
            .systemAlertAck, .system, "Acknowledge alert", .systemOperate, fields: [FieldSpec("id", .int(min: 1, max: Int.max), help: "alert id")],
            key: "a"),
        .init(
            .systemAlertSilence, .system, "Silence alert", .systemOperate, .high,
            fields: [
                FieldSpec("id", .int(min: 1, max: Int.max), help: "alert id"), FieldSpec("minutes", .int(min: 1, max: 10_080), default: .int(60))
            ]),
        .init(
            .systemBreakerReset, .system, "Close circuit breaker", .admin, .high, fields: [FieldSpec("service", .choice(services))],
            service: .redis),
        .init(
            .systemBreakerTrip, .system, "Open circuit breaker", .admin, .high, destructive: true,
            fields: [FieldSpec("service", .choice(services))], service: .redis),
        .init(.systemRateLimitReset, .system, "Reset a user's rate limits", .admin, .high, fields: [FieldSpec("user", .name)], service: .redis),
        .init(
            .systemSessionTerminate, .system, "End console session", .admin, .high, destructive: true, fields: [FieldSpec("session", .name)],
            service: .redis),
        .init(
            .systemIOCleanup, .system, "Delete old processed media", .systemOperate, .high, destructive: true, fields: [days], service: .filesystem
        ),
        .init(.systemAuditVerify, .system, "Verify the audit chain", .auditView, target: "system", key: "V")
    ]

    // System Controls: database (8)
    static let database: [ActionSpec] = [
        .init(.databaseBackup, .system, "Back up PostgreSQL", .databaseAdmin, .critical, target: "system", rate: 3),
        .init(
            .databaseVacuum, .system, "VACUUM (ANALYZE)", .databaseAdmin, .high,
            fields: [FieldSpec("table", .choice(["all"] + tables), default: .string("all"))], target: "table"),
        .init(.databaseReindex, .system, "REINDEX CONCURRENTLY", .databaseAdmin, .high, fields: [FieldSpec("table", .choice(tables))]),
        .init(
            .databaseCancelQuery, .system, "Cancel query", .databaseAdmin, .high, destructive: true,
            fields: [FieldSpec("pid", .int(min: 1, max: Int(Int32.max)))]),
        .init(
            .databaseTerminateBackend, .system, "Terminate backend", .databaseAdmin, .critical, destructive: true,
            fields: [FieldSpec("pid", .int(min: 1, max: Int(Int32.max)))]),
        .init(
            .databaseKillIdle, .system, "Kill idle-in-transaction sessions", .databaseAdmin, .high, destructive: true,
            fields: [FieldSpec("minutes", .int(min: 1, max: 1_440), default: .int(10))], target: "system"),
        .init(
            .databasePurgeHistory, .system, "Purge finished jobs", .databaseAdmin, .critical, destructive: true, fields: [days], target: "system"),
        .init(.databaseMigrate, .system, "Apply pending migrations", .databaseAdmin, .critical, target: "system")
    ]

    // System Logs (10)
    static let logs: [ActionSpec] = [
        .init(
            .logsExport, .logs, "Export log lines", .logExport,
            fields: [
                FieldSpec("format", .choice(["jsonl", "csv"]), default: .string("jsonl")),
                FieldSpec("level", .choice(logLevels), required: false, help: "this level and above"),
                FieldSpec("source", .name, required: false), FieldSpec("search", .text(maxLength: 200), required: false),
                FieldSpec("limit", .int(min: 1, max: 1_000_000), default: .int(10_000))
            ],
            target: "format", service: .filesystem, key: "x"),
        .init(
            .logsSetLevel, .logs, "Set service log level", .logManage,
            fields: [FieldSpec("service", .name), FieldSpec("level", .choice(logLevels))]),
        .init(.logsArchive, .logs, "Archive old log lines", .logManage, .high, destructive: true, fields: [days], service: .filesystem),
        .init(.logsPurge, .logs, "Purge old log lines", .logManage, .high, destructive: true, fields: [days]),
        .init(.logsMuteSource, .logs, "Mute log source", .logManage, fields: [source], key: "m"),
        .init(.logsUnmuteSource, .logs, "Unmute log source", .logManage, fields: [source], key: "M"),
        .init(
            .logsAckErrors, .logs, "Acknowledge error lines", .logManage,
            fields: [FieldSpec("source", .name, required: false, help: "only this source")], target: "source", key: "a"),
        .init(
            .logsAlertRuleAdd, .logs, "Add log alert rule", .logManage,
            fields: [
                FieldSpec("pattern", .text(maxLength: 200), help: "regular expression"),
                FieldSpec("level", .choice(logLevels), default: .string("error")),
                FieldSpec("severity", .choice(["info", "warning", "error", "critical"]), default: .string("warning"))
            ], target: "pattern"),
        .init(
            .logsAlertRuleRemove, .logs, "Remove log alert rule", .logManage, destructive: true,
            fields: [FieldSpec("id", .int(min: 1, max: Int.max))]),
        .init(
            .logsBookmark, .logs, "Bookmark log line", .logManage,
            fields: [FieldSpec("id", .int(min: 1, max: Int.max), help: "log line id"), FieldSpec("note", .text(maxLength: 500))], key: "B")
    ]

    // Configuration (8)
    static let config: [ActionSpec] = [
        .init(
            .configSet, .config, "Set configuration value", .configUpdate,
            fields: [configKey, FieldSpec("value", .text(maxLength: 1_000)), FieldSpec("reason", .text(maxLength: 200), required: false)], key: "e"),
        .init(.configReset, .config, "Reset to default", .configUpdate, destructive: true, fields: [configKey], key: "z"),
        .init(
            .configRollback, .config, "Roll back to version", .configUpdate, destructive: true,
            fields: [configKey, FieldSpec("version", .int(min: 1, max: Int(Int32.max)))], key: "b"),
        .init(
            .configImport, .config, "Import configuration file", .configUpdate, .high, fields: [FieldSpec("file", .path)], target: "file",
            service: .filesystem),
        .init(
            .configExport, .config, "Export configuration", .configUpdate,
            fields: [FieldSpec("format", .choice(["json"]), default: .string("json"))],
            target: "system", service: .filesystem, key: "x"),
        .init(.configValidate, .config, "Validate configuration file", .configUpdate, fields: [FieldSpec("file", .path)], service: .filesystem),
        .init(
            .configReload, .config, "Tell services to reload", .configUpdate,
            fields: [FieldSpec("service", .name, required: false)], target: "service", service: .redis),
        .init(
            .configLock, .config, "Freeze or unfreeze changes", .configUpdate, .high,
            fields: [FieldSpec("locked", .bool), FieldSpec("key", .name, required: false, help: "one key; all when absent")], target: "key", key: "F")
    ]

    // Analytics (4)
    static let window = FieldSpec("window", .int(min: 1, max: 1_440), default: .int(60), help: "minutes")
    static let analytics: [ActionSpec] = [
        .init(
            .analyticsExportCSV, .analytics, "Export series as CSV", .analyticsView, fields: [window], target: "window", service: .filesystem,
            key: "x"),
        .init(
            .analyticsExportJSON, .analytics, "Export series as JSON", .analyticsView, fields: [window], target: "window", service: .filesystem,
            key: "X"),
        .init(.analyticsReport, .analytics, "Write a report", .analyticsView, fields: [window], target: "window", service: .filesystem, key: "r"),
        .init(.analyticsResetCounters, .analytics, "Reset counters", .admin, .high, destructive: true, target: "system")
    ]

    private static let index: [ActionName: ActionSpec] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    /// The spec of a name from the wire (nil: no such action).
    public static func spec(_ name: String) -> ActionSpec? { ActionName(rawValue: name).flatMap { index[$0] } }

    /// Every `ActionName` has a spec (a test checks it).
    public static func spec(_ id: ActionName) -> ActionSpec {
        guard let spec = index[id] else { preconditionFailure("\(id.rawValue) is missing from ActionCatalog.all") }
        return spec
    }
}
