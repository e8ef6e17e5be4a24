import AgentOSAdapters
import AgentOSCrypto
import AgentOSTestSupport
import Foundation
import Testing

@Suite("Redis adapter against a real redis-server")
struct RedisContractTests {
    @Test func binarySafeKeysAndValues() throws {
        let redis = try TestServers.redis()
        let key: [UInt8] = Array(TestServers.unique("bin").utf8) + [0, 0xff, 0x0a]
        let value: [UInt8] = [0, 0xff, 0xfe, 0xc3, 0x28, 0, 0x0d, 0x0a, 0x80] // NULs, CRLF, invalid UTF-8
        try redis.send("SET", key, value, "EX", 60)
        let back = try redis.send("GET", key)
        #expect(back == .bulk(value))
        #expect(back.string == nil, "invalid UTF-8 must not decode as text")
        #expect(try redis.send("STRLEN", key).int == Int64(value.count))
        let empty = TestServers.unique("empty")
        try redis.send("SET", empty, "")
        #expect(try redis.send("GET", empty) == .bulk([]))
        #expect(try redis.send("GET", TestServers.unique("missing")) == .null)
        try redis.send("DEL", key, empty)
    }

    @Test func pipelineKeepsOrderAndInlineErrors() throws {
        let redis = try TestServers.redis()
        let list = TestServers.unique("plist")
        let counter = TestServers.unique("pctr")
        let text = TestServers.unique("ptext")
        var commands: [[any RedisArgument]] = [["SET", text, "not a number"]]
        for i in 0..<1_000 {
            commands.append(["RPUSH", list, i])
            commands.append(["INCR", counter])
        }
        commands.append(["INCR", text])
        commands.append(["LRANGE", list, 0, -1])
        let replies = try redis.pipeline(commands)
        #expect(replies.count == commands.count)
        for i in 0..<1_000 {
            #expect(replies[1 + 2 * i] == .integer(Int64(i + 1)))
            #expect(replies[2 + 2 * i] == .integer(Int64(i + 1)))
        }
        if case .error(let message) = replies[replies.count - 2] {
            #expect(message.contains("not an integer"))
        } else {
            Issue.record("INCR on text should be an error in place, got \(replies[replies.count - 2])")
        }
        let items = try #require(replies.last?.array)
        #expect(items.compactMap { $0.int } == (0..<1_000).map(Int64.init))
        try redis.send("DEL", list, counter, text)
    }

    @Test func typedErrors() throws {
        let redis = try TestServers.redis()
        let key = TestServers.unique("str")
        try redis.send("SET", key, "v")
        #expect(throws: RedisError.self) { try redis.send("LPUSH", key, "x") }
        do {
            try redis.send("LPUSH", key, "x")
        } catch {
            guard case .wrongType = error else {
                Issue.record("expected wrongType, got \(error)")
                return
            }
            #expect(error.description.contains("wrong type"))
        }
        do {
            try redis.send("NOSUCHCOMMAND")
            Issue.record("expected a server error")
        } catch {
            guard case .server(let message) = error else {
                Issue.record("expected server error, got \(error)")
                return
            }
            #expect(message.contains("unknown command"))
        }
        try redis.send("DEL", key)

        let closedPort = freeLoopbackPort()
        let nowhere = RedisClient(RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: closedPort)))
        do {
            try nowhere.send("PING")
            Issue.record("expected connection refused")
        } catch {
            guard case .connectionRefused = error else {
                Issue.record("expected refused, got \(error)")
                return
            }
            #expect(error.description.contains("refused"))
        }
        // Right after a failed connect the client fails fast and says when it will try again. The
        // backoff (50 ms doubling to 2 s) has no injected clock: a busy machine may let a short one
        // pass, so retry at once until a call lands inside one; every other answer is a refusal.
        var retryIn: Int?
        var refusals = 0
        while retryIn == nil && refusals < 20 {
            do {
                try nowhere.send("PING")
                Issue.record("a closed port answered")
                return
            } catch {
                switch error {
                case .unavailable(_, let retry, _): retryIn = retry
                case .connectionRefused: refusals += 1
                default:
                    Issue.record("unexpected \(error)")
                    return
                }
            }
        }
        let retry = try #require(retryIn, "never failed fast in \(refusals) immediate retries")
        #expect(retry >= 0 && retry <= 2_000)
    }

    @Test func commandTimeout() throws {
        var config = try RedisConfiguration(url: TestServers.redisURL())
        config.commandTimeoutMillis = 200
        let redis = RedisClient(config)
        // The server would answer (nil) after 30 s: a .timeout can only be the client's own 200 ms.
        do {
            try redis.send("BLPOP", TestServers.unique("never"), 30)
            Issue.record("expected a timeout")
        } catch {
            guard case .timeout = error else {
                Issue.record("expected timeout, got \(error)")
                return
            }
        }
        // The timed-out connection was discarded; the next command works on a fresh one.
        #expect(try redis.send("PING").string == "PONG")
    }

    /// Issue 18 item 4: no reply may take more memory than `maxReplyBytes`, a string or a list alike.
    @Test func aReplyOverTheLimitIsRefusedAndTheNextCommandWorks() throws {
        var config = try RedisConfiguration(url: TestServers.redisURL())
        config.database = 9
        config.maxReplyBytes = 1024 * 1024
        let redis = RedisClient(config)
        let big = TestServers.unique("bigstr")
        let list = TestServers.unique("biglist")
        let fits = TestServers.unique("fits")
        defer { _ = try? redis.send("DEL", big, list, fits) }
        try redis.send("SET", fits, [UInt8](repeating: 0x61, count: 1000 * 1024))
        try redis.send("SETRANGE", big, 2 * 1024 * 1024 - 1, "x")
        let items: [any RedisArgument] = Array(repeating: String(repeating: "y", count: 1024), count: 1000)
        for _ in 0..<3 { try redis.send(["RPUSH", list] + items) }
        #expect(try redis.send("GET", fits).bytes?.count == 1000 * 1024, "a reply under the limit is read whole")
        for command in [["GET", big], ["LRANGE", list, "0", "-1"]] {
            do {
                let reply = try redis.send(command)
                Issue.record("\(command[0]) read \(String(describing: reply).prefix(40)) past the limit")
            } catch {
                guard case .replyTooLarge(_, let bytes, let limit) = error else {
                    Issue.record("\(command[0]): expected replyTooLarge, got \(error)")
                    continue
                }
                #expect(bytes > limit && limit == 1024 * 1024 && bytes < limit + 128 * 1024, "\(command[0]): \(bytes)")
                #expect(error.description.contains("past the 1 MiB limit"), "\(error.description)")
            }
            // The connection that held part of the reply is gone; the next command works on a fresh one.
            #expect(try redis.send("PING").string == "PONG")
        }
    }

    @Test func logicalDatabasesAreSeparate() throws {
        let url = try TestServers.redisURL()
        let db3 = try RedisClient(url: url, database: 3)
        let db4 = db3.selecting(database: 4)
        let key = TestServers.unique("dbsep")
        try db3.send("SET", key, "three", "EX", 60)
        #expect(try db4.send("GET", key) == .null)
        #expect(try db3.send("GET", key).string == "three")
        let viaURL = try RedisClient(url: url + "/3")
        #expect(try viaURL.send("GET", key).string == "three")
        try db3.send("DEL", key)
    }

    @Test func aclUserAuthentication() throws {
        let admin = try TestServers.redis()
        let user = TestServers.unique("acl")
        try admin.send("ACL", "SETUSER", user, "on", ">p@ss:word", "~*", "&*", "+@all")
        defer { _ = try? admin.send("ACL", "DELUSER", user) }
        let base = try RedisConfiguration(url: TestServers.redisURL())
        var good = base
        good.username = user
        good.password = "p@ss:word"
        #expect(try RedisClient(good).send("ACL", "WHOAMI").string == user)
        // The same through a URL with percent-encoding.
        guard case .tcp(let host, let port) = base.endpoint else {
            Issue.record("AGENTOS_TEST_REDIS_URL is not tcp: \(base.endpoint)")
            return
        }
        let url = "redis://\(user):p%40ss%3Aword@\(host):\(port)/2"
        #expect(try RedisClient(url: url).send("ACL", "WHOAMI").string == user)

        var bad = good
        bad.password = "wrong"
        do {
            try RedisClient(bad).send("PING")
            Issue.record("wrong password accepted")
        } catch {
            guard case .authFailed = error else {
                Issue.record("expected authFailed, got \(error)")
                return
            }
            #expect(!error.description.contains("wrong"), "the password must not be echoed")
        }
    }

    @Test func luaScriptReloadsAfterFlush() throws {
        let redis = try TestServers.redis()
        let key = TestServers.unique("lua")
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try redis.evaluate(script, keys: [key], args: [5]).int == 5)
        #expect(try redis.send("SCRIPT", "EXISTS", script.sha1).array == [.integer(1)])
        try redis.send("SCRIPT", "FLUSH")
        #expect(try redis.send("SCRIPT", "EXISTS", script.sha1).array == [.integer(0)])
        #expect(try redis.evaluate(script, keys: [key], args: [2]).int == 7)
        #expect(try redis.send("SCRIPT", "EXISTS", script.sha1).array == [.integer(1)])
        try redis.send("DEL", key)
    }

    @Test func manyThreadsShareOneClient() async throws {
        let redis = try TestServers.redis()
        let key = TestServers.unique("conc")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask { for _ in 0..<100 { try redis.send("INCR", key) } }
            }
            try await group.waitForAll()
        }
        #expect(try redis.send("GET", key).int == 1_600)
        try redis.send("DEL", key)
    }
}
