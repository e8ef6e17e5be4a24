import AgentOSAdapters
import AgentOSCore
import AgentOSTestSupport
import Foundation
import Testing

/// The console behind a real PgBouncer in transaction mode (`pooler=transaction`).
@Suite("PgBouncer in transaction mode")
struct PgBouncerTests {
    @Test func namedStatementsCollideAndUnnamedOnesDoNot() throws {
        let server = try PrivatePostgres()
        let bouncer = try PrivatePgBouncer(in: server)
        let sql = "SELECT $1::int + 1 AS n"
        // Unaware of the pooler: both clients name their first statement agentos_1, on the one server connection.
        let a = try PostgresConnection(bouncer.unawareURL)
        let b = try PostgresConnection(bouncer.unawareURL)
        #expect(try a.query(sql, [1]).first?.get("n", as: Int.self) == 2)
        do {
            _ = try b.query(sql, [2])
            Issue.record("the second client's named statement did not collide; is pool_mode transaction?")
        } catch {
            #expect(error.sqlState == "42P05", "\(error)") // duplicate_prepared_statement
        }
        let c = try PostgresConnection(bouncer.url)
        let d = try PostgresConnection(bouncer.url)
        #expect(c.pooler == .transaction)
        for i in 0..<3 {
            #expect(try c.query(sql, [i]).first?.get("n", as: Int.self) == i + 1)
            #expect(try d.query(sql, [i * 10]).first?.get("n", as: Int.self) == i * 10 + 1)
        }
    }

    @Test func theSessionSettingsTheConsoleNeedsFollowItAcrossServerConnections() throws {
        let server = try PrivatePostgres()
        let admin = PostgresClient(server.url)
        try admin.execute("ALTER SYSTEM SET timezone = 'America/New_York'")
        try admin.execute("SELECT pg_reload_conf()")
        let bouncer = try PrivatePgBouncer(in: server)
        let console = try PostgresConnection(bouncer.url)
        let other = try PostgresConnection(bouncer.url)
        // Another client of the same server connection changes the zone; PgBouncer restores ours.
        try other.execute("SET TimeZone = 'Asia/Tokyo'")
        #expect(try console.query("SELECT current_setting('TimeZone') AS tz").first?.get("tz", as: String.self) == "UTC")
        let instant = try console.query("SELECT '2024-03-01 12:00:00+00'::timestamptz AS t").first?.get("t", as: Date.self)
        #expect(instant == Date(timeIntervalSince1970: 1_709_294_400))
        #expect(try other.query("SELECT current_setting('TimeZone') AS tz").first?.get("tz", as: String.self) == "Asia/Tokyo")
    }

    @Test func anActionAndItsAuditRowsGoThroughTransactionPooling() throws {
        let server = try PrivatePostgres()
        let bouncer = try PrivatePgBouncer(in: server, poolSize: 2)
        let postgres = try PostgresClient.migrated(bouncer.url)
        let redis = try RedisClient(url: TestServers.redisURL())
        let stack = try ReliabilityStack(postgres: postgres, postgresURL: bouncer.url, redis: redis)
        defer { stack.close() }
        try postgres.query("INSERT INTO queues (name, stage) VALUES ('video_cutter', 'video_cutter')")
        for (i, paused) in [true, false, true].enumerated() {
            let report = stack.actions.dispatcher.dispatch(
                ValidPayload.request(
                    ActionCatalog.spec(paused ? "queue.pause" : "queue.resume")!, actor: Actor(user: "op", ip: "127.0.0.1"),
                    key: "bouncer-\(i)", overriding: ["queue": .string("video_cutter")]))
            #expect(report.succeeded, "\(report.message)")
            // Straight from the server, not through the pooler.
            let row = try PostgresClient(server.url).query("SELECT paused FROM queues WHERE name = 'video_cutter'").first
            #expect(try row?.get("paused", as: Bool.self) == paused)
        }
        let audit = try stack.auditRows()
        #expect(audit.count == 3 && audit.values.allSatisfy { $0.last?.outcome == "success" }, "\(audit)")
        #expect(try AuditVerifier.verify(PostgresAuditLog(postgres: PostgresClient(server.url))).ok)
        // No named statement on either server connection: two open transactions hold both while they look.
        let (first, second) = (try PostgresConnection(bouncer.url), try PostgresConnection(bouncer.url))
        let count = "SELECT count(*) AS n, pg_backend_pid() AS pid FROM pg_prepared_statements"
        let seen = try first.transaction { a in
            let one = try a.query(count).first
            let two = try second.transaction { b in try b.query(count).first }
            return [one, two]
        }
        #expect(try Set(seen.map { try $0?.get("pid", as: Int.self) }).count == 2)
        #expect(try seen.allSatisfy { try $0?.get("n", as: Int.self) == 0 }, "a statement was named behind the pooler")
    }
}
