import AgentOSCore
import AgentOSWorld
import ConsoleApp
import ConsoleTerminal
import Foundation

/// The embedded default: the in-memory fleet.
final class EmbeddedConsoleBackend: ConsoleBackend {
    let world: EmbeddedWorld
    let actor: Actor
    let actions: ConsoleActions
    let scrubber: PIIScrubber

    init(world: EmbeddedWorld, dataDirectory: URL, actor: Actor) {
        self.world = world
        self.actor = actor
        scrubber = ConsoleActions.recordScrubber(dataDirectory: dataDirectory)
        actions = ConsoleActions.embedded(world: world, dataDirectory: dataDirectory, user: actor.user)
        // This console is the world's session: the System view lists it, system.session_terminate ends it (D60).
        let now = Date()
        world.openSession(
            ConsoleSession(
                id: actor.sessionID, user: actor.user, host: actor.host, pid: Int(ProcessInfo.processInfo.processIdentifier),
                tty: ProcessInfo.processInfo.environment["SSH_TTY"] ?? "", startedAt: now, lastSeen: now, view: "dashboard"))
    }

    /// This console's requests: the embedded snapshot's action figures (live ones come from audit_logs).
    let history = InMemoryActionHistory()

    func dispatch(_ request: ActionRequest) -> ActionReport {
        let started = SystemActionClock().nowMillis()
        let report = actions.dispatcher.dispatch(request)
        history.record(ActionHistoryEntry(report, user: request.actor.effectiveUser, startedMillis: started))
        return report
    }
    func impact(_ spec: ActionSpec, _ payload: Payload) -> Int? { actions.impact(spec, payload) }
    func preview(_ request: ActionRequest) -> PreviewReport { actions.dispatcher.preview(request) }
    func sessionEnded(_ kick: SessionKick) { actions.dispatcher.recordSessionEnded(kick, actor: actor) }
    func unavailableReason(_ spec: ActionSpec) -> String? { actions.unsupported(spec) }
    func loadSnapshot() throws -> Snapshot { withActionFigures(try world.dataManager.snapshot().0) }
    func loadCurrentSnapshot() throws -> Snapshot { withActionFigures(try world.dataManager.currentSnapshot().0) }
    private func withActionFigures(_ snapshot: Snapshot) -> Snapshot {
        var snapshot = snapshot
        snapshot.system.actions = history.figures(nowMillis: SystemActionClock().nowMillis())
        return snapshot
    }
    func subscribe() -> AsyncStream<BusMessage> { world.bus.subscribe() }
    func jobHistory(_ id: String) throws -> [JobEvent] { world.read { $0.events(ofJob: id) } }
    func jobRecord(_ id: String) throws -> JobRecord? { world.read { $0.jobs[id] }.map { SimJobPayload.record($0).scrubbed(scrubber) } }
    /// The versions the world recorded (config.rollback's source), newest first like the live history.
    func configHistory(_ key: String) throws -> [ConfigChange] { world.read { ($0.configHistory[key] ?? []).reversed() } }

    func findJobs(idPrefix: String, limit: Int) throws -> [Job] {
        world.read { sim in
            Array(sim.jobs.values.filter { $0.id.hasPrefix(idPrefix) }.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }.prefix(limit))
        }
    }
    func start() {
        world.start()
        let world = self.world
        // Re-warm the cache like the live leader does, so reloads see the fleet move.
        Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                _ = try? world.dataManager.rebuild()
            }
        }
    }
    func stop() { world.stop() }
    func links() -> (redis: ConnectionState.Link, postgres: ConnectionState.Link)? { nil }
}
