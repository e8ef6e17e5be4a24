import AgentOSAdapters
import Foundation
import Testing

/// Issue 18 item 4 (D64): what Redis hands the console is bounded before it is read.
@Suite struct BoundedMemoryTests {
    /// A cached snapshot over the limit is refused unread, with its size and the limit named; one
    /// at the limit is read whole. (The console then keeps its last good snapshot: a failed load
    /// changes nothing but the "snapshot not refreshed: …" notice.)
    @Test func aSnapshotOverTheLimitIsRefusedBeforeItIsRead() throws {
        let redis = try RedisClient(url: TestServers.redisURL())
        let ns = Namespace("bounded\(UUID().uuidString.prefix(6).lowercased())")
        let cache = RedisSnapshotCache(redis: redis, namespace: ns, maxBytes: 4096)
        defer { try? cache.invalidate() }
        #expect(try cache.get() == nil)
        try cache.put(Data(repeating: 0x7B, count: 4096), ttlSeconds: 60)
        #expect(try cache.get()?.count == 4096)
        try cache.put(Data(repeating: 0x7B, count: 4097), ttlSeconds: 60)
        do {
            let read = try cache.get()
            Issue.record("a 4097-byte snapshot was read (\(read?.count ?? 0) bytes) past a 4096-byte limit")
        } catch let tooLarge as RedisSnapshotCache.TooLarge {
            #expect(tooLarge.bytes == 4097 && tooLarge.limit == 4096)
            #expect(
                tooLarge.description == "the cached snapshot is 4097 bytes, over the 4096 bytes limit: refused unread (the last good snapshot stays)")
        }
        #expect(
            RedisSnapshotCache.TooLarge(bytes: 600 << 20, limit: RedisSnapshotCache.defaultMaxBytes).description.hasPrefix(
                "the cached snapshot is 600 MiB, over the 64 MiB limit"))
    }
}
