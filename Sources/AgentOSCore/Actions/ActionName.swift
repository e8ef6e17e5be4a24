/// The 83 admin actions by name: the only place a wire name ("job.cancel") is spelled. Requests
/// (CLI, JSON, the console), Redis and PostgreSQL rows carry the raw value; the pipeline decodes it
/// once (`init(wire:)`) and everything after it (catalog, policy, executors) works with the case.
public enum ActionName: String, CaseIterable, Sendable, Codable, Hashable {
    case jobCancel = "job.cancel"
    case jobKill = "job.kill"
    case jobRetry = "job.retry"
    case jobDelete = "job.delete"
    case jobSetPriority = "job.set_priority"
    case jobMove = "job.move"

    case queueClear = "queue.clear"
    case queuePause = "queue.pause"
    case queueResume = "queue.resume"
    case queueRetryFailed = "queue.retry_failed"
    case queuePurgeFailed = "queue.purge_failed"
    case queueSetRateLimit = "queue.set_rate_limit"

    case workerRestart = "worker.restart"
    case workerShutdown = "worker.shutdown"
    case workerStart = "worker.start"
    case workerPause = "worker.pause"
    case workerResume = "worker.resume"
    case workerDrain = "worker.drain"
    case workerScale = "worker.scale"
    case workerPoolGrow = "worker.pool_grow"
    case workerPoolShrink = "worker.pool_shrink"
    case workerAutoscale = "worker.autoscale"
    case workerRestartAll = "worker.restart_all"
    case workerRateLimit = "worker.rate_limit"
    case workerTimeLimit = "worker.time_limit"
    case workerPing = "worker.ping"
    case workerForget = "worker.forget"

    case managerStart = "manager.start"
    case managerStop = "manager.stop"
    case managerPause = "manager.pause"
    case managerResume = "manager.resume"
    case managerRestart = "manager.restart"
    case managerTrigger = "manager.trigger"
    case managerSetSchedule = "manager.set_schedule"
    case managerSetConcurrency = "manager.set_concurrency"
    case managerEnable = "manager.enable"
    case managerDisable = "manager.disable"

    case systemBackup = "system.backup"
    case systemReset = "system.reset"
    case systemMaintenanceOn = "system.maintenance_on"
    case systemMaintenanceOff = "system.maintenance_off"
    case systemCacheRefresh = "system.cache_refresh"
    case systemCacheInvalidate = "system.cache_invalidate"
    case systemHealthCheck = "system.health_check"
    case systemBroadcast = "system.broadcast"
    case systemAlertAck = "system.alert_ack"
    case systemAlertSilence = "system.alert_silence"
    case systemBreakerReset = "system.breaker_reset"
    case systemBreakerTrip = "system.breaker_trip"
    case systemRateLimitReset = "system.rate_limit_reset"
    case systemSessionTerminate = "system.session_terminate"
    case systemIOCleanup = "system.io_cleanup"
    case systemAuditVerify = "system.audit_verify"

    case databaseBackup = "database.backup"
    case databaseVacuum = "database.vacuum"
    case databaseReindex = "database.reindex"
    case databaseCancelQuery = "database.cancel_query"
    case databaseTerminateBackend = "database.terminate_backend"
    case databaseKillIdle = "database.kill_idle"
    case databasePurgeHistory = "database.purge_history"
    case databaseMigrate = "database.migrate"

    case logsExport = "logs.export"
    case logsSetLevel = "logs.set_level"
    case logsArchive = "logs.archive"
    case logsPurge = "logs.purge"
    case logsMuteSource = "logs.mute_source"
    case logsUnmuteSource = "logs.unmute_source"
    case logsAckErrors = "logs.ack_errors"
    case logsAlertRuleAdd = "logs.alert_rule_add"
    case logsAlertRuleRemove = "logs.alert_rule_remove"
    case logsBookmark = "logs.bookmark"

    case configSet = "config.set"
    case configReset = "config.reset"
    case configRollback = "config.rollback"
    case configImport = "config.import"
    case configExport = "config.export"
    case configValidate = "config.validate"
    case configReload = "config.reload"
    case configLock = "config.lock"

    case analyticsExportCSV = "analytics.export_csv"
    case analyticsExportJSON = "analytics.export_json"
    case analyticsReport = "analytics.report"
    case analyticsResetCounters = "analytics.reset_counters"

    /// Decodes a name from the wire; an unknown one is the request's fault (exit 65).
    public init(wire: String) throws(ActionFailure) {
        guard let name = ActionName(rawValue: wire) else { throw .unknownAction(wire) }
        self = name
    }

    /// What the action acts on: the part before the dot (`job`, `queue`, `worker`, …).
    public var subject: Substring { rawValue.prefix { $0 != "." } }
}

/// A command on `{ns}:control`, which the simulator and the AgentOS workers obey: an action's own
/// name, or one of the two notices no action is named after.
public enum ControlCommand: Hashable, Sendable {
    case action(ActionName)
    /// Maintenance mode on or off (`value` 1 or 0): system.maintenance_on and _off send it.
    case maintenance
    /// A configuration key has a new version: config.set, reset, rollback and import send it.
    case configChanged

    static let maintenanceName = "system.maintenance"
    static let configChangedName = "config.changed"

    public var wire: String {
        switch self {
        case .action(let name): return name.rawValue
        case .maintenance: return Self.maintenanceName
        case .configChanged: return Self.configChangedName
        }
    }

    /// Nil for a name that is no command.
    public init?(wire: String) {
        switch wire {
        case Self.maintenanceName: self = .maintenance
        case Self.configChangedName: self = .configChanged
        default:
            guard let name = ActionName(rawValue: wire) else { return nil }
            self = .action(name)
        }
    }
}
