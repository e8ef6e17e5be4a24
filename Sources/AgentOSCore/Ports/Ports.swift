import Foundation

/// Where the SSOT snapshot is cached (Redis DB1 live, memory embedded).
/// A backend's refusal of something this login may not do (Redis NOPERM): a readonly operator's
/// console has no write command in Redis, and goes on without caching what it builds (D71).
public protocol PermissionRefusal: Error {
    var isPermissionRefusal: Bool { get }
}

extension Error {
    /// True when the backend refused this login the command (it is not down, and retrying will not help).
    public var isPermissionRefusal: Bool { (self as? PermissionRefusal)?.isPermissionRefusal ?? false }
}

public protocol SnapshotCache: Sendable {
    /// The cached snapshot JSON, or nil on a miss (absent or expired).
    func get() throws -> Data?
    func put(_ data: Data, ttlSeconds: Int) throws
    func invalidate() throws
    /// The next snapshot generation (monotonic across every console sharing the backend).
    func nextGeneration() throws -> Int
    /// Counts a cache lookup and returns the totals so far.
    func countLookup(hit: Bool) throws -> (hits: Int, misses: Int)
    /// The totals, without counting.
    func lookupCounts() throws -> (hits: Int, misses: Int)
    /// Takes or keeps the warmer leader lock for `owner` for `ttlMillis`; true when `owner` holds it.
    func lead(owner: String, ttlMillis: Int) throws -> Bool
    /// Takes the short rebuild lock after a miss, so one console rebuilds and the others wait for its
    /// result instead of all querying PostgreSQL at once (a cache stampede); true when `owner` took it.
    func claimRebuild(owner: String, ttlMillis: Int) throws -> Bool
    /// Releases the rebuild lock if `owner` still holds it.
    func releaseRebuild(owner: String) throws
    /// The cached snapshot and the generation its MAC sealed (nil: not signed); throws `BusRefused`
    /// for a document the bus's authentication refuses (D66).
    func getSealed() throws -> (Data, Int64?)?
    /// Caches a snapshot of `generation`, signed where the cache signs (D66).
    func put(_ data: Data, generation: Int, ttlSeconds: Int) throws
}

extension SnapshotCache {
    public func getSealed() throws -> (Data, Int64?)? { try get().map { ($0, nil) } }
    public func put(_ data: Data, generation: Int, ttlSeconds: Int) throws { try put(data, ttlSeconds: ttlSeconds) }
}

/// Builds a snapshot from the system of record (PostgreSQL + Redis live, the simulator embedded).
public protocol SnapshotSource: Sendable {
    func buildSnapshot(generation: Int) throws -> Snapshot
}

/// What a bus subscriber receives.
public enum BusMessage: Sendable, Equatable {
    /// (Re)subscribed. After a reconnect `gapPossible` is true: reload the snapshot.
    case connected(gapPossible: Bool)
    case event(EventEnvelope)
    /// A message that could not be decoded (counted and skipped; the error names the place).
    case malformed(DecodeFailure)
    case disconnected(reason: String, retryInMillis: Int)
    /// State the bus does not carry changed (Celery's workers and tasks, merged into each snapshot):
    /// reload the snapshot, one load at a time.
    case changedElsewhere
    /// This console's own session was ended (its heartbeat found the tombstone: the `session.kick`
    /// itself may have been missed, pub/sub being at-most-once).
    case sessionEnded(SessionKick)
    /// The subscriber's buffer was full and `dropped` messages were lost (D64): reload the snapshot.
    case overflowed(dropped: Int)
    /// A message refused by the bus's authentication (D66: unsigned, badly signed, out of bounds):
    /// counted, said once per source, and nothing else happens.
    case refused(BusRefused)
}

/// The event bus (Redis pub/sub on DB5 live, in-process embedded).
public protocol EventBus: Sendable {
    /// Publishes with the next `seq` and returns the envelope that went out.
    @discardableResult
    func publish(_ event: AgentEvent) throws -> EventEnvelope
    /// The last `seq` handed out.
    func currentSeq() throws -> Int64
    /// A new subscription; finishing the stream's iteration unsubscribes.
    func subscribe() -> AsyncStream<BusMessage>
    /// Publishes several events in order (one round trip where the bus can pipeline).
    func publish(batch events: [AgentEvent]) throws
}

extension EventBus {
    public func publish(batch events: [AgentEvent]) throws {
        for e in events { try publish(e) }
    }
}
