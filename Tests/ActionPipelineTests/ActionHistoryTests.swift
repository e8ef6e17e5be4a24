import AgentOSCore
import Foundation
import Testing

/// The dispatcher reports every request, with its outcome and stage timings, to the history sink
/// (`action_history` live): what the metrics exporter's stage histograms are built from.
@Suite struct ActionHistoryTests {
    static func harness() -> (Harness, ActionDispatcher, InMemoryActionHistory) {
        let h = Harness()
        let history = InMemoryActionHistory()
        var ports = h.dispatcher.ports
        ports.history = history
        var options = ActionDispatcher.Options()
        options.useInjectedClock = true
        return (h, ActionDispatcher(ports, options: options), history)
    }

    @Test func aSuccessIsRecordedWithEveryStageItPassed() throws {
        let (h, dispatcher, history) = Self.harness()
        let request = h.valid("logs.set_level", user: "alice")
        let report = dispatcher.dispatch(request)
        #expect(report.succeeded, "\(report.message)")
        let entry = try #require(history.entries.first)
        #expect(history.entries.count == 1)
        #expect(entry.requestID == request.requestID && entry.action == "logs.set_level" && entry.user == "alice")
        #expect(entry.outcome == "success")
        #expect(entry.startedMillis == ManualClock.start)
        #expect(entry.totalMillis == report.totalMillis)
        for stage in ["validate", "rbac", "ratelimit", "breaker", "audit_intent", "execute", "audit_outcome", "cascade"] {
            #expect(entry.timings[stage] != nil, "no \(stage) timing: \(entry.timings)")
        }
        #expect(Set(entry.timings.keys).isSubset(of: Set(ActionHistoryEntry.stages)))
    }

    @Test func refusalsAreRecordedWithTheirReasonAndNoExecution() throws {
        let (h, dispatcher, history) = Self.harness()
        _ = dispatcher.dispatch(h.valid("logs.set_level", user: "rita"))
        _ = dispatcher.dispatch(ActionRequest(action: "no.such_action", actor: Actor(user: "alice")))
        #expect(history.entries.map(\.outcome) == ["denied", "invalid"])
        let denied = try #require(history.entries.first)
        #expect(denied.timings["rbac"] != nil && denied.timings["execute"] == nil)
        #expect(history.figures(nowMillis: ManualClock.start + 1_000).denials == 2)
    }
}
