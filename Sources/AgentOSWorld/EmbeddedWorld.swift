import AgentOSCore
import Foundation
import Synchronization

/// The embedded default: the simulator on in-memory stores, so a new user sees a living AgentOS
/// with no servers at all. The same AdminDataManager and event bus ports as the live mode.
public final class EmbeddedWorld: Sendable {
    public let bus: InMemoryEventBus
    public let cache: InMemorySnapshotCache
    public let dataManager: AdminDataManager
    private let fleet: FleetBox
    private let driver = Mutex<Task<Void, Never>?>(nil)

    /// Starts the fleet `historySeconds` in the past and fast-forwards to `now` in steps of
    /// `historyStep` seconds, so the views have history (throughput charts, finished jobs, logs)
    /// from the first frame.
    public init(
        config: SimulatorConfig = SimulatorConfig(), historySeconds: Double = 900, historyStep: Double = 2, now: Date = Date(),
        options: AdminDataManager.Options = AdminDataManager.Options()
    ) {
        var sim = FleetSimulator(config: config, start: now.addingTimeInterval(-historySeconds))
        // History in 2 s steps (the live fleet moves in 250 ms steps): start-up stays well under 150 ms.
        _ = sim.advance(to: now, step: historyStep)
        fleet = FleetBox(sim)
        bus = InMemoryEventBus(source: "embedded")
        cache = InMemorySnapshotCache()
        dataManager = AdminDataManager(cache: cache, source: fleet, bus: bus, options: options)
    }

    /// The audit trail of the console's pipeline, shown in the snapshots' audit rows.
    public func attachAudit(_ log: any AuditLog) { fleet.audit.withLock { $0 = log } }

    /// The console pipeline's runtime state and data directory: the system actions reach them,
    /// and the snapshots show its breakers.
    public func attach(_ runtime: EmbeddedRuntime) { fleet.runtime.withLock { $0 = runtime } }

    public var runtime: EmbeddedRuntime? { fleet.runtime.withLock { $0 } }

    /// A console on this world (the snapshots list it until it ends).
    public func openSession(_ session: ConsoleSession) { fleet.sessions.withLock { $0[session.id] = session } }

    /// Ends the console session `kick` names (false: there is none) and tells the consoles (`session.kick`).
    public func endSession(_ kick: SessionKick) -> Bool {
        guard fleet.sessions.withLock({ $0.removeValue(forKey: kick.sessionID) }) != nil else { return false }
        _ = try? bus.publish(.sessionKick(kick))
        return true
    }

    public var sessions: [ConsoleSession] { fleet.sessions.withLock { $0.values.sorted { $0.startedAt < $1.startedAt } } }

    /// Moves the fleet to `date` and publishes what happened.
    @discardableResult
    public func advance(to date: Date) -> Int {
        let events = fleet.simulator.withLock { $0.advance(to: date) }
        for e in events { _ = try? bus.publish(e) }
        return events.count
    }

    /// Writes a line into the fleet's log at the fleet's time (muting and levels apply as to any
    /// source) and publishes it like the fleet's own lines.
    public func log(_ level: LogLevel, source: String, _ message: String) {
        guard let line = fleet.simulator.withLock({ $0.log(level, source, message) }) else { return }
        _ = try? bus.publish(.logAppended([line]))
    }

    /// Runs a control command against the fleet and publishes its events.
    public func apply(_ command: FleetCommand) -> Result<Void, FleetCommandError> {
        let result = fleet.simulator.withLock { $0.apply(command) }
        switch result {
        case .success(let events):
            for e in events { _ = try? bus.publish(e) }
            return .success(())
        case .failure(let error):
            return .failure(error)
        }
    }

    /// Runs `command` only when `count` (taken under the same lock, so nothing changes in between)
    /// is at most `limit`; returns the count either way, and nil in `applied` when it was refused.
    public func apply(
        _ command: FleetCommand, counting count: (FleetSimulator) -> Int, atMost limit: Int?
    ) -> (count: Int, applied: Result<Void, FleetCommandError>?) {
        let (n, result) = fleet.simulator.withLock { sim -> (Int, Result<[AgentEvent], FleetCommandError>?) in
            let n = count(sim)
            if let limit, n > limit { return (n, nil) }
            return (n, sim.apply(command))
        }
        switch result {
        case nil: return (n, nil)
        case .success(let events)?:
            for e in events { _ = try? bus.publish(e) }
            return (n, .success(()))
        case .failure(let error)?:
            return (n, .failure(error))
        }
    }

    /// Changes the store under the lock (the simulator is the store) and publishes the events the change made.
    func update<T>(_ body: (inout FleetSimulator) throws(ActionFailure) -> (T, [AgentEvent])) throws(ActionFailure) -> T {
        let (value, events) = try fleet.simulator.withLock { sim throws(ActionFailure) in try body(&sim) }
        for e in events { _ = try? bus.publish(e) }
        return value
    }

    /// Reads the simulator state (for tests and the job timeline).
    public func read<T: Sendable>(_ body: (FleetSimulator) -> T) -> T { fleet.simulator.withLock { body($0) } }

    /// Advances the fleet in real time every `tickMillis` until `stop()`.
    public func start(tickMillis: Int = 250) {
        driver.withLock { task in
            guard task == nil else { return }
            task = Task.detached { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(tickMillis))
                    advance(to: Date())
                }
            }
        }
    }

    public func stop() {
        driver.withLock { task in
            task?.cancel()
            task = nil
        }
    }
}

/// The simulator behind a lock, shared by the world and the snapshot source.
final class FleetBox: SnapshotSource {
    let simulator: Mutex<FleetSimulator>
    /// The console pipeline's audit trail, read into each snapshot as PostgreSQL's is live.
    let audit = Mutex<(any AuditLog)?>(nil)
    let runtime = Mutex<EmbeddedRuntime?>(nil)
    let sessions = Mutex<[String: ConsoleSession]>([:])
    init(_ simulator: FleetSimulator) { self.simulator = Mutex(simulator) }

    /// Builds snapshots from the simulator (the embedded SnapshotSource), with the newest 50 audit
    /// rows, like the live builder: the operator's own actions stay in "What changed" after a reload.
    func buildSnapshot(generation: Int) throws -> Snapshot {
        var s = simulator.withLock { $0.snapshot(generation: generation) }
        s.system.sessions = sessions.withLock { $0.values.sorted { $0.startedAt < $1.startedAt } }
        if let breakers = runtime.withLock({ $0?.breakers }) { s.system.breakers = try breakers.states(nowMillis: nil) }
        if let log = audit.withLock({ $0 }) {
            s.audit = try log.tail(50).reversed().map { r in
                AuditEntry(
                    seq: r.seq, ts: r.draft.timestamp, user: r.draft.actingAs ?? r.draft.user, action: r.draft.action,
                    phase: r.draft.phase.rawValue, outcome: r.draft.outcome, target: r.draft.target)
            }
        }
        return s
    }
}

/// What the console's pipeline keeps beside the fleet: its breakers, rate limits and idempotency
/// keys (system.breaker_*, rate_limit_reset and reset reach them) and the data directory the
/// file-writing actions write into.
public struct EmbeddedRuntime: Sendable {
    public let breakers: InMemoryBreakerStore
    public let rateLimits: InMemoryRateLimitStore
    public let idempotency: InMemoryIdempotencyStore
    public let dataDirectory: URL

    public init(
        dataDirectory: URL, breakers: InMemoryBreakerStore = InMemoryBreakerStore(), rateLimits: InMemoryRateLimitStore = InMemoryRateLimitStore(),
        idempotency: InMemoryIdempotencyStore = InMemoryIdempotencyStore()
    ) {
        self.dataDirectory = dataDirectory
        self.breakers = breakers
        self.rateLimits = rateLimits
        self.idempotency = idempotency
    }
}
