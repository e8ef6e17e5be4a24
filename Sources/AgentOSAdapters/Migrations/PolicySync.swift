import AgentOSCore
import AgentOSCrypto

/// Writes the console's RBAC policy (role × action, `Policy.decide`) into
/// `agentos_private.role_actions`, where the server's `open_action` and `can_i` read it (D71).
/// Runs with the migrations, as the role that migrates; rewritten only when it changed.
public enum PolicySync {
    /// Every (role, action, own-only) the policy allows, in a stable order.
    public static var rows: [(role: String, action: String, ownOnly: Bool)] {
        Role.allCases.flatMap { role in
            ActionCatalog.all.compactMap { spec -> (String, String, Bool)? in
                switch Policy.decide(Grant(role: role), spec) {
                case .allow: return (role.rawValue, spec.id.rawValue, false)
                case .allowOwn: return (role.rawValue, spec.id.rawValue, true)
                case .deny: return nil
                }
            }
        }.sorted { ($0.role, $0.action) < ($1.role, $1.action) }
    }

    static var digest: String { Hex.encode(Digest.sha256(rows.map { "\($0.role) \($0.action) \($0.ownOnly)" }.joined(separator: "\n"))) }

    /// Rewrites the policy when the database's differs. A database without the schema (migration 12
    /// not applied) is left alone.
    public static func write(_ tx: PostgresConnection) throws {
        let present = try tx.query("SELECT to_regclass('agentos_private.role_actions') IS NOT NULL AS present")
        guard try present[0].get("present", as: Bool.self) else { return }
        let current = try tx.query("SELECT digest FROM agentos_private.policy_version").rows.first.map { try $0.get("digest", as: String.self) }
        guard current != digest else { return }
        let rows = Self.rows
        try tx.execute("DELETE FROM agentos_private.role_actions")
        try tx.query(
            """
            INSERT INTO agentos_private.role_actions (role, action, own_only)
            SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[])
            """,
            [
                PostgresValue.textArray(rows.map(\.role)), PostgresValue.textArray(rows.map(\.action)),
                PostgresValue.textArray(rows.map { String($0.ownOnly) })
            ])
        try tx.query(
            "INSERT INTO agentos_private.policy_version (digest) VALUES ($1) ON CONFLICT (singleton) DO UPDATE SET digest = $1, updated_at = now()",
            [digest])
    }
}
