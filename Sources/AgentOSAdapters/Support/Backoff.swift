/// Exponential backoff with full jitter and a cap (the AWS "full jitter" scheme):
/// attempt n waits a random duration in [base·2ⁿ/2, min(cap, base·2ⁿ)].
/// Half the window is kept as a floor so a reconnect storm never degenerates into a tight loop.
public struct Backoff: Sendable, Equatable {
    public var baseMillis: Int
    public var capMillis: Int
    public private(set) var attempt: Int = 0

    public init(baseMillis: Int = 100, capMillis: Int = 5_000) {
        precondition(baseMillis > 0 && capMillis >= baseMillis, "backoff needs 0 < base <= cap")
        self.baseMillis = baseMillis
        self.capMillis = capMillis
    }

    /// The upper bound of the delay for the current attempt, before jitter.
    public var ceilingMillis: Int {
        let shift = min(attempt, 30)
        let grown = baseMillis.multipliedReportingOverflow(by: 1 << shift)
        return grown.overflow ? capMillis : min(capMillis, grown.partialValue)
    }

    /// Returns the delay for this attempt and advances to the next one.
    public mutating func next<R: RandomNumberGenerator>(using rng: inout R) -> Int {
        let ceiling = ceilingMillis
        attempt += 1
        let floor = max(1, ceiling / 2)
        return floor >= ceiling ? ceiling : Int.random(in: floor...ceiling, using: &rng)
    }

    public mutating func next() -> Int {
        var rng = SystemRandomNumberGenerator()
        return next(using: &rng)
    }

    /// Back to the first attempt (after a successful connection).
    public mutating func reset() { attempt = 0 }
}
