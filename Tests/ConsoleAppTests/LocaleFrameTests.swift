import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// Frames in a terminal without UTF-8 (`LANG=C`): every cell is ASCII, so every string takes the
/// columns it was measured in and no later frame keeps debris of an earlier one (issue 19, item 10).
@Suite struct LocaleFrameTests {
    static let sizes = [(40, 12), (80, 24), (160, 48)]

    /// Each view, with its drill-down and the help over it, at each size.
    static func frames(unicode: Bool) -> [(name: String, frame: CellBuffer)] {
        var out: [(name: String, frame: CellBuffer)] = []
        for view in ViewID.allCases {
            for (w, h) in sizes {
                var s = Fixture.state(width: w, height: h, view: view)
                s.unicode = unicode
                out.append(("\(view) \(w)x\(h)", App.render(s)))
                _ = App.update(&s, .key(.enter))
                out.append(("\(view) \(w)x\(h) detail", App.render(s)))
                _ = App.update(&s, .key(.escape))
                _ = App.update(&s, .key(.char("?")))
                out.append(("\(view) \(w)x\(h) help", App.render(s)))
            }
        }
        return out
    }

    @Test func withoutUTF8EveryCellIsASCII() {
        for (name, frame) in Self.frames(unicode: false) {
            for y in 0..<frame.height {
                let row = frame.row(y)
                #expect(row.unicodeScalars.allSatisfy { $0.isASCII }, "\(name), row \(y): \(row)")
            }
        }
    }
}

extension LocaleFrameTests {
    /// At 40×12 the Dashboard's queues stop above the alerts and say how many did not fit (they
    /// were drawn under the Alerts title: "Alerts_transcriber  15  14").
    @Test func smallDashboardCountsTheQueuesThatDoNotFitInsteadOfOverlapping() {
        for (w, h) in [(40, 12), (60, 16), (80, 24)] {
            let frame = App.render(Fixture.state(width: w, height: h))
            let rows = (0..<h).map { frame.row($0) }
            guard let title = rows.firstIndex(where: { $0.hasPrefix(" Alerts") }) else {
                Issue.record("no alerts at \(w)x\(h): \(rows.joined(separator: "\n"))")
                continue
            }
            #expect(rows[title].trimmingCharacters(in: .whitespaces) == "Alerts", "\(w)x\(h): \(rows[title])")
            let shown = Fixture.snapshot.queues.filter { q in rows.contains { $0.hasPrefix("  \(q.name) ") } }.count
            let more = rows.first { $0.contains("more queues") }.flatMap { Int($0.drop { !$0.isNumber }.prefix { $0.isNumber }) } ?? 0
            #expect(shown + more == Fixture.snapshot.queues.count, "\(w)x\(h)")
        }
    }
}
