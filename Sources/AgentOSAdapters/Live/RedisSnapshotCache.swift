import AgentOSCore
import Foundation

/// The SSOT cache in Redis DB1: the snapshot with a TTL, a generation counter, hit/miss counters
/// and the warmer leader lock (SET NX PX, renewed by its owner through a compare-and-extend script).
public final class RedisSnapshotCache: SnapshotCache {
    private let redis: RedisClient
    private let ns: Namespace
    /// The largest cached snapshot read (D64): a bigger one is refused before a byte of it is
    /// transferred or decoded, so a forged or runaway document cannot exhaust the console's memory;
    /// the console keeps its last good snapshot and says why.
    public let maxBytes: Int
    /// 64 MiB: over 100 times the snapshots measured (`agentos snapshot --json | wc -c`: 0.42 MB,
    /// 0.58 MB at `--rate 100`; the live one is built from LIMITed queries of the same shape).
    public static let defaultMaxBytes = 64 << 20

    /// Thrown by `get` for a cached document over `maxBytes`.
    public struct TooLarge: Error, CustomStringConvertible {
        public let bytes: Int
        public let limit: Int
        public init(bytes: Int, limit: Int) {
            self.bytes = bytes
            self.limit = limit
        }
        public var description: String {
            "the cached snapshot is \(Self.mib(bytes)), over the \(Self.mib(limit)) limit: refused unread (the last good snapshot stays)"
        }
        static func mib(_ n: Int) -> String { n >= 1 << 20 ? "\(n >> 20) MiB" : "\(n) bytes" }
    }

    /// The size first, the value only when it fits: one round trip, and no window in which a
    /// bigger document could replace the one measured.
    static let boundedGetScript = RedisScript(
        """
        local n = redis.call('STRLEN', KEYS[1])
        if n > tonumber(ARGV[1]) then return n end
        return redis.call('GET', KEYS[1])
        """)

    static let leadScript = RedisScript(
        """
        local holder = redis.call('GET', KEYS[1])
        if holder == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return 1
        end
        if holder then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """)

    /// Deletes KEYS[1] only while it still holds ARGV[1] (a lock released by its owner, never another's).
    static let releaseScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)

    /// `redis` may point at any DB: the cache always uses DB1.
    public init(redis: RedisClient, namespace: Namespace = Namespace(), maxBytes: Int = RedisSnapshotCache.defaultMaxBytes) {
        self.redis = redis.configuration.database == Namespace.DB.cache ? redis : redis.selecting(database: Namespace.DB.cache)
        self.ns = namespace
        self.maxBytes = maxBytes
    }

    /// The cached snapshot, its MAC checked and removed (D66); `BusRefused` when it is unsigned or
    /// badly signed while this process holds a bus key.
    public func get() throws -> Data? { try getSealed()?.0 }

    public func getSealed() throws -> (Data, Int64?)? {
        // The one read that may go to a replica (`read_from=replica`, D81): a snapshot a little behind is
        // still a snapshot, and the generation check and the events after it catch the console up.
        let reply = try redis.read { (c) throws(RedisError) in try c.evaluate(Self.boundedGetScript, keys: [ns.snapshotKey], args: [maxBytes]) }
        switch reply {
        case .bulk(let bytes):
            switch BusAuth.open(bytes, keys: ns.busKeys, kind: .snapshot, namespace: ns.prefix) {
            case .success(let (body, seal)): return (Data(body), seal?.number)
            case .failure(let refusal): throw BusRefused(source: "snapshot cache (\(ns.snapshotKey))", refusal: refusal)
            }
        case .integer(let n): throw TooLarge(bytes: Int(n), limit: maxBytes)
        default: return nil
        }
    }

    /// Where the last `get` read the snapshot (a replica and its lag, or the master and why).
    public var readRoute: RedisClient.ReadRoute { redis.readRoute }

    /// Unsigned: a snapshot put without its generation cannot be sealed (only tests and tools do).
    public func put(_ data: Data, ttlSeconds: Int) throws {
        try redis.send("SET", ns.snapshotKey, [UInt8](data), "EX", max(1, ttlSeconds))
    }

    /// Signed with the current bus key over its generation (D66).
    public func put(_ data: Data, generation: Int, ttlSeconds: Int) throws {
        let sealed = BusAuth.seal([UInt8](data), keys: ns.busKeys, kind: .snapshot, namespace: ns.prefix, number: Int64(generation))
        try redis.send("SET", ns.snapshotKey, sealed, "EX", max(1, ttlSeconds))
    }

    public func invalidate() throws {
        try redis.send(invalidateCommand.command)
    }

    package var invalidateCommand: (database: Int, command: [any RedisArgument]) { (redis.configuration.database, ["DEL", ns.snapshotKey]) }

    public func nextGeneration() throws -> Int {
        Int(try redis.send("INCR", ns.snapshotGenerationKey).int ?? 0)
    }

    public func countLookup(hit: Bool) throws -> (hits: Int, misses: Int) {
        let replies = try redis.pipeline([
            ["HINCRBY", ns.snapshotStatsKey, hit ? "hits" : "misses", 1],
            ["HMGET", ns.snapshotStatsKey, "hits", "misses"]
        ])
        return Self.counts(replies[1])
    }

    public func lookupCounts() throws -> (hits: Int, misses: Int) {
        Self.counts(try redis.send("HMGET", ns.snapshotStatsKey, "hits", "misses"))
    }

    public func lead(owner: String, ttlMillis: Int) throws -> Bool {
        try redis.evaluate(Self.leadScript, keys: [ns.snapshotLockKey], args: [owner, max(1, ttlMillis)]).int == 1
    }

    public func claimRebuild(owner: String, ttlMillis: Int) throws -> Bool {
        try redis.send("SET", ns.snapshotRebuildLockKey, owner, "NX", "PX", max(1, ttlMillis)).string == "OK"
    }

    public func releaseRebuild(owner: String) throws {
        _ = try redis.evaluate(Self.releaseScript, keys: [ns.snapshotRebuildLockKey], args: [owner])
    }

    private static func counts(_ reply: RedisValue) -> (hits: Int, misses: Int) {
        let items = reply.array ?? []
        return (Int(items.first?.int ?? 0), Int(items.dropFirst().first?.int ?? 0))
    }
}
