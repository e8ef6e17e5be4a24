import AgentOSAdapters
import AgentOSCore
import AgentOSCrypto
import Foundation
import Testing

@Suite("Actions: System Controls and database", .serialized)
struct SystemActionTests {
    @Test func backupWritesDumpRedisConfigAndAManifestThatMatches() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let report = fx.run("system.backup")
        try fx.expectSuccess(report)
        let dir = try fx.file(report)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))) as? [String: Any]
        let files = try #require(manifest?["files"] as? [String: [String: Any]])
        #expect(Set(files.keys) == ["postgres.dump", "redis.jsonl", "config.json"])
        for (name, entry) in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            #expect(entry["sha256"] as? String == Hex.encode(Digest.sha256(data)), "\(name) checksum")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/postgres.dump")).prefix(5) == Data("PGDMP".utf8))
    }

    @Test func resetClearsRuntimeStateButNoBusinessData() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let jobs = try fx.count("SELECT count(*) FROM jobs")
        try fx.expectSuccess(fx.run("queue.pause", ["queue": .string("video_cutter")])) // leaves a rate-limit window
        try fx.actions.breakers.force("redis", open: true, nowMillis: nil)
        try fx.cache.put(Data("{}".utf8), ttlSeconds: 30)
        #expect(try fx.redis(3).send("EXISTS", fx.ns.rateKey("rl:tester:queue.pause")).int == 1)
        try fx.expectSuccess(fx.run("system.reset"))
        #expect(try fx.redis(3).send("EXISTS", fx.ns.rateKey("rl:tester:queue.pause")).int == 0)
        #expect(try fx.redis(4).send("EXISTS", fx.ns.breakerKey("redis")).int == 0)
        #expect(try fx.cache.get() == nil)
        #expect(try fx.count("SELECT count(*) FROM jobs") == jobs)
    }

    @Test func maintenanceStopsTheFleetAndOffResumesOnlyTheQueuesItPaused() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("queue.pause", ["queue": .string("video_cutter")]))
        try fx.expectSuccess(fx.run("system.maintenance_on", ["message": .string("db upgrade")]))
        #expect(try fx.count("SELECT count(*) FROM queues WHERE NOT paused") == 0)
        let mark = try fx.eventMark()
        // The owner's scheduler and ingest create nothing and its workers take nothing: 8 ticks are 4 s (about 8 jobs otherwise).
        try fx.tick(8)
        #expect(fx.sim?.read { $0.maintenance.enabled } == true)
        #expect(try fx.count("SELECT count(*) FROM job_events WHERE id > $1 AND type IN ('created','started')", [mark]) == 0)
        #expect(try fx.count("SELECT count(*) FROM queues WHERE NOT paused") == 0, "the owner's writes of its queues keep the pauses")
        #expect(fx.sim?.read { sim in sim.queues.values.allSatisfy(\.paused) } == true)
        // The flag every console shows, as the owner wrote it again: the operator's words.
        let flag = try #require(try fx.redis(1).send("GET", fx.ns.maintenanceKey).bytes)
        let m = try AgentJSON.decoder().decode(Maintenance.self, from: Data(flag))
        #expect(m.enabled && m.message == "db upgrade" && m.by == "tester")
        try fx.expectSuccess(fx.run("system.maintenance_off"))
        #expect(try fx.count("SELECT count(*) FROM queues WHERE paused") == 1, "the queue paused before maintenance stays paused")
        let off = try fx.eventMark()
        try fx.tick(until: { try fx.count("SELECT count(*) FROM job_events WHERE id > $1 AND type = 'started'", [off]) > 0 }, "the fleet works again")
        #expect(try fx.redis(1).send("EXISTS", fx.ns.maintenanceKey).int == 0)
        #expect(try fx.scalar("SELECT string_agg(name, ',') FROM queues WHERE paused", as: String.self) == "video_cutter")
    }

    @Test func cacheRefreshStoresAndInvalidateDrops() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("system.cache_refresh"))
        let snapshot = try Snapshot.decode(try #require(try fx.cache.get()))
        #expect(snapshot.generation >= 1)
        try fx.expectSuccess(fx.run("system.cache_invalidate"))
        #expect(try fx.cache.get() == nil)
    }

    @Test func healthCheckRecordsItsResult() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("system.health_check"))
        #expect(try fx.count("SELECT count(*) FROM health_checks WHERE checked_by = 'tester' AND results ? 'postgres_us'") == 1)
    }

    @Test func broadcastSetsTheBannerWithExpiry() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("system.broadcast", ["message": .string("deploy at 14:00"), "ttl": .int(120)]))
        let b = try AgentJSON.decoder().decode(Broadcast.self, from: Data(try #require(try fx.redis(1).send("GET", fx.ns.broadcastKey).bytes)))
        #expect(b.message == "deploy at 14:00" && b.by == "tester")
        let ttl = try fx.redis(1).send("TTL", fx.ns.broadcastKey).int ?? 0
        #expect(ttl > 100 && ttl <= 120)
    }

    @Test func alertAckAndSilence() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.scalar("INSERT INTO alerts (severity, source, title) VALUES ('error', 'test', 'disk') RETURNING id", as: Int.self)
        try fx.expectSuccess(fx.run("system.alert_ack", ["id": .int(id)]))
        #expect(try fx.scalar("SELECT status || ':' || acked_by FROM alerts WHERE id = $1", [id], as: String.self) == "acked:tester")
        try fx.expectSuccess(fx.run("system.alert_silence", ["id": .int(id), "minutes": .int(30)]))
        #expect(
            try fx.count("SELECT count(*) FROM alerts WHERE id = $1 AND status = 'silenced' AND silenced_until > now() + interval '29 minutes'", [id])
                == 1)
        #expect(fx.run("system.alert_ack", ["id": .int(999_999)]).outcome == .failure(.notFound("alert 999999")))
    }

    @Test func silencedAlertComesBackWhenTheSilenceRunsOut() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.scalar("INSERT INTO alerts (severity, source, title) VALUES ('error', 'test', 'disk') RETURNING id", as: Int.self)
        try fx.expectSuccess(fx.run("system.alert_silence", ["id": .int(id), "minutes": .int(1)]))
        try fx.tick()
        #expect(try fx.scalar("SELECT status FROM alerts WHERE id = $1", [id], as: String.self) == "silenced", "silenced within its minute")
        // The minute passes.
        try fx.db.query("UPDATE alerts SET silenced_until = now() - interval '1 second' WHERE id = $1", [id])
        try fx.tick(until: { try fx.scalar("SELECT status FROM alerts WHERE id = $1", [id], as: String.self) == "active" }, "the alert is back")
        #expect(try fx.dataManager.rebuild().alerts.first { $0.id == id }?.status == .active, "and on every console")
    }

    @Test func breakerTripRefusesItsServiceAndResetReopensIt() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("system.breaker_trip", ["service": .string("workers")]))
        #expect(try fx.redis(4).send("HGET", fx.ns.breakerKey("workers"), "state").string == "open")
        let id = try fx.anyID("SELECT id FROM workers LIMIT 1")
        let refused = fx.run("worker.ping", ["id": .string(id)])
        guard case .failure(.breakerOpen(service: "workers", _)) = refused.outcome else {
            Issue.record("open breaker admitted: \(refused.message)")
            return
        }
        try fx.expectSuccess(fx.run("system.breaker_reset", ["service": .string("workers")]))
        #expect(try fx.redis(4).send("HGET", fx.ns.breakerKey("workers"), "state").string == "closed")
        try fx.expectSuccess(fx.run("worker.ping", ["id": .string(id)]))
    }

    @Test func rateLimitResetClearsOneUsersCounters() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.redis(3).send("ZADD", fx.ns.rateKey("rl:bob:job.cancel"), 1, "x")
        try fx.redis(3).send("ZADD", fx.ns.rateKey("rl:carol:job.cancel"), 1, "x")
        try fx.expectSuccess(fx.run("system.rate_limit_reset", ["user": .string("bob")]))
        #expect(try fx.redis(3).send("EXISTS", fx.ns.rateKey("rl:bob:job.cancel")).int == 0)
        #expect(try fx.redis(3).send("EXISTS", fx.ns.rateKey("rl:carol:job.cancel")).int == 1)
    }

    @Test func sessionTerminateDeletesTheSessionAndKicksIt() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.redis(6).send("HSET", fx.ns.sessionKey("abc"), "user", "bob", "last_seen", ISOTime.format(Date()))
        let events = fx.bus.subscribe()
        var iterator = events.makeAsyncIterator()
        _ = await iterator.next() // connected
        try fx.expectSuccess(fx.run("system.session_terminate", ["session": .string("abc")]))
        #expect(try fx.redis(6).send("EXISTS", fx.ns.sessionKey("abc")).int == 0)
        // The tombstone stops the ended console's next heartbeat from writing the row again.
        let store = ConsoleSessionStore(redis: fx.redis(6), namespace: fx.ns)
        let seen = Date()
        let beat = try store.heartbeat(
            ConsoleSession(id: "abc", user: "bob", host: "h", pid: 1, tty: "", startedAt: seen, lastSeen: seen, view: ""))
        #expect(beat?.sessionID == "abc" && beat?.requestID != nil, "the heartbeat learns it was ended, and by which request")
        #expect(try fx.redis(6).send("EXISTS", fx.ns.sessionKey("abc")).int == 0)
        var kicked: SessionKick?
        for _ in 0..<5 {
            guard case .event(let e)? = await iterator.next() else { continue }
            if case .sessionKick(let kick) = e.event, kick.sessionID == "abc" {
                kicked = kick
                break
            }
        }
        #expect(kicked != nil && kicked?.requestID == beat?.requestID)
    }

    @Test func ioCleanupDeletesOnlyOldMedia() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let dir = fx.dataDir.appendingPathComponent("io/output/job1")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let old = dir.appendingPathComponent("old.mp4")
        let new = dir.appendingPathComponent("new.mp4")
        try Data(count: 100).write(to: old)
        try Data(count: 100).write(to: new)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-40 * 86_400)], ofItemAtPath: old.path)
        #expect(try fx.actions.executor.impact(ActionCatalog.spec("system.io_cleanup")!, Payload(["days": .int(30)])) == 1)
        try fx.expectSuccess(fx.run("system.io_cleanup", ["days": .int(30)]))
        #expect(!FileManager.default.fileExists(atPath: old.path))
        #expect(FileManager.default.fileExists(atPath: new.path))
    }

    @Test func auditVerifyReportsTheChain() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("system.health_check"))
        let report = fx.run("system.audit_verify")
        try fx.expectSuccess(report)
        guard case .success(let r) = report.outcome else { return }
        #expect(r.details["ok"] == .bool(true))
        #expect((r.affected) >= 3)
    }

    @Test func databaseBackupVacuumReindex() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let report = fx.run("database.backup")
        try fx.expectSuccess(report)
        #expect(try Data(contentsOf: URL(fileURLWithPath: try fx.file(report))).prefix(5) == Data("PGDMP".utf8))
        try fx.expectSuccess(fx.run("database.vacuum", ["table": .string("jobs")]))
        #expect(try fx.count("SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'jobs' AND last_vacuum IS NOT NULL") == 1)
        let before = try fx.scalar("SELECT relfilenode::text FROM pg_class WHERE relname = 'jobs_status_idx'", as: String.self)
        try fx.expectSuccess(fx.run("database.reindex", ["table": .string("jobs")]))
        #expect(try fx.scalar("SELECT relfilenode::text FROM pg_class WHERE relname = 'jobs_status_idx'", as: String.self) != before)
    }

    // Behind a transaction pooler a client has no backend of its own: the pid it reads is whichever
    // server connection the pool lent it, which the console's own statements share.
    @Test(.disabled(if: TestServers.viaTransactionPooler, "backend pids belong to the pool behind PgBouncer"))
    func cancelTerminateAndKillIdleSignalBackends() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let victim = try PostgresConnection(fx.backend.url)
        let pid = Int(victim.backendPID)
        try fx.expectSuccess(fx.run("database.cancel_query", ["pid": .int(pid)]))
        try fx.expectSuccess(fx.run("database.terminate_backend", ["pid": .int(pid)]))
        #expect(try TestServers.eventually(5) { try fx.count("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [pid]) == 0 })
        let idle = try PostgresConnection(fx.backend.url)
        try idle.execute("BEGIN")
        try idle.execute("SELECT 1")
        let idlePID = Int(idle.backendPID)
        // The threshold is at least a minute: a fresh idle-in-transaction session must survive it.
        let report = fx.run("database.kill_idle", ["minutes": .int(1)])
        try fx.expectSuccess(report)
        #expect(try fx.count("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [idlePID]) == 1)
        #expect(
            fx.run("database.cancel_query", ["pid": .int(1)]).outcome
                == .failure(.notFound("backend pid 1 (a client of this database other than the console's own)")))
    }

    @Test func purgeHistoryDeletesOldFinishedJobsOnly() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let old = try fx.insertJob(status: .completed, finishedDaysAgo: 40)
        let recent = try fx.insertJob(status: .completed, finishedDaysAgo: 2)
        let waiting = try fx.insertJob(status: .queued)
        try fx.expectSuccess(fx.run("database.purge_history", ["days": .int(30)]))
        #expect(try fx.jobStatus(old) == nil)
        #expect(try fx.jobStatus(recent) == "completed")
        #expect(try fx.jobStatus(waiting) == "queued")
    }

    @Test func migrateAppliesPendingMigrations() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.db.query("DELETE FROM schema_migrations WHERE version = 5")
        let report = fx.run("database.migrate")
        try fx.expectSuccess(report)
        #expect(try fx.count("SELECT count(*) FROM schema_migrations WHERE version = 5") == 1)
        #expect(report.message.contains("5"))
    }
}
