import AgentOSAdapters
import AgentOSCore
import AgentOSWorld
import ArgumentParser
import Foundation

/// `agentos snapshot`: prints the current SSOT snapshot (embedded by default) for scripts.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Print the current SSOT snapshot (embedded simulator unless a backend is configured).",
        discussion: """
            Without --redis/--postgres (or AGENTOS_REDIS_URL/AGENTOS_POSTGRES_URL) this starts the embedded
            default: a simulated AgentOS fleet in memory, with 15 minutes of history, and prints its snapshot.
            """
    )

    @Flag(help: "Print the snapshot as JSON (schema agentos.admin.ssot/4).")
    var json = false

    @Flag(help: "Pretty-print the JSON.")
    var pretty = false

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var celery: CeleryOption

    @OptionGroup var simulator: SimulatorOptions

    func run() throws {
        let snapshot: Snapshot
        let connected = try connection.resolve(celery: celery)
        let transport = try connected.celery()
        if connected.live {
            snapshot = try liveSnapshot(connected, celery: transport)
        } else {
            if transport != nil && celery.celery != nil {
                throw fail("--celery needs the live backend (--redis and --postgres): the embedded simulator has no Celery", code: ExitStatus.usage)
            }
            let world = EmbeddedWorld(
                config: SimulatorConfig(seed: simulator.seed, rate: simulator.rate, scheduledShare: SimulatorConfig.fleetScheduledShare))
            snapshot = try world.dataManager.snapshot().0
        }
        if json || pretty {
            try JSONOutput.write(Array(try snapshot.encoded(pretty: pretty)))
        } else {
            print(TextSanitizer.clean(SnapshotSummary.render(snapshot), .multiLine))
        }
    }
}

extension SnapshotCommand {
    /// Live: the cached snapshot from Redis DB1, rebuilt from PostgreSQL on a miss; with Celery,
    /// its workers, queues and tasks merged in as the console merges them (the view a console
    /// shared in Redis, then one poll of the workers).
    func liveSnapshot(_ connected: ConnectionOptions.Settings, celery: CeleryTransport?) throws -> Snapshot {
        guard let redisURL = connected.redisURL, let postgresURL = connected.postgresURL else {
            throw fail(
                "live mode needs both --redis and --postgres (or AGENTOS_REDIS_URL and AGENTOS_POSTGRES_URL, or the configuration file)",
                code: ExitStatus.usage)
        }
        do {
            let redis = try RedisClient(url: redisURL)
            let postgres = PostgresClient(postgresURL)
            let ns = connected.names
            let manager = AdminDataManager(
                cache: RedisSnapshotCache(redis: redis, namespace: ns),
                source: PostgresSnapshotSource(postgres: postgres, redis: redis, namespace: ns),
                bus: RedisEventBus(redis: redis, namespace: ns, source: "snapshot@\(ProcessInfo.processInfo.hostName)"))
            let snapshot = try manager.snapshot().0
            guard let celery else { return snapshot }
            let monitor = CeleryMonitor(redis: redis, transport: celery, log: { FileHandle.standardError.write(Data("agentos: \($0)\n".utf8)) })
            monitor.catchUp()
            return monitor.merge(into: snapshot)
        } catch let error as RedisError {
            throw fail(error.description, code: ExitStatus.unavailable)
        } catch let tooLarge as RedisSnapshotCache.TooLarge {
            // Read by nobody (D64); there is no last good snapshot here to fall back on.
            func mib(_ n: Int) -> String { n >= 1 << 20 ? "\(n >> 20) MiB" : "\(n) bytes" }
            throw fail(
                "the cached snapshot is \(mib(tooLarge.bytes)), over the \(mib(tooLarge.limit)) limit: refused unread, nothing printed",
                code: ExitStatus.unavailable)
        } catch let error as PostgresError {
            throw fail(error.description, code: error.isConnectionError ? ExitStatus.unavailable : ExitStatus.software)
        }
    }
}

/// A plain-text summary of a snapshot (used by `agentos snapshot` without --json).
enum SnapshotSummary {
    static func render(_ s: Snapshot) -> String {
        var out: [String] = []
        out.append("AgentOS snapshot \(s.schema) generation \(s.generation) (\(s.source)) at \(ISOTime.format(s.generatedAt))")
        let health = s.system.services.map { "\($0.name) \($0.status.rawValue)" }.joined(separator: ", ")
        out.append("services   \(health)")
        if s.system.maintenance.enabled { out.append("MAINTENANCE \(s.system.maintenance.message ?? "")") }
        let statuses = JobStatus.allCases.map { "\($0.rawValue) \(s.jobs.count($0))" }.joined(separator: "  ")
        out.append("jobs       \(s.jobs.total) total: \(statuses)")
        if let rate = s.analytics.successRate(last: s.analytics.windowMinutes, now: s.generatedAt) {
            let done = s.analytics.completeMinutes(last: 5, now: s.generatedAt).reduce(0) { $0 + $1.completed }
            out.append(
                "throughput \(done) stage completions in the last 5 complete minutes, success \(String(format: "%.1f", rate * 100))% over \(s.analytics.windowMinutes) min"
            )
        }
        out.append("")
        out.append(pad("QUEUE", 22) + pad("PENDING", 9) + pad("RESERVED", 10) + pad("FAILED", 8) + pad("CONSUMERS", 11) + "STATE")
        for q in s.queues {
            out.append(
                pad(q.name, 22) + pad(String(q.pending), 9) + pad(String(q.reserved), 10) + pad(String(q.failed), 8)
                    + pad(String(q.consumers), 11) + (q.paused ? "paused" : "active"))
        }
        let up = s.workers.filter { $0.status.isUp }.count
        out.append("")
        out.append("workers    \(up)/\(s.workers.count) up; managers " + s.managers.map { "\($0.id) \($0.status.rawValue)" }.joined(separator: ", "))
        let active = s.alerts.filter { $0.status == .active }
        out.append("alerts     \(active.count) active" + (active.first.map { ", newest: [\($0.severity.rawValue)] \($0.title)" } ?? ""))
        out.append("logs       " + LogLevel.allCases.map { "\($0.rawValue) \(s.logs.byLevel[$0.rawValue] ?? 0)" }.joined(separator: "  "))
        return out.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
