import AgentOSAdapters
import Foundation
import Testing

@Suite("Redis over TLS (rediss://)")
struct RedisTLSTests {
    private func tlsFile(_ name: String) throws -> String {
        (try TestServers.env("AGENTOS_TEST_TLS_DIR") as NSString).appendingPathComponent(name)
    }

    @Test func verifiedCertificate() throws {
        let url = try TestServers.env("AGENTOS_TEST_REDISS_URL") + "/4?ca=\(try tlsFile("ca.crt"))"
        let client = try RedisClient(url: url)
        let key = TestServers.unique("tls")
        let value: [UInt8] = Array(repeating: 0xab, count: 200_000) + [0, 1, 2] // spans many TLS records
        try client.send("SET", key, value, "EX", 60)
        #expect(try client.send("GET", key) == .bulk(value))
        #expect(try client.send("DEL", key).int == 1)
    }

    @Test func clientCertificate() throws {
        let url =
            try TestServers.env("AGENTOS_TEST_REDISS_URL")
            + "?ca=\(try tlsFile("ca.crt"))&cert=\(try tlsFile("client.crt"))&key=\(try tlsFile("client.key"))"
        #expect(try RedisClient(url: url).send("PING").string == "PONG")
    }

    @Test func wrongCAIsRefused() throws {
        let url = try TestServers.env("AGENTOS_TEST_REDISS_URL") + "?ca=\(try tlsFile("wrong-ca.crt"))"
        do {
            try RedisClient(url: url).send("PING")
            Issue.record("a certificate from an untrusted CA was accepted")
        } catch {
            guard case .tls(_, let reason) = error else {
                Issue.record("expected a TLS error, got \(error)")
                return
            }
            #expect(reason.contains("certificate verification failed"), "\(reason)")
        }
    }

    @Test func wrongHostNameIsRefused() throws {
        let url = try TestServers.env("AGENTOS_TEST_REDISS_URL") + "?ca=\(try tlsFile("ca.crt"))&sni=not-this-server.example"
        do {
            try RedisClient(url: url).send("PING")
            Issue.record("a certificate for another host was accepted")
        } catch {
            guard case .tls(_, let reason) = error else {
                Issue.record("expected a TLS error, got \(error)")
                return
            }
            #expect(reason.contains("hostname mismatch"), "\(reason)")
        }
    }

    @Test func subscriberOverTLS() async throws {
        let url = try TestServers.env("AGENTOS_TEST_REDISS_URL") + "?ca=\(try tlsFile("ca.crt"))"
        let config = try RedisConfiguration(url: url)
        let channel = TestServers.unique("tlsch")
        let subscriber = RedisSubscriber(config, channels: [channel])
        let collector = EventCollector(subscriber)
        subscriber.start()
        defer { subscriber.stop() }
        #expect(await collector.wait { $0.subscriptions == [false] })
        let publisher = RedisClient(config)
        _ = try publisher.pipeline((0..<500).map { ["PUBLISH", channel, $0] })
        #expect(await collector.wait { $0.messages.count == 500 })
        #expect(
            collector.messages.map { String(decoding: $0, as: UTF8.self) }.elementsEqual((0..<500).map(String.init)),
            "messages arrive complete and in order")
    }
}
