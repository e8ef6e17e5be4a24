import AgentOSCore
import ConsoleApp
import Foundation
import Testing

/// Links and a back stack (issue 20 item 3): from a drill-down to what it leads to, shown as
/// breadcrumbs, `Esc` back one level with the drill-down open again.
@Suite struct LinksTests {
    func detail(_ s: AppState) -> DetailTarget? {
        if case .detail(let target) = s.overlay { return target }
        return nil
    }

    /// A recent job that has a worker and log lines of its own.
    func jobWithLogs() throws -> Job {
        let s = Fixture.snapshot
        return try #require(
            s.jobs.recent.first { j in j.workerID != nil && s.logs.recent.contains { $0.jobID == j.id } && s.workers.contains { $0.id == j.workerID }
            },
            "the fixture has a job with a worker and log lines")
    }

    @Test func fromAJobToItsLogLinesAndBack() throws {
        let job = try jobWithLogs()
        var s = Fixture.state(width: 140, height: 40, view: .dashboard)
        PaletteTests.palette(&s, "job \(job.id)")
        #expect(detail(s) == DetailTarget(.jobs, job.id))
        #expect(App.render(s).text().contains("l its log lines"), "the drill-down says where it leads")

        _ = App.update(&s, .key(.char("l")))
        #expect(s.view == .logs && s.overlay == .none)
        let shown = Screens.items(s)
        #expect(!shown.isEmpty && shown.allSatisfy { $0.search.contains(job.id) }, "only its lines")
        let context = App.render(s).text().split(separator: "\n")[1]
        #expect(context.contains("Job \(Fmt.shortID(job.id)) › Esc back"), "\(context)")

        _ = App.update(&s, .key(.escape))
        #expect(s.view == .jobs && detail(s) == DetailTarget(.jobs, job.id), "back on the job, its drill-down open")
        #expect(s.navStack.isEmpty && s.screens[list: .logs].filter.text.isEmpty, "the log view's own filter is back")
    }

    @Test func workerToJobToLogAndBackThroughTheBreadcrumbs() throws {
        let job = try jobWithLogs()
        let worker = try #require(job.workerID)
        var s = Fixture.state(width: 140, height: 40, view: .workers)
        PaletteTests.palette(&s, "worker \(worker)")
        #expect(detail(s) == DetailTarget(.workers, worker))

        _ = App.update(&s, .key(.char("J")))
        #expect(s.screen.id == .jobs && Screens.items(s).allSatisfy { $0.search.contains(worker) })
        // Its job, opened from the filtered list, then its log lines.
        let position = try #require(Screens.listing(s).position(of: job.id))
        s.current.cursor.selected = position
        _ = App.update(&s, .key(.enter))
        #expect(detail(s) == DetailTarget(.jobs, job.id))
        _ = App.update(&s, .key(.char("l")))
        #expect(s.view == .logs)
        let crumbs = App.render(s).text().split(separator: "\n")[1]
        #expect(crumbs.contains("› Job \(Fmt.shortID(job.id)) › Esc back"), "\(crumbs)")

        _ = App.update(&s, .key(.escape))
        #expect(detail(s) == DetailTarget(.jobs, job.id), "back on the job")
        _ = App.update(&s, .key(.escape))
        #expect(s.overlay == .none && s.screen.id == .jobs, "its drill-down closes (opened by Enter, not a link)")
        _ = App.update(&s, .key(.escape))
        #expect(s.view == .workers && detail(s) == DetailTarget(.workers, worker), "back on the worker")
        #expect(s.navStack.isEmpty && s.screens[list: .jobs].filter.text.isEmpty)
    }

    @Test func aLinkToAnotherItemsDrillDownGoesBackOnEsc() throws {
        let job = try jobWithLogs()
        let worker = try #require(job.workerID)
        var s = Fixture.state(width: 140, height: 40, view: .dashboard)
        PaletteTests.palette(&s, "job \(job.id)")
        _ = App.update(&s, .key(.char("w")))
        #expect(s.view == .workers && detail(s) == DetailTarget(.workers, worker))
        _ = App.update(&s, .key(.escape))
        #expect(s.view == .jobs && detail(s) == DetailTarget(.jobs, job.id))
    }
}
