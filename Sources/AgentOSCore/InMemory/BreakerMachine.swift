import Foundation

/// The circuit-breaker state machine of RELIABILITY.md (resilience4j count-based): CLOSED → OPEN
/// when failures reach 50% of the last 20 calls (at least 5); OPEN for 30 s; HALF_OPEN admits 3
/// probes; 3 successes close it, one failure or a probe hung for 10 s reopens it. The Redis Lua
/// script (`RedisBreakerStore`) implements the same machine; one contract suite runs against both.
public struct BreakerMachine: Sendable, Equatable {
    public struct Numbers: Sendable, Equatable {
        public var window = 20, minimumCalls = 5, failurePercent = 50
        public var openMillis: Int64 = 30_000, probes = 3, probeTimeoutMillis: Int64 = 10_000
        public init() {}
    }

    public var state: BreakerState = .closed
    /// Last outcomes, true = failure, oldest first.
    public var outcomes: [Bool] = []
    public var openedAt: Int64 = 0
    public var probesIssued = 0
    public var probeSuccesses = 0
    public var inFlight: [Int64] = []
    public let numbers: Numbers

    public init(numbers: Numbers = Numbers()) { self.numbers = numbers }

    public mutating func acquire(now: Int64) -> BreakerPermit {
        switch state {
        case .open:
            if now - openedAt < numbers.openMillis { return .rejected(retryAfterMillis: Int(openedAt + numbers.openMillis - now)) }
            state = .halfOpen
            probesIssued = 0
            probeSuccesses = 0
            inFlight = []
            return acquire(now: now)
        case .halfOpen:
            if inFlight.contains(where: { now - $0 >= numbers.probeTimeoutMillis }) {
                open(now)
                return .rejected(retryAfterMillis: Int(numbers.openMillis))
            }
            guard probesIssued < numbers.probes else { return .rejected(retryAfterMillis: Int(numbers.probeTimeoutMillis)) }
            probesIssued += 1
            inFlight.append(now)
            return .allowed(probe: true)
        case .closed:
            return .allowed(probe: false)
        }
    }

    public mutating func record(success: Bool, probe: Bool, now: Int64) {
        switch state {
        case .halfOpen where probe:
            // The newest start goes: the oldest open one keeps the hung-probe deadline (reopen early, never late).
            if !inFlight.isEmpty { inFlight.removeLast() }
            if !success {
                open(now)
                return
            }
            probeSuccesses += 1
            if probeSuccesses >= numbers.probes { close() }
        case .closed:
            outcomes.append(!success)
            if outcomes.count > numbers.window { outcomes.removeFirst(outcomes.count - numbers.window) }
            let failures = outcomes.filter { $0 }.count
            if outcomes.count >= numbers.minimumCalls && failures * 100 >= numbers.failurePercent * outcomes.count { open(now) }
        default:
            break
        }
    }

    public mutating func open(_ now: Int64) {
        state = .open
        openedAt = now
        inFlight = []
        probesIssued = 0
        probeSuccesses = 0
    }

    public mutating func close() {
        state = .closed
        outcomes = []
        inFlight = []
        probesIssued = 0
        probeSuccesses = 0
    }

    public func info(_ service: String) -> BreakerInfo {
        BreakerInfo(
            service: service, state: state, failures: outcomes.filter { $0 }.count, calls: outcomes.count,
            openedAt: state == .closed ? nil : Date(timeIntervalSince1970: Double(openedAt) / 1_000))
    }
}
