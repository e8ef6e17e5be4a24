import AgentOSCore
import AgentOSCrypto
import Foundation

/// `agentos operator grant|revoke|list|reapply` (D71): an operator's PostgreSQL login, member of exactly
/// one group role, and a Redis ACL user of the same name with the role's keys, channels and commands (D83). Each change
/// is audited (intent, then outcome) under the name of whoever provisions. No secret is printed:
/// PostgreSQL gets a SCRAM verifier computed here, Redis the SHA-256 of the password.
public struct OperatorAdmin {
    public let postgres: PostgresClient
    public let redis: RedisClient
    public let audit: PostgresAuditLog
    public let actor: Actor
    /// The deployment's key and channel names: the Redis rules name its keys (D83).
    public let namespace: Namespace

    public init(postgres: PostgresClient, redis: RedisClient, actor: Actor, namespace: Namespace = Namespace()) {
        self.postgres = postgres
        self.redis = redis
        self.audit = PostgresAuditLog(postgres: postgres)
        self.actor = actor
        self.namespace = namespace
    }

    public struct Entry: Sendable, Equatable, Codable {
        public let login: String
        public let role: String?
        public let canLogin: Bool
        public let grantedBy: String
        public let grantedAt: Date
        public let revokedAt: Date?
    }

    /// What a role's Redis ACL user may do (D83), enforced by Redis: every role reads every key
    /// (the views read the snapshot, the queues' lists, the sessions, the breakers, kombu's keys)
    /// and subscribes to any channel; what it may WRITE and PUBLISH is its table below. Redis ACLs
    /// do not see database numbers, only key names, so each rule is a key pattern.
    public struct RedisAccess: Sendable, Equatable {
        /// Key patterns the role may write (and read); every other key is read-only to it.
        public var keys: [String]
        /// Channel patterns the role may PUBLISH to.
        public var channels: [String]

        static func union(_ parts: RedisAccess...) -> RedisAccess {
            RedisAccess(keys: parts.flatMap(\.keys), channels: parts.flatMap(\.channels))
        }
    }

    /// The role's writes, a table per role. `queues` are the deployment's queues (the pipeline's
    /// stages and the `queues` table): their kombu lists are the only lists the job actions push
    /// to or remove from. Keys that carry a login (rate windows, idempotency claims, console
    /// sessions) are held to `login`'s own, so an operator cannot wipe another's window or claim,
    /// or forge, renew or delete another's session row.
    public static func redisAccess(_ role: Role, login: String, namespace ns: Namespace, queues: [String]) -> RedisAccess {
        let p = RedisGlob.escaped(ns.prefix)
        let me = RedisGlob.escaped(login)
        // Every writing console, whatever it runs.
        let console = RedisAccess(
            keys: [
                p + ":admin:dashboard:v4*", // the SSOT cache: rebuilt on a miss, warmed, invalidated after each action (lock, generation, stats)
                p + ":events:seq", // the bus's publish script numbers the events it sends
                p + ":session:" + me + ":*", // the session rows of this login's consoles (D91; ending one, the tombstone, is admin's)
                p + ":cb:*", // the breakers: every action acquires one and records its outcome
                p + ":rl:" + me + ":*", // the rate windows of this login only
                p + ":rl:ip:*", // the per-source-IP windows (shared by every login from that address)
                p + ":idem:" + me + ":*", // the idempotency claims of this login only
                "*_agentos.celery.view" // a console's Celery monitor shares its view of the fleet
            ],
            channels: [RedisGlob.escaped(ns.eventsChannel)]) // the events of each action and of the cache
        // job.cancel and job.retry (user: own jobs; supervisor and operator: any): the message
        // copy and the queue's lists (LREM / LPUSH), then the fleet is told on the control channel.
        let jobs = RedisAccess(
            keys: [p + ":broker:message:*"]
                + Set(queues).sorted().flatMap { ns.brokerListKeys(queue: $0).map { RedisGlob.escaped(String(decoding: $0, as: UTF8.self)) } },
            channels: [RedisGlob.escaped(ns.controlChannel)])
        // Celery control (supervisor: job.cancel of a Celery task is a revoke; operator: the worker
        // and queue actions): kombu's reply binding and reply lists, and the pidbox channel, under
        // any `global_keyprefix` and broker database (the grant does not know the transport's options).
        let celery = RedisAccess(keys: ["*.reply.celery.pidbox*"], channels: ["*celery.pidbox"])
        // worker.ping waits for the simulated worker's pong (BLPOP pops it).
        let ping = RedisAccess(keys: [p + ":control:reply:*"], channels: [])
        switch role {
        case .readonly, .admin: return RedisAccess(keys: [], channels: []) // no writes at all / everything (see redisRules)
        case .user: return .union(console, jobs)
        case .supervisor: return .union(console, jobs, celery)
        case .operator: return .union(console, jobs, celery, ping)
        }
    }

    /// The Redis ACL rules of a role, applied after the user's permissions were cleared. Readonly
    /// gets no write command and cannot publish; it may run scripts (the console's bounded reads
    /// are scripts), which Redis holds to the same rules, so a script's write is refused too. Admin
    /// gets everything (it provisions ACL users). The others: every command but Redis
    /// administration, the commands that wipe or block a server and those that drop every script;
    /// every key readable (`%R~*`) and only `redisAccess`'s keys writable; PUBLISH only in a
    /// selector naming `redisAccess`'s channels (SUBSCRIBE stays open: channel rules cover both).
    public static func redisRules(_ role: Role, login: String, namespace: Namespace, queues: [String]) -> [String] {
        switch role {
        case .readonly:
            return [
                // @connection holds CLIENT KILL and PAUSE: the admin and dangerous ones go again.
                "~*", "&*", "-@all", "+@read", "+@connection", "-@admin", "-@dangerous", "+subscribe", "+psubscribe", "+unsubscribe", "+punsubscribe",
                "+info", "+client|setname", "+client|id", "+client|info", "+eval", "+evalsha", "+eval_ro", "+evalsha_ro",
                "+script|load", "+script|exists"
            ]
        case .user, .supervisor, .operator:
            let access = redisAccess(role, login: login, namespace: namespace, queues: queues)
            return ["%R~*"] + access.keys.map { "~" + $0 } + [
                "&*", "+@all", "-@admin", "-@dangerous", "-publish", "-spublish", "-script|flush", "-function",
                "+info", "+client|setname", "+client|id", "+client|info",
                "(+publish " + access.channels.map { "&" + $0 }.joined(separator: " ") + ")"
            ]
        case .admin:
            return ["~*", "&*", "+@all"]
        }
    }

    /// Creates or updates the login and the Redis user; `password` nil keeps the login's password
    /// (a new login without one can only use certificate authentication).
    @discardableResult
    public func grant(_ login: String, role: Role, password: String?) throws -> String {
        try audited("operator.grant", login, payload: ["role": .string(role.rawValue)]) {
            let outcome = try postgres.withConnection { c -> String in
                let verifier = try password.map { p throws(PostgresError) in try c.scramVerifier(password: p, user: login) }
                return try c.query("SELECT agentos_api.operator_grant($1, $2, $3) AS outcome", [login, role.rawValue, verifier as String?])
                    .rows[0].get("outcome")
            }
            try applyRedisRules(login, role: role, password: password, queues: try queues())
            return outcome
        }
    }

    /// Takes the role and the right to log in away; the Redis user is deleted (Redis closes its
    /// connections), so a running console's next action is refused by both servers.
    @discardableResult
    public func revoke(_ login: String) throws -> Bool {
        try audited("operator.revoke", login, payload: [:]) {
            let revoked = try postgres.query("SELECT agentos_api.operator_revoke($1) AS revoked", [login]).rows[0].get("revoked", as: Bool.self)
            _ = try redis.send("ACL", "DELUSER", login)
            return revoked
        }
    }

    /// The deployment's queues: the pipeline's stages and the `queues` table (job.move moves only
    /// into a queue listed there), whose kombu lists the job actions write.
    public func queues() throws -> [String] {
        let listed = try postgres.query("SELECT name FROM queues").rows.map { try $0.get("name", as: String.self) }
        return Set(Pipeline.stages.map(Pipeline.queue(for:)) + listed).sorted()
    }

    /// Sets the Redis user's rules to the role's (D83): its earlier keys, channels, commands and
    /// selectors cleared first, its password replaced only when one is given (`reset` would drop it).
    func applyRedisRules(_ login: String, role: Role, password: String?, queues: [String]) throws {
        var acl: [any RedisArgument] = ["ACL", "SETUSER", login, "on", "resetkeys", "resetchannels", "-@all", "clearselectors"]
        if let password { acl += ["resetpass", "#" + Hex.encode(Digest.sha256(password))] }
        acl += Self.redisRules(role, login: login, namespace: namespace, queues: queues) as [any RedisArgument]
        try Self.check(try redis.send(acl), "ACL SETUSER \(login)")
    }

    /// Applies the current rules to every operator who holds a role and whose Redis user exists
    /// (after an upgrade that changed the rules, or when queues were added): the grant that made
    /// them is not repeated, so nothing is audited and no password changes. Returns what was done
    /// per login; a login whose Redis user is missing is named, for a grant with a password.
    public func reapplyRedisRules() throws -> [(login: String, outcome: String)] {
        let queues = try queues()
        return try list().compactMap { e -> (String, String)? in
            guard let name = e.role, let role = Role(rawValue: name), e.canLogin else { return nil }
            guard try redis.send("ACL", "GETUSER", e.login).isNull == false else {
                return (e.login, "no Redis user: grant again with --password-file")
            }
            try applyRedisRules(e.login, role: role, password: nil, queues: queues)
            return (e.login, "rules of role \(name) applied")
        }
    }

    public func list() throws -> [Entry] {
        try postgres.query("SELECT * FROM agentos_api.operator_list()").rows.map { row in
            Entry(
                login: try row.get("login"), role: try row.get("role"), canLogin: try row.get("can_login"),
                grantedBy: try row.get("granted_by"), grantedAt: try row.get("granted_at"), revokedAt: try row.get("revoked_at"))
        }
    }

    static func check(_ reply: RedisValue, _ what: String) throws {
        if let message = reply.errorMessage { throw ConfigurationError("Redis \(what): \(message)") }
    }

    /// The intent row before the change, the outcome after (the audit's order, D71).
    private func audited<T>(_ action: String, _ target: String, payload: [String: PayloadValue], _ body: () throws -> T) throws -> T {
        let requestID = UUID()
        func draft(_ phase: AuditDraft.Phase, _ outcome: String?, result: [String: PayloadValue]?) -> AuditDraft {
            AuditDraft(
                id: UUID(), timestamp: Date(), user: actor.user, actingAs: nil, role: "admin", action: action, phase: phase,
                outcome: outcome, requestID: requestID, idempotencyKey: nil, sessionID: actor.sessionID, target: target, reason: nil,
                payload: CanonicalJSON.object(payload), result: result.map(CanonicalJSON.object), ip: actor.ip, userAgent: actor.userAgent,
                durationMs: nil)
        }
        _ = try audit.append(draft(.intent, nil, result: nil))
        do {
            let value = try body()
            _ = try audit.append(draft(.outcome, "success", result: ["message": .string("\(value)")]))
            return value
        } catch {
            _ = try? audit.append(draft(.outcome, "failure", result: ["error": .string(String(describing: error))]))
            throw error
        }
    }
}
