import Foundation

/// Milliseconds since the epoch; injected in tests.
public protocol ActionClock: Sendable {
    func nowMillis() -> Int64
}

public struct SystemActionClock: ActionClock {
    public init() {}
    public func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }
}

/// A sliding-window rule: at most `limit` per `windowMillis`; with a burst multiplier above 1,
/// one burst of up to `limit × burstMultiplier` is admitted inside `burstMillis`, once per window.
public struct RateRule: Sendable, Equatable {
    public var key: String
    public var limit: Int
    public var windowMillis: Int
    public var burstMultiplier: Int
    public var burstMillis: Int

    public init(key: String, limit: Int, windowMillis: Int = 60_000, burstMultiplier: Int = 1, burstMillis: Int = 10_000) {
        self.key = key
        self.limit = limit
        self.windowMillis = windowMillis
        self.burstMultiplier = burstMultiplier
        self.burstMillis = burstMillis
    }
}

public enum RateDecision: Sendable, Equatable {
    case admitted
    case refused(retryAfterMillis: Int)
}

/// Rate-limit counters (Redis DB3 live, memory embedded).
public protocol RateLimitStore: Sendable {
    /// Admits one request under every rule (all or none). `nowMillis` nil: the store's clock.
    func admit(_ rules: [RateRule], member: String, nowMillis: Int64?) throws -> RateDecision
    /// Clears a user's counters; returns how many were removed.
    func reset(user: String) throws -> Int
}

public struct IdempotencyScope: Sendable, Hashable {
    public var user: String
    public var action: String
    public var key: String
    public init(user: String, action: String, key: String) {
        self.user = user
        self.action = action
        self.key = key
    }
}

public enum IdempotencyClaim: Sendable, Equatable {
    /// First use: run the action.
    case claimed
    /// Same key, same payload, finished: replay the stored result.
    case replay(ActionResult)
    /// Same key, still running.
    case inProgress
    /// Same key, another payload.
    case mismatch
}

/// Idempotency keys (Redis DB2 with the durable result in PostgreSQL live, memory embedded).
public protocol IdempotencyStore: Sendable {
    func claim(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID, lockMillis: Int) throws -> IdempotencyClaim
    /// Stores the result. `durableStored`: the executor already wrote the durable copy inside the
    /// effect's transaction (`ActionCall.idempotency`), so only the fast copy is left to write.
    func complete(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID, result: ActionResult, ttlSeconds: Int, durableStored: Bool) throws
    /// Forgets a claim whose action failed, so a retry with the same key runs again.
    func release(_ scope: IdempotencyScope, requestID: UUID) throws
    /// A claim the admission gate made (`AdmissionGate`), checked against what the store keeps
    /// beyond the gate (live: the durable result in PostgreSQL, for a key Redis lost).
    func confirm(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID) throws -> IdempotencyClaim
}

extension IdempotencyStore {
    /// A store with nothing beyond the gate's answer: the claim stands.
    public func confirm(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID) throws -> IdempotencyClaim { .claimed }
}

public enum BreakerPermit: Sendable, Equatable {
    case allowed(probe: Bool)
    case rejected(retryAfterMillis: Int)
}

/// Circuit breakers per backend service (Redis DB4 live, memory embedded), shared by consoles.
public protocol BreakerStore: Sendable {
    func acquire(_ service: String, nowMillis: Int64?) throws -> BreakerPermit
    func record(_ service: String, success: Bool, probe: Bool, nowMillis: Int64?) throws
    func force(_ service: String, open: Bool, nowMillis: Int64?) throws
    func states(nowMillis: Int64?) throws -> [BreakerInfo]
}

/// What a mutating request asks of admission: its rate rules, its idempotency claim (nil: no
/// key) and the breaker it needs (nil: it bypasses breakers).
public struct AdmissionAsk: Sendable {
    public var rules: [RateRule]
    public var member: String
    public var nowMillis: Int64?
    public var claim: (scope: IdempotencyScope, fingerprint: String, requestID: UUID, lockMillis: Int)?
    public var service: String?

    public init(
        rules: [RateRule], member: String, nowMillis: Int64?,
        claim: (scope: IdempotencyScope, fingerprint: String, requestID: UUID, lockMillis: Int)?, service: String?
    ) {
        self.rules = rules
        self.member = member
        self.nowMillis = nowMillis
        self.claim = claim
        self.service = service
    }
}

/// The gate's answer, part by part, in the stages' order. A part is nil when an earlier part
/// stopped the request, when it was not asked, or (`permit`) when the breaker is not closed: a
/// breaker that is open or probing is the breaker store's to decide (`BreakerStore.acquire`).
public struct Admission: Sendable {
    public var rate: RateDecision
    /// The claim as the fast store sees it; `.claimed` still goes through `IdempotencyStore.confirm`.
    public var claim: IdempotencyClaim?
    public var permit: BreakerPermit?
    public let ask: AdmissionAsk

    public init(rate: RateDecision, claim: IdempotencyClaim?, permit: BreakerPermit?, ask: AdmissionAsk) {
        self.rate = rate
        self.claim = claim
        self.permit = permit
        self.ask = ask
    }
}

/// The rate limit, the idempotency claim and the breaker's state asked together, for stores on
/// one server (live: one Redis script instead of three round trips, D87). It does only what the
/// three stores would do in order: nothing after a refusal, no breaker after an existing claim,
/// and a breaker that is not closed is left to `BreakerStage` (no probe taken here).
public protocol AdmissionGate: Sendable {
    func admit(_ ask: AdmissionAsk) throws -> Admission
}

/// Roles and extra permissions of users (user_permissions live, the config embedded).
public protocol PermissionSource: Sendable {
    /// nil: unknown user (readonly).
    func grant(for user: String) throws -> Grant?
}

/// The audit trail (PostgreSQL live, an append-only JSONL file embedded).
public protocol AuditLog: Sendable {
    @discardableResult
    func append(_ draft: AuditDraft) throws -> AuditRecord
    /// The newest `limit` rows, oldest first.
    func tail(_ limit: Int) throws -> [AuditRecord]
    /// Every row from `seq` on, in order, in pages.
    func scan(from seq: Int, pageSize: Int, _ body: ([AuditRecord]) throws -> Void) throws
}

/// Performs the actions' effects (PostgreSQL/Redis/control live, the simulator embedded).
public protocol ActionExecutor: Sendable {
    func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult
    /// The owner of a job (for the `user` role, which acts on its own jobs only).
    func jobOwner(_ id: String) throws(ActionFailure) -> String?
    /// The measured impact shown in a high-risk dialog ("requeue 1,284 failed jobs").
    func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int?
    /// What the action would touch, changing nothing: a counted action's rows from the same
    /// query as `impact` (the first `limit`), a single target as it is now, or a sentence.
    func preview(_ spec: ActionSpec, _ payload: Payload, limit: Int) throws(ActionFailure) -> ActionPreview
    /// True when the executor writes the intent row itself (`ActionCall.pendingIntent`), committed
    /// ahead of its effect in the effect's first round trip. False (the default): the execution
    /// stage commits it first, in a round trip of its own.
    func carriesIntent(_ call: ActionCall) -> Bool
}

extension ActionExecutor {
    public func carriesIntent(_ call: ActionCall) -> Bool { false }
}

/// After a success: the SSOT cache is invalidated and events go out so every console updates.
public protocol ActionCascade: Sendable {
    func invalidateCache() throws
    func publish(_ events: [AgentEvent]) throws
}

/// The cascade over the existing cache and bus ports.
public struct CacheAndBusCascade: ActionCascade {
    public let cache: SnapshotCache
    public let bus: EventBus
    public init(cache: SnapshotCache, bus: EventBus) {
        self.cache = cache
        self.bus = bus
    }
    public func invalidateCache() throws { try cache.invalidate() }
    public func publish(_ events: [AgentEvent]) throws { try bus.publish(batch: events) }
}

/// What a successful action still owes once its effect is done: the idempotency result, the
/// breaker's success, the cache invalidation and the events. The stages decide them; the
/// dispatcher hands them to a `FollowUpWriter` in one go (one round trip live). A follow-up that
/// fails is a warning on the report, never the action's failure: the effect has happened.
public struct FollowUps: Sendable {
    public struct Completion: Sendable {
        public var scope: IdempotencyScope
        public var fingerprint: String
        public var requestID: UUID
        public var result: ActionResult
        public var ttlSeconds: Int
        /// The executor already stored the durable copy inside the effect's transaction.
        public var durableStored: Bool

        public init(scope: IdempotencyScope, fingerprint: String, requestID: UUID, result: ActionResult, ttlSeconds: Int, durableStored: Bool) {
            self.scope = scope
            self.fingerprint = fingerprint
            self.requestID = requestID
            self.result = result
            self.ttlSeconds = ttlSeconds
            self.durableStored = durableStored
        }
    }

    public var idempotency: Completion?
    public var breaker: (service: String, probe: Bool)?
    public var invalidateCache = false
    public var events: [AgentEvent] = []
    /// Writes the executor left to the follow-ups, done first (live: a job's queue message removed
    /// with its control command, in the follow-ups' round trip, D87). A failure is a warning on the
    /// success: the effect and its outcome row are committed by then.
    public var writes: [any DeferredWrite] = []

    public init() {}
    public var isEmpty: Bool { idempotency == nil && breaker == nil && !invalidateCache && events.isEmpty && writes.isEmpty }
}

/// A write an executor leaves to the follow-ups. `run` does it alone; a writer that can send it
/// with the rest (`RedisFollowUps`) batches it instead.
public protocol DeferredWrite: Sendable {
    /// What it does, for the warning when it fails ("job 42's queue message removed …").
    var what: String { get }
    func run() throws
}

/// Writes a success's follow-ups; returns the warnings (what could not be written, and why).
public protocol FollowUpWriter: Sendable {
    func write(_ followUps: FollowUps) -> [String]
}

/// One store call after another, over the ports (the embedded mode and the unit tests).
public struct SequentialFollowUps: FollowUpWriter {
    public let idempotency: IdempotencyStore
    public let breakers: BreakerStore
    public let cascade: ActionCascade

    public init(idempotency: IdempotencyStore, breakers: BreakerStore, cascade: ActionCascade) {
        self.idempotency = idempotency
        self.breakers = breakers
        self.cascade = cascade
    }

    public func write(_ f: FollowUps) -> [String] {
        var warnings: [String] = []
        for w in f.writes {
            do { try w.run() } catch { warnings.append(FollowUps.warning(w, error)) }
        }
        if let c = f.idempotency {
            do {
                try idempotency.complete(
                    c.scope, fingerprint: c.fingerprint, requestID: c.requestID, result: c.result,
                    ttlSeconds: c.ttlSeconds, durableStored: c.durableStored)
            } catch {
                warnings.append(FollowUps.Part.idempotency.warning(error))
            }
        }
        if let b = f.breaker { try? breakers.record(b.service, success: true, probe: b.probe, nowMillis: nil) }
        if f.invalidateCache {
            do { try cascade.invalidateCache() } catch { warnings.append(FollowUps.Part.cache.warning(error)) }
        }
        if !f.events.isEmpty {
            do { try cascade.publish(f.events) } catch { warnings.append(FollowUps.Part.events.warning(error)) }
        }
        return warnings
    }
}

extension FollowUps {
    /// A deferred write's warning, worded the same way by both writers.
    public static func warning(_ write: any DeferredWrite, _ error: any Error) -> String { "not done: \(write.what): \(error)" }

    /// The parts, for the warnings both writers word the same way.
    public enum Part: Sendable {
        case idempotency, breaker, cache, events
        public func warning(_ error: any Error) -> String {
            switch self {
            case .idempotency: return "idempotency result not stored: \(error)"
            case .breaker: return "breaker success not recorded: \(error)"
            case .cache: return "cache not invalidated: \(error)"
            case .events: return "event not published: \(error)"
            }
        }
    }
}
