import AgentOSCore
import Foundation
import Testing

@testable import AgentOSAdapters

/// The admission script against real Redis (D87): each part's effect on its own database, in the
/// stages' order, and nothing after a part that stops the request.
@Suite("Admission gate: rate limit, claim and breaker in one script", .serialized)
struct AdmissionGateTests {
    struct Fixture {
        let redis: RedisClient
        let ns: Namespace
        let breakers: RedisBreakerStore
        let gate: RedisAdmissionGate

        init() throws {
            redis = try RedisClient(url: TestServers.redisURL())
            ns = Namespace(TestServers.unique("gate"))
            breakers = RedisBreakerStore(redis: redis, namespace: ns)
            // The gate's path never reads PostgreSQL (the durable look-up is `confirm`, the idempotency stage's).
            let idempotency = RedisIdempotencyStore(redis: redis, postgres: PostgresClient(try TestServers.postgresURL()), namespace: ns)
            gate = RedisAdmissionGate(
                redis: redis, rateLimits: RedisRateLimitStore(redis: redis, namespace: ns), idempotency: idempotency, breakers: breakers,
                namespace: ns)
        }

        /// A request of `user` under a limit of `limit` per minute (no burst), keyed `key`, needing the postgres breaker.
        func ask(_ key: String?, limit: Int = 10, user: String = "olga", fingerprint: String = "fp-1") -> AdmissionAsk {
            AdmissionAsk(
                rules: [RateRule(key: "rl:\(user):job.cancel", limit: limit)], member: UUID().uuidString.lowercased(), nowMillis: nil,
                claim: key.map { (IdempotencyScope(user: user, action: "job.cancel", key: $0), fingerprint, UUID(), 60_000) },
                service: "postgres")
        }

        func onDB(_ db: Int, _ args: any RedisArgument...) throws -> RedisValue { try redis.selecting(database: db).send(args) }
        func claimEntry(_ key: String, user: String = "olga") throws -> String? {
            try onDB(Namespace.DB.idempotency, "GET", ns.idempotencyKey(IdempotencyScope(user: user, action: "job.cancel", key: key))).string
        }
        func windowSize(user: String = "olga") throws -> Int64 {
            try onDB(Namespace.DB.rateLimit, "ZCARD", ns.rateKey("rl:\(user):job.cancel")).int ?? -1
        }
        func breakerHash() throws -> [RedisValue] { try onDB(Namespace.DB.breakers, "HGETALL", ns.breakerKey("postgres")).array ?? [] }
    }

    @Test func aFreshRequestIsCountedClaimedAndAdmittedByAClosedBreakerWhichItLeavesUnchanged() throws {
        let f = try Fixture()
        let a = try f.gate.admit(f.ask("k1"))
        #expect(a.rate == .admitted)
        #expect(a.claim == .claimed)
        #expect(a.permit == .allowed(probe: false))
        #expect(try f.windowSize() == 1)
        let entry = try #require(try f.claimEntry("k1"))
        #expect(entry.contains("\"in_progress\"") && entry.contains("\"fp-1\""))
        // Read, not acquired: a closed breaker's hash is not written.
        #expect(try f.breakerHash().isEmpty)
    }

    @Test func anExistingClaimStopsBeforeTheBreakerAndAnotherPayloadIsAMismatch() throws {
        let f = try Fixture()
        _ = try f.gate.admit(f.ask("k1"))
        let again = try f.gate.admit(f.ask("k1"))
        #expect(again.claim == .inProgress)
        #expect(again.permit == nil)
        let other = try f.gate.admit(f.ask("k1", fingerprint: "fp-2"))
        #expect(other.claim == .mismatch)
        #expect(try f.windowSize() == 3)
    }

    @Test func aRefusalStopsBeforeTheClaim() throws {
        let f = try Fixture()
        _ = try f.gate.admit(f.ask("k1", limit: 1))
        let refused = try f.gate.admit(f.ask("k2", limit: 1))
        guard case .refused(let ms) = refused.rate else {
            Issue.record("the second request in a window of 1 was \(refused.rate)")
            return
        }
        #expect(ms > 0)
        #expect(refused.claim == nil && refused.permit == nil)
        #expect(try f.claimEntry("k2") == nil)
        #expect(try f.windowSize() == 1)
    }

    @Test func anOpenOrProbingBreakerIsLeftToTheStoreAndNoProbeIsTaken() throws {
        let f = try Fixture()
        try f.breakers.force("postgres", open: true, nowMillis: nil)
        let before = try f.breakerHash()
        let open = try f.gate.admit(f.ask("k1"))
        #expect(open.claim == .claimed)
        #expect(open.permit == nil)
        // Opened long ago: the next acquire would move it to half-open and take a probe; the gate does neither.
        try f.breakers.force("postgres", open: true, nowMillis: 1_000)
        let opened = try f.breakerHash()
        let probing = try f.gate.admit(f.ask("k2"))
        #expect(probing.permit == nil)
        #expect(try f.breakerHash() == opened)
        #expect(before != opened)
        #expect(try f.breakers.acquire("postgres", nowMillis: nil) == .allowed(probe: true))
    }

    @Test func withoutAKeyOrABreakerOnlyTheRateIsAsked() throws {
        let f = try Fixture()
        var ask = f.ask(nil)
        ask.service = nil
        let a = try f.gate.admit(ask)
        #expect(a.rate == .admitted && a.claim == nil && a.permit == nil)
        #expect(try f.windowSize() == 1)
    }

    /// The script SELECTs the idempotency and breaker databases; the connection it ran on stays on
    /// the rate limits' database for the next command.
    @Test func theScriptsSelectsDoNotMoveTheConnection() throws {
        let f = try Fixture()
        let connection = try RedisConnection(RedisConfiguration(url: TestServers.redisURL()))
        _ = try connection.send(["SELECT", Namespace.DB.rateLimit])
        let (keys, args) = f.gate.arguments(f.ask("k1"))
        let reply = try connection.send(["EVAL", RedisAdmissionGate.script.source, keys.count] + keys + args)
        #expect(reply.array?.first?.int == 0)
        let marker = f.ns.rateKey("marker")
        _ = try connection.send(["SET", marker, "x", "EX", 60])
        #expect(try f.onDB(Namespace.DB.rateLimit, "GET", marker).string == "x")
        #expect(try f.onDB(Namespace.DB.breakers, "EXISTS", marker).int == 0)
    }
}
