import AgentOSAdapters
import Foundation
import Synchronization
import Testing

/// Collects subscriber events on a background task so tests can wait for conditions.
final class EventCollector: Sendable {
    private final class Box: Sendable { let events = Mutex<[SubscriptionEvent]>([]) }
    private let box = Box()

    init(_ subscriber: RedisSubscriber) {
        let box = self.box
        Task.detached {
            for await event in subscriber.events { box.events.withLock { $0.append(event) } }
        }
    }

    var events: [SubscriptionEvent] { box.events.withLock { $0 } }
    var messages: [[UInt8]] {
        events.compactMap { if case .message(_, let payload, _) = $0 { return payload } else { return nil } }
    }
    var subscriptions: [Bool] {
        events.compactMap { if case .subscribed(let gap) = $0 { return gap } else { return nil } }
    }
    var disconnects: Int {
        events.filter { if case .disconnected = $0 { return true } else { return false } }.count
    }

    /// Waits without blocking a thread of the cooperative pool (the collector task needs one).
    func wait(_ seconds: Double = 60, _ condition: (EventCollector) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }
}

@Suite("Redis pub/sub subscriber")
struct RedisSubscriberTests {
    @Test func tenThousandMessagesArriveInOrder() async throws {
        let config = try RedisConfiguration(url: TestServers.redisURL())
        let channel = TestServers.unique("events")
        let subscriber = RedisSubscriber(config, channels: [channel])
        let collector = EventCollector(subscriber)
        subscriber.start()
        defer { subscriber.stop() }
        #expect(await collector.wait { $0.subscriptions == [false] })
        let publisher = RedisClient(config)
        for batch in 0..<10 {
            let commands: [[any RedisArgument]] = (0..<1_000).map { i in ["PUBLISH", channel, String(batch * 1_000 + i)] }
            _ = try publisher.pipeline(commands)
        }
        #expect(await collector.wait { $0.messages.count >= 10_000 })
        let numbers = collector.messages.map { Int(String(decoding: $0, as: UTF8.self)) ?? -1 }
        #expect(numbers.count == 10_000)
        let firstOutOfOrder = numbers.enumerated().first { $0.offset != $0.element }
        #expect(firstOutOfOrder == nil, "message \(firstOutOfOrder?.offset ?? -1) is out of order")
    }

    @Test func patternSubscriptionsReportTheChannel() async throws {
        let config = try RedisConfiguration(url: TestServers.redisURL())
        let prefix = TestServers.unique("pat")
        let subscriber = RedisSubscriber(config, channels: [], patterns: ["\(prefix).*"])
        let collector = EventCollector(subscriber)
        subscriber.start()
        defer { subscriber.stop() }
        #expect(await collector.wait { $0.subscriptions.count == 1 })
        try RedisClient(config).send("PUBLISH", "\(prefix).worker", [0, 1, 2] as [UInt8])
        #expect(await collector.wait { !$0.messages.isEmpty })
        #expect(collector.events.contains(.message(channel: "\(prefix).worker", payload: [0, 1, 2], pattern: "\(prefix).*")))
    }

    @Test func resubscribesAfterClientKillAndReportsTheGap() async throws {
        var config = try RedisConfiguration(url: TestServers.redisURL())
        let name = TestServers.unique("sub")
        config.clientName = name
        let channel = TestServers.unique("killed")
        let subscriber = RedisSubscriber(config, channels: [channel], backoff: Backoff(baseMillis: 20, capMillis: 200))
        let collector = EventCollector(subscriber)
        subscriber.start()
        defer { subscriber.stop() }
        #expect(await collector.wait { $0.subscriptions == [false] })

        let admin = try TestServers.redis()
        #expect(try killClient(named: name, admin) == 1)
        #expect(await collector.wait { $0.subscriptions == [false, true] })
        #expect(collector.disconnects >= 1)
        try admin.send("PUBLISH", channel, "after")
        #expect(await collector.wait { $0.messages.contains(Array("after".utf8)) })
    }

    @Test func commandClientSurvivesClientKill() async throws {
        var config = try RedisConfiguration(url: TestServers.redisURL())
        let name = TestServers.unique("cmd")
        config.clientName = name
        let client = RedisClient(config)
        #expect(try client.send("PING").string == "PONG")
        #expect(try killClient(named: name, try TestServers.redis()) == 1)
        // The pooled connection is stale; the next command reconnects instead of failing.
        #expect(try client.send("PING").string == "PONG")
    }

    @Test func survivesServerRestartWithBackoff() async throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let config = try RedisConfiguration(url: server.url)
        let channel = TestServers.unique("restart")
        let subscriber = RedisSubscriber(config, channels: [channel], backoff: Backoff(baseMillis: 20, capMillis: 300))
        let collector = EventCollector(subscriber)
        subscriber.start()
        defer { subscriber.stop() }
        #expect(await collector.wait { $0.subscriptions == [false] })
        let client = RedisClient(config)
        try client.send("PUBLISH", channel, "before")
        #expect(await collector.wait { $0.messages.count == 1 })

        server.kill()
        #expect(await collector.wait { $0.disconnects >= 2 }, "reconnect attempts are reported while the server is down")
        var delays: [Int] = []
        for case .disconnected(_, let delay) in collector.events { delays.append(delay) }
        #expect(delays.allSatisfy { $0 <= 300 })
        #expect(throws: RedisError.self) { try client.send("PING") }

        try server.start()
        #expect(await collector.wait { $0.subscriptions == [false, true] }, "resubscribed with the gap reported")
        #expect(await TestServers.eventuallyAsync { (try? client.send("PUBLISH", channel, "after"))?.int == 1 })
        #expect(await collector.wait { $0.messages.contains(Array("after".utf8)) })
    }

    @Test func unixSocket() async throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let client = try RedisClient(url: "unix://\(server.socketPath)?db=2")
        try client.send("SET", "k", "over a unix socket")
        #expect(try client.send("GET", "k").string == "over a unix socket")
        #expect(try RedisClient(url: server.url + "/2").send("GET", "k").string == "over a unix socket")
    }

    @Test(.timeLimit(.minutes(1))) func stopFinishesTheStream() async throws {
        let config = try RedisConfiguration(url: TestServers.redisURL())
        let subscriber = RedisSubscriber(config, channels: [TestServers.unique("stop")])
        subscriber.start()
        var sawSubscribed = false
        for await event in subscriber.events {
            if case .subscribed = event {
                sawSubscribed = true
                subscriber.stop()
            }
        }
        #expect(sawSubscribed)
    }

    /// CLIENT KILL ID for the connection named `name` (other tests' connections are left alone).
    private func killClient(named name: String, _ admin: RedisClient) throws -> Int64 {
        let list = try admin.send("CLIENT", "LIST").string ?? ""
        let id = try #require(
            list.split(separator: "\n").first { $0.contains(" name=\(name) ") }?
                .split(separator: " ").first { $0.hasPrefix("id=") }?.dropFirst(3))
        return try admin.send("CLIENT", "KILL", "ID", String(id)).int ?? 0
    }
}
