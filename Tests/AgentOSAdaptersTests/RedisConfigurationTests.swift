import Testing

@testable import AgentOSAdapters

@Suite struct RedisConfigurationTests {
    @Test func plainURLWithUserPasswordAndDB() throws {
        let c = try RedisConfiguration(url: "redis://ops:s%40cret@redis.internal:6380/5")
        #expect(c.endpoint == .tcp(host: "redis.internal", port: 6380))
        #expect(c.username == "ops" && c.password == "s@cret" && c.database == 5 && c.tls == nil)
        #expect(!c.description.contains("s@cret") && !c.description.contains("cret"))
    }

    @Test func passwordOnlyAndDefaults() throws {
        let c = try RedisConfiguration(url: "redis://:pw@localhost")
        #expect(c.username == nil && c.password == "pw" && c.database == 0)
        #expect(c.endpoint == .tcp(host: "localhost", port: 6379))
        let legacy = try RedisConfiguration(url: "redis://pw2@h:1")
        #expect(legacy.password == "pw2" && legacy.username == nil)
    }

    @Test func tlsURLWithFiles() throws {
        let c = try RedisConfiguration(url: "rediss://127.0.0.1:6390/2?ca=/tmp/ca.crt&cert=/tmp/c.crt&key=/tmp/c.key&sni=redis.local")
        #expect(c.tls == .init(caFile: "/tmp/ca.crt", certFile: "/tmp/c.crt", keyFile: "/tmp/c.key", serverName: "redis.local"))
        #expect(c.database == 2)
        #expect(c.endpointDescription == "rediss://127.0.0.1:6390")
    }

    @Test func unixSocketAndIPv6() throws {
        let u = try RedisConfiguration(url: "unix:///run/redis/redis.sock?db=3&password=x")
        #expect(u.endpoint == .unix(path: "/run/redis/redis.sock") && u.database == 3 && u.password == "x")
        let v6 = try RedisConfiguration(url: "redis://[::1]:7000")
        #expect(v6.endpoint == .tcp(host: "::1", port: 7000))
    }

    @Test(arguments: [
        ("http://h", "unsupported scheme"),
        ("redis://h:99999", "port"),
        ("redis://h/x", "database"),
        ("localhost:6379", "missing scheme"),
        ("unix://relative", "absolute path"),
        ("rediss://h?cert=/a", "both cert= and key="),
        ("redis-sentinel://h1:26379,h2:26379", "names its master"),
        ("redis-sentinel://h1:26379/", "names its master"),
        ("redis-sentinel://h1:26379/m/x", "database"),
        ("redis-sentinel://h1:26379/m/1/2", "mastername[/db]"),
        ("redis-sentinel://h1:0/m", "port"),
        ("redis://h?read_from=replica", "read_from=replica needs a redis-sentinel:// URL"),
        ("redis-sentinel://h1:26379/m?read_from=nearest", "read_from must be master or replica, got 'nearest'")
    ])
    func invalidURLsNameTheProblem(url: String, expected: String) {
        do {
            _ = try RedisConfiguration(url: url)
            Issue.record("\(url) should not parse")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func sentinelURLListsTheSentinelsAndNamesTheMaster() throws {
        let c = try RedisConfiguration(url: "redis-sentinel://ops:s%40cret@10.0.0.1:26379,sentinel-b,[::1]:26380/agentos-main/3")
        let sentinel = RedisConfiguration.Sentinel(
            nodes: [.init(host: "10.0.0.1", port: 26379), .init(host: "sentinel-b", port: 26379), .init(host: "::1", port: 26380)],
            masterName: "agentos-main")
        #expect(c.endpoint == .sentinel(sentinel))
        #expect(c.username == "ops" && c.password == "s@cret" && c.database == 3 && c.tls == nil)
        #expect(c.endpointDescription == "redis-sentinel://10.0.0.1:26379,sentinel-b:26379,[::1]:26380/agentos-main")
        #expect(!c.description.contains("cret"))
        let bare = try RedisConfiguration(url: "redis-sentinel://127.0.0.1:26379/m")
        #expect(bare.database == 0 && bare.password == nil && bare.readFrom == .master)
        let replicaReads = try RedisConfiguration(url: "redis-sentinel://127.0.0.1:26379/m/2?read_from=replica")
        #expect(replicaReads.readFrom == .replica && replicaReads.database == 2)
        #expect(replicaReads.description == "redis-sentinel://127.0.0.1:26379/m/2?read_from=replica")
    }

    @Test func sentinelsWithTheirOwnCredentialsAndTLS() throws {
        let c = try RedisConfiguration(
            url: "rediss-sentinel://:pw@s1:26379,s2:26379/m?ca=/tmp/ca.crt&sentinel_user=watch&sentinel_password=spw&db=2")
        guard case .sentinel(let sentinel) = c.endpoint else {
            Issue.record("not a sentinel endpoint: \(c.endpoint)")
            return
        }
        #expect(sentinel.username == "watch" && sentinel.password == "spw")
        #expect(c.password == "pw" && c.username == nil && c.database == 2)
        #expect(c.tls == .init(caFile: "/tmp/ca.crt"))
        #expect(c.endpointDescription.hasPrefix("rediss-sentinel://s1:26379,s2:26379/m"))
    }

    @Test func invalidURLErrorHidesPassword() {
        do {
            _ = try RedisConfiguration(url: "redis://u:topsecret@h:bad")
            Issue.record("should fail")
        } catch {
            #expect(!error.description.contains("topsecret"))
            #expect(error.description.contains("***"))
        }
        // The sentinels' own password, in the query, is hidden as well.
        do {
            _ = try RedisConfiguration(url: "redis-sentinel://u:topsecret@s1:26379,s2:bad/m?sentinel_password=alsosecret")
            Issue.record("should fail")
        } catch {
            #expect(!error.description.contains("topsecret") && !error.description.contains("alsosecret"), "\(error)")
            #expect(error.description.contains("sentinel_password=***"))
        }
    }
}

@Suite struct BackoffTests {
    @Test func growsExponentiallyWithJitterAndCap() {
        var b = Backoff(baseMillis: 100, capMillis: 1_000)
        var rng = SeededGenerator(seed: 42)
        var ceilings: [Int] = []
        for _ in 0..<8 {
            let ceiling = b.ceilingMillis
            let d = b.next(using: &rng)
            #expect(d >= ceiling / 2 && d <= ceiling)
            ceilings.append(ceiling)
        }
        #expect(ceilings == [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000])
        b.reset()
        #expect(b.ceilingMillis == 100 && b.attempt == 0)
    }

    @Test func jitterSpreadsDelays() {
        var rng = SeededGenerator(seed: 7)
        var delays = Set<Int>()
        for _ in 0..<50 {
            var b = Backoff(baseMillis: 100, capMillis: 5_000)
            for _ in 0..<4 { _ = b.next(using: &rng) }
            delays.insert(b.next(using: &rng))
        }
        #expect(delays.count > 10)
    }

    @Test func hugeAttemptCountDoesNotOverflow() {
        var b = Backoff(baseMillis: 1_000, capMillis: 30_000)
        for _ in 0..<200 { _ = b.next() }
        #expect(b.ceilingMillis == 30_000)
    }
}

/// SplitMix64: deterministic randomness for tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
