import AgentOSCore
import AgentOSWorld
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// Issue 20 item 4 (D69): the retry and dead sets, the third and fourth panes of Jobs & Queue.
@Suite struct JobSetScreenTests {
    private static let now = Fixture.now

    /// The fixture snapshot with jobs of every kind the sets sort out.
    private static func snapshot() -> Snapshot {
        var s = Fixture.snapshot
        let at = { (secondsAgo: Double) in now.addingTimeInterval(-secondsAgo) }
        func job(
            _ id: String, _ name: String, _ status: JobStatus, attempts: Int, updated: Double, errorClass: String? = nil, eta: Double? = nil
        ) -> Job {
            Job(
                id: id, name: name, stage: "video_cutter", queue: "video_cutter", status: status, attempts: attempts, maxAttempts: 3,
                createdAt: at(3_000), updatedAt: at(updated), finishedAt: status == .failed ? at(updated) : nil, error: "boom",
                errorClass: errorClass, eta: eta.map { now.addingTimeInterval($0) })
        }
        s.jobs.recent = [
            job("aaaa0001-retry", "waits-to-retry", .retrying, attempts: 1, updated: 30, errorClass: "TimeoutError", eta: 95),
            job("aaaa0006-soon", "retries-sooner", .retrying, attempts: 2, updated: 10, errorClass: "TimeoutError", eta: 12),
            job("aaaa0002-dead", "used-every-try", .failed, attempts: 3, updated: 60, errorClass: "CodecError"),
            job("aaaa0003-fail", "failed-once", .failed, attempts: 1, updated: 90, errorClass: "IOError"),
            job("aaaa0004-done", "all-good", .completed, attempts: 1, updated: 10),
            // The scheduled set: waiting for their ETA (a pending job without one is not scheduled).
            job("aaaa0007-later", "runs-later", .pending, attempts: 0, updated: 5, eta: 600),
            job("aaaa0008-first", "runs-first", .pending, attempts: 0, updated: 50, eta: 40),
            job("aaaa0009-noeta", "pending-no-eta", .pending, attempts: 0, updated: 5)
        ]
        // A dead job older than the recent window: only in the failed list.
        s.jobs.failed = [
            s.jobs.recent[1], s.jobs.recent[2],
            job("aaaa0005-old", "dead-long-ago", .failed, attempts: 4, updated: 7_200, errorClass: "QuotaError")
        ]
        return s
    }

    private static func state(pane: ViewID) -> AppState {
        var state = Fixture.state(width: 120, height: 30, view: .jobs)
        _ = App.update(&state, .snapshotLoaded(snapshot()))
        while state.screen.id != pane { _ = App.update(&state, .key(.char("]"))) }
        return state
    }

    @Test func theRetrySetListsTheJobsWaitingToBeRetried() throws {
        let state = Self.state(pane: .retries)
        // The next attempt first: the one due in 12 s before the one due in 95 s.
        let list = Screens.listing(state)
        #expect((0..<list.count).map { list.id($0) } == ["aaaa0006-soon", "aaaa0001-retry"])
        let lines = App.render(state).text().split(separator: "\n")
        let header = try #require(lines.firstIndex { $0.contains("NEXT TRY") && $0.contains("ERROR") })
        try #require(lines.count > header + 2)
        let row = lines[header + 2]
        for part in ["aaaa0001", "waits-to-retry", "video_cutter", "1/3", "TimeoutError", Fmt.clock(Self.now.addingTimeInterval(95)), "1m"] {
            #expect(row.contains(part), "\(part) in \(row)")
        }
        #expect(lines[header + 1].contains(Fmt.clock(Self.now.addingTimeInterval(12))) && lines[header + 1].contains(" 12s"), "\(lines[header + 1])")
        #expect(!lines.joined().contains("used-every-try"))
    }

    @Test func theDeadSetListsTheFailedJobsNewestFirst() throws {
        let state = Self.state(pane: .dead)
        let list = Screens.listing(state)
        #expect((0..<list.count).map { list.id($0) } == ["aaaa0002-dead", "aaaa0003-fail", "aaaa0005-old"])
        let lines = App.render(state).text().split(separator: "\n")
        let header = try #require(lines.firstIndex { $0.contains("FAILED AT") })
        try #require(lines.count > header + 3)
        #expect(lines[header + 1].contains("used-every-try") && lines[header + 1].contains("3/3") && lines[header + 1].contains("CodecError"))
        // A permanent error: failed with attempts left, never retried by itself.
        #expect(lines[header + 2].contains("failed-once") && lines[header + 2].contains("1/3") && lines[header + 2].contains("IOError"))
        #expect(lines[header + 3].contains("dead-long-ago") && lines[header + 3].contains("4/3"))
        #expect(!lines.joined().contains("waits-to-retry") && !lines.joined().contains("all-good"))
        // Retry now and delete, aimed at the selected row.
        let entries = App.actionEntries(state)
        #expect(entries.map(\.spec.id) == [.jobRetry, .jobDelete])
        #expect(entries.allSatisfy { $0.payload["id"] == .string("aaaa0002-dead") })
    }

    @Test func retryNowOnMarkedDeadJobsRequeuesEachOfThem() throws {
        let h = ActionHarness(view: .jobs)
        // Two jobs of the simulated fleet that failed for good.
        let picked = Array(JobSetScreen.jobs(.dead, try #require(h.state.snapshot)).map(\.id).prefix(2))
        try #require(picked.count == 2, "the fleet has dead jobs")
        for id in picked { #expect(h.job(id)?.status == .failed) }
        while h.state.screen.id != .dead { h.press(.char("]")) }
        for id in picked {
            _ = try #require(h.select { $0 == id })
            h.press(.char(" "))
        }
        h.press(.char("r"))
        #expect(h.screen.contains("Retry job: 2 marked jobs? [y/N]") || h.dispatched.count == 2, "\(h.screen)")
        if case .confirm = h.state.overlay { h.press(.char("y")) }
        #expect(h.dispatched.map(\.action) == ["job.retry", "job.retry"])
        for id in picked { #expect(h.job(id)?.status == .queued, "\(id)") }
        h.reload()
        for id in picked { #expect(h.select { $0 == id } == nil, "\(id) left the dead set") }
    }

    /// Retry now in the retry set (D76): a job waiting for its next attempt is queued at once, its
    /// attempts unchanged (the failed one is counted already), and it leaves the set.
    @Test func retryNowInTheRetrySetQueuesTheJobWithoutWaiting() throws {
        let h = ActionHarness(view: .jobs)
        let snapshot = try #require(h.state.snapshot)
        let id = try #require(JobSetScreen.jobs(.retry, snapshot).first?.id, "the fleet has jobs waiting to retry")
        let attempts = try #require(h.job(id)).attempts
        #expect(h.job(id)?.status == .retrying)
        #expect(h.job(id)?.eta.map { $0 > snapshot.generatedAt.addingTimeInterval(-60) } == true, "the simulator set its next attempt")
        while h.state.screen.id != .retries { h.press(.char("]")) }
        _ = try #require(h.select { $0 == id })
        h.press(.char("r"))
        if case .confirm = h.state.overlay { h.press(.char("y")) }
        #expect(h.dispatched.map(\.action) == ["job.retry"], "\(h.screen)")
        #expect(h.job(id)?.status == .queued && h.job(id)?.attempts == attempts, "\(String(describing: h.job(id)))")
        #expect(h.job(id)?.eta == nil, "its timer dropped")
        h.reload()
        #expect(h.select { $0 == id } == nil, "\(id) left the retry set")
    }

    /// The scheduled set (D80): the jobs waiting for their ETA, soonest first, with ETA and IN.
    @Test func theScheduledSetListsTheJobsWaitingForTheirETASoonestFirst() throws {
        let state = Self.state(pane: .scheduled)
        let list = Screens.listing(state)
        #expect((0..<list.count).map { list.id($0) } == ["aaaa0008-first", "aaaa0007-later"])
        let lines = App.render(state).text().split(separator: "\n")
        let header = try #require(lines.firstIndex { $0.contains("ETA") && $0.contains("QUEUE") && $0.contains("IN") })
        try #require(lines.count > header + 2)
        for (line, eta, left) in [(lines[header + 1], 40.0, " 40s"), (lines[header + 2], 600.0, " 10m")] {
            #expect(line.contains(Fmt.clock(Self.now.addingTimeInterval(eta))) && line.contains(left), "\(line)")
        }
        #expect(lines[header + 1].contains("runs-first") && lines[header + 2].contains("runs-later"))
        let text = lines.joined()
        for other in ["pending-no-eta", "waits-to-retry", "used-every-try", "all-good"] { #expect(!text.contains(other), "\(other)") }
        // Run now (job.retry) and delete, aimed at the selected row.
        let entries = App.actionEntries(state)
        #expect(entries.map(\.spec.id) == [.jobRetry, .jobDelete])
        #expect(entries.allSatisfy { $0.payload["id"] == .string("aaaa0008-first") })
        // Reached from the palette as the other sets are.
        var palette = Fixture.state(width: 120, height: 30, view: .jobs)
        _ = App.update(&palette, .snapshotLoaded(Self.snapshot()))
        _ = App.update(&palette, .key(.char(":")))
        for c in "scheduled" { _ = App.update(&palette, .key(.char(c))) }
        _ = App.update(&palette, .key(.enter))
        #expect(palette.screen.id == .scheduled)
    }

    /// The embedded fleet's scheduler holds a share of its jobs until their ETA; run now queues
    /// one at once (in the simulator's queue, its ETA dropped, no attempt counted) and delete takes
    /// the marked ones out of the world.
    @Test func runNowAndDeleteInTheScheduledSetActOnTheWorld() throws {
        let h = ActionHarness(view: .jobs, scheduledShare: SimulatorConfig.fleetScheduledShare)
        // About one job in twenty is scheduled: the fleet runs on until three wait at once.
        var scheduled = JobSetScreen.jobs(.scheduled, try #require(h.state.snapshot)).map(\.id)
        var t = Fixture.now.addingTimeInterval(20)
        while scheduled.count < 3 && t < Fixture.now.addingTimeInterval(1_200) {
            t += 5
            h.world.advance(to: t)
            h.reload()
            scheduled = JobSetScreen.jobs(.scheduled, try #require(h.state.snapshot)).map(\.id)
        }
        try #require(scheduled.count >= 3, "the fleet has jobs waiting for their ETA: \(scheduled)")
        let first = scheduled[0]
        #expect(h.job(first)?.status == .pending && h.job(first)?.eta != nil)
        #expect(!h.world.read { $0.waiting.values.joined().joined().contains(first) }, "not queued before its ETA")
        while h.state.screen.id != .scheduled { h.press(.char("]")) }
        _ = try #require(h.select { $0 == first })
        h.press(.char("r"))
        if case .confirm = h.state.overlay { h.press(.char("y")) }
        #expect(h.dispatched.map(\.action) == ["job.retry"], "\(h.screen)")
        let ran = try #require(h.job(first))
        #expect(ran.status == .queued && ran.eta == nil && ran.attempts == 0, "\(ran)")
        #expect(h.world.read { $0.waiting[ran.queue]?.joined().contains(first) } == true, "in its queue at once")
        h.reload()
        #expect(h.select { $0 == first } == nil, "\(first) left the scheduled set")

        // Bulk delete over the marked rows.
        let marked = Array(scheduled.dropFirst().prefix(2))
        for id in marked {
            _ = try #require(h.select { $0 == id })
            h.press(.char(" "))
        }
        h.press(.char("D"))
        if case .confirm = h.state.overlay { h.press(.char("y")) }
        #expect(h.dispatched.map(\.action).suffix(2) == ["job.delete", "job.delete"], "\(h.screen)")
        for id in marked { #expect(h.job(id) == nil, "\(id) deleted") }
    }
}
