import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// The Analytics tab's Task types pane (issue 20 item 5, D70): a row per task over the window `w`
/// picks, and the runtime histogram in the drill-down.
@Suite struct TaskTypesScreenTests {
    static let histogram = [0, 0, 0, 5, 40, 30, 15, 0, 0, 0]

    static func state() -> AppState {
        var s = Fixture.snapshot
        s.generation += 1
        let (from, to) = Analytics.completeWindow(minutes: 60, now: Fixture.now)
        let (from15, to15) = Analytics.completeWindow(minutes: 15, now: Fixture.now)
        s.analytics.taskTypes = [
            Analytics.TaskType(
                stage: "face_detector", windowMinutes: 15, from: from15, to: to15, succeeded: 3, failed: 0, p50Ms: 300, p95Ms: 400,
                p99Ms: 410, histogram: [0, 1, 2, 0, 0, 0, 0, 0, 0, 0]),
            Analytics.TaskType(
                stage: "video_cutter", windowMinutes: 60, from: from, to: to, succeeded: 90, failed: 10, p50Ms: 1_200, p95Ms: 4_000,
                p99Ms: 9_000, histogram: histogram)
        ]
        var state = Fixture.state(width: 120, height: 40, view: .analytics)
        _ = App.update(&state, .snapshotLoaded(s))
        _ = App.update(&state, .key(.char("]")))
        return state
    }

    @Test func rowsFollowTheAnalyticsWindow() throws {
        var state = Self.state()
        #expect(state.screen.id == .taskTypes && ViewID.named("tasks") == .analytics)
        let lines = App.render(state).text().split(separator: "\n")
        let row = try #require(lines.first { $0.contains("agentos.video_cutter") })
        let cells = row.split(separator: " ").map(String.init)
        #expect(Array(cells.suffix(7)) == ["90", "10", "1.7", "90.0%", "1.2s", "4.0s", "9.0s"], "\(row)")
        #expect(!lines.contains { $0.contains("agentos.face_detector") })
        // `w` twice: 60 → 360 → 15 minutes, the 15-minute figures.
        _ = App.update(&state, .key(.char("w")))
        _ = App.update(&state, .key(.char("w")))
        let fifteen = App.render(state).text()
        #expect(fifteen.contains("agentos.face_detector") && !fifteen.contains("agentos.video_cutter"))
        #expect(fifteen.contains("last 15 min"))
    }

    @Test func detailDrawsTheRuntimeHistogram() throws {
        var state = Self.state()
        _ = App.update(&state, .key(.enter))
        let frame = App.render(state).text()
        #expect(frame.contains("Task type: agentos.video_cutter"))
        #expect(frame.contains("1.2s / 4.0s / 9.0s"))
        let chart = TaskTypesScreen.histogramLines(Self.histogram, unicode: true).map(\.text)
        // Four rows of six-column bars, tallest (40) full height, 5 of 40 in the bottom row only.
        #expect(chart.count == 6)
        let column = { (row: Int, bucket: Int) in String(Array(chart[row])[(bucket * 6)..<(bucket * 6 + 6)]) }
        for row in 0..<4 { #expect(column(row, 4) == "██████", "row \(row)") }
        #expect(column(3, 3) == "▄▄▄▄▄▄" && column(2, 3).allSatisfy { $0 == " " })
        #expect(column(3, 0).allSatisfy { $0 == " " } && column(3, 9).allSatisfy { $0 == " " })
        #expect(chart[4].hasPrefix("<100ms") && chart[4].contains("≥60s"))
        #expect(chart[5].split(separator: " ") == ["0", "0", "0", "5", "40", "30", "15", "0", "0", "0"])
        for line in chart where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            #expect(frame.contains(line.trimmingCharacters(in: .whitespaces)), "\(line)")
        }
    }
}
