import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Issue 17 (D71): PostgreSQL and Redis enforce the operator's role; the console mirrors it.
/// Every login here is an operator's own, with a password (the test server authenticates with
/// scram-sha-256), created by `OperatorAdmin.grant` and dropped at the end.
@Suite(.serialized) struct OperatorRolesTests {
    /// An operator provisioned on `fx`'s database: their own PostgreSQL connection and password.
    struct Login {
        let name: String
        let password: String
        let url: String
        var postgres: PostgresClient { PostgresClient(url) }
    }

    static func provision(_ fx: ActionFixture, _ role: Role) throws -> Login {
        let name = TestServers.unique("op_\(role.rawValue)")
        let password = "pw-" + UUID().uuidString
        try admin(fx).grant(name, role: role, password: password)
        var comps = URLComponents(string: fx.backend.url)!
        comps.user = name
        comps.password = password
        return Login(name: name, password: password, url: comps.string!)
    }

    /// The deployer (the test server's superuser: a shared login).
    static func admin(_ fx: ActionFixture) -> OperatorAdmin {
        OperatorAdmin(
            postgres: fx.backend.postgres, redis: fx.backend.redis, actor: Actor(user: "deployer", host: "test", sessionID: "t"),
            namespace: fx.backend.namespace)
    }

    /// Closes `fx` and drops the logins made on it.
    static func close(_ fx: ActionFixture, _ logins: [Login]) {
        fx.close()
        dropLogins(logins.map(\.name))
    }

    static func dropLogins(_ names: [String]) {
        guard let su = try? PostgresConnection(try TestServers.postgresURL()) else { return }
        for name in names { _ = try? su.execute("DROP ROLE IF EXISTS \"\(name)\"") }
        if let redis = try? TestServers.redis() { for name in names { _ = try? redis.send("ACL", "DELUSER", name) } }
    }

    /// The SQLSTATE a statement fails with (nil: it ran).
    static func sqlState(_ db: PostgresConnection, _ sql: String) -> String? {
        do {
            try db.execute(sql)
            return nil
        } catch { return error.sqlState ?? "no sqlstate: \(error)" }
    }

    @Test func aReadonlyLoginChangesNothingInPostgreSQLOrRedis() throws {
        let fx = try ActionFixture()
        let login = try Self.provision(fx, .readonly)
        defer {
            fx.close()
            Self.dropLogins([login.name])
        }
        let db = try PostgresConnection(login.url)
        #expect(try db.query("SELECT session_user::text AS u").rows[0].get("u", as: String.self) == login.name)
        let job = try fx.backend.postgres.query("SELECT id::text AS id FROM jobs LIMIT 1").rows[0].get("id", as: String.self)
        let statements = [
            "UPDATE jobs SET status = 'cancelled' WHERE id = '\(job)'", "DELETE FROM jobs WHERE id = '\(job)'",
            "INSERT INTO jobs (id) VALUES (gen_random_uuid())",
            "UPDATE config SET value = '1'", "DELETE FROM config", "INSERT INTO config (key, value) VALUES ('x', '1')",
            "UPDATE config_history SET version = 0", "DELETE FROM config_history",
            "INSERT INTO user_permissions (user_id, role) VALUES ('\(login.name)', 'admin')", "UPDATE user_permissions SET role = 'admin'",
            "DELETE FROM user_permissions",
            "INSERT INTO idempotency_results (user_id, action, key, fingerprint, request_id, status, result, expires_at) "
                + "VALUES ('\(login.name)', 'job.cancel', 'k', 'f', gen_random_uuid(), 'done', '{}', now())",
            "DELETE FROM idempotency_results", "UPDATE idempotency_results SET status = 'done'",
            "UPDATE audit_logs SET outcome = 'x'", "DELETE FROM audit_logs",
            "INSERT INTO audit_logs (seq, id, timestamp, user_id, role, action, phase, request_id, prev_hash, hash) "
                + "VALUES (999999, gen_random_uuid(), now(), '\(login.name)', 'admin', 'x', 'outcome', gen_random_uuid(), 'p', 'h')"
        ]
        for sql in statements {
            #expect(Self.sqlState(db, sql) == "42501", "\(sql)")
        }
        // Reading is allowed: the console's screens need it.
        #expect(try db.query("SELECT count(*)::bigint AS n FROM jobs").rows[0].get("n", as: Int.self) > 0)

        // Redis: the same login's ACL user (redis-cli, as an operator would run it).
        let port = URLComponents(string: try TestServers.redisURL())!.port!
        for command in [
            ["SET", "x", "1"], ["DEL", fx.backend.namespace.snapshotKey], ["LPUSH", "q", "1"], ["PUBLISH", fx.backend.namespace.controlChannel, "{}"],
            // A script runs with its caller's permissions (readonly may run the console's bounded reads).
            ["EVAL", "return redis.call('SET', KEYS[1], '1')", "1", "x"]
        ] {
            let out = try Self.redisCLI(port: port, user: login.name, password: login.password, command)
            #expect(out.contains("NOPERM") || out.contains("can't run this command"), "\(command): \(out)")
        }
        let read = try Self.redisCLI(port: port, user: login.name, password: login.password, ["EXISTS", fx.backend.namespace.snapshotKey])
        #expect(!read.contains("NOPERM") && !read.contains("WRONGPASS"), "a read: \(read)")
    }

    static func redisCLI(port: Int, user: String, password: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["redis-cli", "-p", String(port), "--user", user, "--no-auth-warning"] + args
        var env = ProcessInfo.processInfo.environment
        env["REDISCLI_AUTH"] = password // not on the command line
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self)
    }

    @Test func noStatementRaisesAnOperatorsOwnRole() throws {
        let fx = try ActionFixture(seed: false)
        let login = try Self.provision(fx, .operator)
        defer { Self.close(fx, [login]) }
        let db = try PostgresConnection(login.url)
        let attempts = [
            "GRANT agentos_admin TO \"\(login.name)\"", "SET ROLE agentos_admin", "SET ROLE agentos_owner", "SET ROLE postgres",
            "ALTER ROLE \"\(login.name)\" SUPERUSER", "ALTER ROLE \"\(login.name)\" CREATEROLE",
            "SELECT agentos_api.operator_grant('\(login.name)', 'admin', NULL)",
            "UPDATE agentos_private.role_actions SET role = 'operator'",
            "INSERT INTO agentos_private.role_actions VALUES ('operator', 'system.restart_all', false)",
            "INSERT INTO agentos_private.open_actions VALUES (pg_current_xact_id(), gen_random_uuid(), 'job.cancel', 'x')",
            "SELECT agentos_private.may_provision()",
            "INSERT INTO user_permissions (user_id, role) VALUES ('\(login.name)', 'admin')"
        ]
        for sql in attempts {
            #expect(Self.sqlState(db, sql) == "42501", "\(sql)")
        }
        // Its own groups are the only roles it may take, and they add nothing: a change is still refused outside an action.
        #expect(Self.sqlState(db, "SET ROLE agentos_operator") == nil)
        #expect(Self.sqlState(db, "INSERT INTO log_mutes (source, muted_by) VALUES ('x', 'y')") == "42501")
        #expect(try db.query("SELECT agentos_api.my_role() AS r").rows[0].get("r", as: String.self) == "operator")
    }

    /// The operator's console (LiveActions on their own login) runs job.cancel; the same UPDATE typed
    /// in psql is refused; after `revoke` the running console's next action is refused by the server.
    @Test func anOperatorChangesJobsOnlyThroughAuditedActionsUntilRevoked() throws {
        let fx = try ActionFixture()
        let login = try Self.provision(fx, .operator)
        defer {
            fx.close()
            Self.dropLogins([login.name])
        }
        // Two jobs waiting in the backed-up queue (the owner moves only when a test ticks it).
        let pending = Array((fx.sim?.read { $0.waiting["audio_transcriber"]?.flatMap { $0 } } ?? []).prefix(2))
        try #require(pending.count == 2, "the seeded fleet has two waiting jobs")
        let psql = try PostgresConnection(login.url)
        #expect(Self.sqlState(psql, "UPDATE jobs SET status = 'cancelled' WHERE id = '\(pending[0])'") == "42501")

        let postgres = login.postgres
        let actions = try LiveActions(
            redis: fx.backend.redis, postgres: postgres, namespace: fx.backend.namespace, dataDirectory: fx.dataDir,
            postgresURL: login.url, dataManager: fx.dataManager, cache: fx.cache, bus: fx.bus)
        #expect(actions.identity == ServerIdentity(login: login.name, role: .operator, gated: true))
        func cancel(_ id: String) -> ActionReport {
            actions.dispatcher.dispatch(
                ActionRequest(action: "job.cancel", payload: ["id": .string(id)], actor: Actor(user: "unix-account", host: "t", sessionID: "s")))
        }
        let first = cancel(pending[0])
        #expect(first.succeeded, "\(first.outcome)")
        func status(_ id: String) throws -> String {
            try fx.backend.postgres.query("SELECT status FROM jobs WHERE id = $1::uuid", [id]).rows[0].get("status")
        }
        #expect(try status(pending[0]) == "cancelled")
        // The audit names the login the server knows, not the Unix account the request carried.
        let users = try fx.backend.postgres.query(
            "SELECT DISTINCT user_id FROM audit_logs WHERE request_id = $1", [first.requestID]
        ).rows.map { try $0.get("user_id", as: String.self) }
        #expect(users == [login.name])

        let before = try status(pending[1])
        try Self.admin(fx).revoke(login.name)
        let second = cancel(pending[1])
        #expect(!second.succeeded)
        #expect(try status(pending[1]) == before, "the revoked operator's cancel changed the job")
        let list = try Self.admin(fx).list().first { $0.login == login.name }
        #expect(list?.role == nil && list?.canLogin == false && list?.revokedAt != nil)
        // Both changes are in the audit trail, under the provisioner's name.
        let audited = try fx.backend.postgres.query(
            "SELECT action, phase FROM audit_logs WHERE target = $1 AND action LIKE 'operator.%' ORDER BY seq", [login.name]
        ).rows.map { "\(try $0.get("action", as: String.self)) \(try $0.get("phase", as: String.self))" }
        #expect(audited == ["operator.grant intent", "operator.grant outcome", "operator.revoke intent", "operator.revoke outcome"])
    }

    /// The 5 × 83 sweep: for every role and every action, the server's `can_i` and the console's
    /// mirror (the dispatcher on that login) agree with the policy.
    @Test func serverAndConsoleAgreeWithThePolicyForEveryRoleAndAction() throws {
        let fx = try ActionFixture(seed: false)
        var logins: [Login] = []
        defer {
            fx.close()
            Self.dropLogins(logins.map(\.name))
        }
        for role in Role.allCases {
            let login = try Self.provision(fx, role)
            logins.append(login)
            let postgres = login.postgres
            let actions = try LiveActions(
                redis: fx.backend.redis, postgres: postgres, namespace: fx.backend.namespace, dataDirectory: fx.dataDir,
                postgresURL: login.url, dataManager: fx.dataManager, cache: fx.cache, bus: fx.bus)
            let server = Dictionary(
                uniqueKeysWithValues: try postgres.query(
                    "SELECT a AS action, agentos_api.can_i(a) AS answer FROM unnest($1::text[]) AS a",
                    [PostgresValue.textArray(ActionCatalog.all.map(\.id.rawValue))]
                ).rows.map { (try $0.get("action", as: String.self), try $0.get("answer", as: String.self)) })
            #expect(server.count == ActionCatalog.all.count)
            for spec in ActionCatalog.all {
                let policy = Policy.decide(Grant(role: role), spec)
                let expected =
                    switch policy {
                    case .allow: "allow"
                    case .allowOwn: "own"
                    case .deny: "deny"
                    }
                let answer = server[spec.id.rawValue] ?? "missing"
                #expect(answer.hasPrefix(expected), "\(role) \(spec.id.rawValue): server says \(answer), policy \(expected)")
                let mirror = actions.dispatcher.canI(spec.id.rawValue, actor: Actor(user: "someone-else", host: "t"))
                #expect(mirror == policy, "\(role) \(spec.id.rawValue): console says \(mirror), policy \(policy)")
            }
        }
    }
}
