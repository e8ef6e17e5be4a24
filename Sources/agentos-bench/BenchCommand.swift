import AgentOSAdapters
import AgentOSCore
import AgentOSLiveWorld
import AgentOSWorld
import ArgumentParser
import ConsoleApp
import ConsoleUI
import Foundation

/// The servers the bench creates its database and keys on (`agentos`'s `--redis`/`--postgres` and their variables).
struct BenchConnection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("PostgreSQL URL or key/value connection string.", valueName: "url"))
    var postgres: String?

    @Option(name: .long, help: ArgumentHelp("Redis URL (redis://, rediss://, unix://).", valueName: "url"))
    var redis: String?

    var postgresURL: String? { postgres ?? ProcessInfo.processInfo.environment["AGENTOS_POSTGRES_URL"] }
    var redisURL: String? { redis ?? ProcessInfo.processInfo.environment["AGENTOS_REDIS_URL"] }
}

extension PostgresPooler: ExpressibleByArgument {}

/// `agentos-bench`: performance figures, each beside a baseline measured in the same run.
/// Run it through `scripts/bench.sh`, which starts loopback servers and uses a release build.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentos-bench",
        abstract: "Measure the read path (snapshot GET+decode, cache-miss rebuild) against baselines from the same run.",
        discussion: "Needs --redis and --postgres (scripts/bench.sh starts throwaway servers and passes them). Creates its own database."
    )

    @OptionGroup var connection: BenchConnection

    @Option(help: "Iterations per measurement.")
    var iterations = 200

    @Option(help: "Jobs in the database for the cache-miss rebuild.")
    var jobs = 100_000

    @Option(help: "Keyed audit rows for the audit verify figure.")
    var auditRows = 100_000

    @Option(help: "pooler=transaction: every PostgreSQL statement unnamed, as behind PgBouncer in transaction mode (docs/BENCHMARKS.md).")
    var pooler: PostgresPooler = .session

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    @Option(
        help:
            "Run only these groups (comma-separated: console, decode, events, rebuild, cancel, actions, footprint, scale, celery, celery-events, audit); all by default. celery-events is the first line of celery alone."
    )
    var only: String?

    /// Internal to the scale group: this process runs a fleet of headless consoles (see `FleetOptions`).
    @OptionGroup var fleet: FleetOptions

    func runs(_ group: String) -> Bool { only.map { $0.split(separator: ",").contains(Substring(group)) } ?? true }

    func run() throws {
        if only == "decode-profile" { return try decodeProfile() }
        if let consoles = fleet.fleet { return try runFleet(consoles) }
        guard let redisURL = connection.redisURL, let postgresURL = connection.postgresURL else {
            FileHandle.standardError.write(
                Data("agentos-bench: no --redis/--postgres, so only the console figures (scripts/bench.sh runs them all)\n".utf8))
            let results = runs("console") ? try consoleFigures() : []
            print(BenchResult.table(results))
            try writeJSON(results)
            return
        }
        var results: [BenchResult] = []
        let redis = try RedisClient(url: redisURL, database: Namespace.DB.cache)
        let ns = Namespace("bench", brokerPrefix: "bench:")

        // 1. Snapshot GET + decode vs a bare GET of the same bytes. First: this shared machine runs slower for
        // a while after sustained load (docs/BENCHMARKS.md), and these are the finest figures.
        let snapshots = runs("decode") ? [("seed-sized", Self.snapshot(targetBytes: 55_000)), ("1 MB", Self.snapshot(targetBytes: 1_000_000))] : []
        for (label, snapshot) in snapshots {
            let data = try snapshot.encoded()
            try redis.send("SET", ns.snapshotKey, [UInt8](data))
            let bare = try measure(iterations) { _ = try redis.send("GET", ns.snapshotKey) }
            let full = try measure(iterations) {
                guard case .bulk(let bytes) = try redis.send("GET", ns.snapshotKey) else { throw BenchError("snapshot missing") }
                _ = try Snapshot.decode(Data(bytes))
            }
            results.append(
                BenchResult(
                    name: "snapshot GET+decode, \(label) (\(data.count / 1000) KB)", figure: full, baseline: bare,
                    baselineName: "bare GET of the same bytes", goalMs: label == "1 MB" ? 8 : 0.5))
        }
        try redis.send("DEL", ns.snapshotKey)
        // 2. The console in-process (no servers).
        if runs("console") { results += try consoleFigures() }
        if runs("events") { results.append(try eventThroughputFigure(redisURL: redisURL)) }
        // The monitor's CPU per event needs no servers but Redis; `celery` runs it too.
        if runs("celery-events") && !runs("celery") { results += try celeryEventFigures(redisURL: redisURL) }
        guard ["rebuild", "cancel", "actions", "footprint", "scale", "celery", "audit"].contains(where: runs) else {
            print(BenchResult.table(results))
            try writeJSON(results)
            return
        }

        // 2. Cache-miss rebuild with N jobs in PostgreSQL vs the bare count query.
        let admin = try PostgresConnection(postgresURL)
        let dbName = "agentos_bench_\(ProcessInfo.processInfo.processIdentifier)"
        try admin.execute("DROP DATABASE IF EXISTS \(dbName)")
        try admin.execute("CREATE DATABASE \(dbName)")
        defer {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(dbName) WITH (FORCE)")
            _ = try? admin.execute("DROP ROLE IF EXISTS \(Self.operatorLogin)") // the cancel figure's operator (cluster-wide)
        }
        var url = Self.replacingDatabase(in: postgresURL, with: dbName)
        if pooler == .transaction { url += (url.contains("?") ? "&" : "?") + "pooler=transaction" }
        let pg = PostgresClient(url)
        _ = try pg.withConnection { try Migrator().migrate($0) }
        let world = FleetSimulator(config: SimulatorConfig(seed: 1, workersPerStage: 5), start: Date().addingTimeInterval(-600))
        let writer = LiveFleetWriter(postgres: pg, redis: try RedisClient(url: redisURL), namespace: ns)
        try writer.seed(world, history: [])
        try pg.execute(
            """
            INSERT INTO jobs (id, name, stage, queue, status, priority, progress, attempts, owner, created_at, updated_at, error, error_class)
            SELECT gen_random_uuid(), 'bench job ' || g,
                   (ARRAY['video_downloader','audio_transcriber','moment_detector','face_detector','intelligent_cropper','video_cutter'])[1 + g % 6],
                   (ARRAY['video_downloader','audio_transcriber','moment_detector','face_detector','intelligent_cropper','video_cutter'])[1 + g % 6],
                   (ARRAY['completed','completed','completed','completed','failed','queued','running','cancelled'])[1 + g % 8],
                   g % 10, (g % 100) / 100.0, 1 + g % 3, (ARRAY['alice','bob','carol','dave'])[1 + g % 4],
                   now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
                   CASE WHEN g % 8 = 4 THEN 'synthetic failure' END, CASE WHEN g % 8 = 4 THEN 'BenchError' END
            FROM generate_series(1, \(jobs)) AS g
            """)
        try pg.execute("ANALYZE")
        let source = PostgresSnapshotSource(postgres: pg, redis: try RedisClient(url: redisURL), namespace: ns)
        let manager = AdminDataManager(cache: RedisSnapshotCache(redis: redis, namespace: ns), source: source, bus: nil)
        let rebuildIterations = max(5, iterations / 10)
        let countOnly = try measure(rebuildIterations) { _ = try pg.query("SELECT status, stage, count(*) FROM jobs GROUP BY status, stage") }
        if runs("rebuild") {
            let rebuild = try measure(rebuildIterations) { _ = try manager.rebuild() }
            results.append(
                BenchResult(
                    name: "cache-miss rebuild, \(jobs.formatted()) jobs (build+encode+SET)", figure: rebuild, baseline: countOnly,
                    baselineName: "the bare GROUP BY count query", goalMs: 25))
            try redis.send("DEL", ns.snapshotKey)
        }

        // 3. job.cancel end to end, as an operator's own login, vs the same calls sent bare.
        if runs("cancel") { results.append(try jobCancelFigure(pg: pg, url: url, redisURL: redisURL, ns: ns)) }
        // 4. The other risk classes.
        if runs("actions") { results += try riskClassFigures(pg: pg, url: url, redisURL: redisURL, ns: ns) }
        // 5. Footprint of the real binary on a pty, and many consoles on one backend.
        if runs("footprint") { results += try footprintFigures(url: url, redisURL: redisURL, ns: ns, pg: pg, jobs: jobs) }
        if runs("scale") { results += try scaleFigures(pg: pg, url: url, redisURL: redisURL, ns: ns) }
        // 6. Celery's remote control against Celery's own CLI (when the Celery venv is there).
        if runs("celery") { results += try celeryPeerFigures(url: url, redisURL: redisURL, pg: pg) }
        // 7. audit verify over 100,000 keyed rows.
        if runs("audit") { results.append(try auditVerifyFigure(pg: pg)) }

        print(BenchResult.table(results))
        try writeJSON(results)
    }

    /// `--only decode-profile`: decodes the seed-sized snapshot `--iterations` times with no servers, for a
    /// profiler (`valgrind --tool=callgrind --toggle-collect='*SnapshotV6decode*'` counts instructions, which a
    /// noisy machine does not change; docs/BENCHMARKS.md).
    func decodeProfile() throws {
        let data = try Self.snapshot(targetBytes: 55_000).encoded()
        let t = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { _ = try Snapshot.decode(data) }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6 / Double(iterations)
        print(String(format: "decoded %d bytes %d times: %.3f ms each", data.count, iterations, ms))
    }

    func writeJSON(_ results: [BenchResult]) throws {
        guard let json else { return }
        let data = try JSONSerialization.data(withJSONObject: results.map(\.dictionary), options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: json))
    }

    /// A simulated snapshot grown (by adding jobs and log lines) to about `targetBytes` of JSON.
    static func snapshot(targetBytes: Int) -> Snapshot {
        var sim = FleetSimulator(config: SimulatorConfig(seed: 9, rate: 4), start: Date().addingTimeInterval(-1_800))
        _ = sim.advance(to: Date(), step: 1)
        var s = sim.snapshot(generation: 1, source: "live")
        let fullJobs = s.jobs.recent
        let fullLogs = s.logs.recent
        s.jobs.recent = []
        s.jobs.failed = []
        s.logs.recent = []
        var i = 0
        func add(_ n: Int) {
            for _ in 0..<n {
                var job = fullJobs[i % fullJobs.count]
                job.id = UUID().uuidString.lowercased()
                s.jobs.recent.append(job)
                if job.status == .failed { s.jobs.failed.append(job) }
                var line = fullLogs[i % fullLogs.count]
                line.id = i
                s.logs.recent.append(line)
                i += 1
            }
        }
        // Rows in steps sized from the bytes a row has taken so far, then one at a time: a few encodes, not hundreds.
        let empty = (try? s.encoded().count) ?? 0
        var size = empty
        while size < targetBytes {
            let perRow = i == 0 ? 1_000 : max(1, (size - empty) / i)
            add(max(1, (targetBytes - size) / perRow * 9 / 10))
            size = (try? s.encoded().count) ?? targetBytes
        }
        return s
    }

    static func replacingDatabase(in url: String, with name: String) -> String {
        guard var comps = URLComponents(string: url) else { return url + " dbname=\(name)" }
        comps.path = "/\(name)"
        return comps.string ?? url
    }

    /// This process's CPU time so far (every thread, user and system), in milliseconds.
    static func processCPUMillis() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) * 1_000 + Double(t.tv_nsec) / 1e6
    }

    /// This process's CPU time so far, split into user space and the kernel's (system calls,
    /// the network stack, waking up): every thread, microsecond resolution.
    static func processCPUSplit() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func ms(_ t: timeval) -> Double { Double(t.tv_sec) * 1_000 + Double(t.tv_usec) / 1_000 }
        return (ms(usage.ru_utime), ms(usage.ru_stime))
    }

    func measure(_ n: Int, _ body: () throws -> Void) rethrows -> [Double] {
        for _ in 0..<min(10, n) { try body() } // warm-up
        var samples: [Double] = []
        samples.reserveCapacity(n)
        for _ in 0..<n {
            let t = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1_000_000)
        }
        return samples.sorted()
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// One figure beside its baseline: p50/p99 in milliseconds and the ratio of the medians.
struct BenchResult {
    let name: String
    let figure: [Double]
    let baseline: [Double]
    let baselineName: String
    /// Goals in milliseconds: on the p50, the p99, the ratio to the baseline (nil: none).
    var goalMs: Double? = nil
    var goalP99Ms: Double? = nil
    var goalRatio: Double? = nil

    /// What the figures count: milliseconds unless said otherwise.
    var unit: Unit = .ms
    /// A floor on the p50 (throughput figures).
    var goalAtLeast: Double? = nil
    /// A ceiling on the p99 over the baseline's p99.
    var goalP99Ratio: Double? = nil
    /// This process's CPU time per action in milliseconds, and its ceiling.
    var cpuPerAction: (ms: Double, goal: Double)? = nil

    enum Unit: String {
        case ms
        case megabytes = "MB"
        case percent = "%"
        case kilobytesPerSecond = "KB/s"
        case perSecond = "events/s"
        case count = ""
    }

    init(
        name: String, figure: [Double], baseline: [Double], baselineName: String, goalMs: Double? = nil, goalP99Ms: Double? = nil,
        goalRatio: Double? = nil, unit: Unit = .ms
    ) {
        self.unit = unit
        self.name = name
        self.figure = figure
        self.baseline = baseline
        self.baselineName = baselineName
        self.goalMs = goalMs
        self.goalP99Ms = goalP99Ms
        self.goalRatio = goalRatio
    }

    /// Each goal with whether this run meets it.
    var goals: [(label: String, met: Bool)] {
        let f = format
        var out: [(String, Bool)] = []
        let what = figure.count == 1 ? "" : "p50 "
        if let g = goalMs { out.append(("\(what)≤ \(f(g))", p50 <= g)) }
        if let g = goalAtLeast { out.append(("\(what)≥ \(f(g))", p50 >= g)) }
        if let g = goalP99Ms { out.append(("p99 ≤ \(f(g))", p99 <= g)) }
        if let g = goalP99Ratio {
            let base = Self.percentile(baseline, 0.99)
            out.append(("p99 ≤ \(String(format: "%.1f", g))× baseline p99 (\(f(base)))", p99 <= g * base))
        }
        if let g = goalRatio { out.append(("ratio ≤ \(String(format: "%.1f", g))", ratio <= g)) }
        if let cpu = cpuPerAction { out.append((String(format: "CPU %.3f ≤ %.2f ms", cpu.ms, cpu.goal), cpu.ms <= cpu.goal)) }
        return out
    }
    var meetsGoals: Bool { goals.allSatisfy(\.met) }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    var p50: Double { Self.percentile(figure, 0.5) }
    var p99: Double { Self.percentile(figure, 0.99) }
    var baseP50: Double { Self.percentile(baseline, 0.5) }
    var ratio: Double { baseP50 > 0 ? p50 / baseP50 : 0 }

    /// A value in this figure's unit: 3 decimals under 10 ms, grouped thousands for rates.
    func format(_ v: Double) -> String {
        switch unit {
        case .ms: return String(format: v < 10 ? "%.3f" : "%.1f", v)
        case .perSecond: return Int(v.rounded()).formatted() + " /s"
        case .count: return Int(v.rounded()).formatted()
        case .megabytes, .percent, .kilobytesPerSecond: return String(format: v < 10 ? "%.2f %@" : "%.1f %@", v, unit.rawValue)
        }
    }

    var dictionary: [String: Any] {
        [
            "name": name, "unit": unit.rawValue, "goal_at_least": goalAtLeast ?? NSNull(), "goal_p99_ratio": goalP99Ratio ?? NSNull(),
            "baseline_p99_ms": Self.percentile(baseline, 0.99), "p50_ms": p50, "p99_ms": p99, "baseline": baselineName, "baseline_p50_ms": baseP50,
            "ratio": ratio,
            "cpu_per_action_ms": cpuPerAction?.ms ?? NSNull(), "goal_cpu_per_action_ms": cpuPerAction?.goal ?? NSNull(),
            "goal_p50_ms": goalMs ?? NSNull(), "goal_p99_ms": goalP99Ms ?? NSNull(), "goal_ratio": goalRatio ?? NSNull(), "meets_goal": meetsGoals,
            "samples": figure.count
        ]
    }

    static func table(_ results: [BenchResult]) -> String {
        var lines = ["| figure | p50 (ms unless said) | p99 | baseline | baseline p50 | ratio | goals |", "|---|---|---|---|---|---|---|"]
        for r in results {
            let goals = r.goals.map { "\($0.label) \($0.met ? "✓" : "✗")" }.joined(separator: ", ")
            let ratio = r.baseP50 > 0 ? String(format: "%.1f×", r.ratio) : "—"
            let p99 = r.figure.count == 1 ? "—" : r.format(r.p99)
            lines.append("| \(r.name) | \(r.format(r.p50)) | \(p99) | \(r.baselineName) | \(r.format(r.baseP50)) | \(ratio) | \(goals) |")
        }
        return lines.joined(separator: "\n")
    }
}
