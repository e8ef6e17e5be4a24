import AgentOSAdapters
import AgentOSCore
import AgentOSWorld
import Foundation
import Synchronization

/// `agentos sim`: the fleet simulator playing the AgentOS backend against real Redis and
/// PostgreSQL. It persists every tick, publishes the events on the bus, obeys fleet commands from
/// `{ns}:control`, and runs the snapshot warmer (the backend's warm_admin_cache task) under the
/// leader lock.
public final class LiveSimulation: Sendable {
    public struct Stats: Sendable, Equatable {
        public var ticks = 0
        /// Ticks that failed (a server did not answer): their events were kept and written by a later one.
        public var failedTicks = 0
        /// Events of a failed tick or command still unwritten when the simulation stopped.
        public var unwritten = 0
        public var eventsPublished = 0
        public var commandsApplied = 0
        public var commandsRejected = 0
        /// Messages the control listener has taken from `{ns}:control`, whatever became of them.
        public var controlMessages = 0
        public var warms = 0
        /// Control messages refused by the bus's authentication (D66: unsigned, badly signed,
        /// replayed), and the sources already logged (each once).
        public var controlRefused = 0
        public var refusedSources: Set<String> = []
        public var lastError: String?
    }

    private struct State: @unchecked Sendable {
        var sim: FleetSimulator
        let writer: LiveFleetWriter
        /// What a failed tick or command left to write; written before the simulator moves on.
        var backlog: Backlog?
        /// Set by `stop()`: no tick or command writes anything after it.
        var stopped = false
    }

    /// Events the servers have not all taken yet (D81): the rows at most once, Redis and the bus
    /// until they answer.
    private enum Backlog {
        /// Nothing committed yet: the rows, then Redis and the bus.
        case toCommit([AgentEvent], history: [JobEvent])
        /// The rows committed (the events carry the rows' ids): Redis and the bus.
        case toSend([AgentEvent])

        var count: Int {
            switch self {
            case .toCommit(let events, _), .toSend(let events): return events.count
            }
        }
    }

    public let bus: RedisEventBus
    public let dataManager: AdminDataManager
    private let state: Mutex<State>
    private let stats = Mutex(Stats())
    private let redis: RedisClient
    private let postgres: PostgresClient
    /// Reads the configuration store (the `config` rows) for config.changed and config.reload.
    private let configStore: PostgresSnapshotSource
    private let namespace: Namespace
    private let control = Mutex<RedisSubscriber?>(nil)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    public init(
        config: SimulatorConfig, redis: RedisClient, postgres: PostgresClient, namespace: Namespace = Namespace(),
        historySeconds: Double = 600, now: Date = Date(), warmIntervalMillis: Int = 5_000
    ) throws {
        var sim = FleetSimulator(config: config, start: now.addingTimeInterval(-historySeconds))
        sim.trackOutbox = true
        _ = sim.advance(to: now, step: 1)
        let writer = LiveFleetWriter(postgres: postgres, redis: redis, namespace: namespace)
        try writer.seed(sim, history: sim.takeOutbox())
        // Like a restarted service, it takes up what the operators set before it started.
        let configStore = PostgresSnapshotSource(postgres: postgres, redis: redis, namespace: namespace)
        let stored = try postgres.withConnection { try configStore.config($0) }
        for command in try stored.map(FleetCommand.setConfig) + Self.operatorSettings(postgres) { _ = sim.apply(command) }
        state = Mutex(State(sim: sim, writer: writer))
        bus = RedisEventBus(redis: redis, namespace: namespace, source: config.source)
        let cache = RedisSnapshotCache(redis: redis, namespace: namespace)
        dataManager = AdminDataManager(
            cache: cache, source: PostgresSnapshotSource(postgres: postgres, redis: redis, namespace: namespace),
            bus: bus, options: .init(ttlSeconds: 30, warmIntervalMillis: warmIntervalMillis, owner: config.source))
        self.redis = redis
        self.postgres = postgres
        self.configStore = configStore
        self.namespace = namespace
    }

    public var currentStats: Stats { stats.withLock { $0 } }

    /// What the operators' actions left in PostgreSQL for the services to honour: log levels,
    /// muted sources, log alert rules and a frozen configuration (a key's lock comes with its row).
    static func operatorSettings(_ db: PostgresClient) throws -> [FleetCommand] {
        var commands: [FleetCommand] = []
        if try db.query("SELECT 1 FROM console_settings WHERE key = 'config.frozen' AND value = 'true'::jsonb").rows.first != nil {
            commands.append(.lockConfig(nil, locked: true))
        }
        for row in try db.query("SELECT service, level FROM service_log_levels ORDER BY service").rows {
            if let level = LogLevel(rawValue: try row.get("level")) { commands.append(.setLogLevel(try row.get("service"), level)) }
        }
        for row in try db.query("SELECT source FROM log_mutes ORDER BY source").rows { commands.append(.muteLogSource(try row.get("source"))) }
        for row in try db.query("SELECT id, pattern, level, severity FROM log_alert_rules ORDER BY id").rows {
            if let level = LogLevel(rawValue: try row.get("level")), let severity = AlertSeverity(rawValue: try row.get("severity")),
                let rule = LogAlertRule(id: try row.get("id"), pattern: try row.get("pattern"), level: level, severity: severity)
            {
                commands.append(.addLogAlertRule(rule))
            }
        }
        return commands
    }

    /// Reads the simulator state.
    public func read<T: Sendable>(_ body: (FleetSimulator) -> T) -> T { state.withLock { body($0.sim) } }

    /// Writes what an earlier tick or command could not, then advances to `date`, persists and
    /// publishes. Returns the number of events published. When it throws, the events are kept for
    /// the next call (a failover: the pools reach the new master or primary by then).
    @discardableResult
    public func step(to date: Date = Date()) throws -> Int {
        let published = try state.withLock { s -> Int? in
            guard !s.stopped else { return nil }
            var count = try flush(&s)
            s.backlog = .toCommit(s.sim.advance(to: date), history: s.sim.takeOutbox())
            count += try flush(&s)
            return count
        }
        guard let published else { return 0 }
        stats.withLock { $0.ticks += 1 }
        return published
    }

    /// Writes the backlog: the rows (once: a committed transaction is never made again, or
    /// job_events and logs would be doubled), then the broker and the flags (idempotent), then the
    /// bus. A bus reply lost after the script ran publishes those events again (at least once on the
    /// bus; the tables exactly once). Returns the number of events published.
    private func flush(_ s: inout State) throws -> Int {
        guard let backlog = s.backlog else { return 0 }
        let out: [AgentEvent]
        switch backlog {
        case .toCommit(let events, let history):
            out = try s.writer.commitRows(events, sim: s.sim, history: history)
            s.backlog = .toSend(out)
        case .toSend(let events):
            out = events
        }
        try s.writer.syncRedis(s.sim, after: out)
        try bus.publish(batch: out)
        s.backlog = nil
        stats.withLock { $0.eventsPublished += out.count }
        return out.count
    }

    /// Applies a fleet command (as the control listener does), persists and publishes its events;
    /// a worker.ping is answered with what the worker's process knows. config.changed and
    /// config.reload are answered by reading the configuration store: the entries go to their owners.
    public func apply(_ command: FleetCommand) throws -> Result<Void, FleetCommandError> {
        let entries: [ConfigEntry]
        switch command {
        case .configChanged(let key):
            entries = try postgres.withConnection { try configStore.config($0) }.filter { $0.key == key }
            guard !entries.isEmpty else { return record(rejected: .notFound("config key \(key)")) }
        case .reloadConfig:
            entries = try postgres.withConnection { try configStore.config($0) }
        default:
            return try applyOne(command)
        }
        for entry in entries {
            if case .failure(let error) = try applyOne(.setConfig(entry)) { return .failure(error) }
        }
        return .success(())
    }

    private func record(rejected error: FleetCommandError) -> Result<Void, FleetCommandError> {
        stats.withLock {
            $0.commandsRejected += 1
            $0.lastError = error.description
        }
        return .failure(error)
    }

    private func applyOne(_ command: FleetCommand) throws -> Result<Void, FleetCommandError> {
        let result = try state.withLock { s -> Result<WorkerPong?, FleetCommandError> in
            // A failed tick's events first, so the rows and the bus keep the order things happened in.
            _ = try flush(&s)
            switch s.sim.apply(command) {
            case .success(let events):
                var pong: WorkerPong?
                if case .pingWorker(let id, _) = command, let w = s.sim.workers[id]?.info {
                    pong = WorkerPong(
                        worker: w.id, hostname: w.hostname, pid: w.pid ?? 0, status: w.status.rawValue, active: w.active,
                        concurrency: w.concurrency, processed: w.processed)
                }
                s.backlog = .toCommit(events, history: s.sim.takeOutbox())
                _ = try flush(&s)
                return .success(pong)
            case .failure(let error):
                return .failure(error)
            }
        }
        switch result {
        case .success(let pong):
            if let pong, case .pingWorker(_, let token) = command {
                let key = namespace.pingReplyKey(token)
                _ = try redis.selecting(database: WorkerPong.database).pipeline([
                    ["LPUSH", key, Array(try JSONEncoder().encode(pong))], ["EXPIRE", key, WorkerPong.replyTTLSeconds]
                ])
            }
            stats.withLock { $0.commandsApplied += 1 }
            return .success(())
        case .failure(let error):
            return record(rejected: error)
        }
    }

    /// Runs in real time: a tick every `tickMillis`, the warmer every warm interval, and the
    /// control listener, until `stop()`.
    public func start(tickMillis: Int = 250) {
        let tick = Task.detached { [self] in
            while !Task.isCancelled {
                do {
                    try step()
                } catch {
                    record(error)
                    stats.withLock { $0.failedTicks += 1 }
                }
                try? await Task.sleep(for: .milliseconds(tickMillis))
            }
        }
        let warm = Task.detached { [self] in
            while !Task.isCancelled {
                do { if try dataManager.warmIfLeader() { stats.withLock { $0.warms += 1 } } } catch { record(error) }
                try? await Task.sleep(for: .milliseconds(dataManager.options.warmIntervalMillis))
            }
        }
        tasks.withLock { $0 = [tick, warm] }
        listen()
    }

    /// Obeys `{ns}:control` (once started; `start` does it too). Commands are applied on the
    /// subscriber's own thread, so an answer (worker.ping) does not wait for the cooperative pool.
    public func listen() {
        let subscriber = control.withLock { current -> RedisSubscriber? in
            guard current == nil else { return nil }
            current = RedisSubscriber(redis.configuration, channels: [namespace.controlChannel]) { [self] event in
                guard case .message(_, let payload, _) = event else { return }
                stats.withLock { $0.controlMessages += 1 }
                switch BusAuth.openControl(payload, keys: namespace.busKeys, namespace: namespace.prefix) {
                case .failure(let refusal):
                    refused(payload, refusal)
                case .success(let body):
                    do {
                        _ = try apply(try JSONDecoder().decode(FleetCommand.self, from: Data(body)))
                    } catch {
                        record(error)
                    }
                }
            }
            return current
        }
        subscriber?.start()
    }

    /// Stops the ticks, the warmer and the listener. Returns once a tick or command under way has
    /// finished, so what the tables and the broker hold is whole; a backlog left is counted (`unwritten`).
    public func stop() {
        control.withLock { $0?.stop() }
        tasks.withLock { list in
            list.forEach { $0.cancel() }
            list.removeAll()
        }
        let left = state.withLock { s -> Int in
            s.stopped = true
            return s.backlog?.count ?? 0
        }
        stats.withLock { $0.unwritten = left }
    }

    /// Counted; said once per source (the `by` it claims) on stderr, so a flood is one line.
    private func refused(_ payload: [UInt8], _ refusal: BusRefusal) {
        let claimed = (try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])?["by"] as? String
        let refused = BusRefused(source: "control messages from \(claimed.map { String($0.prefix(80)) } ?? "an unknown sender")", refusal: refusal)
        let first = stats.withLock { s in
            s.controlRefused += 1
            s.lastError = refused.description
            return s.refusedSources.count < 1_000 && s.refusedSources.insert(refused.source).inserted
        }
        if first {
            FileHandle.standardError.write(
                Data("agentos sim: \(TextSanitizer.clean(refused.description, .multiLine)) (said once per source; counted)\n".utf8))
        }
    }

    private func record(_ error: Error) {
        stats.withLock { $0.lastError = String(describing: error) }
    }
}
