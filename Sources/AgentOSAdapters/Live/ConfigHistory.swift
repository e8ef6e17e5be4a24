import AgentOSCore
import Foundation

/// The versions of a configuration entry from `config_history`, newest first (the console's
/// drill-down shows them with what changed).
public enum ConfigHistory {
    public static func load(_ db: PostgresClient, key: String, limit: Int = 50) throws -> [ConfigChange] {
        try db.query(
            """
            SELECT version, old_value::text AS old_value, new_value::text AS new_value, changed_by, changed_at, reason
            FROM config_history WHERE key = $1 ORDER BY version DESC LIMIT $2
            """, [key, limit]
        ).rows.map { row in
            ConfigChange(
                version: try row.get("version"), oldValue: try row.get("old_value"), newValue: try row.get("new_value"),
                changedBy: try row.get("changed_by"), changedAt: try row.get("changed_at"), reason: try row.get("reason"))
        }
    }
}
