import AgentOSCore
import Foundation

/// The rate limit (DB3), the idempotency claim (DB2) and the breaker's state (DB4) of a mutating
/// request in one script, one round trip instead of three (D87). The script is the three stores'
/// own scripts, each wrapped as a Lua function, run in the stages' order on their databases: it
/// stops at a refusal, claims only after an admission, and reads the breaker only after a claim.
/// The breaker is only read: a closed one admits, as `acquire` would without changing it; an open
/// or probing one is left to `RedisBreakerStore.acquire`, so no probe is taken here.
public final class RedisAdmissionGate: AdmissionGate {
    private let redis: RedisClient
    private let rateLimits: RedisRateLimitStore
    private let idempotency: RedisIdempotencyStore
    private let breakers: RedisBreakerStore
    private let ns: Namespace

    /// KEYS: the rate keys, then the idempotency key (when asked), then the breaker's (when asked).
    /// ARGV: the number of rate keys, the idempotency and breaker databases ('' when not asked),
    /// then the rate script's arguments, the claim script's and the breaker script's.
    /// Reply: {retry} on a refusal, {0, entry} when the key holds an entry, else {0, false, closed}.
    /// (A script's SELECT is its own: the connection stays on its database.)
    package static let script = RedisScript(
        """
        local function rate(KEYS, ARGV)
        \(RedisRateLimitStore.script.source)
        end
        local function claim(KEYS, ARGV)
        \(RedisIdempotencyStore.claimScript.source)
        end
        local function breaker(KEYS, ARGV)
        \(RedisBreakerStore.script.source)
        end
        local function slice(t, from, count)
            local s = {}
            for i = from, from + count - 1 do s[#s + 1] = t[i] end
            return s
        end
        local rates, idemDB, breakerDB = tonumber(ARGV[1]), ARGV[2], ARGV[3]
        local key, arg = 1, 4
        local retry = rate(slice(KEYS, key, rates), slice(ARGV, arg, 2 + 4 * rates))
        if retry > 0 then return {retry} end
        key, arg = key + rates, arg + 2 + 4 * rates
        if idemDB ~= '' then
            redis.call('SELECT', idemDB)
            local entry = claim(slice(KEYS, key, 1), slice(ARGV, arg, 2))
            if entry then return {0, entry} end
            key, arg = key + 1, arg + 2
        end
        if breakerDB == '' then return {0, false, 0} end
        redis.call('SELECT', breakerDB)
        local b = breaker(slice(KEYS, key, 1), slice(ARGV, arg, 8))
        return {0, false, b[2] == 'closed' and 1 or 0}
        """)

    public init(
        redis: RedisClient, rateLimits: RedisRateLimitStore, idempotency: RedisIdempotencyStore, breakers: RedisBreakerStore, namespace: Namespace
    ) {
        // The script starts on the rate limits' database; it selects the others itself.
        self.redis = redis.selecting(database: Namespace.DB.rateLimit)
        self.rateLimits = rateLimits
        self.idempotency = idempotency
        self.breakers = breakers
        ns = namespace
    }

    public func admit(_ ask: AdmissionAsk) throws -> Admission {
        let (keys, args) = arguments(ask)
        let reply = try redis.evaluate(Self.script, keys: keys, args: args).array ?? []
        guard let retry = reply.first?.int else { throw RedisError.server("admission script: unexpected reply \(reply)") }
        let rate = RedisRateLimitStore.decision(retry)
        guard rate == .admitted else { return Admission(rate: rate, claim: nil, permit: nil, ask: ask) }
        var claim: IdempotencyClaim?
        if let c = ask.claim { claim = try idempotency.interpretClaim(reply.count > 1 ? reply[1] : .null, fingerprint: c.fingerprint) }
        var permit: BreakerPermit?
        if ask.service != nil, (claim ?? .claimed) == .claimed, reply.count > 2, reply[2].int == 1 { permit = .allowed(probe: false) }
        return Admission(rate: rate, claim: claim, permit: permit, ask: ask)
    }

    /// The script's keys and arguments for `ask` (the bench's floor sends the same).
    package func arguments(_ ask: AdmissionAsk) -> (keys: [any RedisArgument], args: [any RedisArgument]) {
        var keys = rateLimits.keys(ask.rules)
        var args: [any RedisArgument] = [
            ask.rules.count, ask.claim == nil ? "" : String(Namespace.DB.idempotency), ask.service == nil ? "" : String(Namespace.DB.breakers)
        ]
        args += RedisRateLimitStore.arguments(ask.rules, member: ask.member, nowMillis: ask.nowMillis)
        if let c = ask.claim {
            keys.append(ns.idempotencyKey(c.scope))
            args += idempotency.claimArguments(fingerprint: c.fingerprint, requestID: c.requestID, lockMillis: c.lockMillis)
        }
        if let service = ask.service {
            keys.append(ns.breakerKey(service))
            args += breakers.arguments("read", ask.nowMillis)
        }
        return (keys, args)
    }
}
