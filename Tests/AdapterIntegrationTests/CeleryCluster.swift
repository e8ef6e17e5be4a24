import AgentOSAdapters
import AgentOSCore
import AgentOSTestSupport
import Foundation
import Synchronization
import Testing

/// Real Celery 5.7 workers of `celery_fixture/app.py` (prefork, events on) on the test redis,
/// broker DB 12 under a global_keyprefix of their own, a monitor following them, and helpers
/// to send tasks and read the tasks' marker files. Workers are killed (process group) on close.
final class CeleryCluster: @unchecked Sendable {
    static let brokerDatabase = 12
    let prefix: String
    let marks: URL
    let transport: CeleryTransport
    let redis: RedisClient
    let broker: RedisClient
    let monitor: CeleryMonitor
    let logs = LogSink()
    private(set) var workers: [String: (pid: pid_t, log: String)] = [:]

    final class LogSink: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ s: String) {
            lock.lock()
            lines.append(s)
            lock.unlock()
        }
        var all: [String] {
            lock.lock()
            defer { lock.unlock() }
            return lines
        }
    }

    /// The result backend's database when the workers store results (`resultBackend`).
    static let resultDatabase = 13

    init(queues: [String], replyTimeout: Double = 1.5, confirmTimeout: Double = 10, resultBackend: Bool = false) throws {
        let python = try TestServers.env("AGENTOS_TEST_CELERY_PYTHON")
        precondition(FileManager.default.isExecutableFile(atPath: python), "AGENTOS_TEST_CELERY_PYTHON \(python) is not executable")
        prefix = TestServers.unique("cel") + ":"
        let base = ProcessInfo.processInfo.environment["AGENTOS_TEST_TMPDIR"] ?? NSTemporaryDirectory()
        marks = URL(fileURLWithPath: base).appendingPathComponent(TestServers.unique("celery-marks"))
        try FileManager.default.createDirectory(at: marks, withIntermediateDirectories: true)
        transport = try CeleryTransport(
            brokerDatabase: Self.brokerDatabase, globalKeyPrefix: prefix, queues: queues, replyTimeout: replyTimeout, confirmTimeout: confirmTimeout,
            resultDatabase: resultBackend ? Self.resultDatabase : nil, resultKeyPrefix: resultBackend ? prefix : "")
        redis = try TestServers.redis(database: 0)
        broker = redis.selecting(database: Self.brokerDatabase)
        let sink = logs
        monitor = CeleryMonitor(redis: redis, transport: transport, log: { sink.add($0) })
    }

    static var fixtureDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("celery_fixture").path
    }

    /// Starts a worker `name-<prefix>@agentos-test` consuming `queues`; returns its hostname.
    @discardableResult
    func startWorker(_ name: String, queues: [String], concurrency: Int = 2, extra: [String] = []) throws -> String {
        let python = try TestServers.env("AGENTOS_TEST_CELERY_PYTHON")
        let host = "\(name)-\(prefix.dropLast())@agentos-test"
        let log = marks.appendingPathComponent("\(name).log").path
        let url = try TestServers.redisURL() + "/\(Self.brokerDatabase)"
        let argv =
            [
                python, "-m", "celery", "--workdir", Self.fixtureDirectory, "-A", "app", "worker", "-E", "-P", "prefork", "-c", String(concurrency),
                "-n", host, "-Q", queues.joined(separator: ","), "--without-mingle", "--without-gossip", "-l", "info"
            ] + extra
        var env = [
            "CELERY_FIXTURE_BROKER": url, "CELERY_FIXTURE_KEYPREFIX": prefix, "CELERY_FIXTURE_MARKS": marks.path,
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": Self.fixtureDirectory
        ]
        if let db = transport.resultDatabase { env["CELERY_FIXTURE_BACKEND"] = try TestServers.redisURL() + "/\(db)" }
        workers[host] = (try PosixSpawn.spawnGroupLeader(argv, environment: env, output: log), log)
        return host
    }

    /// Starts Flower 2 (`celery flower`, from the same venv) on a free port of 127.0.0.1 with its
    /// HTTP API open (`FLOWER_UNAUTHENTICATED_API`); returns its base URL once its metrics show each
    /// of `hosts` online (from their events: it follows the events from then on). Killed on close.
    func startFlower(seeing hosts: [String]) async throws -> String {
        let python = try TestServers.env("AGENTOS_TEST_CELERY_PYTHON")
        let port = freeLoopbackPort()
        let log = marks.appendingPathComponent("flower.log").path
        let env = [
            "CELERY_FIXTURE_BROKER": try TestServers.redisURL() + "/\(Self.brokerDatabase)", "CELERY_FIXTURE_KEYPREFIX": prefix,
            "CELERY_FIXTURE_MARKS": marks.path, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": Self.fixtureDirectory,
            "FLOWER_UNAUTHENTICATED_API": "true"
        ]
        let argv = [python, "-m", "celery", "--workdir", Self.fixtureDirectory, "-A", "app", "flower", "--address=127.0.0.1", "--port=\(port)"]
        workers["flower"] = (try PosixSpawn.spawnGroupLeader(argv, environment: env, output: log), log)
        let base = "http://127.0.0.1:\(port)"
        let up = await TestServers.eventuallyAsync(60) {
            let lines = Set(((try? Self.get(base + "/metrics")) ?? "").split(separator: "\n"))
            return hosts.allSatisfy { lines.contains("flower_worker_online{worker=\"\($0)\"} 1.0") }
        }
        if !up { Issue.record("Flower did not show \(hosts) online on :\(port): \(workerLog("flower").suffix(1500))") }
        return base
    }

    /// An HTTP GET's body (curl), or an error naming the status.
    static func get(_ url: String) throws -> String {
        let r = try Child.run(["/usr/bin/curl", "-sS", "-f", "--max-time", "60", url])
        guard r.status == 0 else { throw CeleryConfigError("GET \(url): curl exited \(r.status): \(r.stderr)") }
        return r.stdout
    }

    /// The worker is online in the monitor (its worker-online/heartbeat event arrived) and has
    /// answered `stats` and `active_queues`.
    func waitOnline(_ host: String, seconds: Double = 60) async -> Bool {
        let ok = await TestServers.eventuallyAsync(seconds) {
            let w = monitor.current.workers[host]
            if w?.isOnline(now: Date().timeIntervalSince1970) == true, w?.concurrency == nil || w?.queues == nil { monitor.requestPoll() }
            return w?.isOnline(now: Date().timeIntervalSince1970) == true && w?.concurrency != nil && w?.queues != nil
        }
        if !ok { Issue.record("celery worker \(host) did not come online: \(workerLog(host).suffix(1500))") }
        return ok
    }

    func workerLog(_ host: String) -> String {
        guard let path = workers[host]?.log else { return "" }
        return String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }

    /// A protocol-2 task message (celery-redis-protocol.md §a.1), LPUSHed on the queue's bucket.
    @discardableResult
    func send(
        _ task: String, _ args: [JSONTree], queue: String, priority: Int = 0, id: String = UUID().uuidString.lowercased(),
        eta: Date? = nil
    ) throws -> String {
        let etaJSON: JSONTree =
            eta.map { date in
                let f = ISO8601DateFormatter()
                f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                return .string(f.string(from: date).replacingOccurrences(of: "Z", with: "+00:00"))
            } ?? .null
        let body: JSONTree = .array([.array(args), .object([:]), .object(["callbacks": .null, "errbacks": .null, "chain": .null, "chord": .null])])
        let envelope: JSONTree = .object([
            "body": .string(Data(body.json.utf8).base64EncodedString()), "content-encoding": .string("utf-8"),
            "content-type": .string("application/json"),
            "headers": .object([
                "lang": .string("py"), "task": .string(task), "id": .string(id), "shadow": .null, "eta": etaJSON, "expires": .null,
                "group": .null, "group_index": .null, "retries": .int(0), "timelimit": .array([.null, .null]), "root_id": .string(id),
                "parent_id": .null, "argsrepr": .string(JSONTree.array(args).json), "kwargsrepr": .string("{}"),
                "origin": .string("agentos-test"), "ignore_result": .bool(transport.resultDatabase == nil)
            ]),
            "properties": .object([
                "correlation_id": .string(id), "reply_to": .string(""), "delivery_mode": .int(2),
                "delivery_info": .object(["exchange": .string(""), "routing_key": .string(queue)]), "priority": .int(priority),
                "body_encoding": .string("base64"), "delivery_tag": .string(UUID().uuidString.lowercased())
            ])
        ])
        let step = transport.prioritySteps.last { $0 <= priority } ?? 0
        try broker.send("LPUSH", transport.queueKeys(queue)[transport.prioritySteps.firstIndex(of: step)!], Array(envelope.json.utf8))
        return id
    }

    /// A forger on the pidbox channel (D67): for each request whose method `answers` picks, it
    /// LPUSHes a reply with the request's own ticket as `hostname` (what anyone who can read the
    /// channel can do). Stop it with `stop()`.
    final class Forger: @unchecked Sendable {
        final class Count: Sendable { let n = Mutex(0) }
        let subscriber: RedisSubscriber
        let count = Count()
        var forged: Int { count.n.withLock { $0 } }

        init(
            _ c: CeleryCluster, as hostname: String, answers: @escaping @Sendable (_ method: String, _ destination: [String]?) -> JSONTree?
        ) throws {
            let (transport, redis, count) = (c.transport, c.broker, count)
            let channel = transport.pidboxChannel
            subscriber = RedisSubscriber(c.redis.configuration, channels: [channel]) { event in
                guard case .message(_, let payload, _) = event, let env = try? CeleryEnvelope.decode(payload, place: "forger"),
                    let method = env.body["method"]?.string, let ticket = env.body["ticket"]?.string,
                    let oid = env.body["reply_to"]?["routing_key"]?.string
                else { return }
                let destination = env.body["destination"]?.array?.compactMap(\.string)
                guard let value = answers(method, destination) else { return }
                let body = JSONTree.object([hostname: value])
                let reply: JSONTree = .object([
                    "body": .string(Data(body.json.utf8).base64EncodedString()), "content-encoding": .string("utf-8"),
                    "content-type": .string("application/json"), "headers": .object(["ticket": .string(ticket)]),
                    "properties": .object(["body_encoding": .string("base64"), "delivery_tag": .string(UUID().uuidString)])
                ])
                if (try? redis.send("LPUSH", transport.replyKeys(oid: oid)[0], Array(reply.json.utf8))) != nil { count.n.withLock { $0 += 1 } }
            }
            subscriber.start()
            let subscribed = TestServers.eventually(30) {
                ((try? c.redis.send("PUBSUB", "NUMSUB", channel))?.array?.dropFirst().first?.int ?? 0) >= 1
            }
            if !subscribed { Issue.record("the forger did not subscribe") }
        }

        func stop() { subscriber.stop() }
    }

    /// Publishes a worker-heartbeat as `hostname` on the event channel (forged: nobody signs Celery's events).
    func forgeEvent(_ type: String, hostname: String, fields: [String: JSONTree] = [:]) throws {
        var o = fields
        o["type"] = .string(type)
        o["hostname"] = .string(hostname)
        o["timestamp"] = .double(Date().timeIntervalSince1970)
        let env: JSONTree = .object([
            "body": .string(Data(JSONTree.object(o).json.utf8).base64EncodedString()), "content-encoding": .string("utf-8"),
            "content-type": .string("application/json"), "headers": .object([:]), "properties": .object(["body_encoding": .string("base64")])
        ])
        let key = type.hasPrefix("task-") ? "task." + type.dropFirst(5) : "worker." + type.dropFirst(7)
        try redis.send("PUBLISH", transport.fanoutChannel(exchange: "celeryev", routingKey: String(key)), Array(env.json.utf8))
    }

    func started(_ mark: String) -> Bool { FileManager.default.fileExists(atPath: marks.appendingPathComponent(mark + ".started").path) }
    func done(_ mark: String) -> Bool { FileManager.default.fileExists(atPath: marks.appendingPathComponent(mark + ".done").path) }

    func depth(_ queue: String) throws -> Int {
        try transport.queueKeys(queue).reduce(0) { $0 + Int(try broker.send("LLEN", $1).int ?? 0) }
    }

    /// Waits for the worker process to exit by itself (true) within `seconds`.
    func exited(_ host: String, seconds: Double) async -> Bool {
        guard let pid = workers[host]?.pid else { return true }
        let ok = await TestServers.eventuallyAsync(seconds) {
            var status: Int32 = 0
            return waitpid(pid, &status, WNOHANG) == pid
        }
        if ok { workers[host] = nil }
        return ok
    }

    /// SIGKILL to the worker's process group: no worker-offline event is sent.
    func killHard(_ host: String) {
        guard let w = workers[host] else { return }
        kill(-w.pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(w.pid, &status, 0)
        workers[host] = nil
    }

    func close() {
        monitor.stop()
        for (_, w) in workers {
            kill(-w.pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(w.pid, &status, 0)
        }
        workers = [:]
        if let keys = try? broker.send("KEYS", prefix + "*").array, !keys.isEmpty {
            _ = try? broker.send(["DEL"] + keys.compactMap(\.bytes))
        }
        if let db = transport.resultDatabase {
            let backend = redis.selecting(database: db)
            if let keys = try? backend.send("KEYS", prefix + "*").array, !keys.isEmpty { _ = try? backend.send(["DEL"] + keys.compactMap(\.bytes)) }
        }
        try? FileManager.default.removeItem(at: marks)
    }
}
