import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Issue 17 (D71) through the real binary: `agentos operator grant|list|revoke`, `can-i` answered by
/// PostgreSQL, and a console on an operator's own login (passwords in files, never on a command
/// line) beside a console on the shared login, which says its RBAC is advisory.
struct OperatorE2ETests {
    @Test func provisionAReadonlyOperatorWhoseConsoleTheServersHoldThenRevokeThem() throws {
        guard let live = try LiveScratch.make("e2eop") else { return }
        defer { live.database.drop() }
        let login = "ro_\(UUID().uuidString.prefix(8).lowercased())"
        defer {
            if let su = try? PostgresConnection(live.postgresURL) { _ = try? su.execute("DROP OWNED BY \(login)") }
            if let base = ProcessInfo.processInfo.environment["AGENTOS_TEST_POSTGRES_URL"], let su = try? PostgresConnection(base) {
                _ = try? su.execute("DROP ROLE IF EXISTS \(login)")
            }
            if let redis = try? RedisClient(url: live.redisURL) { _ = try? redis.send("ACL", "DELUSER", login) }
        }
        let dir = NSTemporaryDirectory() + "agentos-op-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let passwordFile = dir + "/password"
        let password = "pw-\(UUID().uuidString)"
        try (password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passwordFile)
        // The deployment's names: the Redis rules name its keys (D83).
        let shared = [
            "--postgres", live.postgresURL, "--redis", live.redisURL, "--namespace", live.namespace, "--broker-prefix", "\(live.namespace):"
        ]

        let grant = try Spawned.run([TmuxSession.binary, "operator", "grant", login, "readonly", "--password-file", passwordFile] + shared)
        #expect(grant.status == 0 && grant.stdout.contains("\(login): created, role readonly"), "\(grant)")
        #expect(!grant.stdout.contains(password) && !grant.stderr.contains(password))
        // The current Redis rules again for every operator, the password kept (D83).
        let reapply = try Spawned.run([TmuxSession.binary, "operator", "reapply"] + shared)
        #expect(reapply.status == 0 && reapply.stdout.contains("operator \(login): rules of role readonly applied"), "\(reapply)")
        let operators = try Spawned.run([TmuxSession.binary, "operator", "list", "--json"] + shared)
        let entries = try JSONSerialization.jsonObject(with: Data(operators.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(entries.contains { $0["login"] as? String == login && $0["role"] as? String == "readonly" }, "\(operators)")

        // The operator's own settings: the login in the URLs, the password in a 0600 file.
        var pg = URLComponents(string: live.postgresURL)!
        pg.user = login
        var redis = URLComponents(string: live.redisURL)!
        redis.user = login
        let config = dir + "/config.yaml"
        try """
        redis:
          url: \(redis.string!)
          password_file: \(passwordFile)
        postgres:
          url: \(pg.string!)
          password_file: \(passwordFile)
        namespace: \(live.namespace)
        broker_prefix: "\(live.namespace):"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config)

        let canI = try Spawned.run([TmuxSession.binary, "can-i", "job.cancel", "--config", config])
        #expect(canI.status == 3 && canI.stdout.contains("no: role readonly may not run job.cancel"), "\(canI)")
        let list = try Spawned.run([TmuxSession.binary, "can-i", "--list", "--config", config])
        #expect(list.stdout.contains("\(login) (readonly, decided by PostgreSQL)"), "\(list.stdout.prefix(200))")

        // The operator's console: their name and role as the server reports them, no advisory banner.
        let mine = try TmuxSession(command: "\(TmuxSession.binary) console --config \(config)", width: 140, height: 40)
        try mine.waitFor("Health", " \(login) (readonly)")
        #expect(!(try mine.capture()).contains("RBAC advisory"))
        // The shared login's console says what it is.
        let theirs = try TmuxSession(command: "\(TmuxSession.binary) console \(live.arguments)", width: 160, height: 40)
        try theirs.waitFor("Health", "RBAC advisory (shared login)")

        // Readonly writes nothing, not even its session row. As a user, its console's row appears,
        // under an id that starts with its Redis user: the only session rows that user may write (D91).
        let sessions = ConsoleSessionStore(redis: try RedisClient(url: live.redisURL), namespace: Namespace(live.namespace))
        #expect(try !sessions.list().contains { $0.id.hasPrefix(login + ":") })
        let promote = try Spawned.run([TmuxSession.binary, "operator", "grant", login, "user"] + shared)
        #expect(promote.status == 0, "\(promote)")
        var listed: [ConsoleSession] = []
        do {
            try waitUntil("the operator's console's session row, named after its Redis user", seconds: 3 * ConsoleSessionStore.heartbeatSeconds) {
                listed = try sessions.list()
                return listed.contains { $0.id.hasPrefix(login + ":") && $0.user == login }
            }
        } catch {
            Issue.record("the session rows: \(listed.map { "\($0.id) (\($0.user))" })")
            throw error
        }

        let revoke = try Spawned.run([TmuxSession.binary, "operator", "revoke", login] + shared)
        #expect(revoke.status == 0, "\(revoke)")
        let after = try Spawned.run([TmuxSession.binary, "can-i", "job.cancel", "--config", config])
        #expect(after.status != 0, "the revoked login still connects: \(after)")
        let db = try PostgresConnection(live.postgresURL)
        let audited = try db.query(
            "SELECT action || ' ' || phase AS row FROM audit_logs WHERE target = $1 ORDER BY seq", [login]
        ).rows.map { try $0.get("row", as: String.self) }
        #expect(
            audited == [
                "operator.grant intent", "operator.grant outcome", "operator.grant intent", "operator.grant outcome", "operator.revoke intent",
                "operator.revoke outcome"
            ])
    }
}
