import AgentOSCore
import AgentOSCrypto
import Foundation

/// `agentos operator grant|revoke|list` (D71): an operator's PostgreSQL login, member of exactly
/// one group role, and a Redis ACL user of the same name with the role's commands. Each change
/// is audited (intent, then outcome) under the name of whoever provisions. No secret is printed:
/// PostgreSQL gets a SCRAM verifier computed here, Redis the SHA-256 of the password.
public struct OperatorAdmin {
    public let postgres: PostgresClient
    public let redis: RedisClient
    public let audit: PostgresAuditLog
    public let actor: Actor

    public init(postgres: PostgresClient, redis: RedisClient, actor: Actor) {
        self.postgres = postgres
        self.redis = redis
        self.audit = PostgresAuditLog(postgres: postgres)
        self.actor = actor
    }

    public struct Entry: Sendable, Equatable, Codable {
        public let login: String
        public let role: String?
        public let canLogin: Bool
        public let grantedBy: String
        public let grantedAt: Date
        public let revokedAt: Date?
    }

    /// The Redis ACL rules of a role, after `reset on #<hash>`. Readonly gets no write command and
    /// cannot publish; it may run scripts (the console's bounded reads are scripts), which Redis
    /// holds to the same rules, so a script's write is refused too. Admin gets everything (it
    /// provisions ACL users); the others everything but Redis administration and the commands that
    /// wipe or block a server.
    public static func redisRules(_ role: Role) -> [String] {
        switch role {
        case .readonly:
            return [
                "~*", "&*", "-@all", "+@read", "+@connection", "+subscribe", "+psubscribe", "+unsubscribe", "+punsubscribe",
                "+info", "+client|setname", "+client|id", "+client|info", "+eval", "+evalsha", "+eval_ro", "+evalsha_ro",
                "+script|load", "+script|exists"
            ]
        case .user, .supervisor, .operator:
            return ["~*", "&*", "+@all", "-@admin", "-@dangerous", "+info", "+client|setname", "+client|id", "+client|info", "+client|kill"]
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
            var acl: [any RedisArgument] = ["ACL", "SETUSER", login, "reset", "on"]
            if let password { acl.append("#" + Hex.encode(Digest.sha256(password))) }
            acl += Self.redisRules(role) as [any RedisArgument]
            try Self.check(try redis.send(acl), "ACL SETUSER \(login)")
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
