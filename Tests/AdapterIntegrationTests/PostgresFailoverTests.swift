import AgentOSAdapters
import AgentOSCore
import Foundation
import Synchronization
import Testing

/// Several hosts in one connection string against a real primary and a streaming standby of the
/// test's own: writes find the primary, reads may go to the standby, and a promotion moves the pool.
@Suite("PostgreSQL primary and standby", .serialized)
struct PostgresFailoverTests {
    /// `host=…,… port=standby,primary`: the standby first, so only `read-write` sends writes right.
    static func conninfo(_ servers: [PrivatePostgres]) -> String {
        "host=" + servers.map { _ in "127.0.0.1" }.joined(separator: ",") + " port="
            + servers.map { String($0.port) }.joined(separator: ",") + " dbname=agentos user=postgres connect_timeout=2"
    }

    @Test func aPromotionMovesThePoolToTheNewPrimaryAndLosesNoCommittedRow() throws {
        let primary = try PrivatePostgres()
        let standby = try PrivatePostgres(standbyOf: primary)
        let direct = { (server: PrivatePostgres) in PostgresClient(server.url) }
        // Synchronous: a commit returns once the standby has it, so a promotion loses none.
        try direct(primary).execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        try direct(primary).execute("SELECT pg_reload_conf()")
        #expect(
            try TestServers.eventually {
                try direct(primary).query("SELECT sync_state FROM pg_stat_replication").first?.get("sync_state", as: String.self) == "sync"
            })

        let client = PostgresClient(Self.conninfo([standby, primary]))
        defer { client.shutdown() }
        try client.execute("CREATE TABLE ha_rows (id int PRIMARY KEY)")
        let committed = 50
        for i in 1...committed { try client.query("INSERT INTO ha_rows (id) VALUES ($1)", [i]) }
        #expect(try client.withConnection { $0.server } == "127.0.0.1:\(primary.port)")

        let reads = client.readPool()
        defer { reads.shutdown() }
        #expect(try reads.query("SELECT pg_is_in_recovery() AS standby").first?.get("standby", as: Bool.self) == true)
        // `read_from=standby` gives the client that read pool as `reads` (taken out before libpq sees it);
        // without it, reads stay on the client's own pool.
        let configured = PostgresClient(Self.conninfo([standby, primary]) + " read_from=standby")
        defer { configured.shutdown() }
        #expect(try configured.reads.withConnection { $0.server } == "127.0.0.1:\(standby.port)")
        #expect(try configured.withConnection { $0.server } == "127.0.0.1:\(primary.port)")
        #expect(client.reads === client)
        // `agentos check` says which host is the primary and where reads would go.
        let check = try Binaries.run(Binaries.built("agentos"), ["check", "--postgres", Self.conninfo([standby, primary])])
        #expect(
            check.output.contains("primary 127.0.0.1:\(primary.port), reads from standby 127.0.0.1:\(standby.port)"), "\(check.output)")
        #expect(try reads.query("SELECT count(*) AS n FROM ha_rows").first?.get("n", as: Int.self) == committed)

        try primary.kill()
        let promoted = Date()
        try standby.promote()
        var attempts = 0
        let written = TestServers.eventually(60) {
            attempts += 1
            return (try? client.query("INSERT INTO ha_rows (id) VALUES ($1)", [committed + 1])) != nil
        }
        let firstWriteMillis = HAFigures.millis(since: promoted)
        #expect(written, "no write reached the promoted standby")
        #expect(try client.withConnection { $0.server } == "127.0.0.1:\(standby.port)")
        let onNewPrimary = try direct(standby).query("SELECT count(*) AS n, bool_or(pg_is_in_recovery()) AS standby FROM ha_rows").first
        #expect(try onNewPrimary?.get("n", as: Int.self) == committed + 1)
        #expect(try onNewPrimary?.get("standby", as: Bool.self) == false)
        // With no standby left, the read pool falls back to the primary.
        #expect(try reads.query("SELECT pg_is_in_recovery() AS standby").first?.get("standby", as: Bool.self) == false)
        HAFigures.record([
            "figure": "postgres standby promoted", "first_write_ms": firstWriteMillis, "write_attempts": attempts,
            "lost_rows": committed + 1 - ((try? onNewPrimary?.get("n", as: Int.self)) ?? 0)
        ])
    }

    @Test func aWriteRefusedAsReadOnlyEmptiesThePool() throws {
        let server = try PrivatePostgres()
        let client = PostgresClient(server.url)
        defer { client.shutdown() }
        try client.execute("CREATE TABLE ha_ro (id int)")
        // Two connections in the pool.
        let pids = try client.withConnection { a in try client.withConnection { b in [a.backendPID, b.backendPID] } }
        let admin = PostgresClient(server.url)
        try admin.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        try admin.execute("SELECT pg_reload_conf()")
        #expect(
            try TestServers.eventually {
                try client.withConnection { try $0.query("SHOW default_transaction_read_only").first?.get(0, as: String.self) } == "on"
            })
        do {
            try client.query("INSERT INTO ha_ro VALUES (1)")
            Issue.record("a read-only server took the write")
        } catch let error as PostgresError {
            #expect(error.sqlState == "25006", "\(error)")
        }
        // ALTER SYSTEM is refused in a read-only transaction: this session opts out.
        try admin.withConnection { c in
            try c.execute("SET default_transaction_read_only = off")
            try c.execute("ALTER SYSTEM RESET default_transaction_read_only")
            try c.execute("SELECT pg_reload_conf()")
        }
        let after = try client.withConnection { $0.backendPID }
        #expect(!pids.contains(after), "a connection of the read-only server was reused")
    }

    final class ReportBox: Sendable {
        let report = Mutex<ActionReport?>(nil)
    }

    /// The answer to an action's COMMIT is lost while the COMMIT itself stands (the server ends the
    /// session while the commit waits for a synchronous standby: committed locally, never
    /// acknowledged). The action asks the audit trail: resolved as a success when a server answers,
    /// reported `unknown` (no outcome row written) while none does; a retry with its idempotency key
    /// replays it, so the effect is there once.
    @Test func aCommitWhoseAnswerIsLostIsResolvedFromTheAuditTrailAndNeverRunTwice() throws {
        let server = try PrivatePostgres()
        let admin = PostgresClient(server.url)
        defer { admin.shutdown() }
        // Commits wait for a standby that never comes only where a trigger asks: the action's outcome row.
        try admin.execute("ALTER SYSTEM SET synchronous_commit = 'local'")
        try admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        try admin.execute("SELECT pg_reload_conf()")
        #expect(
            try TestServers.eventually { try PostgresConnection(server.url).query("SHOW synchronous_commit")[0].get(0, as: String.self) == "local" })
        let pg = try PostgresClient.migrated(server.url)
        defer { pg.shutdown() }
        try pg.execute("INSERT INTO config (key, type, value, default_value) VALUES ('ha.attempts', 'int', '1', '1')")
        try pg.execute(
            """
            CREATE FUNCTION ha_commit_waits() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM set_config('synchronous_commit', 'on', true); RETURN NULL; END $$
            """)
        try pg.execute(
            """
            CREATE TRIGGER ha_commit_waits AFTER INSERT ON audit_logs FOR EACH ROW
            WHEN (NEW.phase = 'outcome' AND NEW.outcome = 'success') EXECUTE FUNCTION ha_commit_waits()
            """)
        let stack = try ReliabilityStack(
            postgres: pg, postgresURL: server.url, redis: try RedisClient(url: TestServers.redisURL()), lostCommitWaitSeconds: 3)
        defer { stack.close() }
        let actor = Actor(user: "tester", sessionID: "ha-lost-commit")
        func setAttempts(_ value: Int, key: String) -> ActionRequest {
            ActionRequest(
                action: "config.set", payload: ["key": .string("ha.attempts"), "value": .string(String(value))], actor: actor, idempotencyKey: key)
        }
        func inBackground(_ request: ActionRequest) -> ReportBox {
            let box = ReportBox()
            let dispatcher = stack.actions.dispatcher
            Thread.detachNewThread { box.report.withLock { $0 = dispatcher.dispatch(request) } }
            return box
        }
        let waiting = "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
        func attempts() throws -> Int { try admin.query("SELECT value::text AS v FROM config WHERE key = 'ha.attempts'")[0].get("v", as: Int.self) }
        func trail(_ id: UUID) throws -> [String] {
            try admin.query("SELECT phase || ':' || coalesce(outcome, '') AS row FROM audit_logs WHERE request_id = $1 ORDER BY seq", [id])
                .rows.map { try $0.get("row", as: String.self) }
        }

        // 1. The session ends at COMMIT, the server stays: the trail answers at once.
        let first = setAttempts(2, key: "ha-1")
        let box = inBackground(first)
        #expect(try TestServers.eventually { try !admin.query(waiting).isEmpty }, "the COMMIT never waited for the standby")
        try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
        #expect(TestServers.eventually { box.report.withLock { $0 != nil } })
        let resolved = try #require(box.report.withLock { $0 })
        #expect(resolved.succeeded, "\(resolved.outcome)")
        #expect(resolved.warnings.contains { $0.contains("the audit trail shows it committed") }, "\(resolved.warnings)")
        #expect(try attempts() == 2)
        #expect(try trail(first.requestID) == ["intent:", "outcome:success"])

        // 2. The server dies at COMMIT and stays down longer than the action waits: unknown, no outcome row.
        let second = setAttempts(3, key: "ha-2")
        let box2 = inBackground(second)
        #expect(try TestServers.eventually { try !admin.query(waiting).isEmpty }, "the COMMIT never waited for the standby")
        try server.kill()
        #expect(TestServers.eventually(30) { box2.report.withLock { $0 != nil } })
        let unknown = try #require(box2.report.withLock { $0 })
        guard case .failure(.outcomeUnknown(let why)) = unknown.outcome else {
            Issue.record("expected an unknown outcome, got \(unknown.outcome)")
            return
        }
        #expect(why.contains(second.requestID.uuidString) && unknown.exitStatus == 9, "\(why)")
        // Back up: the commit stood, and the trail tells (intent and the committed outcome, nothing else).
        try server.restart()
        #expect(TestServers.eventually { (try? attempts()) == 3 })
        #expect(try trail(second.requestID) == ["intent:", "outcome:success"])
        // The operator retries with the same key: replayed from the durable copy, not executed again.
        let retry = stack.actions.dispatcher.dispatch(
            ActionRequest(
                action: "config.set", payload: ["key": .string("ha.attempts"), "value": .string("3")], actor: actor, idempotencyKey: "ha-2"))
        #expect(retry.succeeded && (try? retry.outcome.get().replayed) == true, "\(retry.outcome)")
        #expect(try admin.query("SELECT count(*) AS n FROM config_history WHERE key = 'ha.attempts'")[0].get("n", as: Int.self) == 2)
    }
}

extension PostgresFailoverTests {
    /// A stream of actions through the live pipeline on `host=standby,primary` while the primary is
    /// killed and the synchronous standby promoted: each action is executed once or refused, none
    /// twice, every acknowledged one has its audit rows on the new primary, and a rebuilt snapshot
    /// equals the database. The figures go to scripts/ha-test.sh.
    @Test func actionsDuringAPromotionRunOnceAndLoseNoAuditRow() throws {
        let primary = try PrivatePostgres()
        let standby = try PrivatePostgres(standbyOf: primary)
        let onPrimary = PostgresClient(primary.url)
        try onPrimary.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        try onPrimary.execute("SELECT pg_reload_conf()")
        #expect(
            try TestServers.eventually {
                try onPrimary.query("SELECT sync_state FROM pg_stat_replication").first?.get("sync_state", as: String.self) == "sync"
            })
        onPrimary.shutdown()
        let conninfo = Self.conninfo([standby, primary])
        let pg = try PostgresClient.migrated(conninfo)
        defer { pg.shutdown() }
        let stack = try ReliabilityStack(
            postgres: pg, postgresURL: conninfo, redis: try RedisClient(url: TestServers.redisURL()), options: ActionStream.options)
        defer { stack.close() }
        let sim = try SimAlongside(redisURL: try TestServers.redisURL(), postgresURL: conninfo)
        let stream = try ActionStream(stack)
        #expect(TestServers.eventually { stream.succeeded(after: .distantPast) >= 20 }, "the stream did not run before the failover")
        sim.waitUntilPublishing()
        try primary.kill()
        let killed = Date()
        try standby.promote()
        let promoted = Date()
        #expect(TestServers.eventually(60) { stream.succeeded(after: promoted) >= 20 }, "no action succeeded after the promotion")
        sim.expectPublishingAgain()
        let newPrimary = PostgresClient(standby.url)
        defer { newPrimary.shutdown() }
        let figures = try stream.finish(database: newPrimary, since: promoted)
        let simulated = sim.finish()
        #expect(simulated.ranThrough, "agentos sim did not run through the promotion: \(simulated.summary)")
        #expect(figures.unknown == 0, "a promotion with a live standby leaves no outcome unknown")
        HAFigures.record(
            figures.json(
                "postgres actions during promotion",
                extra: [
                    "kill_to_promoted_ms": Int(promoted.timeIntervalSince(killed) * 1_000), "sim": simulated.summary,
                    "sim_ran_through": simulated.ranThrough, "sim_events": simulated.events
                ]))
    }
}
