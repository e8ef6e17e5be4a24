import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// Throughput is a rate of complete minutes, over the window asked for (issue 19, item 7): the
/// minute in progress is not "now", and 6 h draws 6 hours.
@Suite struct ThroughputTests {
    /// 20 s into a minute, with `minutes` complete minutes before it: the oldest 300 at 100/min,
    /// the last hour at 10/min, and 3 completions so far in the minute in progress.
    static func analytics(minutes: Int = 360) -> (Analytics, now: Date) {
        let current = (Fixture.now.timeIntervalSince1970 / 60).rounded(.down) * 60
        var throughput = (1...minutes).reversed().map { ago in
            Analytics.Minute(minute: Date(timeIntervalSince1970: current - Double(ago) * 60), completed: ago > 60 ? 100 : 10, failed: 0)
        }
        throughput.append(Analytics.Minute(minute: Date(timeIntervalSince1970: current), completed: 3, failed: 1))
        return (Analytics(windowMinutes: 60, throughput: throughput), Date(timeIntervalSince1970: current + 20))
    }

    @Test func completeMinutesLeaveOutTheMinuteInProgressAndFillTheGaps() {
        let (full, now) = Self.analytics()
        let hour = full.completeMinutes(last: 60, now: now)
        #expect(hour.count == 60 && hour.allSatisfy { $0.completed == 10 }, "the last hour, without the 3 of the minute in progress")
        #expect(full.perMinute(last: 5, now: now) == 10)
        #expect(full.completeMinutes(last: 360, now: now).count == 360)
        // A minute with nothing finished counts as zero, not as a gap that shortens the window.
        var sparse = full
        sparse.throughput.removeAll { $0.minute == hour[59].minute }
        #expect(sparse.completeMinutes(last: 60, now: now).count == 60)
        #expect(sparse.perMinute(last: 5, now: now) == 8)
        // Less history than the window: from the first minute with data on.
        #expect(Self.analytics(minutes: 7).0.completeMinutes(last: 60, now: now).count == 7)
    }

    @Test func theAnalyticsViewShowsCompleteMinutesOverTheWindowChosen() {
        let (analytics, now) = Self.analytics()
        var s = Fixture.state(width: 120, height: 30, view: .analytics)
        var snapshot = Fixture.snapshot
        snapshot.analytics = analytics
        snapshot.generation += 1
        _ = App.update(&s, .tick(now))
        _ = App.update(&s, .snapshotLoaded(snapshot))
        /// The throughput sparkline: the left half of the row under its title.
        func sparkline(_ s: AppState) -> String {
            let frame = App.render(s)
            let title = (0..<frame.height).first { frame.row($0).contains("Throughput /min") } ?? 0
            return String(frame.row(title + 1).prefix(s.width / 2))
        }

        // The last complete minute, never the 3 of the minute that has just begun.
        #expect(App.render(s).text().contains("peak 10/min · last 10/min"), "\(App.render(s).text())")
        #expect(s[local: AnalyticsScreen.Local.self].window == 60)
        let hour = sparkline(s)
        _ = UpdateTests.fold(&s, [.char("w")])
        #expect(s[local: AnalyticsScreen.Local.self].window == 360)
        let sixHours = sparkline(s)
        #expect(App.render(s).text().contains("peak 100/min"))
        // Six hours are drawn: the busy first five hours high, the quiet last hour low.
        #expect(sixHours != hour, "6 h drew the same cells as 1 h:\n\(hour)\n\(sixHours)")
        let bars = Array(sixHours.trimmingCharacters(in: .whitespaces))
        #expect(bars.count > 20 && bars.first == "█" && bars.last != "█", "\(sixHours)")
    }
}
