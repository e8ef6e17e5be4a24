import AgentOSCore
import Foundation
import Testing

/// The breaker state machine on an injected clock (RELIABILITY check 9).
@Suite struct BreakerMachineTests {
    static let t0: Int64 = 1_000_000

    /// A machine opened at `t0` by five failures.
    static func opened() -> BreakerMachine {
        var m = BreakerMachine()
        for _ in 0..<5 { m.record(success: false, probe: false, now: t0) }
        return m
    }

    @Test func opensAtFiveFailuresNotFour() {
        var m = BreakerMachine()
        for i in 0..<4 {
            #expect(m.acquire(now: Self.t0) == .allowed(probe: false))
            m.record(success: false, probe: false, now: Self.t0 + Int64(i))
        }
        #expect(m.state == .closed, "4 failures of 4 calls: below the minimum of 5 calls")
        m.record(success: false, probe: false, now: Self.t0 + 4)
        #expect(m.state == .open)
        #expect(m.openedAt == Self.t0 + 4)
    }

    @Test func opensAtExactlyHalfOfTheCalls() {
        var m = BreakerMachine()
        for _ in 0..<5 { m.record(success: true, probe: false, now: Self.t0) }
        for _ in 0..<4 { m.record(success: false, probe: false, now: Self.t0) }
        #expect(m.state == .closed, "4 of 9 = 44%")
        m.record(success: false, probe: false, now: Self.t0)
        #expect(m.state == .open, "5 of 10 = 50%")

        var n = BreakerMachine()
        for s in [true, true, true, false, false] { n.record(success: s, probe: false, now: Self.t0) }
        #expect(n.state == .closed, "2 of 5 = 40%")
        n.record(success: false, probe: false, now: Self.t0)
        #expect(n.state == .open, "3 of 6 = 50%")
    }

    @Test func onlyTheLastTwentyCallsCount() {
        var w = BreakerMachine()
        for _ in 0..<40 { w.record(success: true, probe: false, now: Self.t0) }
        #expect(w.outcomes.count == 20)
        for _ in 0..<9 { w.record(success: false, probe: false, now: Self.t0) }
        #expect(w.state == .closed, "9 of the last 20")
        #expect(w.info("postgres").failures == 9 && w.info("postgres").calls == 20)
        w.record(success: false, probe: false, now: Self.t0)
        #expect(w.state == .open, "10 of the last 20")
    }

    @Test func openRejectsWithTheTimeLeftThenHalfOpens() {
        var m = Self.opened()
        #expect(m.acquire(now: Self.t0) == .rejected(retryAfterMillis: 30_000))
        #expect(m.acquire(now: Self.t0 + 12_345) == .rejected(retryAfterMillis: 17_655))
        #expect(m.acquire(now: Self.t0 + 29_999) == .rejected(retryAfterMillis: 1))
        #expect(m.state == .open)
        #expect(m.acquire(now: Self.t0 + 30_000) == .allowed(probe: true))
        #expect(m.state == .halfOpen)
    }

    @Test func halfOpenAdmitsExactlyThreeProbes() {
        var m = Self.opened()
        let t = Self.t0 + 30_000
        for _ in 0..<3 { #expect(m.acquire(now: t) == .allowed(probe: true)) }
        for dt in [0, 1, 5_000, 9_999] as [Int64] {
            #expect(m.acquire(now: t + dt) == .rejected(retryAfterMillis: 10_000), "dt \(dt)")
        }
        #expect(m.probesIssued == 3)
    }

    @Test func threeProbeSuccessesClose() {
        var m = Self.opened()
        let t = Self.t0 + 30_000
        for _ in 0..<3 { _ = m.acquire(now: t) }
        m.record(success: true, probe: true, now: t + 10)
        m.record(success: true, probe: true, now: t + 20)
        #expect(m.state == .halfOpen)
        m.record(success: true, probe: true, now: t + 30)
        #expect(m.state == .closed)
        #expect(m.outcomes.isEmpty)
        #expect(m.acquire(now: t + 40) == .allowed(probe: false))
        // A fresh window: four failures do not reopen it.
        for _ in 0..<4 { m.record(success: false, probe: false, now: t + 50) }
        #expect(m.state == .closed)
    }

    @Test func aProbeFailureReopens() {
        var m = Self.opened()
        let t = Self.t0 + 30_000
        for _ in 0..<3 { _ = m.acquire(now: t) }
        m.record(success: true, probe: true, now: t + 10)
        m.record(success: false, probe: true, now: t + 500)
        #expect(m.state == .open)
        #expect(m.openedAt == t + 500)
        #expect(m.acquire(now: t + 501) == .rejected(retryAfterMillis: 29_999))
        // A late probe success while open changes nothing.
        m.record(success: true, probe: true, now: t + 600)
        #expect(m.state == .open)
    }

    @Test func aHungProbeReopensAfterTenSeconds() {
        var m = Self.opened()
        let t = Self.t0 + 30_000
        #expect(m.acquire(now: t) == .allowed(probe: true))
        #expect(m.acquire(now: t + 9_999) == .allowed(probe: true))
        #expect(m.state == .halfOpen)
        #expect(m.acquire(now: t + 10_000) == .rejected(retryAfterMillis: 30_000))
        #expect(m.state == .open)
        #expect(m.openedAt == t + 10_000)
    }

    @Test func storeKeepsOneMachinePerService() throws {
        let clock = ManualClock()
        let store = InMemoryBreakerStore(clock: clock)
        for _ in 0..<5 { try store.record("postgres", success: false, probe: false, nowMillis: nil) }
        #expect(try store.acquire("postgres", nowMillis: nil) == .rejected(retryAfterMillis: 30_000))
        #expect(try store.acquire("redis", nowMillis: nil) == .allowed(probe: false))
        let states = Dictionary(uniqueKeysWithValues: try store.states(nowMillis: nil).map { ($0.service, $0.state) })
        #expect(states == ["postgres": .open, "redis": .closed, "workers": .closed, "filesystem": .closed])
        clock.advance(30_000)
        #expect(try store.acquire("postgres", nowMillis: nil) == .allowed(probe: true))
        try store.force("postgres", open: false, nowMillis: nil)
        #expect(try store.acquire("postgres", nowMillis: nil) == .allowed(probe: false))
        try store.force("redis", open: true, nowMillis: nil)
        #expect(try store.acquire("redis", nowMillis: nil) == .rejected(retryAfterMillis: 30_000))
    }
}

/// The breaker stage of the dispatcher with the in-memory store and the injected clock.
@Suite struct BreakerDispatchTests {
    /// `job.cancel` runs on PostgreSQL. Rate limits off: the tests call it many times.
    static func harness(gated: Bool = false) -> Harness { Harness(gated: gated) { $0.rateLimits = false } }

    static func open(_ h: Harness) {
        h.executor.failAlways(.failed("connection refused"))
        for _ in 0..<5 { _ = h.dispatch(h.valid("job.cancel")) }
        h.executor.failAlways(nil)
    }

    @Test(arguments: [false, true]) func opensAtTheThresholdAndThenMakesNoBackendCalls(gated: Bool) {
        let h = Self.harness(gated: gated)
        h.executor.failAlways(.failed("connection refused"))
        for i in 0..<4 {
            #expect(h.dispatch(h.valid("job.cancel")).failure == .failed("connection refused"), "call \(i)")
        }
        #expect(h.breakerState(.postgres)?.state == .closed)
        #expect(h.breakerState(.postgres)?.failures == 4)
        #expect(h.dispatch(h.valid("job.cancel")).failure == .failed("connection refused"))
        #expect(h.breakerState(.postgres)?.state == .open)
        #expect(h.executor.total == 5)

        h.executor.failAlways(nil)
        for i in 0..<50 {
            let request = h.valid("job.retry")
            let report = h.dispatch(request)
            #expect(report.failure == .breakerOpen(service: "postgres", retryAfterMillis: 30_000 - i * 100), "call \(i)")
            #expect(report.exitStatus == 8)
            let rows = h.rows(request.requestID)
            #expect(rows.map(\.draft.phase) == [.denied])
            #expect(rows.first?.draft.outcome == "breaker_open")
            h.clock.advance(100)
        }
        #expect(h.executor.total == 5, "OPEN: 0 backend calls")
        // Other services are unaffected.
        #expect(h.dispatch(h.valid("worker.ping")).succeeded)
        #expect(h.dispatch(h.valid("system.cache_refresh")).succeeded)
    }

    @Test(arguments: [false, true]) func nonBackendFailuresDoNotCount(gated: Bool) {
        let h = Self.harness(gated: gated)
        for failure in [ActionFailure.notFound("job"), .conflict("finished"), .notFound("job"), .conflict("finished")] {
            h.executor.failNext(failure, failure, failure, failure, failure)
            for _ in 0..<5 { #expect(h.dispatch(h.valid("job.cancel")).failure == failure) }
        }
        #expect(h.executor.total == 20)
        #expect(h.breakerState(.postgres)?.state == .closed)
        #expect(h.breakerState(.postgres)?.failures == 0)
        // And a denial before execution is not a call at all.
        _ = h.dispatch(h.valid("job.cancel", user: "rita"))
        #expect(h.breakerState(.postgres)?.calls == 20)
        #expect(h.dispatch(h.valid("job.cancel")).succeeded)
    }

    @Test func unavailableCountsAsABackendFault() {
        let h = Self.harness()
        h.executor.failAlways(.unavailable("postgres down"))
        for _ in 0..<5 { _ = h.dispatch(h.valid("job.cancel")) }
        #expect(h.breakerState(.postgres)?.state == .open)
    }

    @Test(arguments: [false, true]) func halfOpenAfterThirtySecondsAndThreeSuccessesClose(gated: Bool) {
        let h = Self.harness(gated: gated)
        Self.open(h)
        h.clock.advance(29_999)
        #expect(h.dispatch(h.valid("job.cancel")).failure == .breakerOpen(service: "postgres", retryAfterMillis: 1))
        h.clock.advance(1)
        for i in 0..<3 {
            #expect(h.dispatch(h.valid("job.cancel")).succeeded, "probe \(i)")
            #expect(h.breakerState(.postgres)?.state == (i < 2 ? .halfOpen : .closed))
        }
        #expect(h.executor.total == 8)
        for _ in 0..<10 { #expect(h.dispatch(h.valid("job.cancel")).succeeded) }
    }

    @Test(arguments: [false, true]) func aProbeFailureReopens(gated: Bool) {
        let h = Self.harness(gated: gated)
        Self.open(h)
        h.clock.advance(30_000)
        #expect(h.dispatch(h.valid("job.cancel")).succeeded)
        h.executor.failNext(.failed("still down"))
        #expect(h.dispatch(h.valid("job.cancel")).failure == .failed("still down"))
        #expect(h.breakerState(.postgres)?.state == .open)
        #expect(h.dispatch(h.valid("job.cancel")).failure == .breakerOpen(service: "postgres", retryAfterMillis: 30_000))
        #expect(h.executor.total == 7)
    }

    @Test func halfOpenAdmitsExactlyThreeConcurrentProbes() async {
        let h = Self.harness()
        Self.open(h)
        h.clock.advance(30_000)
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        h.executor.onExecute { _ in
            entered.signal()
            release.wait(seconds: 10)
        }

        let (started, probes, extra, after) = await offPool { () -> (Bool, [ActionReport], [ActionReport], ActionReport) in
            let running = (0..<3).map { _ in Background { h.dispatch(h.valid("job.cancel")) } }
            let started = (0..<3).allSatisfy { _ in entered.wait(seconds: 10) }
            // Three probes in flight: everything else is turned away without a backend call.
            let extra = (0..<5).map { _ in h.dispatch(h.valid("job.cancel")) }
            for _ in 0..<3 { release.signal() }
            let probes = running.map { $0.wait() }
            h.executor.onExecute(nil)
            return (started, probes, extra, h.dispatch(h.valid("job.cancel")))
        }
        #expect(started, "three probes reached the executor")
        #expect(probes.allSatisfy { $0.succeeded })
        #expect(extra.allSatisfy { $0.failure == .breakerOpen(service: "postgres", retryAfterMillis: 10_000) })
        #expect(h.executor.total == 5 + 3 + 1)
        #expect(after.succeeded)
        #expect(h.breakerState(.postgres)?.state == .closed)
    }

    @Test func aHungProbeReopensWithinTenSeconds() async {
        let h = Self.harness()
        Self.open(h)
        h.clock.advance(30_000)
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        h.executor.onExecute { _ in
            entered.signal()
            release.wait(seconds: 10)
        }

        let (started, hung, reopened, state) = await offPool { () -> (Bool, ActionReport, ActionReport, BreakerState?) in
            let hung = Background { h.dispatch(h.valid("job.cancel")) }
            let started = entered.wait(seconds: 10)
            h.clock.advance(10_000)
            let reopened = h.dispatch(h.valid("job.cancel"))
            release.signal()
            let report = hung.wait()
            return (started, report, reopened, h.breakerState(.postgres)?.state)
        }
        #expect(started)
        #expect(reopened.failure == .breakerOpen(service: "postgres", retryAfterMillis: 30_000))
        // The hung probe's late success does not close the reopened breaker.
        #expect(hung.succeeded)
        #expect(state == .open)
        #expect(h.executor.total == 5 + 1)
        #expect(h.dispatch(h.valid("job.cancel")).failure == .breakerOpen(service: "postgres", retryAfterMillis: 30_000))
    }

    @Test func breakerActionsRunWhileOpen() {
        let h = Self.harness()
        h.executor.failAlways(.failed("redis down"))
        for _ in 0..<5 { _ = h.dispatch(h.valid("system.cache_refresh")) }
        h.executor.failAlways(nil)
        #expect(h.breakerState(.redis)?.state == .open)
        #expect(h.dispatch(h.valid("system.cache_refresh")).failure == .breakerOpen(service: "redis", retryAfterMillis: 30_000))
        #expect(h.dispatch(h.valid("system.breaker_reset", overriding: ["service": .string("redis")])).succeeded)
        #expect(h.dispatch(h.valid("system.reset")).succeeded)
        #expect(h.executor.count("system.breaker_reset") == 1)
        #expect(h.executor.count("system.reset") == 1)
    }
}
