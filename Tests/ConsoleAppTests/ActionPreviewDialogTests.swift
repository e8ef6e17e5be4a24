import AgentOSCore
import AgentOSWorld
import ConsoleApp
import Foundation
import Testing

/// `d` in an action's dialog (Ctrl-D in a typed one) shows what the action would touch, inside
/// the dialog, through the real dispatcher; no key of the preview runs the action (issue 20 item 7).
@Suite("action preview in the dialog")
struct ActionPreviewDialogTests {
    static func queued(_ h: ActionHarness, _ queue: String) -> Set<String> {
        h.world.read { sim in Set(sim.jobs.values.filter { $0.queue == queue && $0.status == .queued }.map(\.id)) }
    }

    var preview: (ActionHarness) -> ActionPreview? = { h in
        guard case .confirm(let dialog) = h.state.overlay, case .shown(let p)? = dialog.preview?.answer else { return nil }
        return p
    }

    @Test func dInAYesNoDialogShowsTheRowsAndRunsNothing() throws {
        let h = ActionHarness(view: .jobs, height: 20)
        h.press(.char("]"))
        _ = try #require(h.select { $0 == "video_downloader" })
        let waiting = Self.queued(h, "video_downloader")
        #expect(waiting.count > 8, "the paused first-stage queue holds more jobs than the dialog lists at once")
        h.press(.char("P"))
        #expect(h.screen.contains("d previews"), "the dialog says how to preview")
        h.press(.char("d"))
        let p = try #require(preview(h))
        #expect(p.count == waiting.count && Set(p.rows) == waiting)
        #expect(h.screen.contains("Preview queue.pause") && h.screen.contains("nothing was changed"), "\(h.screen)")
        #expect(h.screen.contains(p.rows[0]) && h.screen.contains("more"), "\(h.screen)")
        // Scrolling shows the next rows; y, Enter and any other key run nothing.
        h.press(.down)
        #expect(h.screen.contains(p.rows[p.rows.count > 1 ? 1 : 0]))
        h.press(.char("y"), .enter, .char("x"))
        #expect(h.dispatched.isEmpty && preview(h) != nil)
        #expect(h.world.read { $0.queues["video_downloader"]?.paused } == true && Self.queued(h, "video_downloader") == waiting)
        // One audit row per preview, phase preview.
        #expect(try h.audit.tail(100).map(\.draft.phase) == [.preview])
        // d goes back to the question, which still runs on y.
        h.press(.char("d"))
        guard case .confirm(let dialog) = h.state.overlay else { throw Missing.dialog }
        #expect(dialog.preview == nil && h.screen.contains("[y/N]"), "\(h.screen)")
    }

    @Test func ctrlDInATypedDialogPreviewsAndTheClearDeletesThoseJobs() throws {
        let h = ActionHarness(view: .jobs)
        h.press(.char("]"))
        _ = try #require(h.select { $0 == "video_downloader" })
        let waiting = Self.queued(h, "video_downloader")
        h.press(.char("C"))
        // `d` is text in a typed dialog; Ctrl-D previews.
        h.press(.char("d"))
        guard case .confirm(let typed) = h.state.overlay else { throw Missing.dialog }
        #expect(typed.typedName == "d" && typed.preview == nil)
        h.press(.backspace, .ctrl("d"))
        let p = try #require(preview(h))
        #expect(Set(p.rows) == waiting && p.count == waiting.count)
        h.press(.enter)
        #expect(h.dispatched.isEmpty, "Enter in the preview runs nothing")
        h.press(.escape)
        guard case .confirm(let back) = h.state.overlay else { throw Missing.dialog }
        #expect(back.preview == nil, "Esc goes back to the question, the dialog stays")
        h.type("video_downloader")
        h.press(.enter)
        h.type("INC-7")
        h.press(.enter)
        #expect(h.dispatched.map(\.action) == ["queue.clear"])
        #expect(Self.queued(h, "video_downloader").isEmpty)
        #expect(!p.rows.isEmpty && p.rows.allSatisfy { h.job($0) == nil }, "the previewed jobs are the deleted ones")
    }

    enum Missing: Error { case dialog }
}
