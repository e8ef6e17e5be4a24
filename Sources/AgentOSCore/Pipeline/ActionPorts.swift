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
