import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// The "what changed" pane: one time-ordered list of everything that changed in the last hour.
@Suite struct ChangesScreenTests {
    private static let now = Fixture.now

    /// A snapshot with one change of each kind inside the window and one of each outside it.
    private static func snapshot() -> Snapshot {
        var s = Fixture.snapshot
        let at = { (secondsAgo: Double) in now.addingTimeInterval(-secondsAgo) }
        s.audit = [
            // A preview changed nothing (D62): never in the pane.
            AuditEntry(seq: 3, ts: at(5), user: "erin", action: "queue.clear", phase: "preview", outcome: "preview", target: "q-previewed"),
            AuditEntry(seq: 2, ts: at(10), user: "bob", action: "queue.clear", phase: "outcome", outcome: "success", target: "video_cutter"),
            AuditEntry(seq: 1, ts: at(4_000), user: "carol", action: "job.cancel", phase: "outcome", outcome: "success", target: "j-old")
        ]
        s.config = [
            ConfigEntry(key: "a.changed", type: .int, value: .int(5), defaultValue: .int(1), version: 2, updatedAt: at(20), updatedBy: "alice"),
            ConfigEntry(key: "b.original", type: .int, value: .int(1), defaultValue: .int(1), version: 1, updatedAt: at(30)),
            ConfigEntry(key: "c.long_ago", type: .int, value: .int(2), defaultValue: .int(1), version: 3, updatedAt: at(7_200), updatedBy: "bob")
        ]
        s.workers = [
            WorkerInfo(id: "w-new", stage: "video_cutter", status: .online),
            WorkerInfo(id: "w-gone", stage: "video_cutter", status: .offline),
            WorkerInfo(id: "w-old", stage: "video_cutter", status: .online)
        ]
        s.workers[0].startedAt = at(40)
        s.workers[1].heartbeatAgeSeconds = 50
        s.workers[2].startedAt = at(5_000)
        s.alerts = [
            Alert(id: 9, ts: at(60), severity: .critical, source: "redis", title: "Redis down", message: "", status: .active)
        ]
        s.system.maintenance = Maintenance(enabled: true, message: "upgrade", since: at(70), by: "dave")
        s.system.breakers = [
            BreakerInfo(service: "postgres", state: .open, failures: 5, calls: 9, openedAt: at(80)),
            BreakerInfo(service: "redis", state: .closed, failures: 0, calls: 9, openedAt: at(85))
        ]
        s.managers = Array(s.managers.prefix(1))
        s.managers[0].lastRunAt = at(90)
        s.managers[0].lastError = "disk full"
        return s
    }

    @Test func mergesEveryKindNewestFirstWithinTheWindow() {
        let changes = FleetChange.recent(in: Self.snapshot(), now: Self.now, window: ChangesScreen.window)
        #expect(changes.map(\.kind) == [.action, .config, .worker, .worker, .alert, .maintenance, .breaker, .manager])
        #expect(changes.map(\.ts) == changes.map(\.ts).sorted(by: >))
        #expect(changes[0].who == "bob" && changes[0].what == "queue.clear video_cutter → success")
        #expect(changes[1].who == "alice" && changes[1].what == "a.changed = 5 (v2)")
        #expect(changes[2].what == "w-new joined (video_cutter)")
        #expect(changes[3].what == "w-gone went offline" && changes[3].ts == Self.now.addingTimeInterval(-50))
        #expect(changes[4].what.contains("Redis down") && changes[4].who == "redis")
        #expect(changes[5].who == "dave" && changes[5].what == "maintenance on: upgrade")
        #expect(changes[6].what.hasPrefix("postgres breaker open"))
        #expect(changes[7].what.hasSuffix("ran: failed: disk full"))
        // A preview, outside the window, a configuration entry never changed, and a closed breaker are left out.
        let all = changes.map(\.what).joined(separator: "\n")
        for absent in ["j-old", "b.original", "c.long_ago", "w-old", "redis breaker", "q-previewed"] { #expect(!all.contains(absent), "\(absent)") }
    }

    @Test func isTheDashboardsSecondPaneAndFollowsAnotherConsolesAction() throws {
        var state = Fixture.state(width: 120, height: 30, view: .dashboard)
        _ = App.update(&state, .key(.char("]")))
        #expect(state.screen.id == .changes)
        #expect(ViewID.named("changes") == .dashboard)
        let before = App.render(state).text()
        #expect(!before.contains("erin"))
        // Another console's action arrives as an event and is on top of the list in the next frame.
        let notice = ActionNotice(action: "worker.pause", user: "erin", outcome: "success", target: "cut-1@gpu-16")
        let seq = (state.sequencer.lastSeq ?? 0) + 1
        _ = App.update(&state, .bus(.event(EventEnvelope(seq: seq, ts: Fixture.now, source: "other", event: .actionExecuted(notice)))))
        let lines = App.render(state).text().split(separator: "\n")
        let header = try #require(lines.firstIndex { $0.contains("TIME") && $0.contains("WHAT") })
        #expect(lines[header + 1].contains("erin") && lines[header + 1].contains("worker.pause cut-1@gpu-16 → success"))
    }

    @Test func paneFrame() throws {
        var state = Fixture.state(width: 120, height: 30, view: .dashboard)
        _ = App.update(&state, .key(.char("]")))
        try Fixture.assertGolden(App.render(state), "dashboard-changes-120x30")
    }
}
