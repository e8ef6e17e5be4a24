import Foundation

/// One dispatched request as `action_history` keeps it: the outcome, the total and the time each
/// pipeline stage took. Written after every dispatch (also for denials), so the exporter can
/// build per-stage histograms from the shared store instead of from one console's memory.
public struct ActionHistoryEntry: Sendable, Equatable {
    public var requestID: UUID
    public var action: String
    public var user: String
    public var startedMillis: Int64
    /// The audit outcome word (`success`, `replayed`, `denied`, `rate_limited`, …, `audit_unavailable`).
    public var outcome: String
    public var totalMillis: Double
    /// Stage → milliseconds (`validate`, `rbac`, `ratelimit`, `idempotency`, `breaker`, `audit_intent`, `execute`,
    /// `audit_outcome`, `cascade`: the stages the request reached).
    public var timings: [String: Double]

    public init(
        requestID: UUID, action: String, user: String, startedMillis: Int64, outcome: String, totalMillis: Double,
        timings: [String: Double]
    ) {
        self.requestID = requestID
        self.action = action
        self.user = user
        self.startedMillis = startedMillis
        self.outcome = outcome
        self.totalMillis = totalMillis
        self.timings = timings
    }

    public init(_ report: ActionReport, user: String, startedMillis: Int64) {
        let outcome: String
        switch report.outcome {
        case .success(let r): outcome = r.replayed ? "replayed" : "success"
        case .failure(let f): outcome = f.outcome
        }
        self.init(
            requestID: report.requestID, action: report.action, user: user, startedMillis: startedMillis, outcome: outcome,
            totalMillis: report.totalMillis, timings: report.timings)
    }

    /// The pipeline's stage names, in order (the labels of the exporter's stage histogram).
    public static let stages = ["validate", "rbac", "ratelimit", "idempotency", "breaker", "audit_intent", "execute", "audit_outcome", "cascade"]
}

/// Where the dispatcher reports each request (`action_history` live). Must not throw or block
/// long: observability never fails an action.
public protocol ActionHistorySink: Sendable {
    func record(_ entry: ActionHistoryEntry)
}

/// Collects entries in memory (embedded console, tests).
public final class InMemoryActionHistory: ActionHistorySink, @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ActionHistoryEntry] = []
    private let limit: Int

    public init(limit: Int = 10_000) { self.limit = limit }

    public func record(_ entry: ActionHistoryEntry) {
        lock.lock()
        defer { lock.unlock() }
        items.append(entry)
        if items.count > limit { items.removeFirst(items.count - limit) }
    }

    public var entries: [ActionHistoryEntry] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }

    /// The console's key figures over the `window` before `nowMillis`.
    public func figures(nowMillis: Int64, windowSeconds: Int = ActionFigures.defaultWindowSeconds) -> ActionFigures {
        let from = nowMillis - Int64(windowSeconds) * 1_000
        return ActionFigures.compute(entries.filter { $0.startedMillis >= from }.map { ($0.totalMillis, $0.outcome) }, windowSeconds: windowSeconds)
    }
}
