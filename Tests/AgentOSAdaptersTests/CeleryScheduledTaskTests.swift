import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// The scheduled set on Celery (D80): a task received with an ETA or countdown (`task-received`'s
/// `eta`) waits for it in the worker, so it is a scheduled job until it starts.
@Suite("Celery scheduled tasks")
struct CeleryScheduledTaskTests {
    static func event(_ type: String, _ id: String, _ more: [String: JSONTree] = [:]) -> CeleryEvent {
        CeleryEvent(type: type, hostname: "w@h", timestamp: 1_800_000_000, fields: more.merging(["uuid": .string(id)]) { a, _ in a })
    }

    @Test func aTaskReceivedWithAnETAIsScheduledUntilItStarts() throws {
        var state = CeleryState()
        state.apply(Self.event("task-received", "soon", ["eta": .string("2027-01-15T08:00:00.500000+00:00")]))
        state.apply(Self.event("task-received", "offset", ["eta": .string("2027-01-15T09:00:00+01:00")]))
        state.apply(Self.event("task-received", "now", ["eta": .null]))
        let jobs = Dictionary(uniqueKeysWithValues: state.jobs().map { ($0.id, $0) })
        #expect(jobs["soon"]?.status == .pending && jobs["soon"]?.eta == Date(timeIntervalSince1970: 1_800_000_000.5))
        #expect(jobs["offset"]?.status == .pending && jobs["offset"]?.eta == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(jobs["now"]?.status == .queued && jobs["now"]?.eta == nil, "no ETA: queued as before")
        state.apply(Self.event("task-started", "soon"))
        let started = try #require(state.jobs().first { $0.id == "soon" })
        #expect(started.status == .running && started.eta == nil)
    }
}
