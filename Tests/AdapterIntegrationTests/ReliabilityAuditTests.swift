import AgentOSAdapters
import AgentOSCore
import AgentOSTestSupport
import Foundation
import Synchronization
import Testing

/// Checks 14 (one audit row per denial), 15 (no canary personal data in audit rows, logs or
/// events), 16 (the console's database role cannot change the audit table) and 17 (the chain
/// verifier over many rows, each single mutation found with its row named).
@Suite("Reliability: the audit trail", .serialized)
struct ReliabilityAuditTests {
    /// Check 14: N denied attempts of each kind leave exactly one audit row each, with its outcome.
    @Test func check14EveryDeniedAttemptLeavesExactlyOneRow() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 14, test: "ReliabilityAuditTests/check14EveryDeniedAttemptLeavesExactlyOneRow")
        let fx = try ActionFixture(extraGrants: ["rita": Grant(role: .readonly), "limited": Grant(role: .admin)])
        defer { fx.close() }
        var options = ActionDispatcher.Options()
        options.burstMultiplier = 1
        options.ipLimitPerMinute = 1_000_000
        let (dispatcher, counter) = fx.actions.dispatcher.counting(options: options)
        // The breaker and idempotency kinds are about their own stages: no rate limit in front.
        var unlimited = ActionDispatcher.Options()
        unlimited.rateLimits = false
        let (free, freeCounter) = fx.actions.dispatcher.counting(options: unlimited)
        let n = Reliability.size(fast: 30, full: 1_000)
        let admin = Actor(user: "tester", sessionID: "rel-14")

        // Set-ups: queue.clear's 10 per minute used up; a key used once; the breaker opened last.
        for _ in 0..<10 { _ = dispatcher.dispatch(ValidPayload.request(ActionCatalog.spec("queue.clear")!, actor: Actor(user: "limited"))) }
        let key = "rel14-" + UUID().uuidString
        let first = free.dispatch(
            ActionRequest(action: "queue.pause", payload: ["queue": .string("video_cutter")], actor: admin, idempotencyKey: key))
        figures.expect(first.succeeded, "the key's first use: \(first.message)")
        let setUpExecutions = counter.count + freeCounter.count

        let kinds: [(outcome: String, through: ActionDispatcher, make: (Int) -> ActionRequest)] = [
            (
                "invalid", dispatcher,
                { i in ActionRequest(action: "queue.pause", payload: ["queue": .string("video_cutter"), "unexpected\(i % 3)": .int(i)], actor: admin)
                }
            ),
            ("invalid", dispatcher, { i in ActionRequest(action: "job.explode\(i % 7)", actor: admin) }),
            (
                "denied", dispatcher,
                { _ in ActionRequest(action: "queue.pause", payload: ["queue": .string("video_cutter")], actor: Actor(user: "rita")) }
            ),
            ("denied", dispatcher, { _ in ActionRequest(action: "queue.clear", payload: ["queue": .string("video_cutter")], actor: admin) }),
            ("rate_limited", dispatcher, { _ in ValidPayload.request(ActionCatalog.spec("queue.clear")!, actor: Actor(user: "limited")) }),
            (
                "idempotency_conflict", free,
                { i in ActionRequest(action: "queue.pause", payload: ["queue": .string("q\(i)")], actor: admin, idempotencyKey: key) }
            ),
            (
                "breaker_open", free,
                { _ in ActionRequest(action: "job.cancel", payload: ["id": .string(UUID().uuidString.lowercased())], actor: admin) }
            )
        ]
        var requests: [(String, UUID)] = []
        var wrong: [String] = []
        for (outcome, through, make) in kinds {
            if outcome == "breaker_open" {
                try fx.actions.breakers.force(ActionCatalog.spec("job.cancel")!.service.rawValue, open: true, nowMillis: nil)
            }
            for i in 0..<n {
                let request = make(i)
                let report = through.dispatch(request)
                if report.failure?.outcome != outcome, wrong.count < 5 { wrong.append("\(request.action) → \(report.message) (wanted \(outcome))") }
                requests.append((outcome, request.requestID))
            }
        }
        fx.actions.history.drain()
        var rowsByRequest: [UUID: [(String, String?)]] = [:]
        for row in try fx.db.query("SELECT request_id, phase, outcome FROM audit_logs").rows {
            rowsByRequest[try row.get("request_id", as: UUID.self), default: []].append(
                (try row.get("phase", as: String.self), try row.get("outcome", as: String?.self)))
        }
        let notOne = requests.filter { outcome, id in
            let rows = rowsByRequest[id] ?? []
            return !(rows.count == 1 && rows[0].0 == "denied" && rows[0].1 == outcome)
        }
        let executed = counter.count + freeCounter.count - setUpExecutions
        figures.expect(wrong.isEmpty, "\(wrong)")
        figures.expect(
            notOne.isEmpty,
            "\(notOne.count) denied requests without exactly one denied row, e.g. \(notOne.prefix(3).map { "\($0.0): \(rowsByRequest[$0.1] ?? [])" })"
        )
        figures.expect(executed == 0, "\(executed) denied requests executed")
        let verification = try AuditVerifier.verify(fx.actions.audit)
        figures.expect(verification.ok, "\(verification.summary)")

        figures.attempted = requests.count
        figures.executed = executed
        figures.refused = requests.count
        figures.auditRows = requests.compactMap { rowsByRequest[$0.1]?.count }.reduce(0, +)
        figures.unaudited = requests.filter { rowsByRequest[$0.1] == nil }.count
        figures.notes =
            "\(n) each of: invalid payload, unknown action, RBAC (readonly), critical without confirmation, rate limited, breaker open, key reused with another payload"
        Reliability.record(figures, started: started)
    }

    static let email = "canary.person@example.com"
    static let ipv4 = "203.0.113.77"
    static let ipv6 = "2001:db8:85a3::8a2e:370:7334"
    static let secret = "hunter2canarySecret"
    static let canaries = [email, ipv4, "8a2e:370:7334", secret, "canary.person"]

    /// Check 15: payloads carrying canary personal data, through the live pipeline: no canary in
    /// audit rows, action history, logs, job events, config history, published events, control
    /// messages or the data directory.
    @Test func check15CanaryPersonalDataNeverReachesAuditLogsOrEvents() async throws {
        let started = Date()
        var figures = Reliability.Figures(check: 15, test: "ReliabilityAuditTests/check15CanaryPersonalDataNeverReachesAuditLogsOrEvents")
        let fx = try ActionFixture(extraGrants: ["rita": Grant(role: .readonly)])
        defer { fx.close() }
        let events = Mutex<[String]>([])
        let subscriber = RedisSubscriber(try RedisConfiguration(url: TestServers.redisURL()), channels: [fx.ns.eventsChannel, fx.ns.controlChannel])
        let listener = Task.detached {
            for await event in subscriber.events {
                if case .message(_, let payload, _) = event { events.withLock { $0.append(String(decoding: payload, as: UTF8.self)) } }
            }
        }
        subscriber.start()
        defer {
            subscriber.stop()
            listener.cancel()
        }
        figures.expect(
            await TestServers.eventuallyAsync(30) {
                [fx.ns.eventsChannel, fx.ns.controlChannel].allSatisfy { channel in
                    ((try? fx.redis(0).send("PUBSUB", "NUMSUB", channel))?.array?.dropFirst().first?.int ?? 0) >= 1
                }
            }, "the listener never subscribed")
        let line = try fx.scalar("INSERT INTO logs (ts, level, source, message) VALUES (now(), 'info', 'rel', 'x') RETURNING id", as: Int.self)
        let personal = "mail \(Self.email), from \(Self.ipv4) / \(Self.ipv6)"
        let admin = Actor(user: "tester", sessionID: "rel-15")
        let requests: [ActionRequest] = [
            ActionRequest(
                action: "system.broadcast", payload: ["message": .string("contact \(Self.email) or ssh \(Self.ipv4)")], actor: admin, reason: personal
            ),
            ActionRequest(action: "logs.bookmark", payload: ["id": .int(line), "note": .string(personal)], actor: admin, reason: personal),
            ActionRequest(
                action: "config.set", payload: ["key": .string("smtp.password"), "value": .string(Self.secret), "reason": .string(personal)],
                actor: admin),
            ActionRequest(
                action: "config.set", payload: ["key": .string("pipeline.max_attempts"), "value": .string(Self.email), "reason": .string(personal)],
                actor: admin),
            ActionRequest(action: "config.set", payload: ["key": .string("api.token"), "value": .string(Self.secret)], actor: admin),
            ActionRequest(action: "queue.pause", payload: ["queue": .string("video_cutter"), "api_key": .string(Self.secret)], actor: admin),
            ActionRequest(
                action: "queue.pause", payload: ["queue": .string("video_cutter"), "password": .string(Self.secret)], actor: Actor(user: "rita")),
            ActionRequest(action: "system.maintenance_on", payload: ["message": .string(personal)], actor: admin),
            ActionRequest(action: "job.cancel", payload: ["id": .string(UUID().uuidString.lowercased())], actor: admin, reason: personal),
            ActionRequest(action: "queue.pause", payload: ["queue": .string(Self.email)], actor: admin, reason: personal)
        ]
        var outcomes: [String] = []
        for request in requests {
            let report = fx.actions.dispatcher.dispatch(request)
            outcomes.append("\(request.action): \(report.succeeded ? "success" : report.failure?.outcome ?? "?")")
        }
        fx.actions.history.drain()
        // A marker published after the actions' messages: the listener has both channels on one connection, which
        // Redis feeds in publish order, so once it arrives so has everything before it on either channel. (Not on the
        // control channel: the fixture fails on a command no owner knows.)
        let marker = "rel15-marker-" + UUID().uuidString
        try fx.redis(0).send("PUBLISH", fx.ns.eventsChannel, marker)
        figures.expect(await TestServers.eventuallyAsync(30) { events.withLock { $0.contains(marker) } }, "the marker never arrived")
        events.withLock { $0.removeAll { $0 == marker } }

        var places: [String: String] = [:]
        for table in ["audit_logs", "action_history", "logs", "job_events", "config_history"] {
            places["table " + table] = try fx.db.query("SELECT coalesce(string_agg(t::text, E'\\n'), '') AS all FROM \(table) t").rows[0].get(
                "all", as: String.self)
        }
        // The banner of system.broadcast is the action's effect: it reaches the consoles as written
        // (docs/DECISIONS.md D32). Only that one field is set aside, and it must hold exactly the banner.
        var banners: [String] = []
        let messages = events.withLock { $0 }.map { text -> String in
            guard var envelope = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
                envelope["type"] as? String == "system.broadcast", var data = envelope["data"] as? [String: Any],
                let banner = data["message"] as? String
            else { return text }
            banners.append(banner)
            data["message"] = "(banner)"
            envelope["data"] = data
            return String(decoding: (try? JSONSerialization.data(withJSONObject: envelope)) ?? Data(text.utf8), as: UTF8.self)
        }
        figures.expect(banners == ["contact \(Self.email) or ssh \(Self.ipv4)"], "\(banners)")
        places["published events and control messages"] = messages.joined(separator: "\n")
        if let files = FileManager.default.enumerator(atPath: fx.dataDir.path) {
            for case let file as String in files {
                if let data = FileManager.default.contents(atPath: fx.dataDir.appendingPathComponent(file).path) {
                    places["file " + file] = String(decoding: data, as: UTF8.self)
                }
            }
        }
        var leaks: [String] = []
        for (place, text) in places.sorted(by: { $0.key < $1.key }) {
            for canary in Self.canaries where text.contains(canary) {
                let lines = text.split(separator: "\n").filter { $0.contains(canary) }.map { String($0.prefix(400)) }
                leaks.append("\(canary) in \(place): \(lines.prefix(3))")
            }
        }
        let auditRows = try fx.count("SELECT count(*) FROM audit_logs")
        figures.expect(leaks.isEmpty, "leaked: \(leaks); outcomes \(outcomes)")
        figures.expect(auditRows >= requests.count && events.withLock { !$0.isEmpty }, "rows \(auditRows), events \(events.withLock { $0.count })")
        // The canaries are searchable as their HMAC token.
        let token = fx.actions.dispatcher.ports.scrubber.token(Self.email)
        figures.expect(
            try fx.count("SELECT count(*) FROM audit_logs WHERE payload::text LIKE $1 OR reason LIKE $1", ["%" + token + "%"]) > 0,
            "no audit row carries the e-mail's token")

        figures.attempted = requests.count
        figures.executed = outcomes.filter { $0.hasSuffix("success") }.count
        figures.refused = requests.count - figures.executed
        figures.auditRows = auditRows
        figures.notes =
            "\(Self.canaries.count) canaries (e-mail, IPv4, IPv6, secret) searched in \(places.count) places (\(events.withLock { $0.count }) bus messages; the broadcast banner itself set aside, D32): \(leaks.count) found"
        Reliability.record(figures, started: started)
    }

    /// Check 16: logged in as a least-privileged member of `agentos_console`, UPDATE, DELETE,
    /// TRUNCATE and INSERT (rows come only through `audit_append`, D75) on `audit_logs` are refused (so are disabling its triggers and dropping it), while
    /// the console's own work (appending audit rows, running actions) goes on.
    @Test func check16ConsoleRoleCannotChangeTheAuditTable() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 16, test: "ReliabilityAuditTests/check16ConsoleRoleCannotChangeTheAuditTable")
        let fx = try ActionFixture()
        defer { fx.close() }
        let login = TestServers.unique("rel16")
        let password = "pw-" + UUID().uuidString // the server checks it (scram-sha-256)
        // agentos_shared: the console's login writes audit rows for its users (D75).
        try fx.db.query("CREATE ROLE \(login) LOGIN PASSWORD '\(password)' IN ROLE agentos_console, agentos_shared")
        defer {
            _ = try? fx.db.query("DROP OWNED BY \(login)")
            _ = try? fx.db.query("DROP ROLE IF EXISTS \(login)")
        }
        var comps = try #require(URLComponents(string: fx.backend.url))
        comps.user = login
        comps.password = password
        let url = try #require(comps.string)
        let console = PostgresClient(url)
        defer { console.shutdown() }
        let user = try console.query("SELECT current_user AS u").rows[0].get("u", as: String.self)
        figures.expect(user == login, "logged in as \(user)")

        // The console's work as that role: audit appends and real actions.
        let stack = try ReliabilityStack(postgres: console, postgresURL: url, redis: try RedisClient(url: TestServers.redisURL()))
        defer { stack.close() }
        let job = try fx.insertJob(status: .queued)
        var actionFailures: [String] = []
        let line = try fx.scalar("INSERT INTO logs (ts, level, source, message) VALUES (now(), 'info', 'rel', 'x') RETURNING id", as: Int.self)
        for (action, payload) in [
            ("job.cancel", ["id": PayloadValue.string(job)]), ("queue.pause", ["queue": .string("video_cutter")]),
            ("logs.bookmark", ["id": .int(line), "note": .string("n")]),
            ("config.set", ["key": .string("pipeline.max_attempts"), "value": .string("4")])
        ] {
            let report = stack.actions.dispatcher.dispatch(
                ActionRequest(action: action, payload: payload, actor: Actor(user: "tester", sessionID: "rel-16")))
            if !report.succeeded { actionFailures.append("\(action): \(report.message)") }
        }
        stack.actions.history.drain()
        figures.expect(actionFailures.isEmpty, "as \(login): \(actionFailures)")
        let seq = try console.query("SELECT max(seq) AS s FROM audit_logs").rows[0].get("s", as: Int.self)

        var refused = 0
        var allowed: [String] = []
        let attempts = [
            "UPDATE audit_logs SET action = 'x' WHERE seq = \(seq)", "DELETE FROM audit_logs WHERE seq = \(seq)", "TRUNCATE audit_logs",
            "ALTER TABLE audit_logs DISABLE TRIGGER ALL", "DROP TRIGGER audit_logs_no_update ON audit_logs", "DROP TABLE audit_logs",
            "UPDATE audit_logs SET hash = hash", "DELETE FROM audit_logs",
            "INSERT INTO audit_logs (seq, id, timestamp, user_id, role, action, phase, request_id, prev_hash, hash) "
                + "VALUES (0, gen_random_uuid(), now(), 'tester', 'admin', 'x', 'outcome', gen_random_uuid(), '', 'h')"
        ]
        for sql in attempts {
            do {
                try console.query(sql)
                allowed.append(sql)
            } catch let error as PostgresError {
                // 42501 insufficient_privilege (grants) or 42501/42P01-free ownership errors: never a change.
                if error.sqlState == "42501" { refused += 1 } else { allowed.append("\(sql): \(error)") }
            }
        }
        figures.expect(allowed.isEmpty && refused == attempts.count, "as \(login): \(allowed)")
        figures.expect(try fx.count("SELECT count(*) FROM audit_logs WHERE seq = $1 AND action <> 'x'", [seq]) == 1, "row \(seq) changed")
        let verification = try AuditVerifier.verify(fx.actions.audit)
        figures.expect(verification.ok, "\(verification.summary)")

        figures.attempted = attempts.count + 4
        figures.executed = 4 - actionFailures.count
        figures.refused = refused
        figures.auditRows = try fx.count("SELECT count(*) FROM audit_logs")
        figures.notes =
            "login role \(login.prefix(5))… IN ROLE agentos_console, agentos_shared: \(refused)/\(attempts.count) statements refused (42501), 4 actions \(actionFailures.isEmpty ? "ran" : "failed: \(actionFailures)")"
        Reliability.record(figures, started: started)
    }
}

/// Check 17: the verifier over a long chain in PostgreSQL, and every single mutation (byte flip,
/// an altered payload, delete, swap, insert) found with the row named. Each mutation is undone
/// before the next, as the owner with triggers off (`session_replication_role = replica`).
@Suite("Reliability: the audit chain verifier", .serialized)
struct ReliabilityAuditChainTests {
    static func draft(_ i: Int) -> AuditDraft {
        let phases: [AuditDraft.Phase] = [.intent, .outcome, .denied]
        let phase = phases[i % 3]
        return AuditDraft(
            timestamp: Date(timeIntervalSince1970: 1_790_000_000 + Double(i) / 7), user: "op\(i % 13)", role: "operator",
            action: ["job.cancel", "queue.pause", "config.set"][i % 3], phase: phase,
            outcome: phase == .intent ? nil : (phase == .denied ? "rate_limited" : "success"), requestID: UUID(),
            idempotencyKey: i % 4 == 0 ? "k\(i)" : nil, sessionID: "s\(i % 5)", target: "target-\(i)", reason: i % 5 == 0 ? "TICKET-\(i)" : nil,
            payload: CanonicalJSON.object(["id": .string("target-\(i)"), "n": .int(i), "note": .string("ünïcødé \(i)")]),
            result: phase == .outcome ? CanonicalJSON.object(["message": .string("done \(i)")]) : nil,
            ip: i % 2 == 0 ? "10.0.0.\(i % 250)" : nil, userAgent: "agentos-console", durationMs: i % 100)
    }

    @Test func check17VerifierOverManyRowsFindsEverySingleMutation() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 17, test: "ReliabilityAuditChainTests/check17VerifierOverManyRowsFindsEverySingleMutation")
        func fill(_ postgres: PostgresClient, _ rows: Int) throws {
            try postgres.withConnection { c in
                var i = 0
                while i < rows {
                    let batch = min(500, rows - i)
                    var statements = [PostgresConnection.Statement("BEGIN")]
                    for j in 0..<batch { statements += PostgresAuditLog.appending(Self.draft(i + j)).statements }
                    statements.append(PostgresConnection.Statement("COMMIT"))
                    _ = try c.pipeline(statements)
                    i += batch
                }
            }
        }
        // The long chain: 100,000 rows at full size, verified whole.
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let log = PostgresAuditLog(postgres: backend.postgres)
        let n = Reliability.size(fast: 600, full: 100_000)
        try fill(backend.postgres, n)
        let verifyStarted = Date()
        let intact = try AuditVerifier.verify(log)
        let verifySeconds = Date().timeIntervalSince(verifyStarted)
        figures.expect(intact.ok && intact.rows == n, "\(intact.summary)")
        // Every probe re-verifies a whole chain (a minute at 100,000 rows in a debug build): at full
        // size the long chain gets one byte flip in its middle, and the five kinds of mutation at the
        // first, a middle and the last row run on a chain of 5,000 rows of their own.
        let mutationBackend = Reliability.full ? try LiveBackend.make() : backend
        defer { if Reliability.full { mutationBackend.drop() } }
        let m = Reliability.full ? 5_000 : n
        if Reliability.full { try fill(mutationBackend.postgres, m) }

        struct Mutation {
            let name: String
            let apply: (PostgresConnection, Int) throws -> Void
            let undo: (PostgresConnection, Int) throws -> Void
            /// The row the verifier must name, and a word its problem must contain.
            let expect: (Int) -> (seq: Int, mentions: String)
        }
        func shift(_ c: PostgresConnection, after k: Int, by d: Int) throws {
            try c.execute("UPDATE audit_logs SET seq = -(seq + \(d)) WHERE seq > \(k)")
            try c.execute("UPDATE audit_logs SET seq = -seq WHERE seq < 0")
        }
        let flip = "UPDATE audit_logs SET target = overlay(target placing chr(ascii(substr(target, 1, 1)) # 1) from 1 for 1) WHERE seq = "
        let mutations: [Mutation] = [
            Mutation(
                name: "byte flip", apply: { c, k in try c.execute(flip + String(k)) }, undo: { c, k in try c.execute(flip + String(k)) },
                expect: { k in (k, "altered") }),
            Mutation(
                name: "payload replaced by a non-object",
                apply: { c, k in
                    try c.execute("CREATE TEMP TABLE saved_payload AS SELECT payload FROM audit_logs WHERE seq = \(k)")
                    try c.execute("UPDATE audit_logs SET payload = '[1, \"x\"]'::jsonb WHERE seq = \(k)")
                },
                undo: { c, k in
                    try c.execute("UPDATE audit_logs SET payload = (SELECT payload FROM saved_payload) WHERE seq = \(k)")
                    try c.execute("DROP TABLE saved_payload")
                }, expect: { k in (k, "altered") }),
            Mutation(
                name: "delete",
                apply: { c, k in
                    try c.execute("CREATE TEMP TABLE saved_row AS SELECT * FROM audit_logs WHERE seq = \(k)")
                    try c.execute("DELETE FROM audit_logs WHERE seq = \(k)")
                },
                undo: { c, _ in
                    try c.execute("INSERT INTO audit_logs SELECT * FROM saved_row")
                    try c.execute("DROP TABLE saved_row")
                }, expect: { k in (k + 1, "\(k)") }),
            Mutation(
                name: "swap",
                apply: { c, k in
                    try c.execute(
                        "UPDATE audit_logs SET seq = -1 WHERE seq = \(k); UPDATE audit_logs SET seq = \(k) WHERE seq = \(k + 1); UPDATE audit_logs SET seq = \(k + 1) WHERE seq = -1"
                    )
                },
                undo: { c, k in
                    try c.execute(
                        "UPDATE audit_logs SET seq = -1 WHERE seq = \(k); UPDATE audit_logs SET seq = \(k) WHERE seq = \(k + 1); UPDATE audit_logs SET seq = \(k + 1) WHERE seq = -1"
                    )
                }, expect: { k in (k, "\(k - 1)") }),
            Mutation(
                name: "insert (a forged row with a correct hash of its own)",
                apply: { c, k in
                    let prev = try c.query("SELECT hash FROM audit_logs WHERE seq = \(k)").rows[0].get("hash", as: String.self)
                    try shift(c, after: k, by: 1)
                    var forged = Self.draft(k)
                    forged.action = "system.reset"
                    forged.timestamp = AuditChain.storable(forged.timestamp)
                    let hash = AuditChain.hash(prev: prev, seq: k + 1, forged)
                    try c.query(
                        """
                        INSERT INTO audit_logs (seq, id, timestamp, user_id, role, action, phase, outcome, request_id, session_id, target, payload,
                                                user_agent, duration_ms, idempotency_key, reason, result, ip_address, prev_hash, hash)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, $16, $17::jsonb, $18::inet, $19, $20)
                        """,
                        [
                            k + 1, forged.id, forged.timestamp, forged.user, forged.role, forged.action, forged.phase.rawValue, forged.outcome,
                            forged.requestID, forged.sessionID, forged.target, forged.payload, forged.userAgent, forged.durationMs,
                            forged.idempotencyKey, forged.reason, forged.result, forged.ip, prev, hash
                        ])
                },
                undo: { c, k in
                    try c.execute("DELETE FROM audit_logs WHERE seq = \(k + 1)")
                    try shift(c, after: k + 1, by: -1)
                    // The keyed chain (D75) names the forged row itself: no hash computed without the key is its MAC.
                }, expect: { k in (k + 1, "without the key") })
        ]
        // Each probe re-verifies the whole chain: at 100,000 rows (full) the first, a middle and the
        // last row get the byte flip, the other mutations the middle row; the fast run tries all three.
        var detected = 0
        var tried = 0
        var misses: [String] = []
        func probe(_ mutation: Mutation, at k: Int, on postgres: PostgresClient) throws {
            let chain = PostgresAuditLog(postgres: postgres)
            try postgres.withConnection { c in
                try c.execute("SET session_replication_role = replica")
                defer { _ = try? c.execute("RESET session_replication_role") }
                tried += 1
                try mutation.apply(c, k)
                defer { do { try mutation.undo(c, k) } catch { misses.append("\(mutation.name) at \(k): not undone: \(error)") } }
                let result: AuditVerification
                do { result = try AuditVerifier.verify(chain) } catch {
                    misses.append("\(mutation.name) at \(k): the verifier failed instead of naming the row: \(error)")
                    return
                }
                let want = mutation.expect(k)
                if let broken = result.broken, broken.seq == want.seq, broken.problem.contains(want.mentions) {
                    detected += 1
                } else {
                    misses.append("\(mutation.name) at \(k): \(result.summary) (wanted row \(want.seq), mentioning \(want.mentions))")
                }
            }
        }
        let positions = [1, m / 2 + 17, m - 1]
        for mutation in mutations {
            for k in positions { try probe(mutation, at: k, on: mutationBackend.postgres) }
        }
        if Reliability.full { try probe(mutations[0], at: n / 2 + 17, on: backend.postgres) }
        // The short chain is whole again once every mutation is undone (the long one is checked below).
        var mutationsRestored = true
        if Reliability.full {
            let again = try AuditVerifier.verify(PostgresAuditLog(postgres: mutationBackend.postgres))
            mutationsRestored = again.ok && again.rows == m
            figures.expect(mutationsRestored, "\(again.summary)")
        }
        let restored = try AuditVerifier.verify(log)
        figures.expect(misses.isEmpty, "\(misses)")
        figures.expect(detected == tried && restored.ok && restored.rows == n, "\(detected)/\(tried); after undoing: \(restored.summary)")

        figures.attempted = tried
        figures.executed = detected
        figures.auditRows = n
        figures.notes =
            "\(n) rows verified intact in \(String(format: "%.1f", verifySeconds)) s; \(detected)/\(tried) single mutations found with the row named: byte flip, non-object payload, delete, swap, forged insert at rows \(positions.map(String.init).joined(separator: ", ")) of a \(m)-row chain\(Reliability.full ? ", and a byte flip at row \(n / 2 + 17) of the \(n)-row chain" : "")"
        Reliability.record(figures, started: started)
    }
}
