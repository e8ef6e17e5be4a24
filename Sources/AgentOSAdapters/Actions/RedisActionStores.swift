import AgentOSCore
import Foundation

extension Namespace {
    // DB2 idempotency, DB3 rate limits, DB4 breakers, DB6 console sessions (CONTRACT.md)
    public func idempotencyKey(_ s: IdempotencyScope) -> String { "\(prefix):idem:\(s.user):\(s.action):\(s.key)" }
    public func rateKey(_ rule: String) -> String { "\(prefix):\(rule)" }
    public func breakerKey(_ service: String) -> String { "\(prefix):cb:\(service)" }
    public func sessionKey(_ id: String) -> String { "\(prefix):session:\(id)" }
}

/// Sliding-window log per rule in one Lua script on DB3 (ZREMRANGEBYSCORE, ZCARD, ZADD of a
/// unique member, PEXPIRE), clock from Redis `TIME`; every key carries a TTL.
public final class RedisRateLimitStore: RateLimitStore {
    private let redis: RedisClient
    private let ns: Namespace

    package static let script = RedisScript(
        """
        local now = tonumber(ARGV[1])
        if now == 0 then local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
        local member = ARGV[2]
        local retry = 0
        local opens = {}
        for i, key in ipairs(KEYS) do
            local base = 2 + (i - 1) * 4
            local limit, window = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
            local mult, burst = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
            redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
            local n = redis.call('ZCARD', key)
            if n >= limit then
                local ok = false
                if mult > 1 and n < limit * mult then
                    local b = redis.call('GET', key .. ':burst')
                    if not b then opens[#opens + 1] = {key, window}; ok = true
                    elseif now - tonumber(b) < burst then ok = true end
                end
                if not ok then
                    local e = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
                    local r = tonumber(e[2]) + window - now
                    if r > retry then retry = r end
                end
            end
        end
        if retry > 0 then return retry end
        for i, key in ipairs(KEYS) do
            local window = tonumber(ARGV[2 + (i - 1) * 4 + 2])
            redis.call('ZADD', key, now, member .. ':' .. i)
            redis.call('PEXPIRE', key, window)
        end
        for _, o in ipairs(opens) do redis.call('SET', o[1] .. ':burst', now, 'PX', o[2]) end
        return 0
        """)

    public init(redis: RedisClient, namespace: Namespace = Namespace()) {
        self.redis = redis.selecting(database: Namespace.DB.rateLimit)
        ns = namespace
    }

    public func admit(_ rules: [RateRule], member: String, nowMillis: Int64?) throws -> RateDecision {
        let retry = try redis.evaluate(Self.script, keys: keys(rules), args: Self.arguments(rules, member: member, nowMillis: nowMillis)).int ?? 0
        return Self.decision(retry)
    }

    /// The script's keys and arguments for `rules` (also the admission gate's first part).
    package func keys(_ rules: [RateRule]) -> [any RedisArgument] { rules.map { ns.rateKey($0.key) } }

    package static func arguments(_ rules: [RateRule], member: String, nowMillis: Int64?) -> [any RedisArgument] {
        var args: [any RedisArgument] = [nowMillis ?? 0, member]
        for r in rules { args += [r.limit, r.windowMillis, r.burstMultiplier, r.burstMillis] }
        return args
    }

    /// The script's answer: 0 admits, else the milliseconds until it would.
    package static func decision(_ retry: Int64) -> RateDecision { retry > 0 ? .refused(retryAfterMillis: Int(retry)) : .admitted }

    public func reset(user: String) throws -> Int {
        try deleteMatching(redis, "\(ns.prefix):rl:\(user):*")
    }
}

/// Deletes every key matching `pattern` (SCAN, never KEYS); returns how many.
func deleteMatching(_ redis: RedisClient, _ pattern: String) throws -> Int {
    var cursor = "0"
    var removed = 0
    repeat {
        let reply = try redis.send("SCAN", cursor, "MATCH", pattern, "COUNT", 500).array ?? []
        cursor = reply.first?.string ?? "0"
        let keys = (reply.dropFirst().first?.array ?? []).compactMap(\.bytes)
        if !keys.isEmpty { removed += Int(try redis.send(["DEL"] + keys).int ?? 0) }
    } while cursor != "0"
    return removed
}

/// Idempotency keys on DB2 (SET NX PX claim, stored result with a TTL), with the durable copy of
/// each result in PostgreSQL (`idempotency_results`), which answers when Redis lost the key.
public final class RedisIdempotencyStore: IdempotencyStore {
    private let redis: RedisClient
    private let db: PostgresClient
    private let ns: Namespace

    struct Entry: Decodable {
        var fp: String
        var state: String
        var rid: String
        var result: ActionResult?
    }

    package static let claimScript = RedisScript(
        """
        local v = redis.call('GET', KEYS[1])
        if v then return v end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return false
        """)
    static let releaseScript = RedisScript(
        """
        local v = redis.call('GET', KEYS[1])
        if v and string.find(v, ARGV[1], 1, true) and string.find(v, '"in_progress"', 1, true) then return redis.call('DEL', KEYS[1]) end
        return 0
        """)

    public init(redis: RedisClient, postgres: PostgresClient, namespace: Namespace = Namespace()) {
        self.redis = redis.selecting(database: Namespace.DB.idempotency)
        db = postgres
        ns = namespace
    }

    /// The entry as JSON (what `Entry`'s decoder reads), written without an `Encoder`.
    private func encode(_ e: Entry) -> [UInt8] {
        var text = "{\"fp\":\(CanonicalJSON.string(e.fp)),\"rid\":\(CanonicalJSON.string(e.rid)),\"state\":\(CanonicalJSON.string(e.state))"
        if let result = e.result { text += ",\"result\":" + result.json }
        return Array((text + "}").utf8)
    }

    public func claim(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID, lockMillis: Int) throws -> IdempotencyClaim {
        let reply = try redis.evaluate(
            Self.claimScript, keys: [ns.idempotencyKey(scope)],
            args: claimArguments(fingerprint: fingerprint, requestID: requestID, lockMillis: lockMillis))
        let fast = try interpretClaim(reply, fingerprint: fingerprint)
        return fast == .claimed ? try confirm(scope, fingerprint: fingerprint, requestID: requestID) : fast
    }

    /// The claim script's arguments: this request's in-progress entry and how long it holds.
    package func claimArguments(fingerprint: String, requestID: UUID, lockMillis: Int) -> [any RedisArgument] {
        [encode(Entry(fp: fingerprint, state: "in_progress", rid: requestID.lowercasedString, result: nil)), lockMillis]
    }

    /// What the claim script's reply says: the entry already there (replay, in progress, another
    /// payload), or nil: claimed in Redis.
    package func interpretClaim(_ reply: RedisValue, fingerprint: String) throws -> IdempotencyClaim {
        guard let bytes = reply.bytes else { return .claimed }
        let existing = try JSONDecoder().decode(Entry.self, from: Data(bytes))
        if existing.fp != fingerprint { return .mismatch }
        if existing.state == "done", let r = existing.result { return .replay(r) }
        return .inProgress
    }

    /// Claimed in Redis: the durable store may still know the key (Redis restarted or reset).
    public func confirm(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID) throws -> IdempotencyClaim {
        let lookup = Self.durableLookup(scope)
        let rows = try db.query(lookup.sql, lookup.params)
        guard let row = rows.rows.first else { return .claimed }
        let storedFP: String = try row.get("fingerprint")
        guard storedFP == fingerprint else {
            try? release(scope, requestID: requestID)
            return .mismatch
        }
        let result = try JSONDecoder().decode(ActionResult.self, from: Data((try row.get("result", as: String.self)).utf8))
        let done = Entry(fp: fingerprint, state: "done", rid: requestID.lowercasedString, result: result)
        try redis.send("SET", ns.idempotencyKey(scope), encode(done), "EX", 3_600)
        return .replay(result)
    }

    public func complete(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID, result: ActionResult, ttlSeconds: Int, durableStored: Bool)
        throws
    {
        let c = FollowUps.Completion(
            scope: scope, fingerprint: fingerprint, requestID: requestID, result: result, ttlSeconds: ttlSeconds,
            durableStored: durableStored)
        try redis.send(completionCommand(c).command)
        if !durableStored { try storeDurable(c) }
    }

    /// The durable copy of a key's result, asked when Redis had no claim on it.
    package static func durableLookup(_ scope: IdempotencyScope) -> PostgresConnection.Statement {
        PostgresConnection.Statement(
            """
            SELECT fingerprint, result::text AS result FROM idempotency_results
            WHERE user_id = $1 AND action = $2 AND key = $3 AND expires_at > now() AND status = 'done'
            """, [scope.user, scope.action, scope.key])
    }

    /// The fast copy of a result (SET with its TTL on DB2), for `complete` or a follow-up pipeline.
    package func completionCommand(_ c: FollowUps.Completion) -> (database: Int, command: [any RedisArgument]) {
        let done = Entry(fp: c.fingerprint, state: "done", rid: c.requestID.lowercasedString, result: c.result)
        return (redis.configuration.database, ["SET", ns.idempotencyKey(c.scope), encode(done), "EX", max(1, c.ttlSeconds)])
    }

    /// The durable copy, when the effect's transaction did not write it.
    func storeDurable(_ c: FollowUps.Completion) throws {
        let st = Self.durable(c.scope, fingerprint: c.fingerprint, requestID: c.requestID, result: c.result, ttlSeconds: c.ttlSeconds)
        try db.query(st.sql, st.params)
    }

    /// The durable copy of a result (`idempotency_results`), for `complete` or the effect's own transaction.
    public static func durable(
        _ scope: IdempotencyScope, fingerprint: String, requestID: UUID, result: ActionResult,
        ttlSeconds: Int
    ) -> PostgresConnection.Statement {
        PostgresConnection.Statement(
            """
            INSERT INTO idempotency_results (user_id, action, key, fingerprint, request_id, status, result, expires_at)
            VALUES ($1, $2, $3, $4, $5, 'done', $6, now() + make_interval(secs => $7))
            ON CONFLICT (user_id, action, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, request_id = EXCLUDED.request_id,
                status = EXCLUDED.status, result = EXCLUDED.result, created_at = now(), expires_at = EXCLUDED.expires_at
            """,
            [
                scope.user, scope.action, scope.key, fingerprint, requestID,
                PostgresValue.json(result.json), Double(ttlSeconds)
            ])
    }

    public func release(_ scope: IdempotencyScope, requestID: UUID) throws {
        try redis.evaluate(Self.releaseScript, keys: [ns.idempotencyKey(scope)], args: [requestID.lowercasedString])
    }
}

/// Circuit breakers on DB4: one hash per service, the state machine of `BreakerMachine` in Lua,
/// so every console shares one breaker per service and HALF_OPEN admits N probes in total.
public final class RedisBreakerStore: BreakerStore {
    private let redis: RedisClient
    private let ns: Namespace
    private let numbers: BreakerMachine.Numbers

    package static let script = RedisScript(
        """
        local key, op = KEYS[1], ARGV[1]
        local now = tonumber(ARGV[2])
        if now == 0 then local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
        local window, minCalls, pct = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
        local openMs, probes, probeTimeout = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
        local h = redis.call('HMGET', key, 'state', 'outcomes', 'opened_at', 'issued', 'successes', 'inflight')
        local state, outcomes = h[1] or 'closed', h[2] or ''
        local openedAt, issued, successes = tonumber(h[3] or '0'), tonumber(h[4] or '0'), tonumber(h[5] or '0')
        local inflight = {}
        if h[6] and h[6] ~= '' then for t in string.gmatch(h[6], '[^,]+') do inflight[#inflight + 1] = tonumber(t) end end
        local function openAt(t) state = 'open'; openedAt = t; issued = 0; successes = 0; inflight = {} end
        local function close() state = 'closed'; outcomes = ''; issued = 0; successes = 0; inflight = {} end
        local result = 0
        if op == 'acquire' then
            if state == 'open' then
                if now - openedAt < openMs then result = openedAt + openMs - now
                else state = 'half_open'; issued = 0; successes = 0; inflight = {} end
            end
            if state == 'half_open' and result == 0 then
                local hung = false
                for _, t in ipairs(inflight) do if now - t >= probeTimeout then hung = true end end
                if hung then openAt(now); result = openMs
                elseif issued < probes then issued = issued + 1; inflight[#inflight + 1] = now; result = -1
                else result = probeTimeout end
            end
        elseif op == 'record' then
            local success, probe = ARGV[9] == '1', ARGV[10] == '1'
            if state == 'half_open' and probe then
                if #inflight > 0 then table.remove(inflight) end
                if not success then openAt(now) else
                    successes = successes + 1
                    if successes >= probes then close() end
                end
            elseif state == 'closed' then
                outcomes = outcomes .. (success and '0' or '1')
                if #outcomes > window then outcomes = string.sub(outcomes, #outcomes - window + 1) end
                local failures = select(2, string.gsub(outcomes, '1', ''))
                if #outcomes >= minCalls and failures * 100 >= pct * #outcomes then openAt(now) end
            end
        elseif op == 'open' then openAt(now)
        elseif op == 'close' then close()
        end
        if op ~= 'read' then
            redis.call('HSET', key, 'state', state, 'outcomes', outcomes, 'opened_at', openedAt, 'issued', issued,
                'successes', successes, 'inflight', table.concat(inflight, ','))
        end
        return {result, state, outcomes, openedAt}
        """)

    public init(redis: RedisClient, namespace: Namespace = Namespace(), numbers: BreakerMachine.Numbers = .init()) {
        self.redis = redis.selecting(database: Namespace.DB.breakers)
        ns = namespace
        self.numbers = numbers
    }

    package func arguments(_ op: String, _ now: Int64?, _ extra: [any RedisArgument] = []) -> [any RedisArgument] {
        let n = numbers
        return [op, now ?? 0, n.window, n.minimumCalls, n.failurePercent, n.openMillis, n.probes, n.probeTimeoutMillis] + extra
    }

    private func run(_ service: String, _ op: String, _ now: Int64?, _ extra: [any RedisArgument] = []) throws -> [RedisValue] {
        try redis.evaluate(Self.script, keys: [ns.breakerKey(service)], args: arguments(op, now, extra)).array ?? []
    }

    public func acquire(_ service: String, nowMillis: Int64?) throws -> BreakerPermit {
        let r = try run(service, "acquire", nowMillis).first?.int ?? 0
        if r == 0 { return .allowed(probe: false) }
        if r < 0 { return .allowed(probe: true) }
        return .rejected(retryAfterMillis: Int(r))
    }

    public func record(_ service: String, success: Bool, probe: Bool, nowMillis: Int64?) throws {
        _ = try run(service, "record", nowMillis, [success ? 1 : 0, probe ? 1 : 0])
    }

    /// A success as a script call, for a follow-up pipeline (on NOSCRIPT, `record` loads the script).
    package func successCommand(_ service: String, probe: Bool) -> (database: Int, command: [any RedisArgument]) {
        (redis.configuration.database, ["EVALSHA", Self.script.sha1, 1, ns.breakerKey(service)] + arguments("record", nil, [1, probe ? 1 : 0]))
    }

    public func force(_ service: String, open: Bool, nowMillis: Int64?) throws {
        _ = try run(service, open ? "open" : "close", nowMillis)
    }

    public func states(nowMillis: Int64?) throws -> [BreakerInfo] {
        try BackendService.allCases.map { s in
            let r = try run(s.rawValue, "read", nowMillis)
            let state = BreakerState(rawValue: r.dropFirst().first?.string ?? "closed") ?? .closed
            let outcomes = r.dropFirst(2).first?.string ?? ""
            let openedAt = r.dropFirst(3).first?.int ?? 0
            return BreakerInfo(
                service: s.rawValue, state: state, failures: outcomes.filter { $0 == "1" }.count, calls: outcomes.count,
                openedAt: state == .closed ? nil : Date(timeIntervalSince1970: Double(openedAt) / 1_000))
        }
    }
}

/// The follow-ups of a success in one pipeline on one connection: each part's commands after a
/// SELECT of its database (DB2 idempotency, DB4 breaker, DB1 cache, DB5 events), then back to the
/// connection's own database. The scripts go by SHA; a part the server answers NOSCRIPT for is sent
/// again through its store, which loads the script. The durable idempotency copy, when the effect
/// did not write it, goes to PostgreSQL afterwards.
public final class RedisFollowUps: FollowUpWriter {
    private let redis: RedisClient
    private let idempotency: RedisIdempotencyStore
    private let breakers: RedisBreakerStore
    private let cache: RedisSnapshotCache
    private let bus: RedisEventBus

    public init(redis: RedisClient, idempotency: RedisIdempotencyStore, breakers: RedisBreakerStore, cache: RedisSnapshotCache, bus: RedisEventBus) {
        self.redis = redis
        self.idempotency = idempotency
        self.breakers = breakers
        self.cache = cache
        self.bus = bus
    }

    public func write(_ f: FollowUps) -> [String] {
        var warnings: [String] = []
        var parts: [(part: FollowUps.Part, database: Int, commands: [[any RedisArgument]])] = []
        // The executor's writes on this Redis go first in the pipeline; any other runs on its own.
        var writes: [RedisDeferredWrite] = []
        let server = redis.configuration.selecting(database: 0)
        for w in f.writes {
            if let r = w as? RedisDeferredWrite, r.redis.configuration.selecting(database: 0) == server {
                writes.append(r)
            } else {
                do { try w.run() } catch { warnings.append(FollowUps.warning(w, error)) }
            }
        }
        if let c = f.idempotency {
            let (db, command) = idempotency.completionCommand(c)
            parts.append((.idempotency, db, [command]))
        }
        if let b = f.breaker {
            let (db, command) = breakers.successCommand(b.service, probe: b.probe)
            parts.append((.breaker, db, [command]))
        }
        if f.invalidateCache {
            let (db, command) = cache.invalidateCommand
            parts.append((.cache, db, [command]))
        }
        if !f.events.isEmpty {
            do {
                let (db, commands) = try bus.publishCommands(f.events)
                parts.append((.events, db, commands))
            } catch { warnings.append(FollowUps.Part.events.warning(error)) }
        }
        enum Owner: Hashable {
            case select
            case write(Int)
            case part(FollowUps.Part)
        }
        let home = redis.configuration.database
        var commands: [[any RedisArgument]] = []
        var owners: [Owner] = []
        var current = home
        let batches =
            writes.enumerated().map { (Owner.write($0.offset), $0.element.database, $0.element.commands) }
            + parts.map { (Owner.part($0.part), $0.database, $0.commands) }
        for (owner, database, batch) in batches {
            if database != current {
                commands.append(["SELECT", database])
                owners.append(.select)
                current = database
            }
            commands += batch
            owners += Array(repeating: owner, count: batch.count)
        }
        if current != home {
            commands.append(["SELECT", home])
            owners.append(.select)
        }
        var failed: [Owner: any Error] = [:]
        var unloaded: Set<FollowUps.Part> = []
        do {
            for (reply, owner) in zip(try redis.pipeline(commands), owners) {
                guard case .error(let message) = reply else {
                    // Another publisher took the numbers this batch was signed with (D66): again, renumbered.
                    if owner == .part(.events), !bus.published(reply) { unloaded.insert(.events) }
                    continue
                }
                let error = RedisError.fromReply(message)
                if case .noScript = error, case .part(let part) = owner {
                    unloaded.insert(part)
                    continue
                }
                // A SELECT refused would have sent what followed to the wrong database: all of it counts as failed.
                guard owner != .select else {
                    batches.forEach { failed[$0.0] = failed[$0.0] ?? error }
                    continue
                }
                failed[owner] = failed[owner] ?? error
            }
        } catch {
            batches.forEach { failed[$0.0] = error }
        }
        for (i, w) in writes.enumerated() { if let error = failed[.write(i)] { warnings.append(FollowUps.warning(w, error)) } }
        // The server lost its scripts (restart, SCRIPT FLUSH): those parts again, one by one, which reloads them.
        if unloaded.contains(.breaker), let b = f.breaker { try? breakers.record(b.service, success: true, probe: b.probe, nowMillis: nil) }
        if unloaded.contains(.events) {
            do { try bus.publish(batch: f.events) } catch { failed[.part(.events)] = error }
        }
        // As before the follow-ups were batched: a breaker success that was not recorded is no warning.
        for p in parts where p.part != .breaker {
            if let error = failed[.part(p.part)] { warnings.append(p.part.warning(error)) }
        }
        if let c = f.idempotency, !c.durableStored {
            do { try idempotency.storeDurable(c) } catch { warnings.append(FollowUps.Part.idempotency.warning(error)) }
        }
        return warnings
    }
}

/// Redis commands an executor leaves to the follow-ups, on one database: sent in their pipeline by
/// `RedisFollowUps`, alone by `run` (D87).
struct RedisDeferredWrite: DeferredWrite {
    let redis: RedisClient
    let database: Int
    let commands: [[any RedisArgument]]
    let what: String

    func run() throws {
        for reply in try redis.selecting(database: database).pipeline(commands) {
            if case .error(let e) = reply { throw RedisError.fromReply(e) }
        }
    }
}
