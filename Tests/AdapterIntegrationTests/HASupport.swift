import AgentOSAdapters
import AgentOSCore
import AgentOSTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The high-availability tests' figures (`scripts/ha-test.sh` sets AGENTOS_HA_FIGURES and prints
/// them): one JSON object per line. Unset: nothing is written.
enum HAFigures {
    static func record(_ object: [String: Any]) {
        guard let path = ProcessInfo.processInfo.environment["AGENTOS_HA_FIGURES"], !path.isEmpty,
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = data + Data("\n".utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Milliseconds since `start`, to two decimals.
    static func millis(since start: Date) -> Double { (Date().timeIntervalSince(start) * 100_000).rounded() / 100 }
}

/// A Redis master, one replica (or more: `replicas`) and three sentinels of the test's own on loopback
/// (`down-after-milliseconds` 1000, quorum 2), started from scratch and killed at the end.
final class SentinelCluster: @unchecked Sendable {
    let masterName: String
    let dir: String
    let masterPort: Int
    /// The first replica (with one, the one Sentinel promotes).
    var replicaPort: Int { replicaPorts[0] }
    let replicaPorts: [Int]
    let sentinelPorts: [Int]
    private var pids: [Int: pid_t] = [:]

    init(replicas: Int = 1) throws {
        masterName = TestServers.unique("master")
        dir = (Reliability.tmp as NSString).appendingPathComponent(TestServers.unique("sentinel"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        masterPort = freeLoopbackPort()
        replicaPorts = (0..<replicas).map { _ in freeLoopbackPort() }
        sentinelPorts = (0..<3).map { _ in freeLoopbackPort() }
        let server = try TestServers.env("AGENTOS_TEST_REDIS_SERVER")
        let sentinel = try TestServers.env("AGENTOS_TEST_REDIS_SENTINEL")
        try startServer(server, port: masterPort, extra: [])
        for port in replicaPorts { try startServer(server, port: port, extra: ["--replicaof", "127.0.0.1", String(masterPort)]) }
        for port in sentinelPorts {
            let conf = (dir as NSString).appendingPathComponent("sentinel-\(port).conf")
            try """
            port \(port)
            bind 127.0.0.1
            dir \(dir)
            logfile sentinel-\(port).log
            sentinel monitor \(masterName) 127.0.0.1 \(masterPort) 2
            sentinel down-after-milliseconds \(masterName) 1000
            sentinel failover-timeout \(masterName) 10000
            sentinel parallel-syncs \(masterName) 1

            """.write(toFile: conf, atomically: true, encoding: .utf8)
            pids[port] = try Child.spawn([sentinel, conf])
        }
        try waitUntilReady()
    }

    deinit {
        for pid in pids.values { Glibc.kill(pid, SIGKILL) }
        for pid in pids.values { _ = Child.wait(pid) }
    }

    /// The console's URL for this cluster (all three sentinels).
    var url: String { "redis-sentinel://" + sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") + "/\(masterName)" }

    func direct(_ port: Int) -> RedisClient { RedisClient(RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: port))) }

    /// `ROLE`'s first element on `port`.
    func role(_ port: Int) -> String? {
        let client = direct(port)
        defer { client.shutdown() }
        return (try? client.send("ROLE"))?.array?.first?.string
    }

    /// How many EVALSHA calls the server on `port` has run (INFO commandstats).
    func evalshaCalls(_ port: Int) -> Int { calls(of: "evalsha", on: port) }

    /// How many calls of `command` (lower case) the server on `port` has run (INFO commandstats; the
    /// INFO that asks counts in the next answer, not in this one).
    func calls(of command: String, on port: Int) -> Int {
        let client = direct(port)
        defer { client.shutdown() }
        guard let info = (try? client.send("INFO", "commandstats"))?.string,
            let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_\(command):") }),
            let calls = line.split(separator: ",").first?.split(separator: "=").last
        else { return 0 }
        return Int(calls) ?? 0
    }

    /// kill -9: no goodbye to anyone.
    func kill(port: Int) {
        guard let pid = pids.removeValue(forKey: port) else { return }
        Glibc.kill(pid, SIGKILL)
        _ = Child.wait(pid)
    }

    /// Asks a sentinel for `SENTINEL FAILOVER` (the old master stays up and becomes a replica).
    func manualFailover() throws {
        let client = direct(sentinelPorts[0])
        defer { client.shutdown() }
        try client.send("SENTINEL", "FAILOVER", masterName)
    }

    /// The master every sentinel names, once they agree.
    func agreedMaster() -> Int? {
        let answers = sentinelPorts.compactMap { port -> Int? in
            let client = direct(port)
            defer { client.shutdown() }
            return (try? client.send("SENTINEL", "get-master-addr-by-name", masterName))?.array?.last?.string.flatMap { Int($0) }
        }
        return answers.count == sentinelPorts.count && Set(answers).count == 1 ? answers[0] : nil
    }

    /// Stops the process-wide monitor of this cluster's URL, so its threads end with the test.
    func stopMonitor() {
        if let configuration = try? RedisConfiguration(url: url) { SentinelMonitor.shared(for: configuration)?.stop() }
    }

    private func startServer(_ binary: String, port: Int, extra: [String]) throws {
        pids[port] = try Child.spawn(
            [
                binary, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile",
                "redis-\(port).log"
            ]
                + extra)
    }

    /// Every sentinel knows the other two and the replicas, and the replicas are in sync: only then
    /// can they agree on a failover.
    private func waitUntilReady() throws {
        // Hellos go every 2 s through the master; on a machine busy with the whole suite and a CPU hog
        // the first rounds can take most of a minute (a fresh run saw 60 s run out).
        let ready = TestServers.eventually(120) {
            let synced = replicaPorts.allSatisfy { port in
                let replica = direct(port)
                defer { replica.shutdown() }
                return (try? replica.send("INFO", "replication"))?.string?.contains("master_link_status:up") == true
            }
            guard synced else { return false }
            return sentinelPorts.allSatisfy { port in
                let client = direct(port)
                defer { client.shutdown() }
                let peers = (try? client.send("SENTINEL", "sentinels", masterName))?.array?.count ?? 0
                let replicas = (try? client.send("SENTINEL", "replicas", masterName))?.array ?? []
                let replicasKnown = replicaPorts.allSatisfy { replicaPort in
                    replicas.contains { entry in
                        let fields = entry.array?.compactMap(\.string) ?? []
                        guard let i = fields.firstIndex(of: "flags"), i + 1 < fields.count else { return false }
                        return fields[i + 1] == "slave" && fields.contains(String(replicaPort))
                    }
                }
                return peers == 2 && replicasKnown
            }
        }
        guard ready else { throw Child.Failed(description: "the sentinels in \(dir) did not see each other and the replicas within 120 s") }
    }
}

/// PgBouncer of the test's own in front of `server` (every database), `pool_mode = transaction`.
final class PrivatePgBouncer: @unchecked Sendable {
    let port: Int
    let dir: String
    private var pid: pid_t?

    /// `poolSize` 1 makes every client share one server connection, so what one leaves behind the next meets.
    init(in front: PrivatePostgres, poolSize: Int = 1) throws {
        port = freeLoopbackPort()
        dir = (Reliability.tmp as NSString).appendingPathComponent(TestServers.unique("pgbouncer"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ini = (dir as NSString).appendingPathComponent("pgbouncer.ini")
        try "\"postgres\" \"\"\n".write(toFile: dir + "/userlist.txt", atomically: true, encoding: .utf8)
        try """
        [databases]
        * = host=127.0.0.1 port=\(front.port)
        [pgbouncer]
        listen_addr = 127.0.0.1
        listen_port = \(port)
        unix_socket_dir =
        auth_type = trust
        auth_file = \(dir)/userlist.txt
        pool_mode = transaction
        default_pool_size = \(poolSize)
        max_client_conn = 200
        logfile = \(dir)/pgbouncer.log

        """.write(toFile: ini, atomically: true, encoding: .utf8)
        // PgBouncer refuses to run as root: as the cluster's owner then.
        if getuid() == 0 { try Child.sh("chown -R \(front.osUser) '\(dir)'") }
        let binary = try TestServers.env("AGENTOS_TEST_PGBOUNCER")
        pid = try Child.spawn(getuid() == 0 ? [binary, "-u", front.osUser, ini] : [binary, ini])
        let up = TestServers.eventually(30) { (try? PostgresConnection(url)) != nil }
        guard up else { throw Child.Failed(description: "pgbouncer on \(port) did not accept connections (\(dir)/pgbouncer.log)") }
    }

    deinit {
        if let pid {
            Glibc.kill(pid, SIGKILL)
            _ = Child.wait(pid)
        }
    }

    /// The database through PgBouncer, telling the console it is a transaction pooler.
    var url: String { "postgresql://postgres@127.0.0.1:\(port)/agentos?connect_timeout=2&pooler=transaction" }
    /// The same without `pooler=`: what a console that does not know about the pooler would use.
    var unawareURL: String { "postgresql://postgres@127.0.0.1:\(port)/agentos?connect_timeout=2" }
}

/// `config.set` of one key with 1, 2, 3… (each with its own idempotency key), dispatched one after
/// another on a thread of its own through a live pipeline while a test fails a server over.
final class ActionStream: Sendable {
    static let key = "ha.stream"
    /// No rate limit: the stream is faster than an operator.
    static var options: ActionDispatcher.Options {
        var o = ActionDispatcher.Options()
        o.rateLimits = false
        return o
    }

    let stack: ReliabilityStack
    private let reports = Mutex<[(at: Date, report: ActionReport)]>([])
    private let stop = Atomic<Bool>(false)
    private let done = Atomic<Bool>(false)

    init(_ stack: ReliabilityStack) throws {
        self.stack = stack
        try stack.postgres.execute("INSERT INTO config (key, type, value, default_value) VALUES ('\(Self.key)', 'int', '0', '0')")
        let actor = Actor(user: "tester", sessionID: "ha-stream")
        let dispatcher = stack.actions.dispatcher
        Thread.detachNewThread { [self] in
            var i = 0
            while !stop.load(ordering: .acquiring) {
                i += 1
                let request = ActionRequest(
                    action: "config.set", payload: ["key": .string(Self.key), "value": .string(String(i))], actor: actor,
                    idempotencyKey: "ha-stream-\(i)")
                let report = dispatcher.dispatch(request)
                reports.withLock { $0.append((Date(), report)) }
                if !report.succeeded { Thread.sleep(forTimeInterval: 0.05) } // a refusal comes back at once
            }
            done.store(true, ordering: .releasing)
        }
    }

    func succeeded(after date: Date) -> Int { reports.withLock { $0.filter { $0.at > date && $0.report.succeeded }.count } }

    struct Figures {
        var attempted = 0, executed = 0, refused = 0, unknown = 0, doubles = 0, lost = 0
        /// Reported as failed although the effect committed (a step after the COMMIT failed).
        var failedAfterCommit = 0
        var screenEqualsDatabase = false
        var firstActionMillis = -1
        /// The refusals' outcome words and reasons, each once (of the actions that did not run).
        var refusals: Set<String> = []

        func json(_ figure: String, extra: [String: Any] = [:]) -> [String: Any] {
            [
                "figure": figure, "attempted": attempted, "executed": executed, "refused": refused, "unknown": unknown,
                "failed_after_commit": failedAfterCommit, "double_executions": doubles, "audit_rows_lost": lost,
                "screen_equals_database": screenEqualsDatabase,
                "first_action_ms": firstActionMillis, "refusals": refusals.sorted()
            ].merging(extra) { a, _ in a }
        }
    }

    /// Stops the stream and counts, on `database` (the primary after recovery): executions (a
    /// `config_history` row each, in the transaction of its outcome row) against requests with a
    /// success outcome row (more: a double execution), acknowledged actions without their outcome
    /// row (lost), and whether a snapshot rebuilt now shows the database's value.
    func finish(database: PostgresClient, since: Date, sourceLocation: SourceLocation = #_sourceLocation) throws -> Figures {
        stop.store(true, ordering: .releasing)
        #expect(TestServers.eventually { done.load(ordering: .acquiring) }, "the stream's last action did not return", sourceLocation: sourceLocation)
        let all = reports.withLock { $0 }
        // What ran is what the trail on the recovered primary says: the outcome row commits with the effect.
        let ran = Set(
            try database.query("SELECT request_id FROM audit_logs WHERE action = 'config.set' AND phase = 'outcome' AND outcome = 'success'")
                .rows.map { try $0.get("request_id", as: UUID.self) })
        var f = Figures()
        f.attempted = all.count
        f.executed = all.filter { ran.contains($0.report.requestID) }.count
        for r in all {
            let committed = ran.contains(r.report.requestID)
            switch r.report.outcome {
            case .success: if !committed { f.lost += 1 }
            case .failure(.outcomeUnknown): f.unknown += 1
            case .failure(let failure):
                if committed {
                    f.failedAfterCommit += 1
                } else {
                    f.refused += 1
                    f.refusals.insert("\(failure.outcome): \(failure.description.prefix(160))")
                }
            }
        }
        let history = try database.query("SELECT count(*) AS n FROM config_history WHERE key = $1", [Self.key])[0].get("n", as: Int.self)
        f.doubles = history - ran.count
        let shown = try stack.dataManager.rebuild().config.first { $0.key == Self.key }?.value
        let stored = try database.query("SELECT value::text AS v FROM config WHERE key = $1", [Self.key])[0].get("v", as: Int.self)
        f.screenEqualsDatabase = shown == .int(stored)
        // The first success once the outage showed (after the first refusal since `since`): an action
        // already past its Redis stages when the server died would otherwise count as a recovery at 0 s.
        let after = all.filter { $0.at > since }
        let recovering = after.firstIndex { !$0.report.succeeded }.map { after[$0...] } ?? after[...]
        f.firstActionMillis = recovering.first { $0.report.succeeded }.map { Int($0.at.timeIntervalSince(since) * 1_000) } ?? -1
        #expect(f.doubles == 0 && f.lost == 0, "double executions \(f.doubles), audit rows lost \(f.lost)", sourceLocation: sourceLocation)
        #expect(f.screenEqualsDatabase, "screen \(String(describing: shown)), database \(stored)", sourceLocation: sourceLocation)
        #expect(f.executed >= 40 && f.firstActionMillis >= 0, "\(f)", sourceLocation: sourceLocation)
        return f
    }
}

/// `agentos sim` alongside an action stream (issue 22 item 5): the simulated fleet writes its jobs,
/// events and snapshots through the same failover, in a namespace of its own. Its progress is read
/// from outside, as a console would see it: the bus's event counter (`{ns}:events:seq` in DB5), which
/// the simulator advances only after a tick's rows committed in PostgreSQL and its events went out.
final class SimAlongside: @unchecked Sendable {
    private let pid: pid_t
    private let out: String
    private let counter: RedisClient
    private let seqKey: String
    /// The counter before the failure, and when the test said the servers had recovered.
    private var beforeFailure: Int64 = 0
    private var atRecovery: Int64 = 0

    init(redisURL: String, postgresURL: String) throws {
        let ns = TestServers.unique("hasim")
        out = (Reliability.tmp as NSString).appendingPathComponent("\(ns).out")
        counter = try RedisClient(url: redisURL, database: Namespace.DB.events)
        seqKey = Namespace(ns).eventsSeqKey
        pid = try Child.spawn(
            [
                Binaries.built("agentos"), "sim", "--redis", redisURL, "--postgres", postgresURL, "--namespace", ns, "--broker-prefix", ns + ":",
                "--history", "0", "--warm-interval", "1000"
            ], stdout: out, stderr: out + ".err")
        let started = TestServers.eventually(60) {
            String(decoding: FileManager.default.contents(atPath: out + ".err") ?? Data(), as: UTF8.self).contains("agentos sim: running")
        }
        guard started else {
            stop()
            throw Child.Failed(description: "agentos sim did not start (\(out).err)")
        }
    }

    deinit { counter.shutdown() }

    /// The events the simulator has published (nil: the counter cannot be read now).
    func published() -> Int64? { (try? counter.send("GET", seqKey)).map { $0.int ?? 0 } }

    /// Before the failure: waits until the simulator has published events of its own.
    func waitUntilPublishing(sourceLocation: SourceLocation = #_sourceLocation) {
        let published = TestServers.eventually(60) { (self.published() ?? 0) >= 10 }
        beforeFailure = self.published() ?? 0
        #expect(published, "agentos sim published \(beforeFailure) events before the failure", sourceLocation: sourceLocation)
    }

    /// Once the servers recovered: the counter must rise past both what it was before the failure (a
    /// promoted replica may have missed the last increments) and what it is now, by several ticks' worth.
    func expectPublishingAgain(sourceLocation: SourceLocation = #_sourceLocation) {
        atRecovery = published() ?? 0
        let goal = max(beforeFailure, atRecovery) + 20
        let resumed = TestServers.eventually(60) { (self.published() ?? 0) >= goal }
        #expect(
            resumed,
            "agentos sim did not publish after the recovery: \(beforeFailure) events before the failure, \(atRecovery) at the recovery, \(published().map(String.init) ?? "?") now (wanted \(goal))",
            sourceLocation: sourceLocation)
    }

    /// Stops it as Ctrl-C does. `ranThrough`: it was still running, published again after the
    /// recovery (`expectPublishingAgain`), and exited cleanly with its summary.
    func finish() -> (ranThrough: Bool, summary: String, events: [String: Int64]) {
        let alive = Glibc.kill(pid, 0) == 0 && waitpid(pid, nil, WNOHANG) == 0
        let now = published() ?? 0
        let status = stop()
        // "agentos sim: N ticks, … warms[; last error: …]" (a libpq error may span lines).
        let printed = String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self)
        let summary = printed.range(of: "agentos sim: ").map { String(printed[$0.lowerBound...]) } ?? printed
        let oneLine = summary.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        let resumed = now > max(beforeFailure, atRecovery)
        return (
            alive && resumed && status == 0 && summary.hasPrefix("agentos sim: "), oneLine,
            ["before_failure": beforeFailure, "at_recovery": atRecovery, "at_end": now]
        )
    }

    @discardableResult
    private func stop() -> Int32 {
        Glibc.kill(pid, SIGTERM)
        return Child.wait(pid)
    }
}
