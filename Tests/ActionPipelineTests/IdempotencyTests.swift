import AgentOSCore
import Foundation
import Testing

/// Stripe/IETF semantics of idempotency keys (RELIABILITY checks 4–6).
@Suite struct IdempotencyTests {
    /// Rate limits off: these tests submit one action many times on purpose.
    static func harness(gated: Bool = false) -> Harness { Harness(gated: gated) { $0.rateLimits = false } }

    static func rows(_ h: Harness, phase: AuditDraft.Phase, outcome: String?) -> Int {
        h.audit.records.filter { $0.draft.phase == phase && $0.draft.outcome == outcome }.count
    }

    @Test(arguments: [false, true]) func sameKeySamePayloadHundredTimes(gated: Bool) throws {
        let h = Self.harness(gated: gated)
        let first = h.dispatch(h.valid("queue.pause", key: "key-100"))
        let original = try #require(first.result)
        #expect(!original.replayed)
        #expect(!first.message.contains("replayed"))
        for i in 1..<100 {
            let report = h.dispatch(h.valid("queue.pause", key: "key-100"))
            #expect(report.succeeded, "submission \(i): \(report.message)")
            #expect(report.result?.replayed == true)
            #expect(report.result?.message == original.message)
            #expect(report.result?.affected == original.affected)
            #expect(report.message.contains("replayed"))
            #expect(report.exitStatus == 0)
        }
        #expect(h.executor.count("queue.pause") == 1)
        #expect(h.executor.total == 1)
        #expect(Self.rows(h, phase: .intent, outcome: nil) == 1)
        #expect(Self.rows(h, phase: .outcome, outcome: "success") == 1)
        #expect(Self.rows(h, phase: .outcome, outcome: "replayed") == 99)
        #expect(h.audit.records.count == 101)
        // Replays change nothing, so nothing is invalidated or published again.
        #expect(h.cascade.invalidations == 1)
        #expect(h.cascade.executedNotices.count == 1)
    }

    @Test(arguments: [false, true]) func sameKeyDifferentPayloadIsRefusedEveryTime(gated: Bool) {
        let h = Self.harness(gated: gated)
        #expect(h.dispatch(h.valid("queue.pause", key: "k", overriding: ["queue": .string("video")])).succeeded)
        for i in 0..<20 {
            let request = h.valid("queue.pause", key: "k", overriding: ["queue": .string("audio\(i)")])
            let report = h.dispatch(request)
            #expect(report.failure == .idempotencyMismatch)
            #expect(report.exitStatus == 5)
            let rows = h.rows(request.requestID)
            #expect(rows.map(\.draft.phase) == [.denied])
            #expect(rows.first?.draft.outcome == "idempotency_conflict")
        }
        #expect(h.executor.total == 1)
        // The original payload still replays.
        #expect(h.dispatch(h.valid("queue.pause", key: "k", overriding: ["queue": .string("video")])).isReplay)
        #expect(h.executor.total == 1)
    }

    @Test(arguments: [false, true]) func mismatchBeforeTheFirstFinishedExecutesNothing(gated: Bool) {
        let h = Self.harness(gated: gated)
        h.executor.failNext(.failed("boom"))
        #expect(h.dispatch(h.valid("job.set_priority", key: "k", overriding: ["priority": .int(1)])).failure == .failed("boom"))
        // The failed claim was released: another payload is a fresh use of the key.
        #expect(h.dispatch(h.valid("job.set_priority", key: "k", overriding: ["priority": .int(2)])).succeeded)
        #expect(h.dispatch(h.valid("job.set_priority", key: "k", overriding: ["priority": .int(3)])).failure == .idempotencyMismatch)
        #expect(h.executor.executions.map { $0.payload.int("priority") } == [1, 2])
    }

    @Test(arguments: [false, true]) func keysAreScopedByUserAndAction(gated: Bool) {
        let h = Self.harness(gated: gated)
        #expect(h.dispatch(h.valid("queue.pause", user: "alice", key: "shared")).succeeded)
        #expect(h.dispatch(h.valid("queue.pause", user: "olga", key: "shared")).result?.replayed == false)
        #expect(h.dispatch(h.valid("queue.resume", user: "alice", key: "shared")).result?.replayed == false)
        #expect(h.dispatch(h.valid("queue.pause", user: "alice", key: "shared")).isReplay)
        #expect(h.executor.total == 3)
    }

    @Test func requestsWithoutKeyOrReadOnlyAlwaysExecute() {
        let h = Self.harness()
        for _ in 0..<3 { #expect(h.dispatch(h.valid("queue.pause")).result?.replayed == false) }
        for _ in 0..<3 { #expect(h.dispatch(h.valid("worker.ping", key: "ping-key")).result?.replayed == false) }
        #expect(h.executor.count("queue.pause") == 3)
        #expect(h.executor.count("worker.ping") == 3)
    }

    @Test(arguments: [ActionFailure.failed("backend down"), .notFound("queue video"), .conflict("already paused"), .unavailable("redis")])
    func aFailedExecutionReleasesTheKey(failure: ActionFailure) {
        let h = Self.harness()
        h.executor.failNext(failure)
        let first = h.dispatch(h.valid("queue.pause", key: "retry-me"))
        #expect(first.failure == failure)
        let second = h.dispatch(h.valid("queue.pause", key: "retry-me"))
        #expect(second.succeeded)
        #expect(second.result?.replayed == false)
        #expect(h.dispatch(h.valid("queue.pause", key: "retry-me")).isReplay)
        #expect(h.executor.count("queue.pause") == 2)
    }

    @Test(arguments: [false, true]) func storedResultExpiresAfterItsTTL(gated: Bool) {
        let h = Self.harness(gated: gated)
        #expect(h.dispatch(h.valid("queue.pause", key: "ttl")).succeeded)
        h.clock.advance(3_600_000 - 1)
        #expect(h.dispatch(h.valid("queue.pause", key: "ttl")).isReplay)
        h.clock.advance(1)
        #expect(h.dispatch(h.valid("queue.pause", key: "ttl")).result?.replayed == false)
        #expect(h.executor.count("queue.pause") == 2)
    }

    @Test func fiftyConcurrentSubmissionsExecuteOnce() async throws {
        let h = Self.harness()
        // The execution holds until the other 49 have their answer, so every one of them overlaps
        // it however the threads are scheduled (the wait is a hang guard, not a duration).
        let answered = DispatchSemaphore(value: 0)
        let overlapped = Recorder<Int>()
        h.executor.onExecute { _ in overlapped.append((0..<49).filter { _ in answered.wait(seconds: 30) }.count) }
        let requests = (0..<50).map { _ in h.valid("queue.purge_failed", key: "concurrent-key") }
        let reports = await offPool {
            onThreads(50) { i in
                let report = h.dispatch(requests[i])
                answered.signal()
                return report
            }
        }
        h.executor.onExecute(nil)

        #expect(overlapped.values == [49], "one execution, with the other 49 answered while it ran")
        let executed = reports.filter { $0.succeeded && $0.result?.replayed == false }
        let inProgress = reports.filter(\.isInProgress)
        #expect(executed.count == 1)
        #expect(inProgress.count == 49)
        #expect(h.executor.count("queue.purge_failed") == 1)
        #expect(inProgress.allSatisfy { $0.exitStatus == 5 })

        #expect(Self.rows(h, phase: .intent, outcome: nil) == 1)
        #expect(Self.rows(h, phase: .outcome, outcome: "success") == 1)
        #expect(Self.rows(h, phase: .outcome, outcome: "replayed") == 0)
        #expect(Self.rows(h, phase: .denied, outcome: "idempotency_conflict") == 49)
        #expect(try AuditVerifier.verify(h.audit).ok)

        // Once finished, the key replays.
        #expect(h.dispatch(h.valid("queue.purge_failed", key: "concurrent-key")).isReplay)
        #expect(h.executor.total == 1)
    }

    @Test func inProgressWhileTheFirstRuns() async {
        let h = Self.harness()
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        h.executor.onExecute { _ in
            entered.signal()
            release.wait(seconds: 10)
        }
        let request = h.valid("queue.pause", key: "slow")
        let (started, first, during, after) = await offPool { () -> (Bool, ActionReport, ActionReport, ActionReport) in
            let running = Background { h.dispatch(request) }
            let started = entered.wait(seconds: 10)
            let during = h.dispatch(h.valid("queue.pause", key: "slow"))
            release.signal()
            let first = running.wait()
            h.executor.onExecute(nil)
            let after = h.dispatch(h.valid("queue.pause", key: "slow"))
            return (started, first, during, after)
        }
        #expect(started)
        #expect(first.result?.replayed == false)
        #expect(during.failure == .inProgress)
        #expect(after.isReplay)
        #expect(h.executor.total == 1)
    }
}
