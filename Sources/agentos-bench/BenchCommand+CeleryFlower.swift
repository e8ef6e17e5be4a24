import AgentOSAdapters
import AgentOSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Flower 2 in the Celery peer group (issue 25): resident memory idle and after `loadTasks` real
/// tasks, the console (`agentos console --celery` on a pty) against Flower (`celery flower`), both
/// following the same worker; then events applied per second with 10,000 tasks held, the console's
/// monitor against Flower, both fed the same `task.multi` frames through Redis.
extension BenchCommand {
    struct FlowerPeer {
        let python: String
        let fixture: String
        let celeryEnv: [String: String]
        let agentos: String
        let options: String
        let dataDir: URL
        let redisURL: String
        let url: String
        let transport: CeleryTransport
        let redis: RedisClient
    }

    func flowerFigures(_ p: FlowerPeer) throws -> [BenchResult] {
        let port = try Self.freePort()
        let flowerLog = p.dataDir.appendingPathComponent("flower.log").path
        let flower = try PosixSpawn.spawnGroupLeader(
            [p.python, "-m", "celery", "--workdir", p.fixture, "-A", "app", "flower", "--address=127.0.0.1", "--port=\(port)"],
            environment: p.celeryEnv, output: flowerLog)
        defer { Self.stopGroup(flower) }
        let config = p.dataDir.appendingPathComponent("config.yaml")
        try Data().write(to: config)
        let console = try PtyProcess(
            [p.agentos, "console", "--namespace", "benchcelcon", "--data-dir", p.dataDir.path, "--celery", p.options],
            environment: [
                "TERM": "xterm-256color", "LINES": "48", "COLUMNS": "160", "LANG": "C.UTF-8", "AGENTOS_CONFIG": config.path,
                "AGENTOS_REDIS_URL": p.redisURL, "AGENTOS_POSTGRES_URL": p.url
            ])
        defer { console.stop() }
        let metrics = "http://127.0.0.1:\(port)/metrics"
        let deadline = Date().addingTimeInterval(60)
        while (try? Self.flowerTaskEvents(metrics)) == nil {
            guard Date() < deadline, kill(flower, 0) == 0 else {
                throw BenchError(
                    "celery: Flower did not answer on :\(port) within 60 s: \((try? String(contentsOfFile: flowerLog, encoding: .utf8))?.suffix(800) ?? "")"
                )
            }
            usleep(200_000)
        }
        Thread.sleep(forTimeInterval: 5) // both settled: first frames drawn, the workers polled
        guard kill(console.pid, 0) == 0 else { throw BenchError("celery: the console on the pty exited") }
        let idle = (console: Self.residentMegabytes(console.pid), flower: Self.residentMegabytes(flower))

        // Real tasks through the worker; both have seen them succeed before the memory is read.
        let loadTasks = 2_000
        let before = try Self.flowerTaskEvents(metrics)["task-succeeded", default: 0]
        _ = try Self.run(
            [
                p.python, "-c",
                "from app import app\nfor i in range(\(loadTasks)): app.send_task('fixture.add', args=(i, 1), queue='benchq')"
            ], environment: p.celeryEnv.merging(["PYTHONPATH": p.fixture]) { _, new in new })
        let loaded = Date().addingTimeInterval(300)
        while try Self.flowerTaskEvents(metrics)["task-succeeded", default: 0] < before + loadTasks {
            guard Date() < loaded else { throw BenchError("celery: Flower did not see \(loadTasks) tasks succeed within 300 s") }
            usleep(250_000)
        }
        Thread.sleep(forTimeInterval: 6) // the console's view follows the same events (and its poll)
        let after = (console: Self.residentMegabytes(console.pid), flower: Self.residentMegabytes(flower))
        FileHandle.standardError.write(
            Data(
                String(
                    format: "celery memory: console %.1f MB idle, %.1f MB after %d tasks; Flower %.1f MB idle, %.1f MB after\n", idle.console,
                    after.console, loadTasks, idle.flower, after.flower
                ).utf8))

        // Events applied per second with 10,000 tasks held: the console's monitor (cap raised to
        // hold them) and Flower subscribed to the same channel; a burst of frames, timed until each
        // has applied every event.
        let monitor = CeleryMonitor(redis: p.redis, transport: p.transport)
        monitor.holdTasks(atMost: 10_000)
        monitor.start(pollSeconds: 3_600)
        defer { monitor.stop() }
        let subscribed = Date().addingTimeInterval(30)
        while !monitor.subscribed {
            guard Date() < subscribed else { throw BenchError("celery: the monitor did not subscribe") }
            usleep(50_000)
        }
        Thread.sleep(forTimeInterval: 0.5)
        var feed = CeleryEventFeed(host: "benchfeed@agentos-bench")
        let channel = p.transport.fanoutChannel(exchange: "celeryev", routingKey: "task.multi")
        func publish(_ frames: [[UInt8]]) throws {
            for chunk in stride(from: 0, to: frames.count, by: 200) {
                _ = try p.redis.pipeline(frames[chunk..<min(frames.count, chunk + 200)].map { ["PUBLISH", channel, $0] as [any RedisArgument] })
            }
        }
        /// Waits until both have applied `events` more task events than at `base`; the seconds each took from `start`.
        func applied(_ events: Int, since base: (console: Int, flower: Int), start: UInt64) throws -> (console: Double, flower: Double) {
            var took: (console: Double?, flower: Double?) = (nil, nil)
            let until = Date().addingTimeInterval(300)
            while took.console == nil || took.flower == nil {
                let now = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if took.console == nil, monitor.eventsApplied - base.console >= events { took.console = now }
                if took.flower == nil, try Self.flowerTaskEvents(metrics).values.reduce(0, +) - base.flower >= events { took.flower = now }
                guard Date() < until else {
                    throw BenchError(
                        "celery: \(events) events not applied within 300 s (console \(took.console != nil), Flower \(took.flower != nil))")
                }
                usleep(10_000)
            }
            return (took.console!, took.flower!)
        }
        func counts() throws -> (console: Int, flower: Int) { (monitor.eventsApplied, try Self.flowerTaskEvents(metrics).values.reduce(0, +)) }
        // Fill to 10,000 held, in steps small enough for Redis' output buffers.
        for _ in 0..<10 {
            let base = try counts()
            try publish(feed.frames(tasks: 1_000))
            _ = try applied(1_000 * CeleryEventFeed.eventsPerTask, since: base, start: DispatchTime.now().uptimeNanoseconds)
        }
        var consoleRate: [Double] = []
        var flowerRate: [Double] = []
        let burst = 1_000
        for _ in 0..<5 {
            let frames = feed.frames(tasks: burst)
            let base = try counts()
            let start = DispatchTime.now().uptimeNanoseconds
            try publish(frames)
            let took = try applied(burst * CeleryEventFeed.eventsPerTask, since: base, start: start)
            consoleRate.append(Double(burst * CeleryEventFeed.eventsPerTask) / took.console)
            flowerRate.append(Double(burst * CeleryEventFeed.eventsPerTask) / took.flower)
        }
        consoleRate.sort()
        flowerRate.sort()
        FileHandle.standardError.write(
            Data(
                String(
                    format: "celery events/s with 10,000 tasks held: console %.0f, Flower %.0f (medians of 5 bursts of %d events)\n",
                    BenchResult.percentile(consoleRate, 0.5), BenchResult.percentile(flowerRate, 0.5), burst * CeleryEventFeed.eventsPerTask
                ).utf8))
        let rate = BenchResult(
            name: "celery events applied per second, 10,000 tasks held: console's monitor", figure: consoleRate, baseline: flowerRate,
            baselineName: "Flower 2 (same frames)", unit: .perSecond)
        return [
            BenchResult(
                name: "celery RSS idle: agentos console --celery (pty)", figure: [idle.console], baseline: [idle.flower],
                baselineName: "Flower 2 (celery flower)", unit: .megabytes),
            BenchResult(
                name: "celery RSS after \(loadTasks.formatted()) tasks: agentos console --celery (pty)", figure: [after.console],
                baseline: [after.flower], baselineName: "Flower 2 (celery flower)", unit: .megabytes),
            rate
        ]
    }

    /// Flower's `flower_events_total` (its Prometheus metrics) summed by task event type.
    static func flowerTaskEvents(_ metrics: String) throws -> [String: Int] {
        let text = try run(["/usr/bin/curl", "-sf", "--max-time", "5", metrics], environment: [:])
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("flower_events_total{") {
            guard let typeStart = line.range(of: "type=\""), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            let type = line[typeStart.upperBound...].prefix { $0 != "\"" }
            if type.hasPrefix("task-") { out[String(type), default: 0] += Int(value) }
        }
        return out
    }

    /// Resident set now (VmRSS of /proc/PID/status), in MB.
    static func residentMegabytes(_ pid: pid_t) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb / 1_000
    }

    /// A TCP port nothing listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw BenchError("bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
