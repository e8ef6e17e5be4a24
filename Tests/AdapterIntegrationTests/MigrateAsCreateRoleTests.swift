import AgentOSAdapters
import AgentOSCore
import AgentOSTestSupport
import Foundation
import Testing

/// Issue 17: a login that may create roles but is no superuser (as a managed PostgreSQL's
/// administrator is) migrates a new database it owns, provisions an operator, and that operator's
/// login is enforced by the server: V11 gives the owning roles what `ALTER … OWNER` asks of them.
@Suite(.serialized) struct MigrateAsCreateRoleTests {
    @Test func aCreateRoleLoginMigratesProvisionsAndItsOperatorIsEnforced() throws {
        let su = try PostgresConnection(try TestServers.postgresURL())
        let dba = TestServers.unique("dba")
        let database = TestServers.unique("dbadb")
        let password = "pw-" + UUID().uuidString
        let op = TestServers.unique("op_operator")
        let opPassword = "pw-" + UUID().uuidString
        try su.execute("CREATE ROLE \"\(dba)\" LOGIN CREATEROLE NOSUPERUSER PASSWORD '\(password)'")
        try su.execute("CREATE DATABASE \(database) OWNER \"\(dba)\"")
        var comps = URLComponents(string: try TestServers.postgresURL())!
        comps.path = "/\(database)"
        comps.user = dba
        comps.password = password
        let dbaURL = comps.string!
        comps.user = op
        comps.password = opPassword
        let opURL = comps.string!
        let postgres = try PostgresClient.migrated(dbaURL)
        let dataDir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["AGENTOS_TEST_TMPDIR"] ?? NSTemporaryDirectory())
            .appendingPathComponent(TestServers.unique("data"))
        defer {
            postgres.shutdown()
            _ = try? su.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            // The operator's login first: the administrator's role holds its grants.
            OperatorRolesTests.dropLogins([op, dba])
            try? FileManager.default.removeItem(at: dataDir)
        }
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let applied = try postgres.query("SELECT version FROM schema_migrations ORDER BY version").rows.map { try $0.get("version", as: Int.self) }
        #expect(applied == Migrator.all.map(\.version).sorted())
        #expect(try postgres.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").rows[0].get("rolsuper", as: Bool.self) == false)

        let redis = try RedisClient(url: TestServers.redisURL())
        let ns = Namespace(TestServers.unique("ns"), busKeys: TestBus.keys)
        try OperatorAdmin(postgres: postgres, redis: redis, actor: Actor(user: dba, host: "test", sessionID: "t"), namespace: ns)
            .grant(op, role: .operator, password: opPassword)
        let job = try postgres.query(
            "INSERT INTO jobs (id, name, stage, queue, status, owner) VALUES (gen_random_uuid(), 'dba test', 'video_cutter', 'video_cutter', 'queued', 'x') RETURNING id::text AS id"
        ).rows[0].get("id", as: String.self)

        // The operator's own login: no bare change, and the role the server says.
        let opDB = try PostgresConnection(opURL)
        #expect(OperatorRolesTests.sqlState(opDB, "UPDATE jobs SET status = 'cancelled' WHERE id = '\(job)'") == "42501")
        #expect(try opDB.query("SELECT agentos_api.my_role() AS r").rows[0].get("r", as: String.self) == "operator")

        // The cancel through the console, as that login: opened by the server's API, sealed in the audit trail.
        let opPostgres = PostgresClient(opURL)
        defer { opPostgres.shutdown() }
        let cache = RedisSnapshotCache(redis: redis, namespace: ns)
        let bus = RedisEventBus(redis: redis, namespace: ns, source: "test")
        let actions = try LiveActions(
            redis: redis, postgres: opPostgres, namespace: ns, dataDirectory: dataDir, postgresURL: opURL,
            dataManager: AdminDataManager(cache: cache, source: PostgresSnapshotSource(postgres: opPostgres, redis: redis, namespace: ns), bus: bus),
            cache: cache, bus: bus)
        let report = actions.dispatcher.dispatch(
            ActionRequest(action: "job.cancel", payload: ["id": .string(job)], actor: Actor(user: op, host: "test", sessionID: "t")))
        #expect(report.succeeded, "\(report.outcome)")
        #expect(actions.identity?.enforced == true)
        #expect(try postgres.query("SELECT status FROM jobs WHERE id = $1::uuid", [job]).rows[0].get("status", as: String.self) == "cancelled")
        let logins = try postgres.query("SELECT DISTINCT login FROM audit_logs WHERE action = 'job.cancel'").rows.map {
            try $0.get("login", as: String.self)
        }
        #expect(logins == [op])
        #expect(try PostgresAuditLog(postgres: postgres).verifyChain().ok)
    }
}
