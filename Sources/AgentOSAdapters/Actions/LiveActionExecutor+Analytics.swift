import AgentOSCore
import Foundation

/// Analytics (4): the per-minute series of `stats_minutely` as CSV or JSON, a readable report,
/// and the counters' reset.
extension LiveActionExecutor {
    static let analyticsHandlers: [ActionName: Handler] = [
        .analyticsExportCSV: { c in
            let window = c.p.int("window") ?? 60
            let series = try StatsRow.series(c.db.reads, window: window)
            let body = StatsRow.csv(series)
            return try c.analyticsFile(body, ext: "csv", rows: series.count, window: window)
        },
        .analyticsExportJSON: { c in
            let window = c.p.int("window") ?? 60
            let series = try StatsRow.series(c.db.reads, window: window)
            let body = StatsRow.json(series, window: window)
            return try c.analyticsFile(body, ext: "json", rows: series.count, window: window)
        },
        .analyticsReport: { c in
            let window = c.p.int("window") ?? 60
            let series = try StatsRow.series(c.db.reads, window: window)
            let errors = try c.db.reads.query(
                """
                SELECT coalesce(nullif(error_class, ''), '(unclassified)') AS class, count(*)::bigint AS n FROM jobs
                WHERE status = 'failed' AND coalesce(finished_at, updated_at) > now() - make_interval(mins => $1::int)
                GROUP BY 1 ORDER BY n DESC, class LIMIT 10
                """, [window]
            ).rows.map { (name: try $0.get("class", as: String.self), count: try $0.get("n", as: Int.self)) }
            let body = StatsRow.report(series, errors: errors, window: window, by: c.user)
            let url = try ActionFiles.create(in: c.directory("io/reports"), "report", ext: "md", Data(body.utf8))
            return ActionResult("wrote the report of the last \(window) minute(s) to \(url.path)", affected: 1, details: ["path": .string(url.path)])
        },
        .analyticsResetCounters: { c in
            let r = try c.commit { tx in
                let n = try tx.query("DELETE FROM stats_minutely").affectedRows
                let w = try tx.query("UPDATE workers SET processed = 0, failed = 0 WHERE processed <> 0 OR failed <> 0").affectedRows
                return ActionResult(
                    "analytics counters reset: \(n) per-minute row(s) deleted, counters of \(w) worker(s) zeroed", affected: n,
                    details: ["workers": .int(w)])
            }
            try c.control(.action(.analyticsResetCounters), "system")
            return r
        }
    ]
}

extension LiveActionContext {
    func analyticsFile(_ body: String, ext: String, rows: Int, window: Int) throws -> ActionResult {
        let url = try ActionFiles.create(in: directory("io/exports"), "analytics", ext: ext, Data(body.utf8))
        return StatsRow.exported(to: url, rows: rows, window: window)
    }
}

extension StatsRow {
    /// The last `window` minutes, oldest first.
    static func series(_ db: PostgresClient, window: Int) throws -> [StatsRow] {
        try db.query(
            """
            SELECT minute, stage, completed, failed, retried, p50_ms, p95_ms FROM stats_minutely
            WHERE minute > now() - make_interval(mins => $1::int) ORDER BY minute, stage
            """, [window]
        ).rows.map {
            StatsRow(
                minute: try $0.get("minute"), stage: try $0.get("stage"), completed: try $0.get("completed"), failed: try $0.get("failed"),
                retried: try $0.get("retried"), p50: try $0.get("p50_ms"), p95: try $0.get("p95_ms"))
        }
    }
}
