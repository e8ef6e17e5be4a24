import AgentOSCore
import AgentOSCrypto
import Foundation

/// System Controls (16) and its database actions (8).
extension LiveActionExecutor {
    static let systemHandlers: [ActionName: Handler] = [
        .systemBackup: { c in
            let dir = try c.directory("io/backups/\(ActionFiles.stamp())")
            var files = [try c.pgDump(into: dir.appendingPathComponent("postgres.dump"))]
            files.append(try c.redisSnapshot(into: dir.appendingPathComponent("redis.jsonl")))
            let config = try c.db.query("SELECT coalesce(jsonb_object_agg(key, value ORDER BY key), '{}')::text AS c FROM config").rows[0].get(
                "c", as: String.self)
            files.append(try c.writeFile(dir.appendingPathComponent("config.json"), Data(config.utf8)))
            let manifest = try c.writeManifest(dir, files)
            return ActionResult(
                "backup written to \(dir.path) (\(files.count) files, manifest with SHA-256 sums)", affected: files.count,
                details: ["path": .string(dir.path), "manifest": .string(manifest.path)])
        },
        .systemReset: { c in
            var counts: [String: Int] = [:]
            counts["cache"] = Int(try c.redis(Namespace.DB.cache).send("DEL", c.ns.snapshotKey).int ?? 0)
            counts["rate_limits"] = try deleteMatching(c.redis(Namespace.DB.rateLimit), "\(c.ns.prefix):rl:*")
            counts["breakers"] = try deleteMatching(c.redis(Namespace.DB.breakers), "\(c.ns.prefix):cb:*")
            counts["idempotency"] = try deleteMatching(c.redis(Namespace.DB.idempotency), "\(c.ns.prefix):idem:*")
            counts["stale_sessions"] = try c.removeStaleSessions()
            let total = counts.values.reduce(0, +)
            return ActionResult(
                "runtime state reset: " + counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: ", "),
                affected: total, details: counts.mapValues { .int($0) })
        },
        .systemMaintenanceOn: { c in try c.setMaintenance(true) },
        .systemMaintenanceOff: { c in try c.setMaintenance(false) },
        .systemCacheRefresh: { c in
            let generation = try c.ex.refresh()
            return ActionResult("SSOT snapshot rebuilt and stored (generation \(generation))", details: ["generation": .int(generation)])
        },
        .systemCacheInvalidate: { c in
            let n = Int(try c.redis(Namespace.DB.cache).send("DEL", c.ns.snapshotKey, c.ns.snapshotStatsKey).int ?? 0)
            return ActionResult("admin cache dropped (\(n) key(s))", affected: n)
        },
        .systemHealthCheck: { c in
            let report = try c.healthProbe()
            return try c.commit { tx in
                try tx.query(
                    "INSERT INTO health_checks (ok, results, checked_by) VALUES ($1, $2, $3)",
                    [report.ok, PostgresValue.json(CanonicalJSON.object(report.details)), c.user])
                return ActionResult(report.summary, affected: report.details.count, details: report.details)
            }
        },
        .systemBroadcast: { c in
            let message = try c.string("message")
            let ttl = c.p.int("ttl") ?? 600
            let level = AlertSeverity(rawValue: c.p.string("level") ?? "info") ?? .info
            let b = Broadcast(message: message, level: level, expiresAt: Date().addingTimeInterval(Double(ttl)), by: c.user)
            try c.redis(Namespace.DB.cache).send("SET", c.ns.broadcastKey, Array(try AgentJSON.encoder().encode(b)), "EX", ttl)
            c.publish(.broadcast(b))
            return ActionResult("banner sent to every console for \(ttl) s")
        },
        .systemAlertAck: { c in
            let id = try c.int("id")
            let r = try c.commit { tx in
                guard
                    try tx.query(
                        "UPDATE alerts SET status = 'acked', acked_by = $2, acked_at = now() WHERE id = $1 AND status = 'active' RETURNING id",
                        [id, c.user]
                    ).rows.first != nil
                else {
                    try c.whyNot(tx, table: "alerts", key: "id", id: id, what: "alert", hint: "only active alerts can be acknowledged")
                }
                return ActionResult("alert \(id) acknowledged")
            }
            c.publish(.alertUpdated(AlertPatch(id: id, status: .acked, ackedBy: c.user)))
            return r
        },
        .systemAlertSilence: { c in
            let id = try c.int("id")
            let minutes = c.p.int("minutes") ?? 60
            let until = Date().addingTimeInterval(Double(minutes) * 60)
            let r = try c.commit { tx in
                guard
                    try tx.query(
                        """
                        UPDATE alerts SET status = 'silenced', silenced_until = $2, acked_by = coalesce(acked_by, $3)
                        WHERE id = $1 AND status IN ('active','acked') RETURNING id
                        """, [id, until, c.user]
                    ).rows.first != nil
                else {
                    try c.whyNot(tx, table: "alerts", key: "id", id: id, what: "alert", hint: "resolved alerts need no silence")
                }
                return ActionResult("alert \(id) silenced for \(minutes) min")
            }
            c.publish(.alertUpdated(AlertPatch(id: id, status: .silenced, silencedUntil: until)))
            return r
        },
        .systemBreakerReset: { c in
            let service = try c.string("service")
            try c.ex.breakers.force(service, open: false, nowMillis: nil)
            return ActionResult("\(service) circuit breaker closed")
        },
        .systemBreakerTrip: { c in
            let service = try c.string("service")
            try c.ex.breakers.force(service, open: true, nowMillis: nil)
            return ActionResult("\(service) circuit breaker opened: its actions are refused for 30 s")
        },
        .systemRateLimitReset: { c in
            let who = try c.string("user")
            let n = try c.ex.rateLimits.reset(user: who)
            return ActionResult("rate-limit counters of \(who) cleared (\(n) key(s))", affected: n)
        },
        .systemSessionTerminate: { c in
            let id = try c.string("session")
            let kick = c.call.sessionKick(id)
            guard try ConsoleSessionStore(redis: c.ex.redis, namespace: c.ns).terminate(kick) else {
                throw ActionFailure.notFound("console session \(id)")
            }
            c.publish(.sessionKick(kick))
            return ActionResult("console session \(id) ended")
        },
        .systemIOCleanup: { c in
            let files = try c.ex.mediaOlderThan(days: try c.int("days"))
            return ActionFiles.removed(files, bytes: try ActionFiles.remove(files))
        },
        .systemAuditVerify: { c in
            try AuditVerifier.verify(c.ex.audit).actionResult
        }
    ]

    static let databaseHandlers: [ActionName: Handler] = [
        .databaseBackup: { c in
            let dir = try c.directory("io/backups")
            let file = try c.pgDump(into: dir.appendingPathComponent("postgres-\(ActionFiles.stamp()).dump"))
            let manifest = try c.writeManifest(dir, [file], name: file.lastPathComponent + ".sha256.json")
            return ActionResult("pg_dump written to \(file.path)", details: ["path": .string(file.path), "manifest": .string(manifest.path)])
        },
        .databaseVacuum: { c in
            let table = c.p.string("table") ?? "all"
            // Table names come from the catalog's fixed list; VACUUM cannot run in a transaction.
            _ = try c.db.execute(table == "all" ? "VACUUM (ANALYZE)" : "VACUUM (ANALYZE) \(table)")
            return ActionResult(table == "all" ? "VACUUM (ANALYZE) of the database done" : "VACUUM (ANALYZE) \(table) done")
        },
        .databaseReindex: { c in
            let table = try c.string("table")
            _ = try c.db.execute("REINDEX TABLE CONCURRENTLY \(table)")
            return ActionResult("REINDEX TABLE CONCURRENTLY \(table) done")
        },
        .databaseCancelQuery: { c in try c.signalBackend("pg_cancel_backend", verb: "cancelled the query of") },
        .databaseTerminateBackend: { c in try c.signalBackend("pg_terminate_backend", verb: "terminated") },
        .databaseKillIdle: { c in
            let minutes = c.p.int("minutes") ?? 10
            // Materialised first: a qual like pg_terminate_backend(pid) in the same WHERE may run on every row.
            let pids = try c.db.query(
                """
                WITH victims AS MATERIALIZED (
                    SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()
                      AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND state_change < now() - make_interval(mins => $1::int))
                SELECT pid FROM victims WHERE pg_terminate_backend(pid)
                """, [minutes]
            ).rows.map { try $0.get("pid", as: Int.self) }
            return ActionResult(
                "terminated \(pids.count) idle-in-transaction session(s) older than \(minutes) min", affected: pids.count,
                details: ["pids": .string(pids.map(String.init).joined(separator: ","))])
        },
        .databasePurgeHistory: { c in
            let days = try c.int("days")
            var jobs = 0
            var events = 0
            while true {
                let n = try c.db.query(
                    """
                    DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN ('completed','failed','cancelled')
                      AND finished_at < now() - make_interval(days => $1::int) LIMIT 5000)
                    """, [days]
                ).affectedRows
                jobs += n
                if n < 5000 { break }
            }
            while true {
                let n = try c.db.query(
                    """
                    DELETE FROM job_events WHERE id IN (SELECT id FROM job_events WHERE ts < now() - make_interval(days => $1::int) LIMIT 5000)
                    """, [days]
                ).affectedRows
                events += n
                if n < 5000 { break }
            }
            return ActionResult(
                "purged \(jobs) finished job(s) and \(events) event(s) older than \(days) days", affected: jobs + events,
                details: ["jobs": .int(jobs), "events": .int(events)])
        },
        .databaseMigrate: { c in
            let applied = try c.db.withConnection { try Migrator().migrate($0) }
            return ActionResult(
                applied.isEmpty ? "schema is up to date" : "applied migration(s) " + applied.map { String($0.version) }.joined(separator: ", "),
                affected: applied.count)
        }
    ]
}

extension LiveActionContext {
    func writeFile(_ url: URL, _ data: Data) throws -> URL {
        guard try ActionFiles.write(url, data) else { throw ActionFailure.conflict("\(url.path) already exists") }
        return url
    }

    /// `manifest.json`: file name → SHA-256 and size.
    func writeManifest(_ dir: URL, _ files: [URL], name: String = "manifest.json") throws -> URL {
        try ActionFiles.manifest(dir, files, by: user, name: name)
    }

    /// `pg_dump -Fc` of the console's database (the string without `pooler=`/`read_from=`, which are
    /// the console's and which libpq refuses, and without its password, which goes into a passfile).
    func pgDump(into file: URL) throws -> URL {
        let tool = try ex.settings.pgDump ?? LiveActionContext.findTool("pg_dump")
        // The password never on pg_dump's argv (any local user reads /proc/PID/cmdline): a passfile.
        try PostgresChildConnection.with(ex.settings.postgresURL) { child in
            try LiveActionContext.run(
                tool, ["--format=custom", "--no-owner", "--file=\(file.path)", "--dbname=\(child.conninfo)"], environment: child.environment)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return file
    }

    /// Every key of the namespace in DB1–DB6 as `DUMP` payloads (restorable with `RESTORE`).
    func redisSnapshot(into file: URL) throws -> URL {
        var lines = ""
        for database in 1...6 {
            let r = redis(database)
            var cursor = "0"
            repeat {
                let reply = try r.send("SCAN", cursor, "MATCH", "\(ns.prefix):*", "COUNT", 500).array ?? []
                cursor = reply.first?.string ?? "0"
                for key in (reply.dropFirst().first?.array ?? []).compactMap(\.bytes) {
                    guard let dump = try r.send("DUMP", key).bytes else { continue }
                    let ttl = try r.send("PTTL", key).int ?? -1
                    lines +=
                        "{\"db\":\(database),\"key\":\"\(Data(key).base64EncodedString())\",\"pttl\":\(ttl),\"dump\":\"\(Data(dump).base64EncodedString())\"}\n"
                }
            } while cursor != "0"
        }
        return try writeFile(file, Data(lines.utf8))
    }

    /// Sessions whose console stopped renewing its row (the TTL removes them too; this is at once).
    func removeStaleSessions() throws -> Int {
        let store = ConsoleSessionStore(redis: ex.redis, namespace: ns)
        let cutoff = Date().addingTimeInterval(-Double(ConsoleSessionStore.ttlSeconds))
        return try store.list().filter { $0.lastSeen < cutoff }.reduce(0) { $0 + (try store.end($1.id) ? 1 : 0) }
    }

    /// Maintenance: the flag in DB1 (every console shows the banner), queues paused (the ones it
    /// paused are remembered and resumed after), managers told to stop dispatching.
    func setMaintenance(_ on: Bool) throws -> ActionResult {
        let flags = redis(Namespace.DB.cache)
        let current = try flags.send("EXISTS", ns.maintenanceKey).int ?? 0
        guard (current == 1) != on else { throw ActionFailure.conflict("maintenance mode is already \(on ? "on" : "off")") }
        let m = Maintenance(enabled: on, message: on ? (p.string("message") ?? "maintenance in progress") : nil, since: on ? Date() : nil, by: user)
        let r = try commit { tx in
            if on {
                let paused = try tx.query("UPDATE queues SET paused = true, updated_at = now() WHERE NOT paused RETURNING name").rows.map {
                    try $0.get("name", as: String.self)
                }
                try tx.query(
                    """
                    INSERT INTO console_settings (key, value, updated_by) VALUES ('maintenance.paused_queues', to_jsonb($1::text[]), $2)
                    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()
                    """, [PostgresValue.textArray(paused), user])
                return ActionResult("maintenance mode ON: \(paused.count) queue(s) paused, managers stop dispatching", affected: paused.count)
            }
            let resumed = try tx.query(
                """
                UPDATE queues SET paused = false, updated_at = now() WHERE name IN (
                    SELECT jsonb_array_elements_text(value) FROM console_settings WHERE key = 'maintenance.paused_queues') RETURNING name
                """
            ).rows.count
            try tx.query("DELETE FROM console_settings WHERE key = 'maintenance.paused_queues'")
            return ActionResult("maintenance mode off: \(resumed) queue(s) resumed", affected: resumed)
        }
        if on {
            try flags.send("SET", ns.maintenanceKey, Array(try AgentJSON.encoder().encode(m)))
        } else {
            try flags.send("DEL", ns.maintenanceKey)
        }
        try control(.maintenance, "system", value: on ? 1 : 0, extra: m.message.map { ["message": .string($0)] } ?? [:])
        publish(.maintenance(m))
        return r
    }

    struct Health {
        var ok: Bool
        var details: [String: PayloadValue]
        var summary: String
    }

    func healthProbe() throws -> Health {
        var d: [String: PayloadValue] = [:]
        var problems: [String] = []
        func ms(_ start: UInt64) -> Int { Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000) }
        var t = DispatchTime.now().uptimeNanoseconds
        do {
            _ = try ex.redis.send("PING")
            d["redis_us"] = .int(ms(t))
        } catch { problems.append("redis: \(error)") }
        t = DispatchTime.now().uptimeNanoseconds
        do {
            _ = try db.query("SELECT 1")
            d["postgres_us"] = .int(ms(t))
        } catch { problems.append("postgres: \(error)") }
        let w = try db.query(
            """
            SELECT count(*) FILTER (WHERE status IN ('online','paused','draining')) AS up,
                   count(*) FILTER (WHERE status IN ('online','paused','draining') AND last_heartbeat < now() - interval '30 seconds') AS stale,
                   count(*) AS total FROM workers
            """
        ).rows[0]
        let up: Int = try w.get("up")
        let stale: Int = try w.get("stale")
        let total: Int = try w.get("total")
        d["workers_up"] = .int(up)
        d["workers_stale"] = .int(stale)
        d["workers_total"] = .int(total)
        if stale > 0 { problems.append("\(stale) worker(s) with a stale heartbeat") }
        if let pct = ActionFiles.freePercent(ex.settings.dataDirectory) {
            d["disk_free_pct"] = .int(pct)
            if pct < 10 { problems.append("disk \(pct)% free") }
        }
        d["ok"] = .bool(problems.isEmpty)
        if !problems.isEmpty { d["problems"] = .string(problems.joined(separator: "; ")) }
        return Health(
            ok: problems.isEmpty, details: d,
            summary: problems.isEmpty
                ? "healthy: redis, postgres, \(up)/\(total) workers up, disk ok" : "unhealthy: " + problems.joined(separator: "; "))
    }

    func signalBackend(_ function: String, verb: String) throws -> ActionResult {
        let pid = try int("pid")
        guard
            let row = try db.query(
                """
                SELECT \(function)(pid) AS done, usename::text AS who FROM pg_stat_activity
                WHERE pid = $1 AND pid <> pg_backend_pid() AND datname = current_database() AND backend_type = 'client backend'
                """, [pid]
            ).rows.first
        else { throw ActionFailure.notFound("backend pid \(pid) (a client of this database other than the console's own)") }
        let done: Bool = try row.get("done")
        guard done else { throw ActionFailure.conflict("PostgreSQL refused to signal pid \(pid)") }
        return ActionResult("\(verb) backend \(pid)")
    }

    static func findTool(_ name: String) throws -> String {
        var candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/\(name)" }
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            candidates += versions.sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin/\(name)" }
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ActionFailure.unavailable("\(name) not found (install postgresql-client or set --pg-bin)")
        }
        return found
    }

    /// Runs a tool to completion; a non-zero exit is a failure with its stderr.
    static func run(_ tool: String, _ args: [String], environment: [String: String]? = nil) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        if let environment { p.environment = environment }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ActionFailure.failed(
                "\((tool as NSString).lastPathComponent) exited \(p.terminationStatus): \(TextSanitizer.clean(String(decoding: stderr.prefix(300), as: UTF8.self)))"
            )
        }
    }
}
