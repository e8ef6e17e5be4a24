import AgentOSCore
import Foundation

/// The actions the live executor runs on its own stores (PostgreSQL rows, Redis keys, files), run
/// on the embedded ones: the simulator's logs, configuration and stats, the console pipeline's
/// breakers, rate limits and idempotency keys (`EmbeddedRuntime`), the world's console sessions,
/// and files under the data directory in the live formats.
extension EmbeddedActionExecutor {
    static let storeHandlers: [ActionName: Handler] = [
        .systemBackup: { c throws(ActionFailure) in
            let root = try c.runtime().dataDirectory
            let (state, config) = c.world.read { sim in (sim.snapshot(generation: 0), configObject(sim)) }
            return try c.io { () throws -> ActionResult in
                let dir = try ActionFiles.directory(root, "io/backups/\(ActionFiles.stamp())")
                let files = [
                    try written(dir.appendingPathComponent("state.json"), try AgentJSON.encoder().encode(state)),
                    try written(dir.appendingPathComponent("config.json"), Data(config.utf8))
                ]
                let manifest = try ActionFiles.manifest(dir, files, by: c.call.user)
                return ActionResult(
                    "backup written to \(dir.path) (\(files.count) files, manifest with SHA-256 sums)", affected: files.count,
                    details: ["path": .string(dir.path), "manifest": .string(manifest.path)])
            }
        },
        .systemReset: { c throws(ActionFailure) in
            let runtime = try c.runtime()
            var counts: [String: Int] = [:]
            counts["cache"] = try c.io { try c.world.cache.get() } != nil ? 1 : 0
            try c.io { try c.world.dataManager.invalidate() }
            counts["rate_limits"] = runtime.rateLimits.removeAll()
            counts["breakers"] = runtime.breakers.removeAll()
            counts["idempotency"] = runtime.idempotency.removeAll()
            // Every embedded session is a console of this process, alive while it runs (D60): none is stale.
            counts["stale_sessions"] = 0
            return ActionResult(
                "runtime state reset: " + counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: ", "),
                affected: counts.values.reduce(0, +), details: counts.mapValues { .int($0) })
        },
        .systemHealthCheck: { c throws(ActionFailure) in try c.healthCheck() },
        .systemBroadcast: { c throws(ActionFailure) in
            let message = try c.text("message")
            let ttl = c.p.int("ttl") ?? 600
            let level = AlertSeverity(rawValue: c.p.string("level") ?? "info") ?? .info
            try c.world.update { sim throws(ActionFailure) in
                ((), [.broadcast(sim.setBroadcast(message, level: level, ttl: ttl, by: c.call.user))])
            }
            return ActionResult("banner sent to every console for \(ttl) s")
        },
        .systemBreakerReset: { c throws(ActionFailure) in
            let service = try c.text("service")
            try c.io { try c.runtime().breakers.force(service, open: false, nowMillis: nil) }
            return ActionResult("\(service) circuit breaker closed")
        },
        .systemBreakerTrip: { c throws(ActionFailure) in
            let service = try c.text("service")
            try c.io { try c.runtime().breakers.force(service, open: true, nowMillis: nil) }
            return ActionResult("\(service) circuit breaker opened: its actions are refused for 30 s")
        },
        .systemRateLimitReset: { c throws(ActionFailure) in
            let who = try c.text("user")
            let n = try c.io { try c.runtime().rateLimits.reset(user: who) }
            return ActionResult("rate-limit counters of \(who) cleared (\(n) key(s))", affected: n)
        },
        .systemSessionTerminate: { c throws(ActionFailure) in
            let id = try c.text("session")
            guard c.world.endSession(c.call.sessionKick(id)) else { throw .notFound("console session \(id)") }
            return ActionResult("console session \(id) ended")
        },
        .systemIOCleanup: { c throws(ActionFailure) in
            let dir = try c.runtime().dataDirectory.appendingPathComponent("io/output")
            let days = try c.number("days")
            return try c.io { () throws -> ActionResult in
                let files = try ActionFiles.files(under: dir, olderThanDays: days)
                try c.p.withinConfirmed(files.count)
                return ActionFiles.removed(files, bytes: try ActionFiles.remove(files))
            }
        },
        .logsExport: { c throws(ActionFailure) in
            let format = c.p.string("format") ?? "jsonl"
            let levels = Set(LogRecord.levels(atLeast: c.p.string("level")))
            let source = c.p.string("source")
            let search = c.p.string("search")?.lowercased()
            let limit = c.p.int("limit") ?? 10_000
            let lines = c.world.read { sim in
                sim.logs.reversed().lazy.filter { l in
                    levels.contains(l.level.rawValue) && (source == nil || l.source == source)
                        && (search == nil || l.message.lowercased().contains(search!))
                }.prefix(limit).map { LogRecord($0, acked: sim.isAcked($0)) }
            }
            let body = format == "csv" ? LogRecord.csv(lines) : LogRecord.jsonl(lines, sanitized: true)
            let dir = try c.runtime().dataDirectory
            let url = try c.io {
                try ActionFiles.create(in: ActionFiles.directory(dir, "io/exports"), "logs", ext: format == "csv" ? "csv" : "jsonl", Data(body.utf8))
            }
            return ActionResult(
                "exported \(lines.count) log line(s) to \(url.path)", affected: lines.count,
                details: ["path": .string(url.path), "format": .string(format)])
        },
        .logsArchive: { c throws(ActionFailure) in
            let days = try c.number("days")
            let dir = try c.runtime().dataDirectory
            // Written before the lines leave the store, under its lock: a failed write removes nothing.
            return try c.world.update { sim throws(ActionFailure) in
                let cutoff = sim.now.addingTimeInterval(-Double(days) * 86_400)
                let lines = sim.logs(before: cutoff).map { LogRecord($0, acked: sim.isAcked($0)) }
                try c.p.withinConfirmed(lines.count)
                let url = try c.io { () throws -> URL in
                    let plain = try ActionFiles.create(
                        in: ActionFiles.directory(dir, "io/archive"), "logs", ext: "jsonl", Data(LogRecord.jsonl(lines, sanitized: false).utf8),
                        keepFree: ".gz")
                    return try ActionFiles.gzip(plain)
                }
                let n = sim.removeLogs(before: cutoff).count
                return (
                    ActionResult(
                        "archived \(n) log line(s) older than \(days) day(s) to \(url.path)", affected: n, details: ["path": .string(url.path)]),
                    []
                )
            }
        },
        .logsPurge: { c throws(ActionFailure) in
            let days = try c.number("days")
            return try c.world.update { sim throws(ActionFailure) in
                let cutoff = sim.now.addingTimeInterval(-Double(days) * 86_400)
                try c.p.withinConfirmed(sim.logs(before: cutoff).count)
                let n = sim.removeLogs(before: cutoff).count
                return (ActionResult("purged \(n) log line(s) older than \(days) day(s)", affected: n), [])
            }
        },
        .configRollback: { c throws(ActionFailure) in
            let key = try c.text("key")
            let version = try c.number("version")
            let entry = try c.configEntry(key)
            guard let change = c.world.read({ $0.configHistory[key]?.first { $0.version == version } }) else {
                throw .notFound("version \(version) of \(key) in the configuration history")
            }
            let new: ConfigValue
            do throws(ConfigProblem) {
                let stored = (try? ConfigCheck.decode(change.newValue)) ?? .string(change.newValue)
                new = try ConfigCheck.coerce(stored, entry.type, ConfigCheck.Rules(entry.constraints))
            } catch {
                throw .conflict("version \(version) of \(key) is not valid today: \(error.why)")
            }
            guard c.current(entry) != new else { throw .conflict("\(key) already has the value of version \(version) (\(ConfigCheck.show(new)))") }
            return try c.changeConfig(entry, to: new, note: " (rolled back to version \(version))")
        },
        .configImport: { c throws(ActionFailure) in
            let (file, plan) = try c.configPlan()
            let changes = plan.filter(\.changed)
            let now = c.world.read(\.now)
            // One change under one lock: the owner takes all of them or, refusing one (a lock), none.
            try c.world.update { sim throws(ActionFailure) in
                var copy = sim
                var events: [AgentEvent] = []
                for ch in changes {
                    var e = ch.row
                    e.value = ch.new
                    e.version += 1
                    e.updatedAt = now
                    e.updatedBy = c.call.user
                    switch copy.apply(.setConfig(e)) {
                    case .success(let more): events += more
                    case .failure(let error): throw .conflict(error.description)
                    }
                }
                sim = copy
                return ((), events)
            }
            return ConfigFile.imported(file, entries: plan.count, changed: changes.count)
        },
        .configExport: { c throws(ActionFailure) in
            let entries = c.world.read { $0.config_.values.sorted { $0.key < $1.key } }
            let body = ConfigFile.export(entries.map { ($0.key, $0.type, ConfigCheck.json($0.value), ConfigCheck.json($0.defaultValue), $0.version) })
            let dir = try c.runtime().dataDirectory
            let url = try c.io { try ActionFiles.create(in: ActionFiles.directory(dir, "io/exports"), "config", ext: "json", Data(body.utf8)) }
            return ConfigFile.exported(to: url, entries: entries.count)
        },
        .configValidate: { c throws(ActionFailure) in
            let (file, plan) = try c.configPlan()
            let changing = plan.filter(\.changed)
            return ConfigFile.validated(file, entries: plan.count, changing: changing.count, locked: changing.filter(\.row.locked).map(\.row.key))
        },
        .configLock: { c throws(ActionFailure) in
            guard let locked = c.p.bool("locked") else { throw .invalid(field: "locked", "required") }
            guard let key = c.p.string("key") else {
                try c.run(.lockConfig(nil, locked: locked))
                return ActionResult(locked ? "configuration frozen: changes are refused until it is unfrozen" : "configuration unfrozen")
            }
            try c.run(.lockConfig(key, locked: locked))
            return ActionResult("config key \(key) \(locked ? "locked" : "unlocked")")
        },
        .analyticsExportCSV: { c throws(ActionFailure) in
            let window = c.p.int("window") ?? 60
            let series = c.world.read { statsSeries($0, window: window) }
            return try c.analyticsFile(StatsRow.csv(series), ext: "csv", rows: series.count, window: window)
        },
        .analyticsExportJSON: { c throws(ActionFailure) in
            let window = c.p.int("window") ?? 60
            let series = c.world.read { statsSeries($0, window: window) }
            return try c.analyticsFile(StatsRow.json(series, window: window), ext: "json", rows: series.count, window: window)
        },
        .analyticsReport: { c throws(ActionFailure) in
            let window = c.p.int("window") ?? 60
            let (series, errors) = c.world.read { sim in (statsSeries(sim, window: window), failedByClass(sim, window: window)) }
            let body = StatsRow.report(series, errors: errors, window: window, by: c.call.user)
            let dir = try c.runtime().dataDirectory
            let url = try c.io { try ActionFiles.create(in: ActionFiles.directory(dir, "io/reports"), "report", ext: "md", Data(body.utf8)) }
            return ActionResult("wrote the report of the last \(window) minute(s) to \(url.path)", affected: 1, details: ["path": .string(url.path)])
        }
    ]

    /// Creates exactly `url` with `data` (never over an existing file).
    static func written(_ url: URL, _ data: Data) throws -> URL {
        guard try ActionFiles.write(url, data) else { throw ActionFailure.conflict("\(url.path) already exists") }
        return url
    }

    /// The configuration as key → value, like the live backup's `config.json`.
    static func configObject(_ sim: FleetSimulator) -> String {
        "{"
            + sim.config_.values.sorted { $0.key < $1.key }.map { "\(CanonicalJSON.string($0.key)): \(ConfigCheck.json($0.value))" }
            .joined(separator: ", ") + "}"
    }

    /// The per-minute stats of the last `window` minutes, by minute and stage (`stats_minutely` live).
    static func statsSeries(_ sim: FleetSimulator, window: Int) -> [StatsRow] {
        let from = sim.now.addingTimeInterval(-Double(window) * 60)
        return sim.stats.filter { $0.key > from }.flatMap { minute, stages in
            stages.map { stage, s in
                let sorted = s.durationsMs.sorted()
                return StatsRow(
                    minute: minute, stage: stage, completed: s.completed, failed: s.failed, retried: s.retried,
                    p50: sorted.isEmpty ? nil : FleetSimulator.percentile(sorted, 0.5),
                    p95: sorted.isEmpty ? nil : FleetSimulator.percentile(sorted, 0.95))
            }
        }.sorted { ($0.minute, $0.stage) < ($1.minute, $1.stage) }
    }

    /// The ten commonest error classes of the jobs that failed in the window.
    static func failedByClass(_ sim: FleetSimulator, window: Int) -> [(name: String, count: Int)] {
        let from = sim.now.addingTimeInterval(-Double(window) * 60)
        var counts: [String: Int] = [:]
        for job in sim.jobs.values where job.status == .failed && (job.finishedAt ?? job.updatedAt) > from {
            counts[(job.errorClass ?? "").isEmpty ? "(unclassified)" : job.errorClass!, default: 0] += 1
        }
        return counts.map { (name: $0.key, count: $0.value) }.sorted { ($1.count, $0.name) < ($0.count, $1.name) }.prefix(10).map { $0 }
    }
}

extension EmbeddedCall {
    /// The pipeline's runtime state and data directory (the console attaches them to the world).
    func runtime() throws(ActionFailure) -> EmbeddedRuntime {
        guard let r = world.runtime else { throw .unavailable("\(call.request.action) needs the console's data directory and pipeline stores") }
        return r
    }

    /// Runs file and store work; its errors become failures (an `ActionFailure` stays what it is).
    func io<T>(_ body: () throws -> T) throws(ActionFailure) -> T {
        do { return try body() } catch let f as ActionFailure { throw f } catch { throw .failed(String(describing: error)) }
    }

    /// The entry's value as its type holds it.
    func current(_ entry: ConfigEntry) -> ConfigValue {
        (try? ConfigCheck.coerce(entry.value, entry.type, ConfigCheck.Rules(entry.constraints))) ?? entry.value
    }

    /// The payload's `file`, read and checked against the world's configuration.
    func configPlan() throws(ActionFailure) -> (String, [ConfigFile.Planned<ConfigEntry>]) {
        let dir = try runtime().dataDirectory
        let path = try text("file")
        let (file, items) = try io { try ConfigFile.read(path, dataDirectory: dir) }
        let entries = world.read { $0.config_ }
        let plan = try ConfigFile.plan(
            items, rows: entries,
            coerce: { v, e throws(ConfigProblem) in try ConfigCheck.coerce(v, e.type, ConfigCheck.Rules(e.constraints)) },
            holds: { e, new in current(e) == new })
        return (file, plan)
    }

    func analyticsFile(_ body: String, ext: String, rows: Int, window: Int) throws(ActionFailure) -> ActionResult {
        let dir = try runtime().dataDirectory
        let url = try io { try ActionFiles.create(in: ActionFiles.directory(dir, "io/exports"), "analytics", ext: ext, Data(body.utf8)) }
        return StatsRow.exported(to: url, rows: rows, window: window)
    }

    /// system.health_check on the embedded components: the snapshot cache, the audit trail, the
    /// workers' heartbeats and the data directory's disk; the result goes to the log (`health`).
    func healthCheck() throws(ActionFailure) -> ActionResult {
        var d: [String: PayloadValue] = [:]
        var problems: [String] = []
        func micros(_ start: UInt64) -> Int { Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000) }
        var t = DispatchTime.now().uptimeNanoseconds
        do {
            _ = try world.dataManager.snapshot()
            d["cache_us"] = .int(micros(t))
        } catch { problems.append("cache: \(error)") }
        if let audit = executor.audit {
            t = DispatchTime.now().uptimeNanoseconds
            do {
                _ = try audit.tail(1)
                d["audit_us"] = .int(micros(t))
            } catch { problems.append("audit: \(error)") }
        }
        let (up, stale, total) = world.read { sim in
            let live = sim.workers.values.filter { $0.info.status.isUp }
            return (live.count, live.filter { sim.now.timeIntervalSince($0.lastHeartbeat) > 30 }.count, sim.workers.count)
        }
        d["workers_up"] = .int(up)
        d["workers_stale"] = .int(stale)
        d["workers_total"] = .int(total)
        if stale > 0 { problems.append("\(stale) worker(s) with a stale heartbeat") }
        if up == 0 { problems.append("no worker up") }
        if let dir = world.runtime?.dataDirectory, let pct = ActionFiles.freePercent(dir) {
            d["disk_free_pct"] = .int(pct)
            if pct < 10 { problems.append("disk \(pct)% free") }
        }
        d["ok"] = .bool(problems.isEmpty)
        if !problems.isEmpty { d["problems"] = .string(problems.joined(separator: "; ")) }
        let summary =
            problems.isEmpty ? "healthy: cache, audit, \(up)/\(total) workers up, disk ok" : "unhealthy: " + problems.joined(separator: "; ")
        try world.update { sim throws(ActionFailure) in
            ((), sim.noteHealthCheck(summary, ok: problems.isEmpty).map { [.logAppended([$0])] } ?? [])
        }
        return ActionResult(summary, affected: d.count, details: d)
    }
}
