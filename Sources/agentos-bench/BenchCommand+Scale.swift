import AgentOSAdapters
import AgentOSCore
import ArgumentParser
import ConsoleApp
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Many consoles on one backend, and the console's footprint on a real pseudo-terminal.
extension BenchCommand {
    /// A console without a screen: its own Redis connections (cache, bus subscriber) and PostgreSQL client,
    /// the warmer loop, and the update loop that folds every event and reloads the snapshot when told to.
    final class HeadlessConsole: Sendable {
        let manager: AdminDataManager
        let bus: RedisEventBus
        let tasks = Mutex<[Task<Void, Never>]>([])
        let reloads = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)

        init(index: Int, redisURL: String, postgresURL: String, ns: Namespace, warmIntervalMillis: Int) throws {
            var config = try RedisConfiguration(url: redisURL)
            config.clientName = "bench-console-\(index)"
            let redis = RedisClient(config)
            let pg = PostgresClient(postgresURL, maxIdleConnections: 1)
            bus = RedisEventBus(redis: redis, namespace: ns, source: "bench-console-\(index)")
            manager = AdminDataManager(
                cache: RedisSnapshotCache(redis: redis, namespace: ns),
                source: PostgresSnapshotSource(postgres: pg, redis: redis, namespace: ns), bus: bus,
                options: .init(warmIntervalMillis: warmIntervalMillis, owner: "bench-console-\(index)"))
        }

        /// As the console's runtime: bus messages and a tick every second into one inbox, folded by one loop
        /// that loads the snapshot when the update asks for it. The warmer runs on a thread of its own (in a
        /// console process nothing else competes for its task pool; here 200 consoles share one).
        func start() {
            let manager = manager
            let stream = bus.subscribe()
            let (inbox, post) = AsyncStream.makeStream(of: Msg.self)
            let pump = Task.detached {
                for await message in stream { post.yield(.bus(message)) }
            }
            let ticker = Task.detached {
                // Consoles start at different moments, so their ticks (and the reloads a tick makes) are out of
                // phase; started together here, they would all reload in the same millisecond every second.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<1_000)))
                while !Task.isCancelled {
                    post.yield(.tick(Date()))
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            let consumer = Task.detached { [self] in
                var state = AppState(
                    connection: ConnectionState(mode: "live", environment: "bench"),
                    operatorInfo: OperatorInfo(user: "bench", role: "readonly"), now: Date(), width: 160, height: 48)
                if let (snapshot, _) = try? manager.snapshot() { _ = App.update(&state, .snapshotLoaded(snapshot)) }
                for await message in inbox {
                    guard App.update(&state, message).contains(.reloadSnapshot) else { continue }
                    do {
                        _ = App.update(&state, .snapshotLoaded(try manager.snapshot().0))
                        reloads.add(1, ordering: .relaxed)
                    } catch {
                        _ = App.update(&state, .snapshotFailed("\(error)"))
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            let warmer = Thread { [self] in
                while !stopped.load(ordering: .relaxed) {
                    _ = try? manager.warmIfLeader()
                    Thread.sleep(forTimeInterval: Double(manager.options.warmIntervalMillis) / 1_000)
                }
            }
            warmer.start()
            tasks.withLock { $0 = [pump, ticker, consumer] }
        }

        func stop() {
            stopped.store(true, ordering: .relaxed)
            tasks.withLock { $0.forEach { $0.cancel() } }
        }
    }

    /// `agentos-bench --fleet N …`: the scale group's consoles, in a process of their own at a lower CPU
    /// priority. In use every console is a process, usually on a host of its own: what they share with
    /// an action is the backend (Redis, PostgreSQL), not the CPU of the process that runs it. Here they
    /// share the machine's two cores, so they yield them to the action being timed and to the servers.
    struct FleetOptions: ParsableArguments {
        @Option(help: .hidden) var fleet: Int?
        @Option(help: .hidden) var fleetSeconds: Double = 10
        @Option(help: .hidden) var fleetNamespace: String = ""
        @Option(help: .hidden) var fleetBrokerPrefix: String = ""
        @Option(help: .hidden) var fleetWarmMillis: Int = 1_000
        /// The fleet writes `ready` here once it is subscribed and loaded, then its figures as JSON.
        @Option(help: .hidden) var fleetReport: String = ""
    }

    struct FleetReport: Codable {
        var reloads: Int
        var failures: Int
        var warms: Int
        var warmers: Int
        var seconds: Double
    }

    func runFleet(_ n: Int) throws {
        guard let redisURL = connection.redisURL, let url = connection.postgresURL, !fleet.fleetReport.isEmpty else {
            throw BenchError("--fleet needs --redis, --postgres and --fleet-report")
        }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        let ns = Namespace(fleet.fleetNamespace, brokerPrefix: fleet.fleetBrokerPrefix)
        let report = URL(fileURLWithPath: fleet.fleetReport)
        let consoles = try (0..<n).map {
            try HeadlessConsole(index: $0, redisURL: redisURL, postgresURL: url, ns: ns, warmIntervalMillis: fleet.fleetWarmMillis)
        }
        consoles.forEach { $0.start() }
        Thread.sleep(forTimeInterval: 2) // subscribed, first snapshot loaded, a leader chosen
        let warmsBefore = consoles.map(\.manager.currentStats.warms)
        let began = DispatchTime.now().uptimeNanoseconds
        try Data("ready".utf8).write(to: report)
        Thread.sleep(forTimeInterval: fleet.fleetSeconds)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        let warmed = zip(consoles, warmsBefore).map { $0.manager.currentStats.warms - $1 }
        consoles.forEach { $0.stop() }
        let figures = FleetReport(
            reloads: consoles.map { $0.reloads.load(ordering: .relaxed) }.reduce(0, +),
            failures: consoles.map { $0.failures.load(ordering: .relaxed) }.reduce(0, +),
            warms: warmed.reduce(0, +), warmers: warmed.filter { $0 > 0 }.count, seconds: seconds)
        try JSONEncoder().encode(figures).write(to: report)
    }

    /// job.cancel p50/p99 at 5 actions/s with 200 headless consoles subscribed (each reloading the
    /// snapshot on every invalidation; a fleet process of their own, `runFleet`) against one console,
    /// and the warmer rebuilds per interval.
    func scaleFigures(pg: PostgresClient, url: String, redisURL: String, ns: Namespace, consoles: Int = 200) throws -> [BenchResult] {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "agentos-bench-scale-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: dataDir) }
        // Keys and channels of their own (the footprint's console may still hold the bench namespace's warmer lock).
        let ns = Namespace("bench-scale-\(ProcessInfo.processInfo.processIdentifier)", brokerPrefix: ns.brokerPrefix)
        let (actions, raw) = try benchActions(pg: pg, url: url, redisURL: redisURL, ns: ns, dataDir: dataDir)
        let interval = 1_000
        let actionsPerRun = max(50, iterations / 4)
        let ids = try queuedJobs(actionsPerRun * 2, pg: pg, raw: raw, ns: ns, tag: "scale")
        var next = 0

        func run(_ n: Int) throws -> (cancel: [Double], warms: Int, seconds: Double, reloads: Int, failures: Int, warmers: Int) {
            _ = try raw.selecting(database: Namespace.DB.cache).send("DEL", ns.snapshotLockKey, ns.snapshotKey)
            let reportFile = dataDir.appendingPathComponent("fleet-\(n).json")
            try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: reportFile)
            let seconds = Double(actionsPerRun) / 5
            // The URLs through the environment: a password in them stays off the command line.
            let pid = try PosixSpawn.spawn(
                [
                    Self.executable.path, "--fleet", String(n),
                    "--fleet-seconds", String(seconds + 0.5), "--fleet-namespace", ns.prefix,
                    "--fleet-broker-prefix", ns.brokerPrefix, "--fleet-warm-millis", String(interval),
                    "--fleet-report", reportFile.path
                ], environment: ["AGENTOS_REDIS_URL": redisURL, "AGENTOS_POSTGRES_URL": url])
            func exited() -> Int32? {
                var status: Int32 = 0
                return waitpid(pid, &status, WNOHANG) == pid ? status : nil
            }
            let deadline = Date().addingTimeInterval(60)
            while (try? String(contentsOf: reportFile, encoding: .utf8)) != "ready" {
                if let status = exited() { throw BenchError("the fleet of \(n) consoles exited (\(status)) before it was ready") }
                guard Date() < deadline else {
                    kill(pid, SIGKILL)
                    throw BenchError("the fleet of \(n) consoles was not ready within 60 s")
                }
                usleep(20_000)
            }
            let began = DispatchTime.now().uptimeNanoseconds
            var samples: [Double] = []
            for k in 0..<actionsPerRun {
                let i = next
                next += 1
                let t = DispatchTime.now().uptimeNanoseconds
                let report = actions.dispatcher.dispatch(
                    ActionRequest(
                        action: ActionName.jobCancel.rawValue, payload: ["id": .string(ids[i])],
                        actor: Actor(user: "bench-scale\(i / 40)"), idempotencyKey: "bench-scale-\(i)"))
                guard report.succeeded else {
                    kill(pid, SIGKILL)
                    throw BenchError("job.cancel with \(n) consoles: \(report.message)")
                }
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1_000_000)
                let due = began + UInt64(k + 1) * 200_000_000
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now { usleep(UInt32((due - now) / 1_000)) }
            }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            guard status == 0, let data = try? Data(contentsOf: reportFile), let fleet = try? JSONDecoder().decode(FleetReport.self, from: data)
            else {
                throw BenchError("the fleet of \(n) consoles failed (status \(status))")
            }
            return (samples.sorted(), fleet.warms, fleet.seconds, fleet.reloads, fleet.failures, fleet.warmers)
        }
        let one = try run(1)
        let many = try run(consoles)
        FileHandle.standardError.write(
            Data(
                String(
                    format: "scale: %d consoles reloaded the snapshot %d times (%d failed) in %.1f s; warms %d (1 console: %d in %.1f s)\n",
                    consoles, many.reloads, many.failures, many.seconds, many.warms, one.warms, one.seconds
                ).utf8))
        var cancel = BenchResult(
            name: "job.cancel at 5/s with \(consoles) consoles subscribed (each reloading on every change)", figure: many.cancel,
            baseline: one.cancel, baselineName: "the same with one console")
        cancel.goalP99Ratio = 2
        // One warmer per interval: as many rebuilds by the warmers of 200 consoles as by one console alone.
        var warms = BenchResult(
            name: "warmer rebuilds in \(Int(many.seconds.rounded())) s (\(interval) ms interval), \(consoles) consoles (\(many.warmers) warming)",
            figure: [Double(many.warms)], baseline: [Double(one.warms)], baselineName: "one console alone",
            goalMs: Double(one.warms + 1), unit: .count)
        warms.goalAtLeast = Double(max(1, one.warms - 1))
        return [cancel, warms]
    }

    /// `n` queued jobs in PostgreSQL with their kombu messages in DB0, as AgentOS's producers write them.
    func queuedJobs(_ n: Int, pg: PostgresClient, raw: RedisClient, ns: Namespace, tag: String) throws -> [String] {
        var ids: [String] = []
        for i in 0..<n {
            let job = Job(
                id: UUID().uuidString.lowercased(), name: "bench \(tag) \(i)", stage: "video_cutter", queue: "video_cutter",
                status: .queued, owner: "bench", createdAt: Date())
            try pg.query(
                "INSERT INTO jobs (id, name, stage, queue, status, owner) VALUES ($1::uuid, $2, $3, $3, 'queued', 'bench')",
                [job.id, job.name, job.queue])
            _ = try raw.pipeline(
                ns.brokerPush(
                    queue: job.queue, priority: job.priority, job: job.id,
                    message: KombuMessage.task(job: job, taskName: "agentos.video_cutter", deliveryTag: "tag-" + job.id)))
            ids.append(job.id)
        }
        return ids
    }

    // MARK: - Footprint on a pseudo-terminal

    /// A program on a pseudo-terminal; a thread reads (and counts) everything it writes to the screen.
    final class PtyProcess: Sendable {
        let pid: pid_t
        let master: Int32
        let bytes = Atomic<Int>(0)
        /// The first 2 KB written, for an error message when the program does not start.
        let head = Mutex<[UInt8]>([])

        init(_ argv: [String], environment: [String: String]) throws {
            // posix_openpt/unlockpt/ptsname are not imported here: /dev/ptmx with Linux's ioctls
            // TIOCSPTLCK (_IOW('T', 0x31, int)) and TIOCGPTN (_IOR('T', 0x30, unsigned int)) instead.
            let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
            var unlock: Int32 = 0
            var number: UInt32 = 0
            guard master >= 0, ioctl(master, UInt(0x4004_5431), &unlock) == 0, ioctl(master, UInt(0x8004_5430), &number) == 0 else {
                throw BenchError("no pseudo-terminal: \(String(cString: strerror(errno)))")
            }
            let slave = "/dev/pts/\(number)"
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addclose(&actions, master)
            for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, fd, slave, O_RDWR, 0) }
            pid = try PosixSpawn.spawn(argv, environment: environment, actions: &actions)
            self.master = master
            let reader = Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let n = read(master, &buffer, buffer.count)
                    if n <= 0 { break }
                    bytes.add(n, ordering: .relaxed)
                    head.withLock { if $0.count < 2_048 { $0 += buffer[0..<min(n, 2_048 - $0.count)] } }
                }
            }
            reader.start()
        }

        /// User + system CPU seconds so far (utime and stime of /proc/PID/stat).
        var cpuSeconds: Double {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return 0 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return 0 }
            return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }

        /// Peak resident set (VmHWM of /proc/PID/status), in MB.
        var peakRSSMegabytes: Double {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
            else { return 0 }
            return kb / 1_000
        }

        func stop() {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            for _ in 0..<50 {
                if waitpid(pid, &status, WNOHANG) == pid {
                    close(master)
                    return
                }
                usleep(100_000)
            }
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            close(master)
        }
    }

    /// This executable.
    static var executable: URL { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }

    /// The console binary measured: `agentos` from the same build, beside this executable.
    static func consoleBinary() throws -> String {
        let path = executable.deletingLastPathComponent().appendingPathComponent("agentos").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchError("no agentos beside agentos-bench (\(path)): build both products (scripts/bench.sh does)")
        }
        return path
    }

    /// The real binary as a wallboard on a pty (160x48) against the bench backend with 100,000 jobs:
    /// peak RSS, idle CPU, and bytes written to the terminal per second idle and at 100 events/s.
    func footprintFigures(url: String, redisURL: String, ns: Namespace, pg: PostgresClient, jobs: Int) throws -> [BenchResult] {
        let exe = try Self.consoleBinary()
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-bench-pty-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: dataDir) }
        // An empty configuration file of its own, so the operator's does not change what is measured.
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let config = dataDir.appendingPathComponent("config.yaml")
        try Data().write(to: config)
        let env = ["TERM": "xterm-256color", "LINES": "48", "COLUMNS": "160", "LANG": "C.UTF-8", "AGENTOS_CONFIG": config.path]
        // The URLs through the environment: `agentos` refuses a password on its command line.
        let liveEnv = env.merging(["AGENTOS_REDIS_URL": redisURL, "AGENTOS_POSTGRES_URL": url]) { _, new in new }
        let window = 10.0
        let live = try PtyProcess(
            [
                exe, "console", "--namespace", ns.prefix, "--broker-prefix", ns.brokerPrefix,
                "--wallboard", "--data-dir", dataDir.path
            ], environment: liveEnv)
        let idle = try PtyProcess(["cat"], environment: env)
        defer {
            live.stop()
            idle.stop()
        }
        Thread.sleep(forTimeInterval: 4) // started, first frames drawn
        guard kill(live.pid, 0) == 0, live.bytes.load(ordering: .relaxed) > 1_000 else {
            let output = TextSanitizer.clean(String(decoding: live.head.withLock { $0 }, as: UTF8.self))
            throw BenchError("the console did not start on the pty (\(live.bytes.load(ordering: .relaxed)) bytes written: \(output))")
        }
        // Idle: no events for ten seconds.
        var cpu0 = live.cpuSeconds
        let cat0 = idle.cpuSeconds
        var bytes0 = live.bytes.load(ordering: .relaxed)
        Thread.sleep(forTimeInterval: window)
        let idleCPU = (live.cpuSeconds - cpu0) / window * 100
        let catCPU = (idle.cpuSeconds - cat0) / window * 100
        let idleBytes = Double(live.bytes.load(ordering: .relaxed) - bytes0) / window / 1_000
        // 100 events/s for ten seconds: progress of the jobs on screen.
        let ids = try pg.query("SELECT id::text AS id FROM jobs ORDER BY updated_at DESC LIMIT 100").rows.map { try $0.get("id", as: String.self) }
        let bus = RedisEventBus(redis: try RedisClient(url: redisURL), namespace: ns, source: "bench")
        cpu0 = live.cpuSeconds
        bytes0 = live.bytes.load(ordering: .relaxed)
        let began = DispatchTime.now().uptimeNanoseconds
        for k in 0..<Int(window * 10) {
            try bus.publish(
                batch: (0..<10).map { j in
                    AgentEvent.jobUpdated(JobPatch(id: ids[(k * 10 + j) % ids.count], progress: Double((k + j) % 100) / 100))
                })
            let due = began + UInt64(k + 1) * 100_000_000
            let now = DispatchTime.now().uptimeNanoseconds
            if due > now { usleep(UInt32((due - now) / 1_000)) }
        }
        let busyBytes = Double(live.bytes.load(ordering: .relaxed) - bytes0) / window / 1_000
        let busyCPU = (live.cpuSeconds - cpu0) / window * 100
        let rss = live.peakRSSMegabytes
        FileHandle.standardError.write(
            Data(String(format: "footprint: CPU at 100 events/s %.2f %%; idle %.2f %% (cat %.2f %%)\n", busyCPU, idleCPU, catCPU).utf8))

        // The baseline for the memory: the same binary on the embedded default (its simulator keeps ~2,000 jobs).
        let embedded = try PtyProcess([exe, "console", "--wallboard", "--data-dir", dataDir.path], environment: env)
        Thread.sleep(forTimeInterval: 4)
        let embeddedRSS = embedded.peakRSSMegabytes
        embedded.stop()

        return [
            BenchResult(
                name: "peak RSS, live wallboard, \(jobs.formatted()) jobs in PostgreSQL", figure: [rss], baseline: [embeddedRSS],
                baselineName: "the embedded default (2,000 jobs in memory)", goalMs: 60, unit: .megabytes),
            BenchResult(
                name: "CPU of an idle wallboard (10 s, no events)", figure: [idleCPU], baseline: [catCPU],
                baselineName: "cat waiting on a pty", goalMs: 1, unit: .percent),
            BenchResult(
                name: "bytes to the terminal per second, wallboard at 100 events/s (pty)", figure: [busyBytes], baseline: [idleBytes],
                baselineName: "the same wallboard with no events", goalMs: 10, unit: .kilobytesPerSecond)
        ]
    }
}
