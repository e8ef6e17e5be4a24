import AgentOSAdapters
import Foundation
import Testing

/// Several hosts in one connection string against a real primary and a streaming standby of the
/// test's own: writes find the primary, reads may go to the standby, and a promotion moves the pool.
@Suite("PostgreSQL primary and standby")
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
}
