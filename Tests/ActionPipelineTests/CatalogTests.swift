import AgentOSCore
import Testing

/// The catalog as ACTIONS.md lists it: names, views, permissions, and the keys of each view.
@Suite struct CatalogTests {
    /// Every action and its permission, copied from ACTIONS.md (independent of the catalog's code).
    static let documented: [String: String] = {
        var p: [String: String] = [
            "job.cancel": "JOB_CANCEL", "job.kill": "JOB_CANCEL", "job.retry": "JOB_CANCEL",
            "job.delete": "JOB_MANAGE", "job.set_priority": "JOB_MANAGE", "job.move": "JOB_MANAGE",
            "queue.clear": "QUEUE_CLEAR", "queue.pause": "QUEUE_MANAGE", "queue.resume": "QUEUE_MANAGE",
            "queue.retry_failed": "QUEUE_MANAGE", "queue.purge_failed": "QUEUE_MANAGE", "queue.set_rate_limit": "QUEUE_MANAGE",

            "worker.restart": "WORKER_RESTART", "worker.shutdown": "WORKER_RESTART", "worker.start": "WORKER_MANAGE",
            "worker.pause": "WORKER_MANAGE", "worker.resume": "WORKER_MANAGE", "worker.drain": "WORKER_MANAGE",
            "worker.scale": "WORKER_RESTART", "worker.pool_grow": "WORKER_MANAGE", "worker.pool_shrink": "WORKER_MANAGE",
            "worker.autoscale": "WORKER_MANAGE", "worker.restart_all": "WORKER_RESTART", "worker.rate_limit": "WORKER_MANAGE",
            "worker.time_limit": "WORKER_MANAGE", "worker.ping": "WORKER_MANAGE", "worker.forget": "WORKER_MANAGE",

            "system.backup": "SYSTEM_BACKUP", "system.reset": "ADMIN", "system.maintenance_on": "SYSTEM_OPERATE",
            "system.maintenance_off": "SYSTEM_OPERATE", "system.cache_refresh": "SYSTEM_OPERATE",
            "system.cache_invalidate": "SYSTEM_OPERATE", "system.health_check": "SYSTEM_OPERATE",
            "system.broadcast": "SYSTEM_OPERATE", "system.alert_ack": "SYSTEM_OPERATE", "system.alert_silence": "SYSTEM_OPERATE",
            "system.breaker_reset": "ADMIN", "system.breaker_trip": "ADMIN", "system.rate_limit_reset": "ADMIN",
            "system.session_terminate": "ADMIN", "system.io_cleanup": "SYSTEM_OPERATE", "system.audit_verify": "AUDIT_VIEW",

            "logs.export": "LOG_EXPORT",
            "analytics.export_csv": "ANALYTICS_VIEW", "analytics.export_json": "ANALYTICS_VIEW",
            "analytics.report": "ANALYTICS_VIEW", "analytics.reset_counters": "ADMIN"
        ]
        for a in ["start", "stop", "pause", "resume", "restart", "trigger", "set_schedule", "set_concurrency", "enable", "disable"] {
            p["manager.\(a)"] = "MANAGER_CONTROL"
        }
        for a in ["backup", "vacuum", "reindex", "cancel_query", "terminate_backend", "kill_idle", "purge_history", "migrate"] {
            p["database.\(a)"] = "DATABASE_ADMIN"
        }
        for a in ["set_level", "archive", "purge", "mute_source", "unmute_source", "ack_errors", "alert_rule_add", "alert_rule_remove", "bookmark"] {
            p["logs.\(a)"] = "LOG_MANAGE"
        }
        for a in ["set", "reset", "rollback", "import", "export", "validate", "reload", "lock"] {
            p["config.\(a)"] = "CONFIG_UPDATE"
        }
        return p
    }()

    @Test func exactly83UniqueNames() {
        let names = ActionCatalog.all.map(\.name)
        #expect(names.count == 83)
        #expect(Set(names).count == 83)
        #expect(Self.documented.count == 83)
        #expect(Set(names) == Set(Self.documented.keys))
        for name in names { #expect(ActionCatalog.spec(name)?.name == name) }
    }

    @Test func everyNameHasExactlyOneSpec() throws {
        // In the same order: a case without a spec (or two specs for one) fails here, not in `spec(_:)`.
        try #require(ActionCatalog.all.map(\.id) == ActionName.allCases)
        for name in ActionName.allCases { #expect(ActionCatalog.spec(name).id == name) }
    }

    @Test func aWireNameDecodesOnceOrNamesTheUnknownAction() throws {
        #expect(try ActionName(wire: "job.cancel") == .jobCancel)
        #expect(throws: ActionFailure.unknownAction("job.cancle")) { try ActionName(wire: "job.cancle") }
        #expect(ActionFailure.unknownAction("job.cancle").description == "unknown action 'job.cancle'")
        #expect(ActionCatalog.spec("job.cancle") == nil)
    }

    @Test func countsPerView() {
        let counts = Dictionary(grouping: ActionCatalog.all, by: \.view).mapValues(\.count)
        let expected: [ActionView: Int] = [.jobs: 12, .workers: 15, .managers: 10, .system: 24, .logs: 10, .config: 8, .analytics: 4]
        #expect(counts == expected)
        #expect(ActionCatalog.all.filter { $0.name.hasPrefix("database.") }.count == 8)
        #expect(ActionCatalog.all.filter { $0.name.hasPrefix("system.") }.count == 16)
    }

    @Test func permissionsMatchTheDocument() {
        for spec in ActionCatalog.all {
            #expect(spec.permission.rawValue == Self.documented[spec.name], "\(spec.name)")
        }
    }

    @Test func keysAreUniqueWithinAViewAndPrefix() {
        var seen: [String: String] = [:]
        for spec in ActionCatalog.all {
            guard let key = spec.key else { continue }
            let prefix = String(spec.name.prefix { $0 != "." })
            let slot = "\(spec.view.rawValue)/\(prefix)/\(key)"
            #expect(seen[slot] == nil, "\(spec.name) and \(seen[slot] ?? "") share key '\(key)' in view \(spec.view.rawValue)")
            seen[slot] = spec.name
        }
        #expect(!seen.isEmpty)
    }

    @Test func seedRateLimits() {
        let expected: [String: Int] = [
            "job.cancel": 50, "job.kill": 50, "worker.restart": 30, "queue.clear": 10, "worker.restart_all": 5,
            "system.backup": 2, "system.reset": 1, "database.vacuum": 3, "database.migrate": 3,
            "queue.pause": 20, "queue.resume": 50, "system.maintenance_on": 5
        ]
        for (name, rate) in expected { #expect(ActionCatalog.spec(name)?.ratePerMinute == rate, "\(name)") }
    }
}
