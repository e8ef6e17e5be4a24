import AgentOSCore
import Foundation

/// The rows a counted action touches, as one query definition: the dialog's count
/// (`impact`), the preview's list and the handler's own statement (where it is one table's
/// rows: `queue.clear`, `queue.purge_failed`, `queue.retry_failed`) are built from it, so they
/// cannot disagree.
struct LiveRowScope {
    let table: String
    /// The WHERE condition (parameters `$1…`).
    let filter: String
    let params: [any PostgresBindable]
    /// The listed value of each row and the order rows are listed in.
    let id: String
    let order: String

    var from: String { "FROM \(table) WHERE \(filter)" }
    var countSQL: String { "SELECT count(*) \(from)" }
    /// The count and the first `limit` rows (a JSON array of texts) in one statement: one snapshot.
    func listSQL(limit: Int) -> String {
        """
        SELECT (\(countSQL)) AS n,
               coalesce((SELECT json_agg(x)::text FROM (SELECT (\(id))::text AS x \(from) ORDER BY \(order) LIMIT \(limit)) listed), '[]') AS ids
        """
    }
}

extension LiveActionExecutor {
    /// The counted actions' rows, per action (nil: the action is not counted over rows in PostgreSQL).
    static func rowScope(_ action: ActionName, _ payload: Payload) -> LiveRowScope? {
        let q = payload.string("queue") ?? ""
        switch action {
        case .queueClear, .queuePause:
            return LiveRowScope(
                table: "jobs", filter: "queue = $1 AND (status = 'queued' OR (status = 'pending' AND eta IS NULL))", params: [q], id: "id",
                order: "created_at, id")
        case .queueRetryFailed:
            return LiveRowScope(
                table: "jobs", filter: "queue = $1 AND status = 'failed' AND ($2::text IS NULL OR error_class = $2)",
                params: [q, payload.string("error_class")], id: "id", order: "finished_at, id")
        case .queuePurgeFailed:
            return LiveRowScope(table: "jobs", filter: "queue = $1 AND status = 'failed'", params: [q], id: "id", order: "finished_at, id")
        case .workerRestartAll:
            return LiveRowScope(
                table: "workers", filter: "status NOT IN ('offline','stopped') AND ($1::text IS NULL OR stage = $1)",
                params: [payload.string("stage")], id: "id", order: "id")
        case .databasePurgeHistory:
            return LiveRowScope(
                table: "jobs", filter: "status IN ('completed','failed','cancelled') AND finished_at < now() - make_interval(days => $1::int)",
                params: [payload.int("days") ?? 0], id: "id", order: "finished_at, id")
        case .logsPurge, .logsArchive:
            return LiveRowScope(
                table: "logs", filter: "ts < now() - make_interval(days => $1::int)", params: [payload.int("days") ?? 0], id: "id", order: "ts, id")
        case .databaseKillIdle:
            return LiveRowScope(
                table: "pg_stat_activity",
                filter: """
                    state = 'idle in transaction' AND datname = current_database() AND backend_type = 'client backend'
                      AND state_change < now() - make_interval(mins => $1::int)
                    """, params: [payload.int("minutes") ?? 0], id: "pid", order: "state_change, pid")
        default:
            return nil
        }
    }

    /// The rows `action` touches, for its handler (every counted action has them).
    static func scope(_ action: ActionName, _ payload: Payload) throws -> LiveRowScope {
        guard let scope = rowScope(action, payload) else { throw ActionFailure.failed("\(action.rawValue) has no row definition") }
        return scope
    }

    /// Counted actions: their rows (the impact's own query); single-target actions: the target as
    /// it is now; the rest: what would change.
    public func preview(_ spec: ActionSpec, _ payload: Payload, limit: Int) throws(ActionFailure) -> ActionPreview {
        try Self.mapped { () throws -> ActionPreview in
            if let scope = Self.rowScope(spec.id, payload) {
                guard let row = try db.query(scope.listSQL(limit: limit), scope.params).rows.first else { throw ActionFailure.failed("no count") }
                let rows = try JSONDecoder().decode([String].self, from: Data(try row.get("ids", as: String.self).utf8))
                return .counted(spec, payload, count: try row.get("n", as: Int.self), rows: rows)
            }
            if spec.id == .systemIOCleanup {
                let files = try mediaOlderThan(days: payload.int("days") ?? 0).map(\.lastPathComponent).sorted()
                return .counted(spec, payload, count: files.count, rows: Array(files.prefix(limit)))
            }
            if let state = try targetState(spec, payload) { return .target(spec, payload, state: state) }
            return .unlisted(spec, payload)
        }.get()
    }

    /// "job 1f3a…: running", "worker w1: online, 2 running", "queue q: paused", "config k = 5"
    /// (nil: the target is not a row; throws `notFound` for a row that is not there).
    func targetState(_ spec: ActionSpec, _ payload: Payload) throws -> String? {
        guard let field = spec.targetField, let value = payload[field]?.description else { return nil }
        func one(_ sql: String, cast: String = "") throws -> String {
            guard let row = try db.query(sql, [value]).rows.first else { throw ActionFailure.notFound("\(spec.id.subject) \(value)") }
            return try row.get(0, as: String.self)
        }
        switch (spec.id.subject, field) {
        case ("job", "id"): return "job \(value): " + (try one("SELECT status FROM jobs WHERE id = $1::uuid"))
        case ("worker", "id"): return "worker \(value): " + (try one("SELECT status || ', ' || active || ' running' FROM workers WHERE id = $1"))
        case ("manager", "id"): return "manager \(value): " + (try one("SELECT status FROM managers WHERE id = $1"))
        case ("queue", "queue"):
            return "queue \(value): " + (try one("SELECT CASE WHEN paused THEN 'paused' ELSE 'active' END FROM queues WHERE name = $1"))
        case ("config", "key"):
            let shown = PIIScrubber.isSecretName(value) ? "(secret)" : try one("SELECT value::text FROM config WHERE key = $1")
            return "config \(value) = \(shown)"
        default: return nil
        }
    }
}
