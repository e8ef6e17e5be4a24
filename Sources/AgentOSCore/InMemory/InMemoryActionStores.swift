import Foundation
import Synchronization

/// The embedded mode's rate limiter: the sliding-window log of the Redis script, in memory.
public final class InMemoryRateLimitStore: RateLimitStore {
    private struct Window {
        var entries: [Int64] = []
        var burstOpenedAt: Int64?
    }
    private let windows = Mutex<[String: Window]>([:])
    private let clock: ActionClock

    public init(clock: ActionClock = SystemActionClock()) { self.clock = clock }

    public func admit(_ rules: [RateRule], member: String, nowMillis: Int64?) throws -> RateDecision {
        let now = nowMillis ?? clock.nowMillis()
        return windows.withLock { all in
            var retry = 0
            var opensBurst: [String] = []
            for rule in rules {
                var w = all[rule.key] ?? Window()
                w.entries.removeAll { $0 <= now - Int64(rule.windowMillis) }
                if let b = w.burstOpenedAt, now - b >= Int64(rule.windowMillis) { w.burstOpenedAt = nil }
                all[rule.key] = w
                let n = w.entries.count
                if n < rule.limit { continue }
                if rule.burstMultiplier > 1 && n < rule.limit * rule.burstMultiplier {
                    if w.burstOpenedAt == nil {
                        opensBurst.append(rule.key)
                        continue
                    }
                    if let b = w.burstOpenedAt, now - b < Int64(rule.burstMillis) { continue }
                }
                retry = max(retry, Int(w.entries[n - rule.limit] + Int64(rule.windowMillis) - now))
            }
            if retry > 0 { return .refused(retryAfterMillis: retry) }
            for rule in rules { all[rule.key]!.entries.append(now) }
            for key in opensBurst { all[key]!.burstOpenedAt = now }
            return .admitted
        }
    }

    public func reset(user: String) throws -> Int {
        windows.withLock { all in
            let keys = all.keys.filter { $0.hasPrefix("rl:\(user):") }
            keys.forEach { all[$0] = nil }
            return keys.count
        }
    }

    /// Drops every window; how many there were (system.reset).
    @discardableResult
    public func removeAll() -> Int {
        windows.withLock { all in
            defer { all.removeAll() }
            return all.count
        }
    }

    /// Every key (tests: none is left without an end).
    public var keyCount: Int { windows.withLock { $0.count } }
}

/// The embedded mode's idempotency keys.
public final class InMemoryIdempotencyStore: IdempotencyStore {
    private struct Entry {
        var fingerprint: String
        var requestID: UUID
        var result: ActionResult?
        var expires: Int64
    }
    private let entries = Mutex<[IdempotencyScope: Entry]>([:])
    private let clock: ActionClock

    public init(clock: ActionClock = SystemActionClock()) { self.clock = clock }

    public func claim(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID, lockMillis: Int) throws -> IdempotencyClaim {
        let now = clock.nowMillis()
        return entries.withLock { all in
            if let e = all[scope], e.expires > now {
                guard e.fingerprint == fingerprint else { return .mismatch }
                if let r = e.result { return .replay(r) }
                return .inProgress
            }
            all[scope] = Entry(fingerprint: fingerprint, requestID: requestID, result: nil, expires: now + Int64(lockMillis))
            return .claimed
        }
    }

    public func complete(_ scope: IdempotencyScope, fingerprint: String, requestID: UUID, result: ActionResult, ttlSeconds: Int, durableStored: Bool)
        throws
    {
        let now = clock.nowMillis()
        entries.withLock {
            $0[scope] = Entry(fingerprint: fingerprint, requestID: requestID, result: result, expires: now + Int64(ttlSeconds) * 1_000)
        }
    }

    public func release(_ scope: IdempotencyScope, requestID: UUID) throws {
        entries.withLock { all in if all[scope]?.requestID == requestID { all[scope] = nil } }
    }

    /// Drops every key; how many there were (system.reset).
    @discardableResult
    public func removeAll() -> Int {
        entries.withLock { all in
            defer { all.removeAll() }
            return all.count
        }
    }
}

/// The embedded mode's circuit breakers.
public final class InMemoryBreakerStore: BreakerStore {
    private let machines = Mutex<[String: BreakerMachine]>([:])
    private let clock: ActionClock
    private let numbers: BreakerMachine.Numbers

    public init(clock: ActionClock = SystemActionClock(), numbers: BreakerMachine.Numbers = .init()) {
        self.clock = clock
        self.numbers = numbers
    }

    private func with<T>(_ service: String, _ body: (inout BreakerMachine) -> T) -> T {
        machines.withLock { all in
            var m = all[service] ?? BreakerMachine(numbers: numbers)
            defer { all[service] = m }
            return body(&m)
        }
    }

    public func acquire(_ service: String, nowMillis: Int64?) throws -> BreakerPermit {
        let now = nowMillis ?? clock.nowMillis()
        return with(service) { $0.acquire(now: now) }
    }

    public func record(_ service: String, success: Bool, probe: Bool, nowMillis: Int64?) throws {
        let now = nowMillis ?? clock.nowMillis()
        with(service) { $0.record(success: success, probe: probe, now: now) }
    }

    public func force(_ service: String, open: Bool, nowMillis: Int64?) throws {
        let now = nowMillis ?? clock.nowMillis()
        with(service) { open ? $0.open(now) : $0.close() }
    }

    public func states(nowMillis: Int64?) throws -> [BreakerInfo] {
        BackendService.allCases.map { s in machines.withLock { ($0[s.rawValue] ?? BreakerMachine(numbers: numbers)).info(s.rawValue) } }
    }

    /// Forgets every breaker (all closed again); how many had state (system.reset).
    @discardableResult
    public func removeAll() -> Int {
        machines.withLock { all in
            defer { all.removeAll() }
            return all.count
        }
    }
}

/// Roles from a fixed table (the embedded mode's config; tests).
public struct StaticPermissions: PermissionSource {
    public var grants: [String: Grant]
    public var fallback: Grant?

    public init(_ grants: [String: Grant] = [:], fallback: Grant? = nil) {
        self.grants = grants
        self.fallback = fallback
    }

    public func grant(for user: String) throws -> Grant? { grants[user] ?? fallback }
}

/// An audit log in memory (unit tests); `failing` makes every append throw.
public final class InMemoryAuditLog: AuditLog {
    public struct Unavailable: Error, CustomStringConvertible { public var description: String { "audit store unavailable (test)" } }
    private let rows = Mutex<[AuditRecord]>([])
    private let fail = Mutex(false)

    public init() {}

    public var failing: Bool {
        get { fail.withLock { $0 } }
        set { fail.withLock { $0 = newValue } }
    }

    public func append(_ draft: AuditDraft) throws -> AuditRecord {
        if failing { throw Unavailable() }
        return rows.withLock { all in
            let r = AuditChain.link(draft, after: all.last)
            all.append(r)
            return r
        }
    }

    public func tail(_ limit: Int) throws -> [AuditRecord] { rows.withLock { Array($0.suffix(limit)) } }

    public func scan(from seq: Int, pageSize: Int, _ body: ([AuditRecord]) throws -> Void) throws {
        let all = rows.withLock { $0.filter { $0.seq >= seq } }
        for start in stride(from: 0, to: all.count, by: max(1, pageSize)) { try body(Array(all[start..<min(start + pageSize, all.count)])) }
    }

    public var records: [AuditRecord] {
        get { rows.withLock { $0 } }
        set { rows.withLock { $0 = newValue } }
    }
}
