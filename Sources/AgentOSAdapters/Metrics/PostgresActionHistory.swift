import AgentOSCore
import Foundation

/// Writes one `action_history` row per dispatched request (outcome, total and per-stage
/// milliseconds), the shared store the metrics exporter reads the stage histograms from. A
/// failed insert is dropped: observability never fails or delays an action beyond the insert.
public struct PostgresActionHistory: ActionHistorySink {
    let db: PostgresClient

    public init(postgres: PostgresClient) { db = postgres }

    public func record(_ entry: ActionHistoryEntry) {
        let timings = "{" + entry.timings.sorted { $0.key < $1.key }.map { "\(CanonicalJSON.string($0.key)):\(Self.number($0.value))" }
            .joined(separator: ",") + "}"
        _ = try? db.query("""
            INSERT INTO action_history (request_id, action, user_id, started_at, outcome, total_ms, timings)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
            """, [entry.requestID, entry.action, entry.user, Date(timeIntervalSince1970: Double(entry.startedMillis) / 1_000), entry.outcome,
                  entry.totalMillis, timings])
    }

    static func number(_ value: Double) -> String {
        value.isFinite ? String(format: "%.4f", max(0, value)) : "0"
    }
}
