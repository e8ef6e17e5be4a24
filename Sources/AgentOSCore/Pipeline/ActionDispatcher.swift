import Foundation

/// One concern of the pipeline. A stage runs `next` to go on, or throws to stop.
public protocol ActionMiddleware: Sendable {
    var name: String { get }
    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult
}

/// The embedded ActionDispatcher: audit wraps validation → RBAC → rate limit → idempotency →
/// circuit breaker → cascade → execution. The same code runs live and embedded; only the ports differ.
/// A success's follow-ups (idempotency result, breaker success, cache invalidation, events) are
/// decided by their stages and written together at the end (`FollowUpWriter`).
public final class ActionDispatcher: Sendable {
    public struct Ports: Sendable {
        public var audit: AuditLog
        public var permissions: PermissionSource
        public var rateLimits: RateLimitStore
        public var idempotency: IdempotencyStore
        public var breakers: BreakerStore
        /// Asks the rate limit, the claim and the breaker of a mutating request together (nil: one store after another).
        public var admission: AdmissionGate?
        public var executor: ActionExecutor
        public var cascade: ActionCascade
        public var scrubber: PIIScrubber
        public var clock: ActionClock
        /// Where each request's outcome and stage timings go (`action_history` live; nil: nowhere).
        public var history: ActionHistorySink?
        /// Writes a success's follow-ups (nil: one store call after another).
        public var followUps: FollowUpWriter?
        /// The name the backend knows the operator by (an operator's own PostgreSQL login, D71);
        /// nil: the actor as the request gives it.
        public var identify: (@Sendable (Actor) -> Actor)?

        public init(
            audit: AuditLog, permissions: PermissionSource, rateLimits: RateLimitStore, idempotency: IdempotencyStore,
            breakers: BreakerStore, executor: ActionExecutor, cascade: ActionCascade, scrubber: PIIScrubber,
            clock: ActionClock = SystemActionClock(), history: ActionHistorySink? = nil, followUps: FollowUpWriter? = nil,
            identify: (@Sendable (Actor) -> Actor)? = nil, admission: AdmissionGate? = nil
        ) {
            self.audit = audit
            self.permissions = permissions
            self.rateLimits = rateLimits
            self.idempotency = idempotency
            self.breakers = breakers
            self.admission = admission
            self.executor = executor
            self.cascade = cascade
            self.scrubber = scrubber
            self.clock = clock
            self.history = history
            self.followUps = followUps
            self.identify = identify
        }
    }

    public let ports: Ports
    public let stages: [any ActionMiddleware]
    let followUps: FollowUpWriter

    public init(_ ports: Ports, options: Options = Options()) {
        self.ports = ports
        followUps = ports.followUps ?? SequentialFollowUps(idempotency: ports.idempotency, breakers: ports.breakers, cascade: ports.cascade)
        stages = [
            AuditStage(audit: ports.audit, clock: ports.clock, scrubber: ports.scrubber),
            ValidationStage(scrubber: ports.scrubber),
            AuthorizationStage(permissions: ports.permissions, executor: ports.executor),
            RateLimitStage(store: ports.rateLimits, gate: ports.admission, clock: ports.clock, options: options),
            IdempotencyStage(store: ports.idempotency, options: options),
            BreakerStage(store: ports.breakers, clock: ports.clock),
            CascadeStage(),
            ExecutionStage(audit: ports.audit, executor: ports.executor, clock: ports.clock)
        ]
    }

    public struct Options: Sendable {
        /// Rate limits apply (off only in benchmarks of the bare pipeline).
        public var rateLimits = true
        public var burstMultiplier = 2
        public var ipLimitPerMinute = 100
        /// How long an in-progress claim holds (outlives the slowest action).
        public var idempotencyLockMillis = 15 * 60_000
        public var idempotencyTTLSeconds = 3_600
        /// Injected clock for the rate limiter and breakers (nil: the store's own clock, Redis TIME live).
        public var useInjectedClock = false
        public init() {}
    }

    /// Runs one action through every stage. Never throws: the report carries the outcome.
    public func dispatch(_ request: ActionRequest) -> ActionReport {
        var request = request
        if let identify = ports.identify { request.actor = identify(request.actor) }
        let call = ActionCall(request: request, clock: ports.clock)
        let started = DispatchTime.now().uptimeNanoseconds
        let outcome: Result<ActionResult, ActionFailure>
        do throws(ActionFailure) {
            let result = try run(call, from: 0)
            if !call.followUps.isEmpty {
                call.measure("cascade") { call.warnings += followUps.write(call.followUps) }
            }
            outcome = .success(result)
        } catch {
            outcome = .failure(error)
        }
        var seqs: [Int] = []
        if let i = call.intent { seqs.append(i.seq) }
        if let o = call.outcomeRecord { seqs.append(o.seq) }
        let report = ActionReport(
            requestID: request.requestID, action: request.action, target: call.spec == nil ? "" : (call.auditTarget ?? call.target), outcome: outcome,
            auditSeqs: seqs, timings: Dictionary(call.timings.map { ($0.stage, $0.millis) }, uniquingKeysWith: +),
            totalMillis: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6, warnings: call.warnings)
        ports.history?.record(ActionHistoryEntry(report, user: call.user, startedMillis: call.startedMillis))
        return report
    }

    private func run(_ call: ActionCall, from index: Int) throws(ActionFailure) -> ActionResult {
        guard index < stages.count else { throw .failed("pipeline ended without an executor") }
        let stage = stages[index]
        return try stage.handle(call) { (c: ActionCall) throws(ActionFailure) -> ActionResult in try self.run(c, from: index + 1) }
    }

    /// The decision for `can-i`: RBAC only (no rate limit or breaker consumed).
    public func canI(_ action: String, actor: Actor) -> PolicyDecision {
        let actor = ports.identify?(actor) ?? actor
        guard let spec = ActionCatalog.spec(action) else { return .deny("unknown action") }
        do {
            let grant = try Policy.grant(for: actor, from: ports.permissions)
            return Policy.decide(grant, spec)
        } catch {
            return .deny(error.description)
        }
    }
}
