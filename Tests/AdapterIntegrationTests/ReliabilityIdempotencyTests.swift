import AgentOSAdapters
import AgentOSCore
import Foundation
import Synchronization
import Testing

/// The Unix account running this process, as `agentos` resolves it (`getpwuid(getuid())`).
func unixAccount() -> String {
    guard let pw = getpwuid(getuid()), let name = pw.pointee.pw_name else { return "uid\(getuid())" }
    return String(cString: name)
}

/// Checks 4, 5, 6 (idempotency against real Redis and PostgreSQL, in one process and across
/// several `agentos action` processes) and 12 (spoofed identity variables).
@Suite("Reliability: idempotency and identity", .serialized)
struct ReliabilityIdempotencyTests {
    /// `agentos action ...` against the fixture's servers, namespace and data directory.
    static func cli(_ fx: ActionFixture, _ args: [String], environment: [String: String] = [:]) throws -> [String] {
        [Reliability.binary, "action"] + args + [
            "--json", "--postgres", fx.backend.url, "--redis", try TestServers.redisURL(),
            "--namespace", fx.ns.prefix, "--broker-prefix", fx.ns.prefix + ":", "--data-dir", fx.dataDir.path
        ]
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    /// Rate limits are check 7's subject: here a burst large enough for every repetition.
    static var roomy: ActionDispatcher.Options {
        var o = ActionDispatcher.Options()
        o.burstMultiplier = 40
        o.ipLimitPerMinute = 1_000_000
        return o
    }

    /// Check 4: the same key and payload 100 times: 1 execution, 99 replays (each audited as replayed).
    @Test func check04SameKeyAndPayloadHundredTimesExecutesOnce() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 4, test: "ReliabilityIdempotencyTests/check04SameKeyAndPayloadHundredTimesExecutesOnce")
        let fx = try ActionFixture()
        defer { fx.close() }
        let (dispatcher, counter) = fx.actions.dispatcher.counting(options: Self.roomy)
        let id = try fx.insertJob(status: .queued)
        let key = "rel4-" + UUID().uuidString
        var replays = 0
        var successes = 0
        var requests: [UUID] = []
        for _ in 0..<100 {
            let request = ActionRequest(action: "job.cancel", payload: ["id": .string(id)], actor: fx.actor, idempotencyKey: key)
            requests.append(request.requestID)
            let report = dispatcher.dispatch(request)
            if report.succeeded { successes += 1 }
            if report.isReplay { replays += 1 }
        }
        fx.actions.history.drain()
        figures.expect(
            counter.count == 1 && successes == 100 && replays == 99, "executed \(counter.count), successes \(successes), replays \(replays)")
        let status = try fx.jobStatus(id)
        figures.expect(status == "cancelled", "job \(String(describing: status))")
        let rows = try requests.map { try fx.auditRows($0) }
        let intents = rows.flatMap { $0 }.filter { $0.0 == "intent" }.count
        let replayedRows = rows.flatMap { $0 }.filter { $0.1 == "replayed" }.count
        figures.expect(intents == 1 && replayedRows == 99 && rows.allSatisfy { !$0.isEmpty }, "intent rows \(intents), replayed rows \(replayedRows)")
        figures.attempted = 100
        figures.executed = counter.count
        figures.doubleExecutions = max(0, counter.count - 1)
        figures.replays = replays
        figures.auditRows = rows.map(\.count).reduce(0, +)
        Reliability.record(figures, started: started)
    }

    /// Check 5: concurrent submissions with one key, from 50 threads and from several
    /// `agentos action` processes at once: never two executions.
    @Test func check05ConcurrentSubmissionsWithOneKeyNeverExecuteTwice() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 5, test: "ReliabilityIdempotencyTests/check05ConcurrentSubmissionsWithOneKeyNeverExecuteTwice")
        let fx = try ActionFixture(user: unixAccount())
        defer { fx.close() }
        try fx.db.query(
            "INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin') ON CONFLICT (user_id) DO UPDATE SET role = 'admin'",
            [unixAccount()])
        let (dispatcher, counter) = fx.actions.dispatcher.counting(options: Self.roomy)

        // 50 threads in this process.
        let threadJob = try fx.insertJob(status: .queued)
        let threadKey = "rel5t-" + UUID().uuidString
        let outcomes = Mutex<[String: Int]>([:])
        DispatchQueue.concurrentPerform(iterations: 50) { _ in
            let report = dispatcher.dispatch(
                ActionRequest(
                    action: "job.cancel", payload: ["id": .string(threadJob)], actor: fx.actor,
                    idempotencyKey: threadKey))
            let word = report.isReplay ? "replayed" : report.succeeded ? "executed" : (report.failure?.outcome ?? "?")
            outcomes.withLock { $0[word, default: 0] += 1 }
        }
        let inThreads = outcomes.withLock { $0 }
        figures.expect(counter.count == 1, "threads: \(inThreads)")

        // Several processes at once.
        let processes = Reliability.size(fast: 12, full: 50)
        let processJob = try fx.insertJob(status: .queued)
        let processKey = "rel5p-" + UUID().uuidString
        let argv = try Self.cli(fx, ["job.cancel", "id=\(processJob)", "--idempotency-key", processKey])
        let dir = (Reliability.tmp as NSString).appendingPathComponent(TestServers.unique("rel5"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pids = try (0..<processes).map { i in try Child.spawn(argv, stdout: "\(dir)/\(i).out", stderr: "\(dir)/\(i).err") }
        var statuses: [Int32] = []
        var words: [String: Int] = [:]
        for (i, pid) in pids.enumerated() {
            statuses.append(Child.wait(pid))
            let out = Self.json(String(decoding: FileManager.default.contents(atPath: "\(dir)/\(i).out") ?? Data(), as: UTF8.self))
            let word =
                (out["replayed"] as? Bool) == true ? "replayed" : (out["ok"] as? Bool) == true ? "executed" : (out["error"] as? String ?? "no output")
            words[word, default: 0] += 1
        }
        let intents = try fx.count("SELECT count(*) FROM audit_logs WHERE idempotency_key = $1 AND phase = 'intent'", [processKey])
        figures.expect(intents == 1, "processes: \(words), exits \(statuses)")
        figures.expect(words["executed"] == 1, "processes: \(words)")
        figures.expect(statuses.allSatisfy { $0 == 0 || $0 == 5 }, "exits \(statuses): 0 done or replayed, 5 in progress")
        let statusesInDB = [try fx.jobStatus(processJob), try fx.jobStatus(threadJob)]
        figures.expect(statusesInDB == ["cancelled", "cancelled"], "jobs \(statusesInDB)")

        figures.attempted = 50 + processes
        figures.executed = counter.count + intents
        figures.doubleExecutions = max(0, counter.count - 1) + max(0, intents - 1)
        figures.replays = (inThreads["replayed"] ?? 0) + (words["replayed"] ?? 0)
        figures.refused = 50 + processes - figures.executed - figures.replays
        figures.auditRows = try fx.count("SELECT count(*) FROM audit_logs WHERE idempotency_key IN ($1, $2)", [threadKey, processKey])
        figures.notes =
            "50 threads: \(inThreads.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); \(processes) processes: \(words.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))"
        Reliability.record(figures, started: started)
    }

    /// Check 6: the same key with another payload is refused every time, and runs nothing.
    @Test func check06SameKeyDifferentPayloadIsRefusedEveryTime() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 6, test: "ReliabilityIdempotencyTests/check06SameKeyDifferentPayloadIsRefusedEveryTime")
        let fx = try ActionFixture(user: unixAccount())
        defer { fx.close() }
        try fx.db.query(
            "INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin') ON CONFLICT (user_id) DO UPDATE SET role = 'admin'",
            [unixAccount()])
        let (dispatcher, counter) = fx.actions.dispatcher.counting(options: Self.roomy)
        let id = try fx.insertJob(status: .queued, priority: 5)
        let key = "rel6-" + UUID().uuidString
        let first = dispatcher.dispatch(
            ActionRequest(
                action: "job.set_priority", payload: ["id": .string(id), "priority": .int(1)],
                actor: fx.actor, idempotencyKey: key))
        figures.expect(first.succeeded, "\(first.message)")
        // From other processes first (they share the user's rate limit with what follows): exit 5 with the 422-like message.
        var cliRefused = 0
        for p in 0..<3 {
            let r = try Child.run(try Self.cli(fx, ["job.set_priority", "id=\(id)", "priority=\(7 + p)", "--idempotency-key", key]))
            if r.status == 5 && Self.json(r.stdout)["message"] as? String == "idempotency key reused with a different payload" { cliRefused += 1 }
        }
        let n = Reliability.size(fast: 100, full: 1_000)
        var mismatches = 0
        for i in 0..<n {
            let report = dispatcher.dispatch(
                ActionRequest(
                    action: "job.set_priority", payload: ["id": .string(id), "priority": .int(2 + i % 8)],
                    actor: fx.actor, idempotencyKey: key))
            if report.failure == .idempotencyMismatch && report.exitStatus == 5 { mismatches += 1 }
        }
        figures.expect(
            counter.count == 1 && mismatches == n && cliRefused == 3, "executions \(counter.count), refused \(mismatches)/\(n), cli \(cliRefused)/3")
        let priority = try fx.count("SELECT priority FROM jobs WHERE id = $1::uuid", [id])
        figures.expect(priority == 1, "priority \(priority): the first payload's effect only")
        let intents = try fx.count("SELECT count(*) FROM audit_logs WHERE idempotency_key = $1 AND phase = 'intent'", [key])
        let denied = try fx.count(
            "SELECT count(*) FROM audit_logs WHERE idempotency_key = $1 AND phase = 'denied' AND outcome = 'idempotency_conflict'", [key])
        figures.expect(intents == 1 && denied == n + 3, "intent rows \(intents), conflict rows \(denied)")
        figures.attempted = n + 3
        figures.executed = counter.count - 1
        figures.doubleExecutions = max(0, counter.count - 1)
        figures.refused = mismatches + cliRefused
        figures.auditRows = denied
        figures.notes = "after 1 first execution with the key; \(n) in process + 3 agentos action processes"
        Reliability.record(figures, started: started)
    }

    /// Check 12: USER, LOGNAME, SSH_*, SUDO_USER spoofed: the audited actor is still the Unix account.
    @Test func check12SpoofedIdentityVariablesDoNotChangeTheAuditedActor() throws {
        let started = Date()
        var figures = Reliability.Figures(check: 12, test: "ReliabilityIdempotencyTests/check12SpoofedIdentityVariablesDoNotChangeTheAuditedActor")
        let me = unixAccount()
        let fx = try ActionFixture(user: me)
        defer { fx.close() }
        // The spoofed name is an admin; the real account has no grant (readonly) at first.
        try fx.db.query("INSERT INTO user_permissions (user_id, role) VALUES ('mallory', 'admin')")
        try fx.db.query("DELETE FROM user_permissions WHERE user_id = $1", [me])
        let id = try fx.insertJob(status: .queued)
        let spoofed = [
            "USER": "mallory", "LOGNAME": "mallory", "USERNAME": "mallory", "SUDO_USER": "mallory", "SUDO_UID": "4242",
            "SSH_CLIENT": "10.6.6.6 40000 22", "SSH_CONNECTION": "10.6.6.6 40000 10.0.0.1 22", "SSH_TTY": "/dev/pts/9",
            "SSH_AUTH_SOCK": "/tmp/mallory", "LOGIN_USER": "mallory", "HOME": "/home/mallory"
        ]
        let argv = try Self.cli(fx, ["job.cancel", "id=\(id)"])
        let denied = try Child.run(argv, environment: spoofed)
        let deniedReq = UUID(uuidString: Self.json(denied.stdout)["request_id"] as? String ?? "")
        figures.expect(denied.status == 3, "readonly account: \(denied.stdout) \(denied.stderr)")

        try fx.db.query("INSERT INTO user_permissions (user_id, role) VALUES ($1, 'operator')", [me])
        let done = try Child.run(argv, environment: spoofed)
        let doneReq = UUID(uuidString: Self.json(done.stdout)["request_id"] as? String ?? "")
        figures.expect(done.status == 0, "operator account: \(done.stdout) \(done.stderr)")
        let canI = try Child.run(
            [Reliability.binary, "can-i", "job.cancel", "--json", "--postgres", fx.backend.url, "--redis", try TestServers.redisURL()],
            environment: spoofed)

        var actors: [String] = []
        figures.expect(deniedReq != nil && doneReq != nil, "request ids: \(denied.stdout) \(done.stdout)")
        for request in [deniedReq, doneReq].compactMap({ $0 }) {
            actors += try fx.db.query("SELECT user_id, coalesce(acting_as, '') AS acting_as FROM audit_logs WHERE request_id = $1", [request]).rows
                .map {
                    try $0.get("user_id", as: String.self)
                        + (try $0.get("acting_as", as: String.self).isEmpty ? "" : " as " + $0.get("acting_as", as: String.self))
                }
        }
        figures.expect(actors.count == 3 && actors.allSatisfy { $0 == me }, "audited actors \(actors), expected \(me)")
        let mallory = try fx.count("SELECT count(*) FROM audit_logs WHERE user_id = 'mallory' OR acting_as = 'mallory'")
        figures.expect(mallory == 0, "\(mallory) rows audited as mallory")
        let status = try fx.jobStatus(id)
        figures.expect(status == "cancelled", "job \(String(describing: status))")
        figures.expect(canI.status == 0, "can-i as \(me) (operator): \(canI.stdout)")
        figures.attempted = 2
        figures.executed = done.status == 0 ? 1 : 0
        figures.refused = denied.status == 3 ? 1 : 0
        figures.auditRows = actors.count
        figures.notes = "spoofed \(spoofed.keys.sorted().joined(separator: " ")); audited as \(Set(actors).sorted().joined(separator: ","))"
        Reliability.record(figures, started: started)
    }
}
