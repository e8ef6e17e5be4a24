import AgentOSCore
import Foundation

/// Exact task figures kept as counters from the events (D77), not derived from the capped task
/// map: per-state totals, and per minute (by the finishing event's timestamp) the tasks that
/// succeeded and failed with the runtimes of those that succeeded. Reconciled once with the result
/// backend when the monitor starts (`CeleryState.finishReconcile`). O(1) per event.
public struct CeleryFigures: Sendable, Equatable, Codable {
    /// Tasks that reached each final state (SUCCESS, FAILURE, REVOKED, REJECTED), each task once.
    public var finished: [String: Int] = [:]
    /// Held tasks per state that is not final (PENDING, RECEIVED, STARTED, RETRY).
    public var inFlight: [String: Int] = [:]
    /// The last `slots` minutes, slot `minute % slots` (a newer minute replaces an older one).
    var ring: [Minute?] = Array(repeating: nil, count: Self.slots)

    /// Minutes kept: the longest window the Analytics view offers.
    public static let slots = Analytics.throughputHistoryMinutes
    public static let finalStates: Set<String> = ["SUCCESS", "FAILURE", "REVOKED", "REJECTED"]

    public struct Minute: Sendable, Equatable, Codable {
        /// Minutes since the epoch.
        public var minute: Int
        public var completed = 0
        public var failed = 0
        /// Runtimes of the tasks that succeeded in this minute (task-succeeded's `runtime`).
        public var runtimeCount = 0
        public var runtimeSumSeconds = 0.0
        public var runtimeMaxSeconds = 0.0
        /// Runtime histogram: bucket → count, bucket `b` holding runtimes in [1.1^b, 1.1^(b+1)) ms.
        public var runtimeBuckets: [Int: Int] = [:]
    }

    public init() {}

    /// A task reached `state` (final) at `timestamp`; `runtime` in seconds when it succeeded.
    mutating func recordFinished(_ state: String, at timestamp: Double, runtime: Double?) {
        finished[state, default: 0] += 1
        guard state != "REVOKED" else { return }
        withMinute(at: timestamp) { m in
            if state == "SUCCESS" {
                m.completed += 1
                if let r = runtime, r.isFinite, r >= 0 {
                    m.runtimeCount += 1
                    m.runtimeSumSeconds += r
                    m.runtimeMaxSeconds = max(m.runtimeMaxSeconds, r)
                    m.runtimeBuckets[Self.runtimeBucket(r * 1_000), default: 0] += 1
                }
            } else {
                m.failed += 1
            }
        }
    }

    /// One more (or one fewer) held task in `state` when it is not final.
    mutating func held(_ state: String, _ delta: Int) {
        guard !Self.finalStates.contains(state) else { return }
        let n = (inFlight[state] ?? 0) + delta
        inFlight[state] = n > 0 ? n : nil
    }

    mutating func withMinute(at timestamp: Double, _ body: (inout Minute) -> Void) {
        guard timestamp.isFinite else { return }
        let minute = Int((timestamp / 60).rounded(.down))
        let slot = ((minute % Self.slots) + Self.slots) % Self.slots
        var m = ring[slot] ?? Minute(minute: minute)
        if m.minute < minute { m = Minute(minute: minute) } else if m.minute > minute { return } // older than the ring holds
        body(&m)
        ring[slot] = m
    }

    /// The minutes held, oldest first.
    public var minutes: [Minute] { ring.compactMap { $0 }.sorted { $0.minute < $1.minute } }

    /// The figures of one minute (minutes since the epoch), nil when none.
    public func minute(_ minute: Int) -> Minute? {
        ring[((minute % Self.slots) + Self.slots) % Self.slots].flatMap { $0.minute == minute ? $0 : nil }
    }

    static func runtimeBucket(_ ms: Double) -> Int { ms < 1 ? 0 : Int((log(ms) / log(1.1)).rounded(.down)) }

    /// The runtime (ms) at quantile `q` of the succeeded tasks in `minutes` (the bucket's geometric
    /// middle, within 5 % of the true value), nil with none.
    public static func runtimeQuantileMs(_ q: Double, of minutes: [Minute]) -> Double? {
        var merged: [Int: Int] = [:]
        for m in minutes { merged.merge(m.runtimeBuckets, uniquingKeysWith: +) }
        let total = merged.values.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for b in merged.keys.sorted() {
            seen += merged[b]!
            if seen >= rank { return b == 0 ? 1 : pow(1.1, Double(b) + 0.5) }
        }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case finished
        case inFlight = "in_flight"
        case minutes
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        finished = try c.decode([String: Int].self, forKey: .finished)
        inFlight = try c.decode([String: Int].self, forKey: .inFlight)
        for m in try c.decode([Minute].self, forKey: .minutes) { withMinute(at: Double(m.minute) * 60) { $0 = m } }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(finished, forKey: .finished)
        try c.encode(inFlight, forKey: .inFlight)
        try c.encode(minutes, forKey: .minutes)
    }
}

/// One finished task as the result backend stores it (`celery-task-meta-<id>`).
public struct CeleryBackendRecord: Sendable, Equatable {
    public var id: String
    public var state: String
    /// `date_done` as seconds since the epoch (nil when absent or unreadable).
    public var done: Double?

    public init(id: String, state: String, done: Double?) {
        self.id = id
        self.state = state
        self.done = done
    }

    /// The record from a `celery-task-meta-<id>` value (JSON), nil when it is not one.
    public static func parse(id: String, _ bytes: [UInt8]) -> CeleryBackendRecord? {
        guard let v = try? JSONTree.parse(bytes), let state = v["status"]?.string else { return nil }
        return CeleryBackendRecord(id: v["task_id"]?.string ?? id, state: state, done: v["date_done"]?.string.flatMap(Self.isoSeconds))
    }

    /// Celery's `date_done`: `2026-12-06T17:40:01.123456+00:00`, or without the offset (UTC).
    static func isoSeconds(_ s: String) -> Double? {
        let u = Array(s.utf8)
        func num(_ from: Int, _ n: Int) -> Int? {
            guard from + n <= u.count else { return nil }
            var v = 0
            for c in u[from..<from + n] {
                guard (48...57).contains(c) else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard u.count >= 19, let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
            let sec = num(17, 2)
        else { return nil }
        var i = 19
        var frac = 0.0
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < u.count, (48...57).contains(u[i]) {
                frac += Double(u[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            guard let oh = num(i + 1, 2), let om = num(i + 4, 2) else { return nil }
            offset = (oh * 60 + om) * 60 * (u[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        var t = tm()
        t.tm_year = Int32(y - 1900)
        t.tm_mon = Int32(mo - 1)
        t.tm_mday = Int32(d)
        t.tm_hour = Int32(h)
        t.tm_min = Int32(mi)
        t.tm_sec = Int32(sec)
        return Double(timegm(&t) - offset) + frac
    }
}
