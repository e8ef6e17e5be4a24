import Foundation
import Synchronization

/// The SSOT read path (the seed's V4 AdminDataManager): serve the cached snapshot, rebuild it on a
/// miss, re-warm it on an interval while holding the leader lock (so many consoles on one backend
/// warm it once), and invalidate it on demand (an action's cascade).
public final class AdminDataManager: Sendable {
    public struct Options: Sendable {
        public var ttlSeconds: Int
        public var warmIntervalMillis: Int
        /// Identifies this console as a warmer candidate.
        public var owner: String
        /// How long a console waits for another's rebuild after a miss before it builds the snapshot itself
        /// (also the rebuild lock's lifetime, so a console that dies mid-build holds nobody up for longer).
        public var rebuildWaitMillis: Int

        public init(
            ttlSeconds: Int = 30, warmIntervalMillis: Int = 5_000, owner: String = "console-\(UUID().uuidString.prefix(8))",
            rebuildWaitMillis: Int = 2_000
        ) {
            self.ttlSeconds = ttlSeconds
            self.warmIntervalMillis = warmIntervalMillis
            self.owner = owner
            self.rebuildWaitMillis = rebuildWaitMillis
        }
    }

    public enum Origin: String, Sendable { case cache, rebuilt }

    public struct Stats: Sendable, Equatable {
        public var warms = 0
        public var rebuilds = 0
        public var lastBuildMillis = 0.0
        public var decodeFailures = 0
        /// Misses answered by another console's rebuild (the single-flight lock).
        public var waitedForRebuild = 0
        public var lastError: String?
        /// Cached snapshots refused by the bus's authentication (D66), and the last one: each is
        /// treated as a miss, so the rebuild replaces it with a real, signed one.
        public var refused = 0
        public var lastRefused: BusRefused?
    }

    public let options: Options
    private let cache: SnapshotCache
    private let source: SnapshotSource
    private let bus: EventBus?
    private let stats = Mutex(Stats())

    public init(cache: SnapshotCache, source: SnapshotSource, bus: EventBus?, options: Options = Options()) {
        self.cache = cache
        self.source = source
        self.bus = bus
        self.options = options
    }

    public var currentStats: Stats { stats.withLock { $0 } }

    /// A snapshot at least as new as the event bus is now: for a console whose events may have a
    /// hole (its stream was down, or it holds events past a hole). The cached one serves when it is
    /// that new; otherwise one is built (single-flight, as a miss).
    public func currentSnapshot() throws -> (Snapshot, Origin) {
        try snapshot(atLeast: try bus?.currentSeq())
    }

    /// The current snapshot: the cached one if present and valid (and, with `atLeast`, built after
    /// event `atLeast`), otherwise a fresh build. A cached document that does not decode is
    /// counted, reported and replaced by a rebuild.
    public func snapshot(atLeast needSeq: Int64? = nil) throws -> (Snapshot, Origin) {
        if let (data, sealed) = try verifiedGet() {
            do throws(DecodeFailure) {
                let snapshot = try Snapshot.decode(data)
                if let sealed, sealed != Int64(snapshot.generation) {
                    refused(BusRefused(source: "snapshot cache", refusal: .numberMismatch(sealed: sealed, body: Int64(snapshot.generation))))
                } else if let needSeq, snapshot.eventSeq < needSeq {
                    // Older than events published since: as good as a miss for this caller.
                } else {
                    _ = try? cache.countLookup(hit: true)
                    return (snapshot, .cache)
                }
            } catch {
                stats.withLock {
                    $0.decodeFailures += 1
                    $0.lastError = error.description
                }
            }
        }
        _ = try? cache.countLookup(hit: false)
        // One console rebuilds after a miss; the others wait for its result (an action's cascade
        // invalidates the cache on every console at once: without this, each one would rebuild).
        let claimed: Bool
        do { claimed = try cache.claimRebuild(owner: options.owner, ttlMillis: options.rebuildWaitMillis) } catch  where error.isPermissionRefusal {
            // A login that may not write the cache (readonly, D71) builds for itself.
            return (try rebuild(), .rebuilt)
        }
        if claimed {
            defer { try? cache.releaseRebuild(owner: options.owner) }
            return (try rebuild(), .rebuilt)
        }
        if let snapshot = waitForRebuild(atLeast: needSeq) { return (snapshot, .cache) }
        return (try rebuild(), .rebuilt)
    }

    /// The cached document, or nil when there is none or the bus's authentication refused it (counted).
    private func verifiedGet() throws -> (Data, Int64?)? {
        do {
            return try cache.getSealed()
        } catch let refusal as BusRefused {
            refused(refusal)
            return nil
        }
    }

    private func refused(_ refusal: BusRefused) {
        stats.withLock {
            $0.refused += 1
            $0.lastRefused = refusal
        }
    }

    /// Polls the cache (2 ms, doubling to 50 ms) for another console's rebuild, up to `rebuildWaitMillis`.
    private func waitForRebuild(atLeast needSeq: Int64?) -> Snapshot? {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(options.rebuildWaitMillis) * 1_000_000
        var delayMicros: UInt32 = 2_000
        while DispatchTime.now().uptimeNanoseconds < deadline {
            usleep(delayMicros)
            delayMicros = min(delayMicros * 2, 50_000)
            guard let (data, sealed) = try? verifiedGet() else { continue }
            if let snapshot = try? Snapshot.decode(data), sealed.map({ $0 == Int64(snapshot.generation) }) ?? true,
                snapshot.eventSeq >= needSeq ?? .min
            {
                stats.withLock { $0.waitedForRebuild += 1 }
                return snapshot
            }
        }
        return nil
    }

    /// Builds a new generation from the source and caches it. A login the cache refuses writes
    /// (readonly, D71) builds generation 0 for itself and caches nothing.
    @discardableResult
    public func rebuild() throws -> Snapshot {
        let started = DispatchTime.now().uptimeNanoseconds
        var caching = true
        let generation: Int
        do { generation = try cache.nextGeneration() } catch  where error.isPermissionRefusal {
            generation = 0
            caching = false
        }
        let seq = (try? bus?.currentSeq()) ?? 0
        var snapshot = try source.buildSnapshot(generation: generation)
        snapshot.eventSeq = seq
        let millis = Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
        if let counts = try? cache.lookupCounts() {
            snapshot.system.cache.hits = counts.hits
            snapshot.system.cache.misses = counts.misses
        }
        snapshot.system.cache.generation = generation
        snapshot.system.cache.buildMs = (millis * 100).rounded() / 100
        snapshot.system.cache.ttlSeconds = options.ttlSeconds
        if caching { try cache.put(snapshot.encoded(), generation: generation, ttlSeconds: options.ttlSeconds) }
        stats.withLock {
            $0.rebuilds += 1
            $0.lastBuildMillis = millis
        }
        return snapshot
    }

    /// One warmer round: rebuilds only if this console holds (or takes) the leader lock.
    /// The lock lives three intervals, so a dead leader is replaced within three intervals.
    @discardableResult
    public func warmIfLeader() throws -> Bool {
        let leads: Bool
        do { leads = try cache.lead(owner: options.owner, ttlMillis: options.warmIntervalMillis * 3) } catch  where error.isPermissionRefusal {
            return false // a readonly login warms nothing (D71)
        }
        guard leads else { return false }
        try rebuild()
        stats.withLock { $0.warms += 1 }
        return true
    }

    /// Drops the cached snapshot and tells every console (the cascade of an action).
    public func invalidate() throws {
        try cache.invalidate()
        try bus?.publish(.cacheInvalidated)
    }
}
