import AgentOSCore
import Synchronization

/// Who PostgreSQL says the console is (D71). An operator's own login, a member of one of the five
/// group roles, is *enforced*: the server decides what it may do, the console's RBAC mirrors it,
/// and the audit names the login. Any other login (the shared login of demos and the embedded
/// default's live twin, `agentos sim`, a superuser) is *shared*: the console's RBAC is advisory.
public struct ServerIdentity: Sendable, Equatable {
    /// `session_user`.
    public let login: String
    /// The group role the server reports; nil for a shared login.
    public let role: Role?
    /// The database has the enforcing API (migration 12): actions open themselves in the server.
    public let gated: Bool

    public init(login: String, role: Role?, gated: Bool) {
        self.login = login
        self.role = role
        self.gated = gated
    }

    public var enforced: Bool { role != nil && gated }

    /// The status line's words for it.
    public var statusText: String {
        guard let role, gated else { return "RBAC advisory (shared login \(login))" }
        return "\(login) · \(role.rawValue) (server)"
    }

    /// The warning a console prints at start on a shared login.
    public var sharedWarning: String? {
        enforced
            ? nil
            : "warning: PostgreSQL login \(login) is a shared login: RBAC is advisory (decided in this process, not by the server). "
                + "Give each operator a login of their own: agentos operator grant USER ROLE"
    }

    /// Asks the server (one round trip).
    public static func read(_ db: PostgresClient) throws -> ServerIdentity {
        let row = try db.query(
            """
            SELECT session_user::text AS login, to_regprocedure('agentos_api.my_role()') IS NOT NULL AS gated
            """
        ).rows[0]
        let login: String = try row.get("login")
        let gated: Bool = try row.get("gated")
        guard gated else { return ServerIdentity(login: login, role: nil, gated: false) }
        let role = try db.query("SELECT agentos_api.my_role() AS role").rows[0].get("role", as: String?.self)
        return ServerIdentity(login: login, role: role.flatMap(Role.init(rawValue:)), gated: true)
    }

    /// `can-i` on an enforced login: the server's decision for each action (`agentos_api.can_i`).
    public static func decisions(_ db: PostgresClient, _ actions: [String]) throws -> [String: PolicyDecision] {
        var out: [String: PolicyDecision] = [:]
        for row in try db.query("SELECT a, agentos_api.can_i(a) AS answer FROM unnest($1::text[]) AS a", [PostgresValue.textArray(actions)]) {
            let answer: String = try row.get("answer")
            out[try row.get("a")] =
                switch answer {
                case "allow": .allow
                case "own": .allowOwn
                default: .deny(answer.hasPrefix("deny: ") ? String(answer.dropFirst(6)) : answer)
                }
        }
        return out
    }

    /// The actor an action runs as: on an enforced login the server's name for it, which the
    /// audit rows must carry (`open_action` finds no intent under another name). `--as` stays
    /// recorded as acting_as; the role is the login's.
    public func actor(_ actor: Actor) -> Actor {
        guard enforced else { return actor }
        var a = actor
        a.user = login
        return a
    }
}

/// The identity, asked of the server when first needed and kept once it answered: a console
/// started while PostgreSQL is down still starts (its actions are refused as audit-unavailable)
/// and learns who it is when PostgreSQL is back.
public final class ServerIdentityResolver: Sendable {
    let db: PostgresClient
    private let known = Mutex<ServerIdentity?>(nil)

    public init(postgres: PostgresClient) { db = postgres }

    /// nil while the server cannot be asked.
    public var current: ServerIdentity? {
        if let id = known.withLock({ $0 }) { return id }
        guard let id = try? ServerIdentity.read(db) else { return nil }
        known.withLock { $0 = id }
        return id
    }

    /// The actor as the server knows it (unchanged on a shared login or while the server is away).
    public func actor(_ actor: Actor) -> Actor { current?.actor(actor) ?? actor }
}

/// On an enforced login, the role is the server's: the permissions of the login's group, and no
/// extra permissions (`user_permissions` is the shared login's table). On a shared login, `shared`.
public struct ServerPermissionSource: PermissionSource {
    let resolver: ServerIdentityResolver
    let shared: PermissionSource
    public init(resolver: ServerIdentityResolver, shared: PermissionSource) {
        self.resolver = resolver
        self.shared = shared
    }

    public func grant(for user: String) throws -> Grant? {
        guard let identity = resolver.current, identity.enforced else { return try shared.grant(for: user) }
        guard user == identity.login, let role = identity.role else { return nil }
        return Grant(role: role)
    }
}
