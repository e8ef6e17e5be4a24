import AgentOSAdapters
import AgentOSCore
import AgentOSCrypto
import AgentOSTestSupport
import Foundation
import Testing

/// Issue 17 items 3 and 7 (D75): the server seals the audit trail with a keyed MAC, logins append
/// only through `audit_append` and in their own name, the server verifies, and a signed checkpoint
/// catches what the chain alone cannot (the newest rows deleted). Tampering is done as the table
/// owner with triggers off (`session_replication_role = replica`), as an attacker with the owner's
/// login would.
@Suite(.serialized) struct AuditKeyedTests {
    static func draft(_ user: String, _ i: Int = 0, phase: AuditDraft.Phase = .outcome, action: String = "job.cancel") -> AuditDraft {
        AuditDraft(
            timestamp: Date(), user: user, role: "operator", action: action, phase: phase, outcome: phase == .intent ? nil : "success",
            requestID: UUID(), sessionID: "s", target: "target-\(i)", payload: CanonicalJSON.object(["n": .int(i), "note": .string("ünï \(i)")]),
            ip: "10.0.0.\(i % 250)", userAgent: "agentos-test", durationMs: i)
    }

    static func fill(_ log: PostgresAuditLog, _ n: Int) throws {
        for i in 1...n { try log.append(draft("op\(i % 3)", i)) }
    }

    /// Runs `body` as the table owner with every trigger off.
    static func asOwnerWithoutTriggers(_ postgres: PostgresClient, _ body: (PostgresConnection) throws -> Void) throws {
        try postgres.withConnection { c in
            try c.execute("SET session_replication_role = replica")
            defer { _ = try? c.execute("RESET session_replication_role") }
            try body(c)
        }
    }

    @Test func anOperatorLoginWritesOnlyThroughAuditAppendAndOnlyInItsOwnName() throws {
        let fx = try ActionFixture(seed: false)
        let op = try OperatorRolesTests.provision(fx, .operator)
        let readonly = try OperatorRolesTests.provision(fx, .readonly)
        defer {
            fx.close()
            OperatorRolesTests.dropLogins([op.name, readonly.name])
        }
        let db = try PostgresConnection(op.url)
        let insert =
            "INSERT INTO audit_logs (seq, id, timestamp, user_id, role, action, phase, request_id, prev_hash, hash) "
            + "VALUES (0, gen_random_uuid(), now(), '\(op.name)', 'admin', 'job.cancel', 'outcome', gen_random_uuid(), '', 'h')"
        #expect(OperatorRolesTests.sqlState(db, insert) == "42501")

        let asOperator = PostgresAuditLog(postgres: op.postgres)
        defer { op.postgres.shutdown() }
        for other in ["someone-else", fx.actor.user, readonly.name] {
            do {
                _ = try asOperator.append(Self.draft(other))
                Issue.record("a row naming \(other) was written by \(op.name)")
            } catch { #expect((error as? PostgresError)?.sqlState == "42501", "\(error)") }
        }
        // In its own name it writes, and the server stamps the login.
        let own = try asOperator.append(Self.draft(op.name))
        let stamped = try fx.backend.postgres.query("SELECT user_id, login FROM audit_logs WHERE seq = $1", [own.seq]).rows[0]
        #expect(try stamped.get("user_id", as: String.self) == op.name && stamped.get("login", as: String.self) == op.name)
        // The refused attempts left nothing.
        #expect(try fx.count("SELECT count(*) FROM audit_logs WHERE user_id IN ('someone-else', $1)", [readonly.name]) == 0)

        // Readonly: its own denials and previews, not an outcome of an action its role may not run.
        let asReadonly = PostgresAuditLog(postgres: readonly.postgres)
        defer { readonly.postgres.shutdown() }
        _ = try asReadonly.append(Self.draft(readonly.name, phase: .denied))
        _ = try asReadonly.append(Self.draft(readonly.name, phase: .preview))
        do {
            _ = try asReadonly.append(Self.draft(readonly.name, phase: .outcome, action: "job.cancel"))
            Issue.record("a readonly login wrote an outcome row of job.cancel")
        } catch { #expect((error as? PostgresError)?.sqlState == "42501", "\(error)") }
        #expect(try fx.count("SELECT count(*) FROM audit_logs WHERE user_id = $1", [readonly.name]) == 2)
        let verification = try AuditVerifier.verify(PostgresAuditLog(postgres: fx.backend.postgres))
        #expect(verification.ok, "\(verification.summary)")
    }

    @Test func aRowAppendedByTheOwnerWithAnUnkeyedHashIsNamed() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let log = PostgresAuditLog(postgres: backend.postgres)
        try Self.fill(log, 20)
        #expect(try log.verifyChain().ok)
        try Self.asOwnerWithoutTriggers(backend.postgres) { c in
            // Valid-looking: the next seq, linked to the head's MAC, hashed as the unkeyed chain was
            // (SHA-256 over the link and the row's canonical form), in an admin's name.
            try c.execute(
                """
                INSERT INTO audit_logs (seq, id, timestamp, user_id, login, role, action, phase, outcome, request_id, prev_hash, hash)
                SELECT h.seq + 1, gen_random_uuid(), now(), 'alice', 'alice', 'admin', 'system.reset', 'outcome', 'success',
                       gen_random_uuid(), h.hash, '-'
                FROM audit_head() h;
                UPDATE audit_logs a SET hash = encode(sha256(convert_to(a.prev_hash || E'\\n' || agentos_audit.canonical(
                    a.seq, a.id, a.timestamp, a.user_id, a.login, a.acting_as, a.role, a.action, a.phase, a.outcome, a.request_id,
                    a.idempotency_key, a.session_id, a.target, a.reason, a.payload, a.result, a.ip_address, a.user_agent, a.trace_id,
                    a.duration_ms, a.security_context), 'UTF8')), 'hex')
                WHERE a.seq = 21;
                """)
        }
        let v = try log.verifyChain()
        #expect(v.broken?.seq == 21 && v.broken?.problem.contains("forged") == true, "\(v.summary)")
        // Rows appended after it through audit_append do not launder it.
        try log.append(Self.draft("op1", 22))
        #expect(try log.verifyChain().broken?.seq == 21)
    }

    @Test func aChangedRowAndAGapAreNamed() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let log = PostgresAuditLog(postgres: backend.postgres)
        try Self.fill(log, 30)
        try Self.asOwnerWithoutTriggers(backend.postgres) { c in
            try c.execute("UPDATE audit_logs SET target = 'other' WHERE seq = 7")
            let changed = try log.verifyChain()
            #expect(changed.broken?.seq == 7 && changed.broken?.problem.contains("changed row") == true, "\(changed.summary)")
            try c.execute("UPDATE audit_logs SET target = 'target-7' WHERE seq = 7")
            #expect(try log.verifyChain().ok)
            try c.execute("DELETE FROM audit_logs WHERE seq = 12")
            let gap = try log.verifyChain()
            #expect(gap.broken?.seq == 13 && gap.broken?.problem.contains("12…12 missing") == true, "\(gap.summary)")
            // The first keyed row too: the chain's start is recorded, not inferred from what is left.
            try c.execute("DELETE FROM audit_logs WHERE seq = 1")
            let first = try log.verifyChain()
            #expect(first.broken?.seq == 2 && first.broken?.problem.contains("1…1 missing") == true, "\(first.summary)")
        }
    }

    @Test func theNewestRowsDeletedAreAHeadBelowTheSignedCheckpoint() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let log = PostgresAuditLog(postgres: backend.postgres)
        try Self.fill(log, 40)
        let keys = try Ed25519.generate()
        let head = try #require(try log.head())
        #expect(head.seq == 40 && head.rows == 40)
        let file = try AuditCheckpoint(seq: head.seq, head: head.hash, rows: head.rows, time: Date()).signed(privatePEM: keys.privatePEM)
        let checkpoint = try AuditCheckpoint.read(file, source: "cp", publicPEM: keys.publicPEM)
        #expect(try log.check(checkpoint) == nil)
        try log.append(Self.draft("op1", 41))
        #expect(try log.check(checkpoint) == nil, "rows after the checkpoint are fine")

        try Self.asOwnerWithoutTriggers(backend.postgres) { c in try c.execute("DELETE FROM audit_logs WHERE seq > 35") }
        #expect(try log.verifyChain().ok, "the chain alone cannot see a cut tail")
        let cut = try #require(try log.check(checkpoint))
        #expect(cut.seq == 40 && cut.problem.contains("head below the checkpoint") && cut.problem.contains("36…40"), "\(cut)")
        // Appending again up to the checkpoint's seq gives a row that is not the one it signed.
        for i in 36...41 { try log.append(Self.draft("op2", i)) }
        let rewritten = try #require(try log.check(checkpoint))
        #expect(rewritten.seq == 40 && rewritten.problem.contains("not the row"), "\(rewritten)")

        // A checkpoint file altered, or checked with another key, is refused naming the file.
        let altered = file.replacingOccurrences(of: "rows 40", with: "rows 35")
        #expect(throws: AuditCheckpoint.Invalid.self) { try AuditCheckpoint.read(altered, source: "cp", publicPEM: keys.publicPEM) }
        do {
            _ = try AuditCheckpoint.read(altered, source: "cp.txt", publicPEM: keys.publicPEM)
        } catch { #expect("\(error)".hasPrefix("cp.txt line 6: the signature does not verify")) }
        let other = try Ed25519.generate()
        #expect(throws: AuditCheckpoint.Invalid.self) { try AuditCheckpoint.read(file, source: "cp", publicPEM: other.publicPEM) }
        do { _ = try AuditCheckpoint.read("seq 1\n", source: "x.cp", publicPEM: keys.publicPEM) } catch {
            #expect("\(error)".hasPrefix("x.cp line 1: not an audit checkpoint"))
        }
    }

    /// Issue 17 (D85): an append's work does not grow with the table. PL/pgSQL plans the seal's head
    /// read once per session, from the statistics of that moment; with audit_logs analyzed while
    /// empty, that plan was a sequential scan and a sort, kept for the whole transaction, so every
    /// append read the whole table. Counted, not timed: the transaction's own sequential reads of
    /// audit_logs (`pg_stat_xact_user_tables.seq_tup_read`) across appends made after it grew.
    @Test func anAppendReadsNoRowsSequentiallyAfterTheTableGrewUnderItsPlan() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let grown = 2_000
        let append = { (count: Int) in
            """
            SELECT count(*) AS n FROM (
                SELECT audit_append(gen_random_uuid(), now(), 'op' || g % 3, NULL, 'operator', 'job.cancel', 'outcome', 'success',
                                    gen_random_uuid(), NULL, 's', 'target-' || g, NULL, jsonb_build_object('n', g), NULL, NULL,
                                    'agentos-test', g)
                FROM generate_series(1, \(count)) AS g) appended
            """
        }
        try backend.postgres.withConnection { c in
            // The statistics autovacuum leaves on a new database: the table analyzed while empty.
            try c.execute("VACUUM ANALYZE audit_logs")
            try c.transaction { tx in
                let seqRead = {
                    try tx.query("SELECT seq_tup_read AS n FROM pg_stat_xact_user_tables WHERE relid = 'audit_logs'::regclass")[0]
                        .get("n", as: Int.self)
                }
                _ = try tx.execute(append(1)) // the seal's plans are made here, on the empty table
                // owns_request (the gate of an enforced login's audit rows) too, past its custom plans.
                for _ in 1...6 { _ = try tx.execute("SELECT agentos_api.owns_request(gen_random_uuid())") }
                _ = try tx.execute(append(grown)) // the table the plans were made for is gone
                var before = try seqRead()
                for _ in 1...10 { _ = try tx.execute(append(1)) }
                let read = try seqRead() - before
                #expect(read == 0, "10 appends to \(grown + 1) rows read \(read) rows of audit_logs sequentially")
                before = try seqRead()
                for _ in 1...10 { _ = try tx.execute("SELECT agentos_api.owns_request(gen_random_uuid())") }
                let gateRead = try seqRead() - before
                #expect(gateRead == 0, "10 owns_request calls read \(gateRead) rows of audit_logs sequentially")
            }
        }
        let v = try PostgresAuditLog(postgres: backend.postgres).verifyChain()
        #expect(v.ok && v.rows == grown + 11, "\(v.summary)")
    }

    /// Issue 17 (D85): `open_action`, which every mutating action of an operator's login calls, finds
    /// the action's intent row through its index however the table's statistics stood when the
    /// session planned it (V15's `enable_seqscan = off` on the function). Its plans are made in the
    /// operator's session while audit_logs is analyzed empty, past PL/pgSQL's custom plans; after
    /// the table grew, each call's sequential reads of audit_logs are counted, not timed.
    @Test func openActionFindsItsIntentByIndexAfterTheTableGrewUnderItsPlan() throws {
        let fx = try ActionFixture(seed: false)
        let op = try OperatorRolesTests.provision(fx, .operator)
        defer { OperatorRolesTests.close(fx, [op]) }
        try fx.backend.postgres.execute("VACUUM ANALYZE audit_logs") // the statistics a new database has
        let intent = { (request: String) in
            """
            SELECT audit_append(gen_random_uuid(), now(), session_user::text, NULL, 'operator', 'job.cancel', 'intent', NULL,
                                '\(request)'::uuid, NULL, 's', 'target', NULL, '{}'::jsonb, NULL, NULL, 'agentos-test', NULL)
            """
        }
        /// One action's opening in a transaction of its own: the sequential reads of audit_logs it made.
        func open(_ c: PostgresConnection) throws -> Int {
            try c.transaction { tx in
                let request = UUID().uuidString.lowercased()
                _ = try tx.execute(intent(request))
                let seqRead = {
                    try tx.query("SELECT seq_tup_read AS n FROM pg_stat_xact_user_tables WHERE relid = 'audit_logs'::regclass")[0]
                        .get("n", as: Int.self)
                }
                let before = try seqRead()
                _ = try tx.execute("SELECT agentos_api.open_action('\(request)'::uuid, 'job.cancel', 'target')")
                return try seqRead() - before
            }
        }
        try op.postgres.withConnection { c in
            for _ in 1...6 { _ = try open(c) } // the session's plans, on the empty table
            try Self.fill(PostgresAuditLog(postgres: fx.backend.postgres), 2_000) // the table they were made for is gone
            var reads: [Int] = []
            for _ in 1...5 { reads.append(try open(c)) }
            #expect(reads.allSatisfy { $0 == 0 }, "open_action read \(reads) rows of audit_logs sequentially, 2,000+ rows in the table")
        }
    }

    /// Issue 17 (D89): the MAC scan of `audit verify` is planned as a parallel scan of audit_logs
    /// whatever the statistics: joined to the one-row key table, it lost its workers once the key
    /// table had statistics (a database-wide ANALYZE), and a plain `min(seq)` is planned as a walk
    /// of the primary key. Read from the plan auto_explain hands psql (planned, not timed: how many
    /// workers start depends on the machine).
    @Test func theMacScanIsPlannedInParallelAfterADatabaseWideAnalyze() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        // Past min_parallel_table_scan_size (8 MB), as a trail of some weeks is.
        try backend.postgres.execute(
            """
            SELECT count(*) FROM (
                SELECT audit_append(gen_random_uuid(), now(), 'op' || g % 3, NULL, 'operator', 'job.cancel', 'outcome', 'success',
                                    gen_random_uuid(), NULL, 's', 'target-' || g, NULL, jsonb_build_object('n', g, 'note', repeat('x', 200)),
                                    NULL, NULL, 'agentos-test', g)
                FROM generate_series(1, 30000) AS g) appended
            """)
        try backend.postgres.execute("ANALYZE")
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: try TestServers.env("AGENTOS_TEST_PG_BIN") + "/psql")
        psql.arguments = [
            "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", backend.url, "-c", "LOAD 'auto_explain'", "-c",
            "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice",
            "-c", "SELECT agentos_audit.first_bad_mac(1)"
        ]
        let output = Pipe()
        psql.standardError = output
        psql.standardOutput = FileHandle.nullDevice
        try psql.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        psql.waitUntilExit()
        #expect(psql.terminationStatus == 0, "\(text)")
        // The plan of the function's own query (the one that reads audit_logs).
        let plans = text.components(separatedBy: "NOTICE:").filter { $0.contains("audit_logs a") }
        #expect(!plans.isEmpty, "no plan of the MAC scan in: \(text)")
        #expect(plans.allSatisfy { $0.contains("Parallel Seq Scan on audit_logs") }, "\(plans)")
    }

    /// An existing database: rows written before migration 13 keep their unkeyed chain, the keyed
    /// chain starts after them (recorded), and both verify, each naming a changed row.
    @Test func anUnkeyedChainMigratedTo13StillVerifies() throws {
        let admin = try PostgresConnection(try TestServers.postgresURL())
        let name = TestServers.unique("legacy")
        try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        var comps = try #require(URLComponents(string: try TestServers.postgresURL()))
        comps.path = "/\(name)"
        let postgres = PostgresClient(try #require(comps.string))
        defer { postgres.shutdown() }
        try postgres.withConnection { c in
            _ = try Migrator(migrations: Migrator.all.filter { $0.version < 13 }).migrate(c)
            // The unkeyed chain as consoles before migration 13 wrote it.
            var last: AuditRecord?
            for i in 1...25 {
                let r = AuditChain.link(Self.draft("op\(i % 3)", i), after: last)
                let d = r.draft
                try c.query(
                    """
                    INSERT INTO audit_logs (seq, id, timestamp, user_id, role, action, phase, outcome, request_id, session_id, target, payload,
                                            ip_address, user_agent, duration_ms, prev_hash, hash)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::inet, $14, $15, $16, $17)
                    """,
                    [
                        r.seq, d.id, d.timestamp, d.user, d.role, d.action, d.phase.rawValue, d.outcome, d.requestID, d.sessionID, d.target,
                        d.payload, d.ip, d.userAgent, d.durationMs, r.prevHash, r.hash
                    ])
                last = r
            }
            _ = try Migrator().migrate(c)
        }
        let log = PostgresAuditLog(postgres: postgres)
        let start = try postgres.query("SELECT first_seq FROM audit_chain_start()").rows[0].get("first_seq", as: Int.self)
        #expect(start == 26)
        try Self.fill(log, 10)
        let intact = try log.verifyChain()
        #expect(intact.ok && intact.rows == 35, "\(intact.summary)")
        #expect(try log.tail(11).map { $0.keyed == true } == [false] + Array(repeating: true, count: 10))

        try Self.asOwnerWithoutTriggers(postgres) { c in
            try c.execute("UPDATE audit_logs SET target = 'other' WHERE seq = 9")
            let legacy = try log.verifyChain()
            #expect(legacy.broken?.seq == 9 && legacy.broken?.problem.contains("altered") == true, "\(legacy.summary)")
            try c.execute("UPDATE audit_logs SET target = 'target-9' WHERE seq = 9")
            try c.execute("UPDATE audit_logs SET target = 'other' WHERE seq = 30")
            let keyed = try log.verifyChain()
            #expect(keyed.broken?.seq == 30 && keyed.broken?.problem.contains("changed row") == true, "\(keyed.summary)")
            try c.execute("UPDATE audit_logs SET target = 'target-5' WHERE seq = 30")
            // The unkeyed tail cut: the keyed chain's first link still names the head it started from.
            try c.execute("CREATE TEMP TABLE saved AS SELECT * FROM audit_logs WHERE seq = 25; DELETE FROM audit_logs WHERE seq = 25")
            let cut = try log.verifyChain()
            #expect(cut.broken?.seq == 25 && cut.broken?.problem.contains("unkeyed chain") == true, "\(cut.summary)")
            try c.execute("INSERT INTO audit_logs SELECT * FROM saved")
        }
        #expect(try log.verifyChain().ok)
    }
}
