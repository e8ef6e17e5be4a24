import AgentOSAdapters
import AgentOSCore
import Foundation

/// `--only audit`: `agentos audit verify` over 100,000 rows (`--audit-rows`) of the keyed chain (D75).
extension BenchCommand {
    /// Rows verified per second by the whole verification (the server's MAC recomputation and link
    /// check, as `agentos audit verify` runs it) beside a bare scan that reads every row's text once.
    func auditVerifyFigure(pg: PostgresClient) throws -> BenchResult {
        // Through audit_append, one row per call, as consoles write them (each call's INSERT is a
        // statement of its own; one INSERT … SELECT of many rows costs the seal more per row).
        try pg.execute(
            """
            SELECT count(*) FROM (
                SELECT audit_append(gen_random_uuid(), now(), 'bench' || g % 13, NULL, 'operator', 'job.cancel',
                                    (ARRAY['intent','outcome','denied'])[1 + g % 3], 'success', gen_random_uuid(), NULL, 's' || g % 5,
                                    'target-' || g, NULL, jsonb_build_object('id', 'target-' || g, 'n', g, 'note', 'ünïcødé'),
                                    jsonb_build_object('message', 'done ' || g), '10.0.0.1', 'agentos-console', g % 100)
                FROM generate_series(1, \(auditRows)) AS g) appended
            """)
        try pg.execute("ANALYZE audit_logs")
        let log = PostgresAuditLog(postgres: pg)
        var rows = 0
        let verify = try measure(3) {
            let v = try log.verifyChain()
            guard v.ok else { throw BenchError("audit verify: \(v.summary)") }
            rows = v.rows
        }
        let bare = try measure(3) { _ = try pg.query("SELECT sum(length(a::text)) FROM audit_logs a") }
        let perSecond = { (ms: [Double]) in ms.map { Double(rows) / ($0 / 1000) }.sorted() }
        let rate = perSecond(verify)
        FileHandle.standardError.write(
            Data(
                String(
                    format: "audit verify: %d rows in %.0f ms (p50): %.0f rows/s (goal ≥ 200,000)\n", rows,
                    BenchResult.percentile(verify.sorted(), 0.5), BenchResult.percentile(rate, 0.5)
                ).utf8))
        var result = BenchResult(
            name: "audit verify, \(rows.formatted()) keyed rows (rows/s)", figure: rate, baseline: perSecond(bare),
            baselineName: "a bare scan reading every row's text", unit: .perSecond)
        result.goalAtLeast = 200_000
        return result
    }
}
