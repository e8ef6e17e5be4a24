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

    /// Starts the fleet `historySeconds` in the past and fast-forwards to `now`, so the views have
    /// history (throughput charts, finished jobs, logs) from the first frame.
    public init(
        config: SimulatorConfig = SimulatorConfig(), historySeconds: Double = 900, now: Date = Date(),
        options: AdminDataManager.Options = AdminDataManager.Options()
    ) {
        var sim = FleetSimulator(config: config, start: now.addingTimeInterval(-historySeconds))
        // History in 2 s steps (the live fleet moves in 250 ms steps): start-up stays well under 150 ms.
        _ = sim.advance(to: now, step: 2)
        fleet = FleetBox(sim)
        bus = InMemoryEventBus(source: "embedded")
        cache = InMemorySnapshotCache()
        dataManager = AdminDataManager(cache: cache, source: fleet, bus: bus, options: options)
    }

    /// The audit trail of the console's pipeline, shown in the snapshots' audit rows.
    public func attachAudit(_ log: any AuditLog) { fleet.audit.withLock { $0 = log } }

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
    init(_ simulator: FleetSimulator) { self.simulator = Mutex(simulator) }

    /// Builds snapshots from the simulator (the embedded SnapshotSource), with the newest 50 audit
    /// rows, like the live builder: the operator's own actions stay in "What changed" after a reload.
    func buildSnapshot(generation: Int) throws -> Snapshot {
        var s = simulator.withLock { $0.snapshot(generation: generation) }
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
