import AgentOSCore
import Foundation

/// The SSOT cache in Redis DB1: the snapshot with a TTL, a generation counter, hit/miss counters
/// and the warmer leader lock (SET NX PX, renewed by its owner through a compare-and-extend script).
public final class RedisSnapshotCache: SnapshotCache {
    private let redis: RedisClient
    private let ns: Namespace

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
    public init(redis: RedisClient, namespace: Namespace = Namespace()) {
        self.redis = redis.configuration.database == Namespace.DB.cache ? redis : redis.selecting(database: Namespace.DB.cache)
        self.ns = namespace
    }

    public func get() throws -> Data? {
        switch try redis.send("GET", ns.snapshotKey) {
        case .bulk(let bytes): return Data(bytes)
        default: return nil
        }
    }

    public func put(_ data: Data, ttlSeconds: Int) throws {
        try redis.send("SET", ns.snapshotKey, [UInt8](data), "EX", max(1, ttlSeconds))
    }

    public func invalidate() throws {
        try redis.send(invalidateCommand.command)
    }

    var invalidateCommand: (database: Int, command: [any RedisArgument]) { (redis.configuration.database, ["DEL", ns.snapshotKey]) }

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
