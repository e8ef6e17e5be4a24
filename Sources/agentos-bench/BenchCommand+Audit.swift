import AgentOSAdapters
import AgentOSCore
import Foundation

/// `--only audit`: `agentos audit verify` over 100,000 rows of the keyed chain (D75).
extension BenchCommand {
    /// Rows verified per second by the whole verification (the server's MAC recomputation and link
    /// check, as `agentos audit verify` runs it) beside a bare scan that reads every row's text once.
    func auditVerifyFigure(pg: PostgresClient) throws -> BenchResult {
        // Sealed by the server as audit_append's rows are (one INSERT: the seal trigger sees the rows
        // the statement wrote before each).
        try pg.execute(
            """
            INSERT INTO audit_logs (seq, id, timestamp, user_id, role, action, phase, outcome, request_id, session_id, target, payload,
                                    result, ip_address, user_agent, duration_ms, prev_hash, hash)
            SELECT 0, gen_random_uuid(), now(), 'bench' || g % 13, 'operator', 'job.cancel', (ARRAY['intent','outcome','denied'])[1 + g % 3],
                   'success', gen_random_uuid(), 's' || g % 5, 'target-' || g, jsonb_build_object('id', 'target-' || g, 'n', g, 'note', 'ünïcødé'),
                   jsonb_build_object('message', 'done ' || g), '10.0.0.1', 'agentos-console', g % 100, '', gen_random_uuid()::text
            FROM generate_series(1, 100000) AS g
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
