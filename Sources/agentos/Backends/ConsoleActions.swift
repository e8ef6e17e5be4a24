import AgentOSAdapters
import AgentOSCore
import AgentOSCrypto
import AgentOSWorld
import Foundation

/// The console's action pipeline: the dispatcher, the executor that measures impact, and what
/// the backend cannot run.
struct ConsoleActions: Sendable {
    let dispatcher: ActionDispatcher
    let executor: ActionExecutor
    let unsupported: @Sendable (ActionSpec) -> String?

    /// The operator: the Unix account and SSH source of `currentActor`, a random session per console.
    static func consoleActor() -> Actor {
        var actor = currentActor()
        actor.sessionID = SecureRandom.hexToken(8)
        actor.userAgent = "agentos-console/\(AgentOSVersion.string)"
        return actor
    }

    /// The embedded pipeline: the JSONL audit chain under the data directory, the operator as
    /// admin, in-memory rate limits, idempotency keys and breakers (attached to the world, which
    /// the system actions reach and the snapshots show), the simulator as executor.
    static func embedded(world: EmbeddedWorld, dataDirectory: URL, user: String) -> ConsoleActions {
        do {
            let audit = OperatorActionLog(try FileAuditLog(directory: dataDirectory.appendingPathComponent("logs/audit")), world: world)
            let executor = EmbeddedActionExecutor(world: world, audit: audit)
            world.attachAudit(audit)
            let runtime = EmbeddedRuntime(dataDirectory: dataDirectory)
            world.attach(runtime)
            let scrubber = PIIScrubber(key: try AuditKey.load(directory: dataDirectory))
            let dispatcher = ActionDispatcher(
                .init(
                    audit: audit, permissions: StaticPermissions([user: Grant(role: .admin)]),
                    rateLimits: runtime.rateLimits, idempotency: runtime.idempotency,
                    breakers: runtime.breakers, executor: executor,
                    cascade: CacheAndBusCascade(cache: world.cache, bus: world.bus), scrubber: scrubber))
            return ConsoleActions(dispatcher: dispatcher, executor: executor, unsupported: { executor.unsupported($0) })
        } catch {
            return unavailable("no audit log under \(dataDirectory.path): \(error)", cascade: CacheAndBusCascade(cache: world.cache, bus: world.bus))
        }
    }

    /// Without an audit trail nothing may run: every action is greyed with `why`, and a dispatch
    /// that gets through anyway stops at the (failing) audit stage.
    static func unavailable(_ why: String, cascade: ActionCascade) -> ConsoleActions {
        let reason = "actions unavailable: \(why)"
        let executor = UnavailableExecutor(reason: reason)
        let audit = InMemoryAuditLog()
        audit.failing = true
        let dispatcher = ActionDispatcher(
            .init(
                audit: audit, permissions: StaticPermissions(), rateLimits: InMemoryRateLimitStore(),
                idempotency: InMemoryIdempotencyStore(), breakers: InMemoryBreakerStore(), executor: executor,
                cascade: cascade, scrubber: PIIScrubber(key: SecureRandom.bytes(32))))
        return ConsoleActions(dispatcher: dispatcher, executor: executor, unsupported: { _ in reason })
    }

    /// The executor of a console whose pipeline could not be built.
    struct UnavailableExecutor: ActionExecutor {
        let reason: String
        func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult { throw .unavailable(reason) }
        func jobOwner(_ id: String) throws(ActionFailure) -> String? { nil }
        func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? { nil }
    }

    /// What scrubs a job's record before the console shows it: the audit's key, so its tokens match
    /// the audit's; without one, a fresh key (values still hidden, not searchable).
    static func recordScrubber(dataDirectory: URL) -> PIIScrubber {
        PIIScrubber(key: (try? AuditKey.load(directory: dataDirectory)) ?? SecureRandom.bytes(32))
    }

    func impact(_ spec: ActionSpec, _ payload: Payload) -> Int? {
        do { return try executor.impact(spec, payload) } catch { return nil }
    }
}
