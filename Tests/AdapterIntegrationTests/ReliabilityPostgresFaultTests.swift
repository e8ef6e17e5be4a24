import AgentOSAdapters
import AgentOSCore
import AgentOSTestSupport
import Foundation
import Synchronization
import Testing

/// Checks 1 and 3: the audit trail fails closed when PostgreSQL is stopped, and a PostgreSQL
/// crash in the middle of actions never leaves an effect without its `success` row (or a row
/// without its effect). Each test has a private cluster it stops and kills.
@Suite("Reliability: PostgreSQL stopped and killed", .serialized)
struct ReliabilityPostgresFaultTests {
    /// Check 1: PostgreSQL stopped, 200 mutating actions: 0 executed, each refused as audit-unavailable.
    @Test func check01PostgresStoppedRefusesEveryMutatingAction() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 1, test: "ReliabilityPostgresFaultTests/check01PostgresStoppedRefusesEveryMutatingAction")
        let pg = try PrivatePostgres()
        let postgres = try PostgresClient.migrated(pg.url)
        let redis = try RedisClient(url: TestServers.redisURL())
        let stack = try ReliabilityStack(postgres: postgres, postgresURL: pg.url, redis: redis)
        defer { stack.close() }
        let (dispatcher, counter) = stack.actions.dispatcher.counting()
        let ip = "127.0.0.1"

        // Up: an action runs and is audited (so what follows is the outage's doing).
        try postgres.query("INSERT INTO queues (name, stage) VALUES ('video_cutter', 'video_cutter')")
        let before = dispatcher.dispatch(
            ValidPayload.request(
                ActionCatalog.spec("queue.pause")!, actor: Actor(user: "warmup", ip: ip),
                overriding: ["queue": .string("video_cutter")]))
        figures.expect(before.succeeded, "with PostgreSQL up: \(before.message)")
        let executedBefore = counter.count

        try pg.kill()
        let mutating = ActionCatalog.all.filter(\.mutating)
        let n = 200
        var refused = 0
        var other: [String] = []
        var requests: [UUID] = []
        for i in 0..<n {
            let spec = mutating[i % mutating.count]
            // Many operators, so no request stops at a rate limit first (a denial would be refused the same way).
            let request = ValidPayload.request(spec, actor: Actor(user: "op\(i % 40)", ip: ip, sessionID: "rel-1"), key: "k-\(i)")
            requests.append(request.requestID)
            let report = dispatcher.dispatch(request)
            if report.isAuditUnavailable && report.exitStatus == 7 && report.message.hasPrefix("audit log unavailable, nothing was executed") {
                refused += 1
            } else if other.count < 5 {
                other.append("\(spec.name): \(report.message)")
            }
        }
        let executed = counter.count - executedBefore
        figures.expect(executed == 0, "\(executed) executed while PostgreSQL was stopped")
        figures.expect(refused == n, "not refused as audit-unavailable: \(other)")

        // The real binary says so too, with its exit status 7.
        let cli = try Child.run([
            Reliability.binary, "action", "queue.pause", "queue=video_cutter", "--json",
            "--postgres", pg.url, "--redis", try TestServers.redisURL(), "--namespace", stack.ns.prefix,
            "--data-dir", stack.dataDir.path
        ])
        figures.expect(
            cli.status == 7 && cli.stdout.contains("\"error\":\"audit_unavailable\""), "agentos action: \(cli.status) \(cli.stdout) \(cli.stderr)")

        // Back up: no row of any refused request exists, and the chain verifies.
        try pg.restart()
        let rows = try stack.auditRows()
        let leaked = requests.filter { rows[$0] != nil }.count
        figures.expect(leaked == 0, "\(leaked) audit rows for refused requests")
        let verification = try AuditVerifier.verify(stack.actions.audit)
        figures.expect(verification.ok, "\(verification.summary)")
        let after = dispatcher.dispatch(
            ValidPayload.request(
                ActionCatalog.spec("queue.resume")!, actor: Actor(user: "after-restart", ip: "127.0.0.9"),
                overriding: ["queue": .string("video_cutter")]))
        figures.expect(after.succeeded, "after the restart: \(after.message)")

        figures.attempted = n + 1
        figures.executed = executed
        figures.refused = refused + (cli.status == 7 ? 1 : 0)
        figures.auditRows = leaked
        figures.unaudited = executed
        figures.notes = "\(mutating.count) mutating actions in turn; + 1 agentos action process (exit \(cli.status))"
        Reliability.record(figures, started: started)
        postgres.shutdown()
    }

    /// Check 3: PostgreSQL killed (`pg_ctl stop -m immediate`) again and again during 1000
    /// PostgreSQL actions from four threads: committed effects = `success` audit rows, each
    /// effect has its intent row, and the chain verifies.
    @Test func check03PostgresKilledDuringActionsKeepsEffectsAndSuccessRowsEqual() throws {
        let started = Date()
        var figures = Reliability.Figures(
            check: 3, test: "ReliabilityPostgresFaultTests/check03PostgresKilledDuringActionsKeepsEffectsAndSuccessRowsEqual")
        let pg = try PrivatePostgres()
        let postgres = try PostgresClient.migrated(pg.url)
        let redis = try RedisClient(url: TestServers.redisURL())
        let stack = try ReliabilityStack(postgres: postgres, postgresURL: pg.url, redis: redis)
        defer { stack.close() }
        let line = try #require(
            try postgres.query("INSERT INTO logs (ts, level, source, message) VALUES (now(), 'error', 'rel', 'x') RETURNING id")
                .rows.first
        ).get("id", as: Int.self)
        let (dispatcher, counter) = stack.actions.dispatcher.counting()

        let n = Reliability.size(fast: 200, full: 1_000)
        let kills = Reliability.size(fast: 3, full: 8)
        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        let outcomes = Mutex<[String: Int]>([:])
        let threads = 4
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while true {
                    let i = next.add(1, ordering: .relaxed).oldValue
                    guard i < n else { return }
                    let request = ActionRequest(
                        action: "logs.bookmark", payload: ["id": .int(line), "note": .string("rel3-\(i)")],
                        actor: Actor(user: "op\(i % 250)", sessionID: "rel-3"))
                    let report = dispatcher.dispatch(request)
                    outcomes.withLock { $0[report.succeeded ? "success" : (report.failure?.outcome ?? "?"), default: 0] += 1 }
                    done.add(1, ordering: .relaxed)
                    // Slow enough that the kills land among the actions.
                    if !report.succeeded { usleep(10_000) }
                }
            }
        }
        // The killer: at evenly spaced points of the run, kill PostgreSQL and start it again.
        var killed = 0
        for k in 1...kills {
            let at = n * k / (kills + 1)
            while done.load(ordering: .relaxed) < at { usleep(1_000) }
            try pg.kill()
            killed += 1
            usleep(200_000)
            try pg.restart()
        }
        group.wait()

        let effects = try postgres.query("SELECT note FROM log_bookmarks WHERE note LIKE 'rel3-%'").rows.map { try $0.get("note", as: String.self) }
        let rows = try postgres.query(
            """
            SELECT request_id, phase, outcome, payload->>'note' AS note FROM audit_logs WHERE action = 'logs.bookmark' ORDER BY seq
            """
        ).rows
        var successNotes: [String] = []
        var intentNotes = Set<String>()
        for row in rows {
            let note = try row.get("note", as: String?.self) ?? ""
            let phase = try row.get("phase", as: String.self)
            if phase == "intent" { intentNotes.insert(note) }
            if phase == "outcome", try row.get("outcome", as: String?.self) == "success" { successNotes.append(note) }
        }
        figures.expect(effects.count == successNotes.count, "committed effects \(effects.count) vs success rows \(successNotes.count)")
        figures.expect(Set(effects) == Set(successNotes), "not the same requests")
        let withoutIntent = effects.filter { !intentNotes.contains($0) }
        figures.expect(withoutIntent.isEmpty, "effects without an intent row: \(withoutIntent.prefix(5))")
        let verification = try AuditVerifier.verify(stack.actions.audit)
        figures.expect(verification.ok, "\(verification.summary)")
        let counted = outcomes.withLock { $0 }
        figures.expect(killed == kills, "killed \(killed) of \(kills) times")
        figures.expect((counted["success"] ?? 0) > 0 && counted.values.reduce(0, +) == n, "\(counted)")

        figures.attempted = n
        figures.executed = effects.count
        figures.refused = n - (counted["success"] ?? 0)
        figures.auditRows = rows.count
        figures.unaudited = withoutIntent.count
        figures.lostAuditRows = Set(effects).subtracting(successNotes).count
        figures.notes =
            "\(killed) kills; effects \(effects.count) = success rows \(successNotes.count); outcomes \(counted.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); executor reached \(counter.count)"
        Reliability.record(figures, started: started)
        postgres.shutdown()
    }
}
