import AgentOSCore
import ConsoleApp
import Foundation
import Testing

/// Find anything (issue 20 item 1): `:job`, `:worker`, `:queue`, `:config`, `:manager` with what
/// an id starts with; Tab completes ids; ↑/↓ recall earlier commands.
@Suite struct PaletteTests {
    /// Types `:command` and returns the effects of its Enter.
    @discardableResult
    static func palette(_ s: inout AppState, _ command: String) -> [Effect] {
        _ = App.update(&s, .key(.char(":")))
        for c in command { _ = App.update(&s, .key(.char(c))) }
        return App.update(&s, .key(.enter))
    }

    func openDetail(_ s: AppState) -> DetailTarget? {
        if case .detail(let target) = s.overlay { return target }
        return nil
    }

    @Test func anItemByTheStartOfItsIdOpensItsDrillDownInItsTab() throws {
        let snapshot = Fixture.snapshot
        let worker = try #require(snapshot.workers.last)
        var s = Fixture.state(view: .dashboard)
        Self.palette(&s, "worker \(worker.id.prefix(worker.id.count - 2))")
        #expect(s.view == .workers && openDetail(s) == DetailTarget(.workers, worker.id))

        let job = try #require(snapshot.jobs.recent.dropFirst(3).first)
        s = Fixture.state(view: .dashboard)
        let effects = Self.palette(&s, "job \(job.id.prefix(8))")
        #expect(s.view == .jobs && openDetail(s) == DetailTarget(.jobs, job.id))
        #expect(effects == [.loadJobHistory(job.id)], "its timeline loads")

        s = Fixture.state(view: .dashboard)
        Self.palette(&s, "config cache.warm")
        #expect(s.view == .config && openDetail(s) == DetailTarget(.config, "cache.warm_interval"))
    }

    /// `:alert` (D76): the Dashboard lists the open alerts; the name completes, then the ids.
    @Test func anAlertByItsIdOpensFromThePaletteWithCompletion() throws {
        let alert = try #require(Fixture.snapshot.alerts.first { $0.status == .active })
        var s = Fixture.state(view: .jobs)
        #expect(App.paletteCompletions("ale", s).first == "alert")
        #expect(App.paletteCompletions("alert ", s).contains("alert \(alert.id)"), "\(App.paletteCompletions("alert ", s))")
        Self.palette(&s, "alert \(alert.id)")
        #expect(s.view == .dashboard && openDetail(s) == DetailTarget(.dashboard, String(alert.id)))
        #expect(App.render(s).text().contains("Alert #\(alert.id)"))
    }

    @Test func severalMatchesFilterThePaneAndNoneSaysSo() {
        var s = Fixture.state(view: .dashboard)
        Self.palette(&s, "queue video")
        #expect(s.screen.id == .queues && s.current.filter.text == "video" && s.overlay == .none)
        #expect(s.notices.last?.text.contains("match 'video': shown filtered") == true, "\(s.notices.last?.text ?? "")")
        #expect(Screens.rowCount(s) == Fixture.snapshot.queues.filter { $0.name.contains("video") }.count)

        Self.palette(&s, "worker nosuchworker")
        #expect(s.notices.last?.text == "nothing in workers matches 'nosuchworker'")
    }

    @Test func aJobBeyondTheRecentWindowIsLookedUpInTheBackend() throws {
        var s = Fixture.state(view: .dashboard)
        let effects = Self.palette(&s, "job 0a1b2c3d")
        #expect(effects == [.findJob("0a1b2c3d")])
        #expect(s.notices.last?.text.hasPrefix("looking up job 0a1b2c3d") == true)

        let old = Job(
            id: "0a1b2c3d-0000-4000-8000-000000000001", name: "last week's upload", stage: "video_cutter", queue: "video_cutter",
            status: .completed, owner: "erin", createdAt: Fixture.now.addingTimeInterval(-7 * 86_400))
        let loads = App.update(&s, .jobsFound("0a1b2c3d", .success([old])))
        #expect(openDetail(s) == DetailTarget(.jobs, old.id) && loads == [.loadJobHistory(old.id)])
        let frame = App.render(s).text()
        #expect(frame.contains("looked up with :job") && frame.contains("last week's upload") && frame.contains("erin"), "\(frame)")

        var t = Fixture.state(view: .dashboard)
        Self.palette(&t, "job 0a1b")
        _ = App.update(&t, .jobsFound("0a1b", .success([])))
        #expect(t.notices.last?.text == "no job id starts with 0a1b" && t.overlay == .none)
        _ = App.update(&t, .jobsFound("0a1b", .success([old, old])))
        #expect(t.notices.last?.text == "2 jobs start with 0a1b: type more of the id")
        // Not an id: never sent to the backend.
        #expect(Self.palette(&t, "job upload").isEmpty)
    }

    @Test func tabCompletesIdsAndTheHistoryComesBackWithUpAndDown() throws {
        let worker = try #require(Fixture.snapshot.workers.first)
        var s = Fixture.state(view: .dashboard)
        _ = App.update(&s, .key(.char(":")))
        for c in "worker \(worker.id.prefix(3))" { _ = App.update(&s, .key(.char(c))) }
        _ = App.update(&s, .key(.tab))
        guard case .palette(let completed) = s.overlay else {
            Issue.record("the palette closed")
            return
        }
        #expect(completed.hasPrefix("worker \(worker.id.prefix(3))") && completed.count > "worker ".count + 3, "\(completed)")
        _ = App.update(&s, .key(.escape))

        Self.palette(&s, "logs")
        Self.palette(&s, "queues")
        _ = App.update(&s, .key(.char(":")))
        _ = App.update(&s, .key(.up))
        #expect(s.overlay == .palette("queues"))
        _ = App.update(&s, .key(.up))
        #expect(s.overlay == .palette("logs"))
        _ = App.update(&s, .key(.down))
        _ = App.update(&s, .key(.down))
        #expect(s.overlay == .palette(""), "past the newest: the empty line")
        #expect(s.palette.history.suffix(2) == ["logs", "queues"])
    }

    @Test func theHistoryFileKeepsTheNewestCommandsWithoutControlCharacters() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("palette-\(UUID().uuidString)/history")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(PaletteState.load(url).history.isEmpty, "no file: no history")
        var s = Fixture.state()
        for i in 0..<(PaletteState.limit + 5) { Self.palette(&s, "nosuch\(i)") }
        Self.palette(&s, "logs")
        try s.palette.save(to: url)
        let loaded = PaletteState.load(url)
        #expect(loaded.history.count == PaletteState.limit && loaded.history.last == "logs" && loaded.history.first == "nosuch6")
        try Data("queues\u{1b}[2J\nlogs\n".utf8).write(to: url)
        #expect(PaletteState.load(url).history == ["queues[2J", "logs"], "an escape written into the file is not replayed")
    }
}
