import AgentOSAdapters
import AgentOSTestSupport
import Foundation
import Testing

/// Migrations run once for the shared test database before the tests that need the schema.
enum MigratedDatabase {
    static let ready: Result<Void, Error> = Result {
        let db = try PostgresConnection(try TestServers.postgresURL())
        try Migrator().migrate(db)
    }

    static func client() throws -> PostgresClient {
        try ready.get()
        return PostgresClient(try TestServers.postgresURL())
    }
}

@Suite("PostgreSQL adapter against a real server")
struct PostgresContractTests {
    @Test func typedRoundTrip() throws {
        let db = try PostgresConnection(try TestServers.postgresURL())
        // A named table, not TEMP: behind PgBouncer in transaction mode each statement may run on
        // another server connection, where a session's temporary table does not exist.
        let table = TestServers.unique("typed")
        defer { _ = try? db.execute("DROP TABLE IF EXISTS \(table)") }
        try db.execute(
            """
            CREATE TABLE \(table) (t text, i integer, b bigint, d double precision, ok boolean,
                ts timestamptz, u uuid, j jsonb, raw bytea, tags text[], nothing text)
            """)
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_795_729_200.250_5)
        let raw: [UInt8] = [0, 0xff, 0x00, 0x27, 0x5c, 0x80]
        let hostile = "'; DROP TABLE typed; -- \u{0}x".replacingOccurrences(of: "\u{0}", with: "") + " ünïcødé ✓"
        try db.query(
            "INSERT INTO \(table) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            [
                hostile, 42, Int64.max, 3.141_592_653_589_793, true, when, id,
                PostgresValue.json(#"{"a":[1,2,{"b":null}]}"#), raw, PostgresValue.textArray(["x,y", "q\"uote"]),
                PostgresValue.null
            ])
        let row = try #require(try db.query("SELECT * FROM \(table)").first)
        #expect(try row.get("t", as: String.self) == hostile)
        #expect(try row.get("i", as: Int.self) == 42)
        #expect(try row.get("b", as: Int64.self) == Int64.max)
        #expect(try row.get("d", as: Double.self) == 3.141_592_653_589_793)
        #expect(try row.get("ok", as: Bool.self) == true)
        #expect(abs(try row.get("ts", as: Date.self).timeIntervalSince1970 - when.timeIntervalSince1970) < 0.000_001)
        #expect(try row.get("u", as: UUID.self) == id)
        struct Payload: Decodable, Equatable {
            struct Inner: Decodable, Equatable { let b: Int? }
            let a: [Inner?]?
        }
        #expect(try row.get("j", as: PostgresJSON.self).text == #"{"a": [1, 2, {"b": null}]}"#)
        #expect(try row.get("raw", as: [UInt8].self) == raw)
        #expect(try row.get("tags", as: PostgresTextArray.self).items == ["x,y", "q\"uote"])
        #expect(try row.get("nothing", as: String?.self) == nil)
        #expect(throws: PostgresError.self) { try row.get("nothing", as: String.self) }
        #expect(try db.query("SELECT count(*) AS n FROM \(table)")[0].get("n", as: Int.self) == 1, "the table survived the hostile string")
    }

    @Test func transactionRollsBackOnAnyError() throws {
        let client = PostgresClient(try TestServers.postgresURL())
        let table = TestServers.unique("tx")
        try client.execute("CREATE TABLE \(table) (id int PRIMARY KEY)")
        defer { _ = try? client.execute("DROP TABLE \(table)") }
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try client.transaction { tx in
                try tx.query("INSERT INTO \(table) VALUES ($1)", [1])
                throw Abort()
            }
        }
        #expect(throws: PostgresError.self) {
            try client.transaction { tx in
                try tx.query("INSERT INTO \(table) VALUES ($1)", [2])
                try tx.query("INSERT INTO \(table) VALUES ($1)", [2]) // duplicate key
            }
        }
        #expect(try client.query("SELECT count(*) AS n FROM \(table)")[0].get("n", as: Int.self) == 0)
        // The pooled connection is usable again (not left inside the aborted transaction).
        _ = try client.transaction { tx in try tx.query("INSERT INTO \(table) VALUES ($1)", [3]) }
        #expect(try client.query("SELECT id FROM \(table)").rows.map { try $0.get("id", as: Int.self) } == [3])
    }

    @Test func pipelineDeferredStatementsAndCommitTravelTogether() throws {
        let client = PostgresClient(try TestServers.postgresURL())
        let table = TestServers.unique("pipe")
        try client.execute("CREATE TABLE \(table) (id int PRIMARY KEY, v text)")
        defer { _ = try? client.execute("DROP TABLE \(table)") }
        typealias St = PostgresConnection.Statement
        // One round trip, rows per statement, parameters bound.
        let rows = try client.withConnection { c in
            try c.pipeline([St("INSERT INTO \(table) VALUES ($1, $2)", [1, "a"]), St("SELECT v FROM \(table) WHERE id = $1", [1])])
        }
        let v = try rows[1][0].get("v", as: String.self)
        #expect(rows.count == 2 && v == "a")
        // The first error is thrown; the statements after it were skipped.
        #expect(throws: PostgresError.self) {
            try client.withConnection { c in
                try c.pipeline([St("INSERT INTO \(table) VALUES ($1, 'dup')", [1]), St("INSERT INTO \(table) VALUES ($1, 'b')", [2])])
            }
        }
        #expect(try client.query("SELECT count(*) AS n FROM \(table)")[0].get("n", as: Int.self) == 1)

        // Inside a transaction: a deferred statement goes out with the commit; commit(with:) returns the rows of its own statements.
        let returned = try client.transaction { tx -> Int in
            try tx.query("INSERT INTO \(table) VALUES ($1, 'c')", [3])
            tx.deferUntilCommit("INSERT INTO \(table) VALUES ($1, 'deferred')", [4])
            #expect(try tx.query("SELECT count(*) AS n FROM \(table) WHERE id = 4")[0].get("n", as: Int.self) == 0, "not sent yet")
            let r = try tx.commit(with: [St("SELECT count(*) AS n FROM \(table)")])
            return try r[0][0].get("n", as: Int.self)
        }
        #expect(returned == 3)
        #expect(try client.query("SELECT v FROM \(table) WHERE id = 4")[0].get("v", as: String.self) == "deferred")

        // A deferred statement that fails fails the commit: nothing of the transaction stays.
        #expect(throws: PostgresError.self) {
            try client.transaction { tx in
                try tx.query("INSERT INTO \(table) VALUES ($1, 'e')", [5])
                tx.deferUntilCommit("INSERT INTO \(table) VALUES ($1, 'dup')", [1])
            }
        }
        #expect(try client.query("SELECT count(*) AS n FROM \(table) WHERE id = 5")[0].get("n", as: Int.self) == 0)
        // A transaction that ran nothing commits nothing and leaves the connection idle.
        try client.transaction { tx in #expect(!tx.inTransaction) }
        _ = try client.transaction { tx in try tx.query("INSERT INTO \(table) VALUES ($1, 'f')", [6]) }
        #expect(try client.query("SELECT count(*) AS n FROM \(table)")[0].get("n", as: Int.self) == 4)
    }

    @Test func sqlStateOnConstraintViolations() throws {
        let db = try PostgresConnection(try TestServers.postgresURL())
        let c = TestServers.unique("c") // named, not TEMP: see typedRoundTrip
        defer { _ = try? db.execute("DROP TABLE IF EXISTS \(c)") }
        try db.execute("CREATE TABLE \(c) (id int CONSTRAINT c_pk PRIMARY KEY, n int CONSTRAINT c_positive CHECK (n > 0))")
        try db.query("INSERT INTO \(c) VALUES ($1, $2)", [1, 1])
        do {
            try db.query("INSERT INTO \(c) VALUES ($1, $2)", [1, 5])
            Issue.record("duplicate accepted")
        } catch {
            #expect(error.sqlState == "23505" && error.isUniqueViolation)
            #expect(error.constraint == "c_pk")
            #expect(error.description.contains("23505") && error.description.contains("duplicate key"))
        }
        do {
            try db.query("INSERT INTO \(c) VALUES ($1, $2)", [2, -1])
            Issue.record("check violation accepted")
        } catch {
            #expect(error.sqlState == "23514" && error.constraint == "c_positive")
        }
        do {
            try db.query("SELECT nonsense FROM \(c)")
            Issue.record("an unknown column was accepted")
        } catch {
            #expect(error.sqlState == "42703" && error.kind == .server)
        }
    }

    @Test func connectionErrorsAreClear() throws {
        let port = freeLoopbackPort()
        do {
            _ = try PostgresConnection("postgresql://nobody:hunter2@127.0.0.1:\(port)/x?connect_timeout=2")
            Issue.record("connected to a closed port")
        } catch {
            #expect(error.kind == .connection)
            #expect(error.description.contains("127.0.0.1") && !error.description.contains("hunter2"))
        }
    }

    // Behind PgBouncer the pid is one of the pooler's server connections, which the admin's own
    // statement may be given next (it would terminate itself); PgBouncerTests cover the pooler.
    @Test(.disabled(if: TestServers.viaTransactionPooler, "backend pids belong to the pool behind PgBouncer"))
    func poolReconnectsAfterBackendTerminated() throws {
        let client = PostgresClient(try TestServers.postgresURL())
        let pid = try client.query("SELECT pg_backend_pid() AS pid")[0].get("pid", as: Int.self)
        let admin = try PostgresConnection(try TestServers.postgresURL())
        #expect(try admin.query("SELECT pg_terminate_backend($1::int) AS ok", [pid])[0].get("ok", as: Bool.self))
        #expect(
            TestServers.eventually {
                (try? admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1::int", [pid])[0].get("n", as: Int.self)) == 0
            })
        let newPid = try client.query("SELECT pg_backend_pid() AS pid")[0].get("pid", as: Int.self)
        #expect(newPid != pid)
    }

    @Test func keyValueConnectionString() throws {
        let url = try TestServers.postgresURL()
        // postgresql://postgres@127.0.0.1:PORT/agentos_test → host=… port=… user=… dbname=…
        let comps = try #require(URLComponents(string: url))
        let kv = "host=\(comps.host!) port=\(comps.port!) user=\(comps.user!) dbname=\(comps.path.dropFirst())"
        #expect(try PostgresConnection(kv).query("SELECT 1 AS one")[0].get("one", as: Int.self) == 1)
    }
}

@Suite("Migrations and the append-only audit table")
struct MigrationTests {
    @Test func migrationsAreIdempotentAndConcurrentSafe() async throws {
        let admin = try PostgresConnection(try TestServers.postgresURL())
        let name = TestServers.unique("mig")
        try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE \(name) WITH (FORCE)") }
        var comps = try #require(URLComponents(string: try TestServers.postgresURL()))
        comps.path = "/\(name)"
        let url = try #require(comps.string)
        // Four consoles migrate at once: each migration is applied exactly once.
        let applied = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask { try Migrator().migrate(PostgresConnection(url)).count }
            }
            return try await group.reduce(0, +)
        }
        #expect(applied == Migrator.all.count)
        let db = try PostgresConnection(url)
        #expect(try Migrator().migrate(db).isEmpty)
        #expect(try db.query("SELECT count(*) AS n FROM schema_migrations")[0].get("n", as: Int.self) == Migrator.all.count)
        for table in [
            "jobs", "job_events", "workers", "queues", "managers", "logs", "config", "config_history", "alerts",
            "stats_minutely", "audit_logs", "action_history", "user_permissions", "idempotency_results"
        ] {
            #expect(
                try db.query("SELECT to_regclass($1) IS NOT NULL AS present", [table])[0].get("present", as: Bool.self),
                "table \(table) exists")
        }
    }

    @Test func editedMigrationIsDetected() throws {
        let client = try MigratedDatabase.client()
        let tampered = Migrator.all.map { m in
            m.version == 1 ? Migration(version: 1, name: m.name, sql: m.sql + "\n-- edited") : m
        }
        try client.withConnection { db in
            do {
                try Migrator(migrations: tampered).migrate(db)
                Issue.record("an edited migration went unnoticed")
            } catch let failure as Migrator.Failure {
                #expect(failure.description.contains("changed after it was applied"))
            }
        }
    }

    @Test func auditLogsRefuseUpdateDeleteTruncate() throws {
        let client = try MigratedDatabase.client()
        // The seal trigger (migration 13) gives the row its seq and hash.
        let seq = try client.query(
            """
            INSERT INTO audit_logs (seq, id, timestamp, user_id, role, action, phase, request_id, prev_hash, hash)
            VALUES (0, $1, now(), 'tester', 'admin', 'job.cancel', 'intent', $2, '', $3) RETURNING seq
            """, [UUID(), UUID(), UUID().uuidString])[0].get("seq", as: Int64.self)
        // Each statement in its own transaction with SET LOCAL ROLE: behind PgBouncer in transaction
        // mode a session-wide SET ROLE stays on the pooler's server connection and reaches whichever
        // client is given it next (a later CREATE DATABASE was refused as agentos_console).
        for role in [nil, "agentos_console"] as [String?] {
            try client.withConnection { db in
                func asRole<T>(_ body: () throws -> T) throws -> T {
                    try db.execute("BEGIN")
                    defer { _ = try? db.execute("ROLLBACK") }
                    if let role { try db.execute("SET LOCAL ROLE \(role)") }
                    return try body()
                }
                for sql in [
                    "UPDATE audit_logs SET action = 'x' WHERE seq = \(seq)",
                    "DELETE FROM audit_logs WHERE seq = \(seq)",
                    "TRUNCATE audit_logs"
                ] {
                    try asRole {
                        do {
                            try db.execute(sql)
                            Issue.record("\(sql) was allowed for \(role ?? "the owner")")
                        } catch let error as PostgresError {
                            // 42501 insufficient_privilege: from the trigger (owner) or the grants (console role).
                            #expect(error.sqlState == "42501", "\(sql) as \(role ?? "owner"): \(error)")
                        }
                    }
                }
                // The console role can still read.
                if role != nil {
                    #expect(try asRole { try db.query("SELECT count(*) AS n FROM audit_logs WHERE seq = $1", [seq])[0].get("n", as: Int.self) } == 1)
                }
            }
        }
        #expect(try client.query("SELECT action FROM audit_logs WHERE seq = $1", [seq])[0].get("action", as: String.self) == "job.cancel")
    }
}

@Suite("Trigger-maintained job counts")
struct JobCountsTests {
    @Test func countsMatchAGroupByUnderConcurrentWriters() async throws {
        let admin = try PostgresConnection(try TestServers.postgresURL())
        let name = TestServers.unique("counts")
        try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE \(name) WITH (FORCE)") }
        var comps = try #require(URLComponents(string: try TestServers.postgresURL()))
        comps.path = "/\(name)"
        let url = try #require(comps.string)
        let client = PostgresClient(url)
        _ = try client.withConnection { try Migrator().migrate($0) }
        try client.execute(
            """
            INSERT INTO jobs (id, stage, queue, status) SELECT gen_random_uuid(), 'stage' || (g % 3), 'q' || (g % 2),
                (ARRAY['queued','running','failed','completed'])[1 + g % 4] FROM generate_series(1, 2000) g
            """)
        // Four writers move jobs between statuses (in both directions), delete some, insert more, each
        // in multi-statement transactions, on its own rows (so only the counters are shared), while
        // a compactor folds the deltas.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<4 {
                group.addTask {
                    let db = try PostgresConnection(url)
                    for round in 0..<25 {
                        try db.transaction { tx in
                            let (from, to) = [("queued", "running"), ("running", "queued"), ("running", "completed"), ("failed", "queued")][
                                (w + round) % 4]
                            try tx.query(
                                """
                                UPDATE jobs SET status = $2 WHERE id IN (SELECT id FROM jobs WHERE status = $1 AND abs(hashtext(id::text)) % 4 = $3
                                ORDER BY random() LIMIT 20)
                                """, [from, to, w])
                            if round % 5 == 0 {
                                try tx.query(
                                    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE abs(hashtext(id::text)) % 4 = $1 ORDER BY random() LIMIT 5)",
                                    [w])
                            }
                            if round % 7 == 0 {
                                try tx.query(
                                    "INSERT INTO jobs (id, stage, queue, status) SELECT gen_random_uuid(), 'stage9', 'q9', 'queued' FROM generate_series(1, 3)"
                                )
                            }
                        }
                    }
                }
            }
            group.addTask {
                let db = try PostgresConnection(url)
                for _ in 0..<20 {
                    _ = try db.query("SELECT job_counts_compact()")
                    usleep(5_000)
                }
            }
            try await group.waitForAll()
        }
        let grouped = try client.query("SELECT status, stage, queue, count(*)::bigint AS n FROM jobs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
            .rows.map {
                "\(try $0.get("status", as: String.self))/\(try $0.get("stage", as: String.self))/\(try $0.get("queue", as: String.self))=\(try $0.get("n", as: Int.self))"
            }
        let counted = try client.query(
            """
            SELECT status, stage, queue, sum(n)::bigint AS n FROM (SELECT status, stage, queue, n FROM job_counts
            UNION ALL SELECT status, stage, queue, d FROM job_count_deltas) c GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
            """
        )
        .rows.map {
            "\(try $0.get("status", as: String.self))/\(try $0.get("stage", as: String.self))/\(try $0.get("queue", as: String.self))=\(try $0.get("n", as: Int.self))"
        }
        #expect(counted == grouped)
        // Folding changes nothing in the totals and empties the deltas.
        _ = try client.query("SELECT job_counts_compact()")
        #expect(try client.query("SELECT count(*) AS n FROM job_count_deltas")[0].get("n", as: Int.self) == 0)
        let folded = try client.query("SELECT status, stage, queue, n FROM job_counts WHERE n <> 0 ORDER BY 1, 2, 3")
            .rows.map {
                "\(try $0.get("status", as: String.self))/\(try $0.get("stage", as: String.self))/\(try $0.get("queue", as: String.self))=\(try $0.get("n", as: Int.self))"
            }
        #expect(folded == grouped)
        try client.execute("TRUNCATE jobs CASCADE")
        #expect(try client.query("SELECT count(*) AS n FROM job_counts")[0].get("n", as: Int.self) == 0)
        client.shutdown()
    }
}
