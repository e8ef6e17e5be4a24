import AgentOSCore
import Testing

/// After a success the SSOT cache is invalidated and the events go out; nothing otherwise.
@Suite struct CascadeTests {
    @Test func successInvalidatesOnceAndPublishesTheNotice() throws {
        let h = Harness()
        let request = h.valid("queue.pause", overriding: ["queue": .string("video")])
        let report = h.dispatch(request)
        #expect(report.succeeded)
        #expect(h.cascade.invalidations == 1)
        let notices = h.cascade.executedNotices
        #expect(notices.count == 1)
        let notice = try #require(notices.first)
        #expect(notice.action == "queue.pause")
        #expect(notice.user == "alice")
        #expect(notice.outcome == "success")
        #expect(notice.target == "video")
        #expect(notice.requestID == request.requestID.uuidString.lowercased())
        #expect(notice.summary == report.result?.message)
        #expect(h.cascade.events.last == .cacheInvalidated)
        #expect(h.cascade.events.count == 2)
    }

    @Test func executorEventsGoOutFirst() {
        let h = Harness()
        let own: [AgentEvent] = [.jobDeleted(id: "j1"), .queueUpdated(QueuePatch(name: "video", pending: 0), cause: "queue.cleared")]
        h.executor.emit(own)
        #expect(h.dispatch(h.valid("queue.clear")).succeeded)
        #expect(Array(h.cascade.events.prefix(2)) == own)
        #expect(h.cascade.events.map(\.type) == ["job.deleted", "queue.cleared", "action.executed", "cache.invalidated"])
        #expect(h.cascade.invalidations == 1)
    }

    @Test func eachMutatingSuccessInvalidatesOnce() {
        let h = Harness()
        let actions = ["job.cancel", "worker.restart", "manager.trigger", "config.reload", "logs.ack_errors", "system.breaker_trip"]
        for a in actions { #expect(h.dispatch(h.valid(a)).succeeded) }
        #expect(h.cascade.invalidations == actions.count)
        #expect(h.cascade.executedNotices.map(\.action) == actions)
        #expect(h.cascade.events.filter { $0 == .cacheInvalidated }.count == actions.count)
    }

    /// A refresh has just stored the new snapshot, and read-only actions change nothing cached:
    /// they publish their notice but invalidate nothing.
    @Test(arguments: ["system.cache_refresh", "worker.ping", "logs.export", "system.health_check", "config.export", "analytics.report"])
    func refreshAndReadOnlyActionsDoNotInvalidate(action: String) {
        let h = Harness()
        #expect(h.dispatch(h.valid(action)).succeeded)
        #expect(h.cascade.invalidations == 0)
        #expect(h.cascade.events.map(\.type) == ["action.executed"])
        #expect(h.cascade.executedNotices.first?.action == action)
    }

    @Test(arguments: [ActionFailure.failed("boom"), .notFound("queue"), .conflict("paused"), .unavailable("redis")])
    func aFailureCascadesNothing(failure: ActionFailure) {
        let h = Harness()
        h.executor.emit([.jobDeleted(id: "j1")])
        h.executor.failNext(failure)
        #expect(h.dispatch(h.valid("queue.pause")).failure == failure)
        #expect(h.cascade.invalidations == 0)
        #expect(h.cascade.events.isEmpty)
    }

    @Test func deniedAndReplayedRequestsCascadeNothing() {
        let h = Harness()
        #expect(h.dispatch(h.valid("queue.pause", user: "rita")).isDenied)
        #expect(h.dispatch(h.valid("queue.clear", overriding: ["queue": .string("a b")])).invalidField == "queue")
        #expect(h.cascade.invalidations == 0)
        #expect(h.dispatch(h.valid("queue.pause", key: "once")).succeeded)
        #expect(h.dispatch(h.valid("queue.pause", key: "once")).isReplay)
        #expect(h.cascade.invalidations == 1)
        #expect(h.cascade.executedNotices.count == 1)
    }

    @Test func anUnreachableCascadeWarnsButTheActionStands() {
        let h = Harness()
        h.cascade.setFailing(true)
        let request = h.valid("queue.pause")
        let report = h.dispatch(request)
        #expect(report.succeeded)
        #expect(report.warnings.contains { $0.contains("cache not invalidated") })
        #expect(report.warnings.contains { $0.contains("event not published") })
        #expect(h.rows(request.requestID).last?.draft.outcome == "success")
        #expect(h.executor.total == 1)
    }
}
