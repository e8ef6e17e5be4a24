import AgentOSCore
import Foundation
import Synchronization

/// Writes one `action_history` row per dispatched request (outcome, total and per-stage
/// milliseconds), the shared store the metrics exporter reads the stage histograms from.
/// Behind the request: `record` queues the entry and a serial worker inserts what has queued up
/// in one statement (waiting up to 25 ms for more), so observability adds no round trip to an action. A failed insert is
/// dropped (never fails an action); `drain()` waits for the queue (tests, process exit).
public final class PostgresActionHistory: ActionHistorySink {
    let db: PostgresClient
    private let pending = Mutex<[ActionHistoryEntry]>([])
    private let writer = DispatchQueue(label: "agentos.action-history")

    public init(postgres: PostgresClient) { db = postgres }

    public func record(_ entry: ActionHistoryEntry) {
        let first = pending.withLock { queued in
            queued.append(entry)
            return queued.count == 1
        }
        // Actions in quick succession share one INSERT: fewer statements competing with the
        // actions themselves for the server (and, on small machines, for the cores).
        if first { writer.asyncAfter(deadline: .now() + .milliseconds(Self.coalesceMillis)) { self.flush() } }
    }

    /// Returns once every entry recorded before the call is written (or dropped).
    public func drain() { writer.sync { flush() } }

    private func flush() {
        let batch = pending.withLock { queued in
            defer { queued.removeAll() }
            return queued
        }
        guard !batch.isEmpty else { return }
        let rows =
            "["
            + batch.map { e in
                let timings =
                    "{"
                    + e.timings.sorted { $0.key < $1.key }.map { "\(CanonicalJSON.string($0.key)):\(Self.number($0.value))" }
                    .joined(separator: ",") + "}"
                return "{\"request_id\":\(CanonicalJSON.string(e.requestID.lowercasedString)),\"action\":\(CanonicalJSON.string(e.action)),"
                    + "\"user_id\":\(CanonicalJSON.string(e.user)),\"started_ms\":\(e.startedMillis),\"outcome\":\(CanonicalJSON.string(e.outcome)),"
                    + "\"total_ms\":\(Self.number(e.totalMillis)),\"timings\":\(timings)}"
            }.joined(separator: ",") + "]"
        _ = try? db.query(
            """
            INSERT INTO action_history (request_id, action, user_id, started_at, outcome, total_ms, timings)
            SELECT (e->>'request_id')::uuid, e->>'action', e->>'user_id', to_timestamp((e->>'started_ms')::double precision / 1000),
                   e->>'outcome', (e->>'total_ms')::double precision, e->'timings'
            FROM jsonb_array_elements($1::jsonb) AS e
            """, [PostgresValue.json(rows)])
    }

    static let coalesceMillis = 25

    /// Milliseconds to 0.1 µs, as a JSON number.
    static func number(_ value: Double) -> String {
        guard value.isFinite, value > 0 else { return "0" }
        return String((value * 10_000).rounded() / 10_000)
    }
}
