import AgentOSCore
import Foundation

/// Analytics (4): the per-minute series of `stats_minutely` as CSV or JSON, a readable report,
/// and the counters' reset.
extension LiveActionExecutor {
    static let analyticsHandlers: [ActionName: Handler] = [
        .analyticsExportCSV: { c in
            let window = c.p.int("window") ?? 60
            let series = try StatsRow.series(c.db.reads, window: window)
            let totals = StatsRow.totals(series)
            var body = CSVText.row([
                "minute", "stage", "completed", "failed", "retried", "p50_ms", "p95_ms",
                "minute_completed", "minute_failed", "minute_retried"
            ])
            for s in series {
                let t = totals[s.minute]!
                body += CSVText.row([
                    ISOTime.format(s.minute, fractionDigits: 0), TextSanitizer.clean(s.stage), String(s.completed), String(s.failed),
                    String(s.retried), s.p50.map { ActionJSON.number($0) } ?? "", s.p95.map { ActionJSON.number($0) } ?? "",
                    String(t.completed), String(t.failed), String(t.retried)
                ])
            }
            return try c.analyticsFile(body, ext: "csv", rows: series.count, window: window)
        },
        .analyticsExportJSON: { c in
            let window = c.p.int("window") ?? 60
            let series = try StatsRow.series(c.db.reads, window: window)
            let totals = StatsRow.totals(series)
            let minute = { (d: Date) in CanonicalJSON.string(ISOTime.format(d, fractionDigits: 0)) }
            let rows = series.map {
                "    {\"minute\": \(minute($0.minute)), \"stage\": \(CanonicalJSON.string(TextSanitizer.clean($0.stage))), \"completed\": \($0.completed), "
                    + "\"failed\": \($0.failed), \"retried\": \($0.retried), \"p50_ms\": \(ActionJSON.number($0.p50)), \"p95_ms\": \(ActionJSON.number($0.p95))}"
            }
            let sums = totals.keys.sorted().map { m in
                let t = totals[m]!
                return "    {\"minute\": \(minute(m)), \"completed\": \(t.completed), \"failed\": \(t.failed), \"retried\": \(t.retried), "
                    + "\"success_rate\": \(ActionJSON.number(t.successRate))}"
            }
            let body = """
                {
                  "window_minutes": \(window),
                  "generated_at": \(CanonicalJSON.string(ISOTime.format(Date()))),
                  "series": [
                \(rows.joined(separator: ",\n"))
                  ],
                  "totals": [
                \(sums.joined(separator: ",\n"))
                  ]
                }

                """
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
        return ActionResult(
            "exported \(rows) per-minute row(s) of the last \(window) minute(s) to \(url.path)", affected: rows,
            details: ["path": .string(url.path)])
    }
}

/// One `stats_minutely` row.
struct StatsRow {
    var minute: Date
    var stage: String
    var completed: Int
    var failed: Int
    var retried: Int
    var p50: Double?
    var p95: Double?

    struct Totals {
        var completed = 0, failed = 0, retried = 0
        var successRate: Double? { completed + failed == 0 ? nil : Double(completed) / Double(completed + failed) }
    }

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

    static func totals(_ series: [StatsRow]) -> [Date: Totals] {
        var out: [Date: Totals] = [:]
        for s in series {
            out[s.minute, default: Totals()].completed += s.completed
            out[s.minute, default: Totals()].failed += s.failed
            out[s.minute, default: Totals()].retried += s.retried
        }
        return out
    }

    static func report(_ series: [StatsRow], errors: [(name: String, count: Int)], window: Int, by user: String) -> String {
        func cell(_ s: String) -> String { TextSanitizer.clean(s).replacingOccurrences(of: "|", with: "\\|") }
        func ms(_ d: Double?) -> String { d.map { String(format: "%.1f", $0) } ?? "–" }
        let all = series.reduce(into: Totals()) { t, s in
            t.completed += s.completed
            t.failed += s.failed
            t.retried += s.retried
        }
        let perMinute = totals(series)
        let busiest = perMinute.max { a, b in a.value.completed < b.value.completed || (a.value.completed == b.value.completed && a.key > b.key) }
        var out = """
            # AgentOS analytics report

            Window: the last \(window) minute(s), generated \(ISOTime.format(Date(), fractionDigits: 0)) by \(cell(user)).
            Source: `stats_minutely` (\(series.count) per-minute row(s) over \(perMinute.count) minute(s)) and failed `jobs`.

            ## Throughput

            - Completed: \(all.completed), failed: \(all.failed), retried: \(all.retried)
            - Throughput: \(String(format: "%.2f", Double(all.completed) / Double(max(1, window)))) completed jobs/min over the window
            - Success rate: \(all.successRate.map { String(format: "%.1f %%", $0 * 100) } ?? "n/a (nothing finished)")

            """
        if let busiest {
            out +=
                "- Busiest minute: \(ISOTime.format(busiest.key, fractionDigits: 0)) (\(busiest.value.completed) completed, \(busiest.value.failed) failed)\n"
        }
        out += "\n## Stages\n\n"
        let stages = Dictionary(grouping: series, by: \.stage)
        if stages.isEmpty {
            out += "No per-minute statistics in the window.\n"
        } else {
            out += "| stage | completed | failed | retried | success | p50 ms (weighted mean) | p95 ms (worst minute) |\n"
            out += "|---|---:|---:|---:|---:|---:|---:|\n"
            for stage in stages.keys.sorted() {
                let rows = stages[stage]!
                let t = rows.reduce(into: Totals()) { t, s in
                    t.completed += s.completed
                    t.failed += s.failed
                    t.retried += s.retried
                }
                let p50s = rows.compactMap { s in s.p50.map { (value: $0, weight: Double(max(1, s.completed))) } }
                let weight = p50s.reduce(0) { $0 + $1.weight }
                let p50 = weight > 0 ? p50s.reduce(0) { $0 + $1.value * $1.weight } / weight : nil
                let p95 = rows.compactMap(\.p95).max()
                out +=
                    "| \(cell(stage)) | \(t.completed) | \(t.failed) | \(t.retried) | \(t.successRate.map { String(format: "%.1f %%", $0 * 100) } ?? "–") "
                    + "| \(ms(p50)) | \(ms(p95)) |\n"
            }
        }
        out += "\n## Top error classes\n\n"
        if errors.isEmpty {
            out += "No failed jobs in the window.\n"
        } else {
            out += "| error class | failed jobs |\n|---|---:|\n"
            for e in errors { out += "| \(cell(e.name)) | \(e.count) |\n" }
        }
        return out
    }
}
