import Foundation
import Synchronization

/// The embedded mode's snapshot cache, with the same semantics as Redis DB1 (TTL, leader lock).
public final class InMemorySnapshotCache: SnapshotCache {
    private struct State {
        var data: Data?
        var expiresAt = Date.distantPast
        var generation = 0
        var hits = 0
        var misses = 0
        var leader: String?
        var leaderUntil = Date.distantPast
        var rebuilder: String?
        var rebuilderUntil = Date.distantPast
    }

    private let state = Mutex(State())
    private let clock: @Sendable () -> Date

    public init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.clock = clock
    }

    public func get() throws -> Data? {
        let now = clock()
        return state.withLock { $0.expiresAt > now ? $0.data : nil }
    }

    public func put(_ data: Data, ttlSeconds: Int) throws {
        let now = clock()
        state.withLock {
            $0.data = data
            $0.expiresAt = now.addingTimeInterval(Double(ttlSeconds))
        }
    }

    public func invalidate() throws {
        state.withLock { $0.data = nil }
    }

    public func nextGeneration() throws -> Int {
        state.withLock {
            $0.generation += 1
            return $0.generation
        }
    }

    public func countLookup(hit: Bool) throws -> (hits: Int, misses: Int) {
        state.withLock { s in
            if hit { s.hits += 1 } else { s.misses += 1 }
            return (s.hits, s.misses)
        }
    }

    public func lookupCounts() throws -> (hits: Int, misses: Int) {
        state.withLock { ($0.hits, $0.misses) }
    }

    public func lead(owner: String, ttlMillis: Int) throws -> Bool {
        let now = clock()
        return state.withLock { s in
            if s.leader == nil || s.leaderUntil <= now || s.leader == owner {
                s.leader = owner
                s.leaderUntil = now.addingTimeInterval(Double(ttlMillis) / 1000)
                return true
            }
            return false
        }
    }

    public func claimRebuild(owner: String, ttlMillis: Int) throws -> Bool {
        let now = clock()
        return state.withLock { s in
            guard s.rebuilder == nil || s.rebuilderUntil <= now else { return false }
            s.rebuilder = owner
            s.rebuilderUntil = now.addingTimeInterval(Double(ttlMillis) / 1000)
            return true
        }
    }

    public func releaseRebuild(owner: String) throws {
        state.withLock { s in if s.rebuilder == owner { s.rebuilder = nil } }
    }
}
