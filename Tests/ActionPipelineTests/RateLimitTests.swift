import AgentOSCore
import Foundation
import Testing

/// Sliding-window log per user and action (burst ×2 for 10 s) and per source IP, on an injected clock.
@Suite struct RateLimitTests {
    static func admit(_ store: InMemoryRateLimitStore, _ rules: [RateRule], _ now: Int64? = nil) throws -> RateDecision {
        try store.admit(rules, member: UUID().uuidString, nowMillis: now)
    }

    @Test(arguments: [1, 3, 10, 50])
    func exactlyLimitAdmittedThenRetryWhenOldestLeaves(limit: Int) throws {
        let clock = ManualClock()
        let store = InMemoryRateLimitStore(clock: clock)
        let rule = RateRule(key: "rl:alice:queue.clear", limit: limit)
        let t0 = clock.nowMillis()
        for _ in 0..<limit {
            #expect(try Self.admit(store, [rule]) == .admitted)
            clock.advance(500)
        }
        // The oldest entry (t0) leaves the window at t0 + 60 s.
        let now = clock.nowMillis()
        let wait = Int(t0 + 60_000 - now)
        #expect(try Self.admit(store, [rule]) == .refused(retryAfterMillis: wait))
        #expect(try Self.admit(store, [rule]) == .refused(retryAfterMillis: wait), "a refusal adds no entry")
        clock.advance(Int64(wait) - 1)
        #expect(try Self.admit(store, [rule]) == .refused(retryAfterMillis: 1))
        clock.advance(1)
        #expect(try Self.admit(store, [rule]) == .admitted)
        if limit > 1 {
            // The next oldest (t0 + 500) is the next to leave.
            #expect(try Self.admit(store, [rule]) == .refused(retryAfterMillis: 500))
        }
    }

    @Test func explicitNowOverridesTheStoreClock() throws {
        let store = InMemoryRateLimitStore(clock: ManualClock(0))
        let rule = RateRule(key: "k", limit: 2)
        #expect(try Self.admit(store, [rule], 1_000) == .admitted)
        #expect(try Self.admit(store, [rule], 2_000) == .admitted)
        #expect(try Self.admit(store, [rule], 3_000) == .refused(retryAfterMillis: 58_000))
        #expect(try Self.admit(store, [rule], 61_000) == .admitted)
    }

    @Test func burstAdmitsTwiceTheLimitInsideTenSeconds() throws {
        let clock = ManualClock()
        let store = InMemoryRateLimitStore(clock: clock)
        let rule = RateRule(key: "rl:alice:job.cancel", limit: 10, burstMultiplier: 2)
        let t0 = clock.nowMillis()
        for i in 0..<20 {
            #expect(try Self.admit(store, [rule]) == .admitted, "request \(i)")
            clock.advance(100)
        }
        // 2L inside the burst: the 21st is refused until the count drops below L again.
        let now = clock.nowMillis()
        #expect(try Self.admit(store, [rule]) == .refused(retryAfterMillis: Int(t0 + 1_000 + 60_000 - now)))
        // Another user is unaffected.
        #expect(try Self.admit(store, [RateRule(key: "rl:bob:job.cancel", limit: 10, burstMultiplier: 2)]) == .admitted)
    }

    @Test func burstEndsAfterTenSeconds() throws {
        let clock = ManualClock()
        let store = InMemoryRateLimitStore(clock: clock)
        let rule = RateRule(key: "k", limit: 10, burstMultiplier: 2)
        let t0 = clock.nowMillis()
        for _ in 0..<15 {
            #expect(try Self.admit(store, [rule]) == .admitted)
            clock.advance(100)
        }
        // The burst opened with the 11th request, at t0 + 1000.
        let opened = t0 + 1_000
        clock.advance(opened + 9_999 - clock.nowMillis())
        #expect(try Self.admit(store, [rule]) == .admitted, "still inside the burst")
        clock.advance(1)
        // 16 entries; the count drops below 10 when entry #6 (t0 + 600) leaves.
        #expect(try Self.admit(store, [rule]) == .refused(retryAfterMillis: Int(t0 + 600 + 60_000 - clock.nowMillis())))
    }

    @Test func withoutBurstTheLimitIsHard() throws {
        let clock = ManualClock()
        let store = InMemoryRateLimitStore(clock: clock)
        let rule = RateRule(key: "k", limit: 10, burstMultiplier: 1)
        for _ in 0..<10 { #expect(try Self.admit(store, [rule]) == .admitted) }
        #expect(try Self.admit(store, [rule]) == .refused(retryAfterMillis: 60_000))
    }

    @Test func perIPLimitAcrossActionsAndAllOrNone() throws {
        let clock = ManualClock()
        let store = InMemoryRateLimitStore(clock: clock)
        let ip = RateRule(key: "rl:ip:10.0.0.1", limit: 100)
        var admitted = 0
        for i in 0..<130 {
            let user = RateRule(key: "rl:u\(i % 3):a\(i % 7)", limit: 50, burstMultiplier: 2)
            if try Self.admit(store, [user, ip]) == .admitted { admitted += 1 }
            clock.advance(10)
        }
        #expect(admitted == 100)
        #expect(try Self.admit(store, [RateRule(key: "rl:ip:10.0.0.2", limit: 100)]) == .admitted)

        // A refusal by one rule records nothing under the others.
        let tight = RateRule(key: "tight", limit: 1)
        let loose = RateRule(key: "loose", limit: 2)
        #expect(try Self.admit(store, [tight, loose]) == .admitted)
        #expect(try Self.admit(store, [tight, loose]) == .refused(retryAfterMillis: 60_000))
        #expect(try Self.admit(store, [tight, loose]) == .refused(retryAfterMillis: 60_000))
        #expect(try Self.admit(store, [loose]) == .admitted, "loose holds 1 entry, not 3")
    }

    @Test func resetClearsOnlyThatUser() throws {
        let store = InMemoryRateLimitStore(clock: ManualClock())
        for key in ["rl:alice:a", "rl:alice:b", "rl:bob:a", "rl:ip:1.2.3.4"] {
            #expect(try Self.admit(store, [RateRule(key: key, limit: 1)]) == .admitted)
        }
        #expect(try store.reset(user: "alice") == 2)
        #expect(store.keyCount == 2)
        #expect(try Self.admit(store, [RateRule(key: "rl:alice:a", limit: 1)]) == .admitted)
        #expect(try Self.admit(store, [RateRule(key: "rl:bob:a", limit: 1)]) == .refused(retryAfterMillis: 60_000))
    }

    // MARK: Through the dispatcher

    @Test(arguments: [false, true]) func queueClearTenPerMinuteThroughTheDispatcher(gated: Bool) {
        let h = Harness(gated: gated) { $0.burstMultiplier = 1 }
        #expect(ActionCatalog.spec("queue.clear")?.ratePerMinute == 10)
        let t0 = h.clock.nowMillis()
        for i in 0..<10 {
            #expect(h.dispatch(h.valid("queue.clear")).succeeded, "request \(i)")
            h.clock.advance(1_000)
        }
        let refused = h.valid("queue.clear")
        let report = h.dispatch(refused)
        #expect(report.failure == .rateLimited(retryAfterMillis: Int(t0 + 60_000 - h.clock.nowMillis())))
        #expect(report.exitStatus == 4)
        #expect(h.executor.count("queue.clear") == 10)
        let rows = h.rows(refused.requestID)
        #expect(rows.map(\.draft.phase) == [.denied])
        #expect(rows.first?.draft.outcome == "rate_limited")

        // Admitted again after the advertised time (the first entry leaves the window).
        h.clock.advance(Int64(50_000))
        #expect(h.dispatch(h.valid("queue.clear")).succeeded)
        #expect(h.dispatch(h.valid("queue.clear")).isRateLimited)
        #expect(h.executor.count("queue.clear") == 11)
    }

    @Test(arguments: [false, true]) func anotherUserIsUnaffectedThroughTheDispatcher(gated: Bool) {
        var grants = Harness.users
        grants["alex"] = Grant(role: .admin)
        let h = Harness(grants: grants, gated: gated) { $0.burstMultiplier = 1 }
        for _ in 0..<10 { #expect(h.dispatch(h.valid("queue.clear")).succeeded) }
        #expect(h.dispatch(h.valid("queue.clear")).isRateLimited)
        for _ in 0..<10 { #expect(h.dispatch(h.valid("queue.clear", user: "alex")).succeeded) }
        #expect(h.dispatch(h.valid("queue.clear", user: "alex")).isRateLimited)
        #expect(h.executor.count("queue.clear") == 20)
        // Other actions of the same user have their own window.
        #expect(h.dispatch(h.valid("queue.pause")).succeeded)
    }

    @Test(arguments: [false, true]) func burstThroughTheDispatcher(gated: Bool) {
        let h = Harness(gated: gated)
        for i in 0..<20 {
            #expect(h.dispatch(h.valid("queue.clear")).succeeded, "request \(i)")
            h.clock.advance(200)
        }
        #expect(h.dispatch(h.valid("queue.clear")).isRateLimited)
        #expect(h.executor.count("queue.clear") == 20)
    }

    @Test(arguments: [false, true]) func hundredPerMinutePerIPThroughTheDispatcher(gated: Bool) {
        let h = Harness(gated: gated)
        let actions = ["queue.resume", "job.set_priority", "worker.ping", "manager.trigger", "logs.export"]
        var admitted = 0
        var limited = 0
        for i in 0..<120 {
            let report = h.dispatch(h.valid(actions[i % actions.count], ip: "10.9.8.7"))
            if report.succeeded { admitted += 1 } else if report.isRateLimited { limited += 1 }
            h.clock.advance(50)
        }
        #expect(admitted == 100)
        #expect(limited == 20)
        #expect(h.executor.total == 100)
        // Another address, same user and actions: admitted.
        #expect(h.dispatch(h.valid("queue.resume", ip: "10.9.8.6")).succeeded)
        h.clock.advance(60_000)
        #expect(h.dispatch(h.valid("queue.resume", ip: "10.9.8.7")).succeeded)
    }

    @Test func ratesApplyToTheEffectiveUser() {
        let h = Harness { $0.burstMultiplier = 1 }
        for _ in 0..<20 { #expect(h.dispatch(h.valid("queue.pause", user: "alice", actingAs: "olga")).succeeded) }
        #expect(h.dispatch(h.valid("queue.pause", user: "olga")).isRateLimited)
        #expect(h.dispatch(h.valid("queue.pause", user: "alice")).succeeded)
    }
}
