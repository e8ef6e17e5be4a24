import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// The round trips job.cancel saves, against the real servers: a transaction sent ahead of
/// another in one PostgreSQL round trip (the intent row ahead of the effect), and a success's
/// follow-ups in one Redis pipeline across databases.
@Suite("Fewer round trips, same rules", .serialized)
struct RoundTripTests {
    /// A scratch table and two connections: one runs the transactions, the other looks from outside.
    struct Scratch {
        let table = TestServers.unique("lead").replacingOccurrences(of: "-", with: "_")
        let db: PostgresConnection
        let outside: PostgresConnection

        init() throws {
            db = try PostgresConnection(try TestServers.postgresURL())
            outside = try PostgresConnection(try TestServers.postgresURL())
            try db.execute("CREATE TABLE \(table) (v text PRIMARY KEY)")
        }

        func values(_ connection: PostgresConnection? = nil) throws -> [String] {
            try (connection ?? outside).query("SELECT v FROM \(table) ORDER BY v").rows.map { try $0.get("v", as: String.self) }
        }

        func drop() { _ = try? outside.execute("DROP TABLE IF EXISTS \(table)") }
        func insert(_ v: String) -> PostgresConnection.Statement { .init("INSERT INTO \(table) (v) VALUES ($1) RETURNING v", [v]) }
    }

    struct Stop: Error {}

    @Test func theLeadIsCommittedBeforeTheTransactionStarts() throws {
        let s = try Scratch()
        defer { s.drop() }
        var leadRows: [PostgresRows] = []
        var seenFromOutside: [String] = []
        #expect(throws: Stop.self) {
            try s.db.transaction { tx in
                tx.lead(with: [s.insert("intent")]) { leadRows = $0 }
                try tx.query("INSERT INTO \(s.table) (v) VALUES ('effect')")
                seenFromOutside = try s.values() // committed: the intent; still open: the effect
                throw Stop()
            }
        }
        #expect(try leadRows.first?.rows.first?.get("v", as: String.self) == "intent")
        #expect(seenFromOutside == ["intent"])
        #expect(try s.values() == ["intent"], "the effect rolled back, the intent stays")
    }

    @Test func aFailingLeadRunsNothingAfterIt() throws {
        let s = try Scratch()
        defer { s.drop() }
        try s.outside.query("INSERT INTO \(s.table) (v) VALUES ('intent')")
        var reached = false
        do {
            try s.db.transaction { tx in
                tx.lead(with: [s.insert("intent")]) { _ in reached = true } // a duplicate key: the lead fails
                try tx.query("INSERT INTO \(s.table) (v) VALUES ('effect')")
            }
            Issue.record("the transaction went on after its lead failed")
        } catch let e as PostgresError {
            #expect(e.inLead)
            #expect(e.sqlState == "23505")
        }
        #expect(!reached)
        #expect(try s.values() == ["intent"])
        #expect(try s.db.query("SELECT 1 AS one").rows.first?.get("one", as: Int.self) == 1, "the connection is usable afterwards")
    }

    /// A lead statement the server cannot even prepare (a missing table) fails the lead the same way.
    @Test func aLeadThatCannotBePreparedRunsNothingAfterIt() throws {
        let s = try Scratch()
        defer { s.drop() }
        do {
            try s.db.transaction { tx in
                tx.lead(with: [.init("INSERT INTO \(s.table)_missing (v) VALUES ($1)", ["intent"])]) { _ in }
                try tx.query("INSERT INTO \(s.table) (v) VALUES ('effect')")
            }
            Issue.record("the transaction went on after its lead failed")
        } catch let e as PostgresError {
            #expect(e.inLead)
            #expect(e.sqlState == "42P01")
        }
        #expect(try s.values().isEmpty)
    }

    @Test func anErrorAfterTheLeadIsNotTheLeads() throws {
        let s = try Scratch()
        defer { s.drop() }
        do {
            try s.db.transaction { tx in
                tx.lead(with: [s.insert("intent")]) { _ in }
                try tx.query("INSERT INTO \(s.table) (v) VALUES ('intent')") // the effect fails, after the lead committed
            }
            Issue.record("a duplicate key went through")
        } catch let e as PostgresError {
            #expect(!e.inLead)
            #expect(e.sqlState == "23505")
        }
        #expect(try s.values() == ["intent"])
    }

    @Test func refusedLeadRowsRollTheTransactionBack() throws {
        let s = try Scratch()
        defer { s.drop() }
        do {
            try s.db.transaction { tx in
                tx.lead(with: [s.insert("intent")]) { _ in throw Stop() }
                try tx.query("INSERT INTO \(s.table) (v) VALUES ('effect')")
                Issue.record("the body went on after its lead's rows were refused")
            }
            Issue.record("the transaction committed after its lead's rows were refused")
        } catch let e as PostgresError {
            #expect(e.inLead)
        }
        #expect(try s.values() == ["intent"])
    }

    @Test func aLeadGoesAheadOfExecuteAndIsDroppedWhenNothingRuns() throws {
        let s = try Scratch()
        defer { s.drop() }
        try s.db.transaction { tx in
            tx.lead(with: [s.insert("intent-1")]) { _ in }
            try tx.execute("INSERT INTO \(s.table) (v) VALUES ('effect-1')")
        }
        #expect(try s.values() == ["effect-1", "intent-1"])
        try s.db.transaction { tx in tx.lead(with: [s.insert("intent-2")]) { _ in } }
        _ = try s.db.transaction { tx in try tx.query("INSERT INTO \(s.table) (v) VALUES ('effect-2')") }
        #expect(try s.values() == ["effect-1", "effect-2", "intent-1"], "a lead nothing sent is not sent by the next transaction")
    }

    /// job.cancel carries its intent: a failed audit insert stops it before the effect, in the same round trip.
    @Test func jobCancelWithTheAuditRefusedChangesNothing() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .queued)
        let before = try fx.count("SELECT count(*) FROM audit_logs")
        try fx.db.execute("ALTER TABLE audit_logs ADD CONSTRAINT test_refuse_rows CHECK (seq < 0) NOT VALID")
        let report = fx.run("job.cancel", ["id": .string(id)])
        try fx.db.execute("ALTER TABLE audit_logs DROP CONSTRAINT test_refuse_rows")
        guard case .failure(.auditUnavailable) = report.outcome else {
            Issue.record("expected audit unavailable, got \(report.message)")
            return
        }
        #expect(try fx.jobStatus(id) == "queued")
        #expect(try fx.count("SELECT count(*) FROM audit_logs") == before)
        #expect(try fx.brokerMessages("video_downloader").contains { $0.contains(id) })
    }

    /// The follow-ups' pipeline loads the scripts the server lost, and leaves the pooled connection
    /// on its own database.
    @Test func followUpsSurviveAScriptFlushAndRestoreTheDatabase() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .queued)
        let ns = fx.ns
        let events = fx.redis(Namespace.DB.events)
        let breakers = fx.redis(Namespace.DB.breakers)
        try fx.redis(Namespace.DB.cache).send("SET", ns.snapshotKey, "stale")
        let seqBefore = try events.send("GET", ns.eventsSeqKey).int ?? 0
        let service = ActionCatalog.spec("job.cancel")!.service.rawValue
        let outcomesBefore = try breakers.send("HGET", ns.breakerKey(service), "outcomes").string ?? ""
        try fx.redis(0).send("SCRIPT", "FLUSH")
        let report = fx.run("job.cancel", ["id": .string(id)], key: "flush-\(id)")
        try fx.expectSuccess(report)
        #expect(report.warnings.isEmpty, "\(report.warnings)")
        #expect(try events.send("GET", ns.eventsSeqKey).int == seqBefore + 3, "job.cancelled, action.executed, cache.invalidated")
        let outcomes = try breakers.send("HGET", ns.breakerKey(service), "outcomes").string ?? ""
        #expect(outcomes.count == min(outcomesBefore.count + 1, 20) && outcomes.hasSuffix("0"), "the success was recorded: \(outcomes)")
        #expect(try fx.redis(Namespace.DB.cache).send("EXISTS", ns.snapshotKey).int == 0)
        let stored = try #require(
            try fx.redis(Namespace.DB.idempotency)
                .send("GET", ns.idempotencyKey(IdempotencyScope(user: fx.actor.user, action: "job.cancel", key: "flush-\(id)"))).string)
        #expect(stored.contains("\"done\""))
        let replay = fx.run("job.cancel", ["id": .string(id)], key: "flush-\(id)")
        #expect({ if case .success(let r) = replay.outcome { return r.replayed } else { return false } }(), "\(replay.message)")
        // Every pooled connection of the fixture's client answers on its own database.
        let home = fx.backend.redis.configuration.database
        for _ in 0..<6 {
            let info = try fx.backend.redis.send("CLIENT", "INFO").string ?? ""
            #expect(info.contains(" db=\(home) "), "\(info)")
        }
    }
}
