import AgentOSCore
import Foundation

/// System Logs (10): exports and archives of `logs`, per-service levels, mutes, alert rules and
/// bookmarks (migration 5's tables), acknowledgements.
extension LiveActionExecutor {
    static let logHandlers: [ActionName: Handler] = [
        .logsExport: { c in
            let format = c.p.string("format") ?? "jsonl"
            let lines = try c.db.reads.query(
                """
                SELECT \(LogRecord.columns) FROM logs
                WHERE level = ANY($1::text[]) AND ($2::text IS NULL OR source = $2)
                  AND ($3::text IS NULL OR strpos(lower(message), lower($3)) > 0)
                ORDER BY ts DESC, id DESC LIMIT $4
                """,
                [
                    PostgresValue.textArray(LogRecord.levels(atLeast: c.p.string("level"))), c.p.string("source"), c.p.string("search"),
                    c.p.int("limit") ?? 10_000
                ]
            ).rows.map(LogRecord.init)
            let body = format == "csv" ? LogRecord.csv(lines) : LogRecord.jsonl(lines, sanitized: true)
            let url = try ActionFiles.create(in: c.directory("io/exports"), "logs", ext: format == "csv" ? "csv" : "jsonl", Data(body.utf8))
            return ActionResult(
                "exported \(lines.count) log line(s) to \(url.path)", affected: lines.count,
                details: ["path": .string(url.path), "format": .string(format)])
        },
        .logsSetLevel: { c in
            let service = try c.string("service")
            let level = try c.string("level")
            let r = try c.commit { tx in
                let was = try tx.query("SELECT level FROM service_log_levels WHERE service = $1 FOR UPDATE", [service]).rows.first?.get(
                    "level", as: String.self)
                try tx.query(
                    """
                    INSERT INTO service_log_levels (service, level, updated_by) VALUES ($1, $2, $3)
                    ON CONFLICT (service) DO UPDATE SET level = EXCLUDED.level, updated_by = EXCLUDED.updated_by, updated_at = now()
                    """, [service, level, c.user])
                return ActionResult("service \(service): log level \(was ?? "default") → \(level)", details: ["level": .string(level)])
            }
            try c.control(.action(.logsSetLevel), service, extra: ["level": .string(level)])
            return r
        },
        .logsArchive: { c in
            let days = try c.int("days")
            let dir = try c.directory("io/archive")
            var archive: URL?
            do {
                return try c.commit { tx in
                    let lines = try tx.query(
                        """
                        SELECT \(LogRecord.columns) FROM logs WHERE ts < now() - make_interval(days => $1::int) ORDER BY ts, id FOR UPDATE
                        """, [days]
                    ).rows.map(LogRecord.init)
                    try c.p.withinConfirmed(lines.count)
                    let plain = try ActionFiles.create(
                        in: dir, "logs", ext: "jsonl", Data(LogRecord.jsonl(lines, sanitized: false).utf8), keepFree: ".gz")
                    let url = try ActionFiles.gzip(plain)
                    archive = url
                    let n = try tx.query(
                        "DELETE FROM logs WHERE id = ANY($1::text[]::bigint[])",
                        [PostgresValue.textArray(lines.map { String($0.id) })]
                    ).affectedRows
                    return ActionResult(
                        "archived \(n) log line(s) older than \(days) day(s) to \(url.path)", affected: n,
                        details: ["path": .string(url.path)])
                }
            } catch {
                if let archive { try? FileManager.default.removeItem(at: archive) }
                throw error
            }
        },
        .logsPurge: { c in
            let days = try c.int("days")
            return try c.commit { tx in
                let n = try tx.query("DELETE FROM logs WHERE ts < now() - make_interval(days => $1::int)", [days]).affectedRows
                try c.p.withinConfirmed(n)
                return ActionResult("purged \(n) log line(s) older than \(days) day(s)", affected: n)
            }
        },
        .logsMuteSource: { c in
            let source = try c.string("source")
            let r = try c.commit { tx in
                guard
                    try tx.query(
                        "INSERT INTO log_mutes (source, muted_by) VALUES ($1, $2) ON CONFLICT (source) DO NOTHING RETURNING source",
                        [source, c.user]
                    ).rows.first != nil
                else { throw ActionFailure.conflict("log source \(source) is already muted") }
                return ActionResult("log source \(source) muted")
            }
            try c.control(.action(.logsMuteSource), source)
            return r
        },
        .logsUnmuteSource: { c in
            let source = try c.string("source")
            let r = try c.commit { tx in
                guard try tx.query("DELETE FROM log_mutes WHERE source = $1 RETURNING source", [source]).rows.first != nil else {
                    throw ActionFailure.conflict("log source \(source) is not muted")
                }
                return ActionResult("log source \(source) unmuted")
            }
            try c.control(.action(.logsUnmuteSource), source)
            return r
        },
        .logsAckErrors: { c in
            let source = c.p.string("source")
            return try c.commit { tx in
                let n = try tx.query(
                    """
                    UPDATE logs SET acked = true WHERE level IN ('error','critical') AND NOT acked AND ($1::text IS NULL OR source = $1)
                    """, [source]
                ).affectedRows
                return ActionResult("acknowledged \(n) error line(s)\(source.map { " of \($0)" } ?? "")", affected: n)
            }
        },
        .logsAlertRuleAdd: { c in
            let pattern = try c.string("pattern")
            let level = c.p.string("level") ?? "error"
            let severity = c.p.string("severity") ?? "warning"
            try c.checkRegex(pattern)
            var id = 0
            let r = try c.commit { tx in
                if let same = try tx.query(
                    "SELECT id FROM log_alert_rules WHERE pattern = $1 AND level = $2 AND severity = $3",
                    [pattern, level, severity]
                ).rows.first {
                    throw ActionFailure.conflict("an identical alert rule exists (#\(try same.get("id", as: Int.self)))")
                }
                id = try tx.query(
                    """
                    INSERT INTO log_alert_rules (pattern, level, severity, created_by) VALUES ($1, $2, $3, $4) RETURNING id
                    """, [pattern, level, severity, c.user]
                ).rows[0].get("id")
                return ActionResult(
                    "alert rule #\(id): \(level)+ lines matching /\(TextSanitizer.clean(pattern))/ raise a \(severity) alert",
                    details: ["id": .int(id)])
            }
            // The log services evaluate the rule on their new lines.
            try c.control(
                .action(.logsAlertRuleAdd), String(id), extra: ["pattern": .string(pattern), "level": .string(level), "severity": .string(severity)])
            return r
        },
        .logsAlertRuleRemove: { c in
            let id = try c.int("id")
            let r = try c.commit { tx in
                guard let row = try tx.query("DELETE FROM log_alert_rules WHERE id = $1 RETURNING pattern", [id]).rows.first else {
                    throw ActionFailure.notFound("alert rule \(id)")
                }
                return ActionResult("alert rule #\(id) (/\(TextSanitizer.clean(try row.get("pattern", as: String.self)))/) removed")
            }
            try c.control(.action(.logsAlertRuleRemove), String(id))
            return r
        },
        .logsBookmark: { c in
            let logID = try c.int("id")
            let note = try c.string("note")
            return try c.commit { tx in
                guard try tx.query("SELECT 1 FROM logs WHERE id = $1", [logID]).rows.first != nil else {
                    throw ActionFailure.notFound("log line \(logID)")
                }
                let id: Int = try tx.query(
                    "INSERT INTO log_bookmarks (log_id, note, created_by) VALUES ($1, $2, $3) RETURNING id",
                    [logID, note, c.user]
                ).rows[0].get("id")
                return ActionResult("bookmark #\(id) on log line \(logID)", details: ["id": .int(id)])
            }
        }
    ]
}

extension LiveActionContext {
    /// A log alert pattern must compile both here and in PostgreSQL (`~`).
    func checkRegex(_ pattern: String) throws {
        do { _ = try NSRegularExpression(pattern: pattern) } catch {
            throw ActionFailure.invalid(field: "pattern", "'\(TextSanitizer.clean(String(pattern.prefix(60))))' is not a valid regular expression")
        }
        do { _ = try db.query("SELECT '' ~ $1 AS m", [pattern]) } catch let e as PostgresError where e.sqlState == "2201B" {
            throw ActionFailure.invalid(field: "pattern", "PostgreSQL rejects the regular expression: \(TextSanitizer.clean(e.message))")
        }
    }
}

extension LogRecord {
    static let columns = "id, ts, level, source, message, job_id::text AS job_id, worker_id, context::text AS context, acked"

    init(_ row: PostgresRow) throws {
        self.init(
            id: try row.get("id"), ts: try row.get("ts"), level: try row.get("level"), source: try row.get("source"),
            message: try row.get("message"), jobID: try row.get("job_id"), workerID: try row.get("worker_id"),
            context: try row.get("context"), acked: try row.get("acked"))
    }
}
