import Foundation

/// The action key figures the Dashboard and System Controls show (the exporter has the same from
/// the same rows): over the last `windowSeconds`, how many requests finished, how many were
/// denied before execution (RBAC, rate limit, validation, idempotency, breaker), how many failed
/// in the backend, and the 99th percentile of their duration.
public struct ActionFigures: Codable, Sendable, Equatable {
    public static let defaultWindowSeconds = 300

    public var windowSeconds: Int
    public var finished: Int
    public var denials: Int
    public var failures: Int
    /// nil: no request in the window.
    public var p99Ms: Double?

    public init(windowSeconds: Int = ActionFigures.defaultWindowSeconds, finished: Int = 0, denials: Int = 0, failures: Int = 0, p99Ms: Double? = nil)
    {
        self.windowSeconds = windowSeconds
        self.finished = finished
        self.denials = denials
        self.failures = failures
        self.p99Ms = p99Ms
    }

    enum CodingKeys: String, CodingKey {
        case windowSeconds = "window_s"
        case finished, denials, failures
        case p99Ms = "p99_ms"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        windowSeconds = try c.opt(.windowSeconds, ActionFigures.defaultWindowSeconds)
        finished = try c.opt(.finished, 0)
        denials = try c.opt(.denials, 0)
        failures = try c.opt(.failures, 0)
        p99Ms = try c.opt(.p99Ms, nil)
    }

    /// Outcome words that mean "stopped before execution" (the audit's `denied` phase).
    public static let denialOutcomes: Set<String> = ["denied", "rate_limited", "invalid", "idempotency_conflict", "breaker_open"]

    /// From (duration ms, outcome word) pairs: p99 by the nearest-rank method (as PostgreSQL's
    /// `percentile_disc(0.99)`).
    public static func compute(_ requests: [(millis: Double, outcome: String)], windowSeconds: Int = defaultWindowSeconds) -> ActionFigures {
        let sorted = requests.map(\.millis).sorted()
        let p99: Double? = sorted.isEmpty ? nil : sorted[max(0, Int((0.99 * Double(sorted.count)).rounded(.up)) - 1)]
        return ActionFigures(
            windowSeconds: windowSeconds, finished: requests.count,
            denials: requests.filter { denialOutcomes.contains($0.outcome) }.count,
            failures: requests.filter { $0.outcome == "failure" || $0.outcome == "unavailable" }.count, p99Ms: p99)
    }

    /// Cache hit rate, 0…1 (nil before the first lookup).
    public static func hitRate(_ cache: CacheInfo) -> Double? {
        let total = cache.hits + cache.misses
        return total == 0 ? nil : Double(cache.hits) / Double(total)
    }
}
