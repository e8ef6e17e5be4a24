import AgentOSCore
import AgentOSWorld
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// What the operator confirms is what runs (issue 19): the dialog's figure is re-measured while it
/// is open and travels with the request as `expect`; a figure that grew after confirming is refused
/// by the executor (nothing changes) and asked again; declining says "not run"; an action that
/// cannot apply to the selected job is greyed with the reason instead of asked, then refused.
@Suite struct ConfirmationTests {
    /// The queues pane on the paused first-stage queue, where jobs keep piling up.
    static func onPausedQueue() throws -> ActionHarness {
        let h = ActionHarness(view: .jobs)
        h.press(.char("]"))
        _ = try #require(h.select { $0 == "video_downloader" })
        return h
    }

    /// Opens the clear dialog with the measurement answered by the test: `shown` of the real count.
    /// Returns the real count.
    static func openClear(_ h: ActionHarness, shown: (Int) -> Int) throws -> Int {
        h.answerImpacts = false
        h.press(.char("C"))
        guard case .measureImpact(let token, _, _)? = h.effects.last else { throw MissingMeasurement(effects: "\(h.effects)") }
        let n = h.world.read { $0.pendingCount("video_downloader") }
        h.perform(App.update(&h.state, .impactMeasured(token: token, .success(shown(n)))))
        return n
    }

    struct MissingMeasurement: Error { let effects: String }

    static func confirmClear(_ h: ActionHarness, reason: String = "INC-19 poison batch") {
        h.type("video_downloader")
        h.press(.enter)
        h.type(reason)
        h.press(.enter)
    }

    @Test func theDialogsFigureFollowsTheQueueAndTravelsWithTheRequest() throws {
        let h = try Self.onPausedQueue()
        let before = h.world.read { $0.pendingCount("video_downloader") }
        h.press(.char("C"))
        #expect(h.screen.contains("Clear queue video_downloader: \(Fmt.count(before)) pending job"), "\(h.screen)")
        // The queue grows while the dialog is open.
        let later = Fixture.now.addingTimeInterval(80)
        h.world.advance(to: later)
        let grown = h.world.read { $0.pendingCount("video_downloader") }
        #expect(grown > before)
        h.perform(App.update(&h.state, .tick(later)))
        #expect(h.screen.contains("Clear queue video_downloader: \(Fmt.count(grown)) pending jobs will be deleted."), "\(h.screen)")
        Self.confirmClear(h)
        let clear = try #require(h.dispatched.last)
        #expect(clear.action == "queue.clear" && clear.payload["expect"] == .int(grown), "\(clear.payload)")
        #expect(h.world.read { $0.pendingCount("video_downloader") } == 0)
        let outcome = try #require(h.audit.records.last { $0.draft.action == "queue.clear" })
        #expect(outcome.draft.outcome == "success" && outcome.draft.result?.contains("\(grown) pending job(s) deleted") == true)
    }

    @Test func aFigureThatGrewAfterConfirmingIsRefusedThenAskedAgain() throws {
        let h = try Self.onPausedQueue()
        let confirmed = try Self.openClear(h) { $0 }
        // More jobs arrive between the last measurement and the operator's Enter.
        h.world.advance(to: Fixture.now.addingTimeInterval(80))
        let actual = h.world.read { $0.pendingCount("video_downloader") }
        #expect(actual > confirmed)
        Self.confirmClear(h)
        #expect(h.dispatched.last?.payload["expect"] == .int(confirmed))
        #expect(h.world.read { $0.pendingCount("video_downloader") } == actual, "nothing was deleted")
        let refusal = try #require(h.audit.records.last { $0.draft.action == "queue.clear" })
        #expect(refusal.draft.outcome == "conflict", "\(refusal.draft)")
        // Asked again, with the new figure; the reason is kept, the name is typed again.
        guard case .confirm(let again) = h.state.overlay else {
            Issue.record("not asked again: \(h.state.overlay) \(h.state.notices.map(\.text))")
            return
        }
        #expect(again.reason == "INC-19 poison batch" && again.step == .name)
        #expect(h.screen.contains("Clear queue video_downloader: \(Fmt.count(actual)) pending jobs will be deleted."), "\(h.screen)")
        #expect(h.screen.contains("\(Fmt.count(actual)) now, \(Fmt.count(confirmed)) confirmed: nothing was changed"), "\(h.screen)")
        h.type("video_downloader")
        h.press(.enter, .enter)
        #expect(h.dispatched.last?.payload["expect"] == .int(actual))
        #expect(h.world.read { $0.pendingCount("video_downloader") } == 0)
        #expect(h.lastNotice.contains("cleared queue video_downloader: \(actual) pending job(s) deleted"), "\(h.lastNotice)")
    }

    @Test func aSmallerFigureStillRuns() throws {
        // The bound is "at most what was confirmed": jobs that left the queue meanwhile do not block.
        let h = try Self.onPausedQueue()
        let n = try Self.openClear(h) { $0 + 5 }
        Self.confirmClear(h)
        #expect(h.dispatched.last?.payload["expect"] == .int(n + 5))
        #expect(h.world.read { $0.pendingCount("video_downloader") } == 0)
    }

    @Test func decliningSaysNotRun() throws {
        let h = ActionHarness(view: .jobs)
        let id = try #require(ActionTests.queuedJob(h))
        h.press(.char("c"), .char("n"))
        #expect(h.state.overlay == .none && h.dispatched.isEmpty && h.job(id)?.status == .queued)
        #expect(h.lastNotice == "job.cancel not run: declined", "\(h.lastNotice)")
        #expect(!h.screen.contains("job.cancel cancelled"))
    }

    @Test func actionsThatCannotApplyToTheJobAreGreyedWithTheReason() throws {
        let h = ActionHarness(view: .jobs)
        _ = try #require(h.select { h.job($0)?.status == .running })
        h.press(.char("c"))
        #expect(h.state.overlay == .none && h.effects.isEmpty, "not asked: \(h.state.overlay)")
        #expect(h.lastNotice == "job.cancel not available: job is running: job.kill stops it", "\(h.lastNotice)")
        h.press(.char("."))
        #expect(h.screen.contains("✗ job is running: job.kill stops it"), "\(h.screen)")
        h.press(.escape)

        let f = ActionHarness(view: .jobs)
        _ = try #require(f.select { f.job($0)?.status == .failed })
        f.press(.char("p"))
        #expect(f.state.overlay == .none && f.effects.isEmpty, "no form: \(f.state.overlay)")
        #expect(f.lastNotice == "job.set_priority not available: job is failed: only waiting jobs change priority", "\(f.lastNotice)")
    }

    @Test func aBulkRunLeavesOutTheMarkedJobsItCannotApplyTo() throws {
        let h = ActionHarness(view: .jobs)
        let queued = ActionTests.markQueuedJobs(h, 2)
        let running = try #require(h.select { h.job($0)?.status == .running })
        h.press(.char(" "))
        h.press(.char("c"))
        guard case .confirm(let dialog) = h.state.overlay else {
            Issue.record("no dialog: \(h.state.overlay) \(h.lastNotice)")
            return
        }
        #expect(dialog.pending.bulk.count == 2)
        #expect(h.screen.contains("1 marked row left out: job is running: job.kill stops it"), "\(h.screen)")
        h.press(.char("y"))
        #expect(Set(h.dispatched.compactMap { $0.payload["id"]?.description }) == Set(queued))
        #expect(h.job(running)?.status == .running)
        #expect(h.lastNotice == "job.cancel: 2 of 2 done", "\(h.lastNotice)")
    }
}
