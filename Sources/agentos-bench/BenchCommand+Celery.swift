import AgentOSAdapters
import AgentOSCore
import Foundation

/// The Celery peer group (issue 25): revoke, ping and pool grow as whole `agentos action …
/// --celery` processes against Celery's own CLI (aimed at the named worker, and by default at
/// every worker), on one real prefork worker of the tests' fixture app, each with the default
/// reply timeout (1 s, as the CLI's). Needs the test command's Celery venv.
extension BenchCommand {
    func celeryPeerFigures(url: String, redisURL: String, pg: PostgresClient) throws -> [BenchResult] {
        // The monitor's cost per event needs no Celery: its frames are made here.
        var results = try celeryEventFigures(redisURL: redisURL)
        guard let python = ProcessInfo.processInfo.environment["AGENTOS_TEST_CELERY_PYTHON"], !python.isEmpty else {
            FileHandle.standardError.write(Data("celery: peer group skipped, no Celery venv (scripts/bench.sh passes the tests' cached one)\n".utf8))
            return results
        }
        let agentos = try Self.consoleBinary()
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/AdapterIntegrationTests/celery_fixture").path
        let tag = ProcessInfo.processInfo.processIdentifier
        let prefix = "benchcel\(tag):"
        let host = "bench\(tag)@agentos-bench"
        let brokerDB = 12
        let transport = try CeleryTransport(brokerDatabase: brokerDB, globalKeyPrefix: prefix, queues: ["benchq"])
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-bench-celery-\(tag)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let celeryEnv = [
            "CELERY_FIXTURE_BROKER": redisURL + "/\(brokerDB)", "CELERY_FIXTURE_KEYPREFIX": prefix, "CELERY_FIXTURE_MARKS": dataDir.path,
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": fixture
        ]
        let worker = try PosixSpawn.spawnGroupLeader(
            [python, "-m", "celery", "--workdir", fixture, "-A", "app", "worker", "-E", "-P", "prefork", "-c", "1", "-n", host]
                + ["-Q", "benchq", "--without-mingle", "--without-gossip", "-l", "warning"], environment: celeryEnv, output: "/dev/null")
        let redis = try RedisClient(url: redisURL)
        // A console's monitor beside the CLI: it follows the worker and shares its view in Redis (D61).
        let monitor = CeleryMonitor(redis: redis, transport: transport)
        defer {
            monitor.stop()
            Self.stopGroup(worker)
            let broker = redis.selecting(database: brokerDB)
            if let keys = try? broker.send("KEYS", prefix + "*").array, !keys.isEmpty { _ = try? broker.send(["DEL"] + keys.compactMap(\.bytes)) }
            try? FileManager.default.removeItem(at: dataDir)
        }
        monitor.start(pollSeconds: 5)
        let deadline = Date().addingTimeInterval(90)
        func shared() throws -> Bool { try redis.selecting(database: brokerDB).send("EXISTS", transport.sharedViewKey).int == 1 }
        while try monitor.current.workers[host]?.queues == nil || !shared() {
            guard Date() < deadline else { throw BenchError("celery: worker \(host) not seen within 90 s") }
            usleep(100_000)
        }
        // `agentos action` acts as this Unix account: an admin in the bench database.
        guard let account = getpwuid(getuid())?.pointee.pw_name.map({ String(cString: $0) }) else { throw BenchError("no Unix account name") }
        try pg.query(
            "INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin') ON CONFLICT (user_id) DO UPDATE SET role = 'admin'", [account])

        let options = "{\"broker_db\": \(brokerDB), \"global_keyprefix\": \"\(prefix)\", \"queues\": [\"benchq\"]}"
        /// `agentos action …` as an operator runs it; its JSON report must say ok.
        func console(_ ns: String, _ args: [String]) throws {
            let out = try Self.run(
                [agentos, "action"] + args + [
                    "--json", "--namespace", ns, "--data-dir", dataDir.path, "--celery", options
                ], environment: ["AGENTOS_REDIS_URL": redisURL, "AGENTOS_POSTGRES_URL": url]) // a password stays off the command line
            let report = (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]) ?? [:]
            guard report["ok"] as? Bool == true else { throw BenchError("agentos action \(args.joined(separator: " ")): \(out)") }
        }
        func cli(_ args: [String]) throws {
            _ = try Self.run([python, "-m", "celery", "--workdir", fixture, "-A", "app"] + args, environment: celeryEnv)
        }
        let runs = 10
        /// The pool as `stats` shows it: processes and the prefetch count.
        let poolShown = { () throws -> [Int?] in
            let stats = try monitor.control.broadcast("stats", destination: [host]).replies.first?.value
            return [stats?["pool"]?["processes"]?.array?.count, stats?["prefetch_count"]?.int]
        }
        let base = try poolShown()
        // A grow is undone and the pool back where it was (a grow's process may fork up to 5 s
        // later, at the pool's maintenance) before the next run: it starts from the same pool.
        let shrink = {
            _ = try monitor.control.broadcast("pool_shrink", arguments: ["n": .int(1)], destination: [host])
            let until = Date().addingTimeInterval(30)
            var now = try poolShown()
            while now != base {
                guard Date() < until else { throw BenchError("celery: pool of \(host) not back to \(base) within 30 s: \(now)") }
                usleep(50_000)
                now = try poolShown()
            }
        }
        var figures: [CeleryPeerFigure] = []
        /// Each figure is printed as soon as it is measured (a later one may fail).
        let add = { (f: CeleryPeerFigure) in
            figures.append(f)
            let line = String(
                format: "celery %@: agentos action %.0f ms, celery %@ -d %.0f ms, every worker %.0f ms (medians of %d)\n", f.what,
                BenchResult.percentile(f.mine, 0.5), f.cli, BenchResult.percentile(f.named, 0.5), BenchResult.percentile(f.every, 0.5), runs)
            FileHandle.standardError.write(Data(line.utf8))
        }

        let id = { UUID().uuidString.lowercased() }
        add(
            (
                "revoke", "job.cancel", "control revoke",
                try samplesUndone(runs) { try console("benchcelcancel", ["job.cancel", "id=\(id())"]) },
                try samplesUndone(runs) { try cli(["control", "revoke", id(), "-d", host]) },
                try samplesUndone(runs) { try cli(["control", "revoke", id()]) }
            ))
        add(
            (
                "ping", "worker.ping", "inspect ping",
                try samplesUndone(runs) { try console("benchcelping", ["worker.ping", "id=\(host)"]) },
                try samplesUndone(runs) { try cli(["inspect", "ping", "-d", host]) },
                try samplesUndone(runs) { try cli(["inspect", "ping"]) }
            ))
        // Each grow is undone (unmeasured) so the pool stays at one process.
        var grown: [[Double]] = []
        for argv in [["control", "pool_grow", "1", "-d", host], ["control", "pool_grow", "1"]] {
            grown.append(try samplesUndone(runs, undo: shrink) { try cli(argv) })
        }
        add(
            (
                "pool grow", "worker.pool_grow", "control pool_grow",
                try samplesUndone(runs, undo: shrink) { try console("benchcelgrow", ["worker.pool_grow", "id=\(host)", "n=1"]) },
                grown[0], grown[1]
            ))

        // Flower beside the console: memory and events per second. The bench's own monitor stops
        // first, so it neither competes for the CPU nor shares a view of its own.
        monitor.stop()
        let flower = try flowerFigures(
            FlowerPeer(
                python: python, fixture: fixture, celeryEnv: celeryEnv, agentos: agentos, options: options, dataDir: dataDir, redisURL: redisURL,
                url: url, transport: transport, redis: redis))
        for f in figures {
            results.append(
                BenchResult(
                    name: "celery \(f.what): agentos action \(f.console) (process)", figure: f.mine, baseline: f.named,
                    baselineName: "celery \(f.cli) -d <worker> (process)", goalRatio: 0.5))
            results.append(
                BenchResult(
                    name: "celery \(f.what): agentos action \(f.console) (process)", figure: f.mine, baseline: f.every,
                    baselineName: "celery \(f.cli), every worker (process)"))
        }
        return results + flower
    }

    /// One peer figure: the console's samples, the CLI's aimed at the named worker and at every worker.
    typealias CeleryPeerFigure = (what: String, console: String, cli: String, mine: [Double], named: [Double], every: [Double])

    /// `runs` timed runs of `body` (after 2 warm-ups), each followed by `undo`, untimed.
    func samplesUndone(_ runs: Int, undo: () throws -> Void = {}, body: () throws -> Void) throws -> [Double] {
        var out: [Double] = []
        for i in 0..<(runs + 2) {
            let t = DispatchTime.now().uptimeNanoseconds
            try body()
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t) / 1_000_000
            try undo()
            if i >= 2 { out.append(ms) }
        }
        return out.sorted()
    }

    /// SIGTERM to the group (a Celery worker's warm shutdown), SIGKILL after 30 s; reaped.
    static func stopGroup(_ pid: pid_t) {
        kill(-pid, SIGTERM)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(30)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard Date() < deadline else {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return
            }
            usleep(50_000)
        }
        kill(-pid, SIGKILL) // pool processes left behind
    }

    /// Runs a process to its end; its stdout, or an error with its output when it exits non-zero.
    static func run(_ argv: [String], environment: [String: String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw BenchError(
                "\(argv.prefix(8).joined(separator: " ")) exited \(p.terminationStatus): \(String(decoding: stderr + stdout, as: UTF8.self))")
        }
        return String(decoding: stdout, as: UTF8.self)
    }
}
