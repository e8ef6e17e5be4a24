import AgentOSTestSupport
import Testing

@testable import ConsoleUI

@Suite struct ChartTests {
    /// The one-row chart as it was drawn before `Chart` (the oracle for `Chart.sparkline`).
    static func oldSparkline(_ values: [Double], _ maximum: Double?, _ style: Style, _ buffer: inout CellBuffer, _ rect: Rect) {
        guard rect.width > 0, rect.height > 0 else { return }
        let shown = values.suffix(rect.width)
        let top = max(maximum ?? (shown.max() ?? 0), 1e-9)
        let levels = buffer.glyphs.blocks
        let start = rect.maxX - shown.count
        for (i, v) in shown.enumerated() {
            let level = v <= 0 ? -1 : min(levels.count - 1, Int((v / top) * Double(levels.count - 1) + 0.5))
            buffer.put(level < 0 ? " " : String(levels[level]), x: start + i, y: rect.maxY - 1, style)
        }
    }

    /// The multi-row chart as it was drawn before `Chart` (the oracle for `Chart.area`).
    static func oldAreaChart(_ values: [Double], _ maximum: Double?, _ style: Style, _ buffer: inout CellBuffer, _ rect: Rect) {
        guard rect.width > 0, rect.height > 0 else { return }
        let shown = Array(values.suffix(rect.width))
        guard !shown.isEmpty else { return }
        let per = max(1, rect.width / shown.count)
        let top = max(maximum ?? (shown.max() ?? 0), 1e-9)
        let levels = buffer.glyphs.blocks
        let eighths = rect.height * levels.count
        let start = rect.maxX - shown.count * per
        for (i, v) in shown.enumerated() {
            let filled = v <= 0 ? 0 : max(1, Int((min(v, top) / top) * Double(eighths) + 0.5))
            for dx in 0..<per {
                let x = start + i * per + dx
                for row in 0..<rect.height {
                    let here = min(levels.count, filled - row * levels.count)
                    guard here > 0 else { break }
                    buffer.put(String(levels[here - 1]), x: x, y: rect.maxY - 1 - row, style)
                }
            }
        }
    }

    /// For random series, maxima, rectangles and both glyph sets, the one chart draws the same
    /// cells (characters and styles) as the two widgets it replaced.
    @Test func sparklineAndAreaDrawExactlyWhatTheOldWidgetsDrew() {
        var g = Fuzz(seed: 5)
        for _ in 0..<3_000 {
            let values = (0..<Int.random(in: 0...90, using: &g)).map { _ -> Double in
                switch Int.random(in: 0..<5, using: &g) {
                case 0: return 0
                case 1: return -Double.random(in: 0...10, using: &g)
                case 2: return Double(Int.random(in: 0...100, using: &g))
                default: return Double.random(in: 0...1_000, using: &g)
                }
            }
            let maximum: Double? = Bool.random(using: &g) ? nil : Double.random(in: 0...500, using: &g)
            let rect = Rect(
                x: Int.random(in: 0...5, using: &g), y: 1, width: Int.random(in: 0...70, using: &g), height: Int.random(in: 0...9, using: &g))
            let glyphs: Glyphs = Bool.random(using: &g) ? .unicode : .ascii
            var background = CellBuffer(width: 80, height: 12, glyphs: glyphs)
            background.fill(background.bounds, "~", Style(.muted))
            let style = Style(.chart2)
            let label = "\(values.count) values, max \(String(describing: maximum)), \(rect)"

            var old = background
            Self.oldSparkline(values, maximum, style, &old, rect)
            var new = background
            Chart.sparkline(values, maximum: maximum, style: style).render(into: &new, rect: rect)
            guard Self.same(new, old, "sparkline: \(label)") else { return }

            old = background
            Self.oldAreaChart(values, maximum, style, &old, rect)
            new = background
            Chart.area(values, maximum: maximum, style: style).render(into: &new, rect: rect)
            guard Self.same(new, old, "area: \(label)") else { return }
        }
    }

    /// Records one readable issue (text and style runs) when the frames differ.
    static func same(_ new: CellBuffer, _ old: CellBuffer, _ label: String) -> Bool {
        guard new != old else { return true }
        Issue.record("\(label)\nnew:\n\(new.text())\n\(new.styleRuns())\nold:\n\(old.text())\n\(old.styleRuns())")
        return false
    }

    @Test func aChartOfAHeightUsesThatManyBottomRows() {
        var b = CellBuffer(width: 4, height: 4)
        b.render(Chart([1, 2, 4, 8], height: 2), in: b.bounds)
        #expect(b.text() == "\n\n   █\n▂▄██", "of 16 eighths in two rows: 8 fills both, 4 one, 2 half of one, 1 a quarter")
        var one = CellBuffer(width: 4, height: 3)
        one.render(Chart([1, 2, 4, 8], height: 1, scale: .spread, stretch: false, blankAbove: true), in: one.bounds)
        #expect(one.text() == "\n\n▂▃▅█", "spread: 1 + round(v / 8 × 7) eighths")
        #expect(one.row(2) == Chart.sparkline([1, 2, 4, 8]).drawn(width: 4).row(0), "a sparkline is the chart of height 1")
    }

    @Test func scalesStretchAndBlanks() {
        #expect(Chart.filled(0.5, top: 1, eighths: 8, scale: .proportional) == 4)
        #expect(Chart.filled(0.5, top: 1, eighths: 8, scale: .spread) == 5, "1 + round(0.5 × 7)")
        #expect(Chart.filled(0.001, top: 1, eighths: 16, scale: .proportional) == 1 && Chart.filled(0.001, top: 1, eighths: 16, scale: .spread) == 1)
        #expect(Chart.filled(3, top: 1, eighths: 16, scale: .spread) == 16, "above the maximum: the top")
        for v in [0, -1, Double.nan, .infinity, -.infinity] { #expect(Chart.filled(v, top: 1, eighths: 8, scale: .spread) == 0) }
        #expect(Chart([1, 2], height: 1).drawn(width: 6).row(0) == "▄▄▄███", "a short series stretched: three columns a value")
        #expect(Chart([1, 2], height: 1, stretch: false).drawn(width: 6).row(0) == "    ▄█")
        var blank = CellBuffer(width: 2, height: 2)
        blank.fill(blank.bounds, "~")
        blank.render(Chart([0, 8], height: 2, stretch: false, blankAbove: true), in: blank.bounds)
        #expect(blank.text() == " █\n █" && blank[0, 0].style == Style(.chart1))
        var kept = CellBuffer(width: 2, height: 2)
        kept.fill(kept.bounds, "~")
        kept.render(Chart([0, 4], maximum: 8, height: 2, stretch: false), in: kept.bounds)
        #expect(kept.text() == "~~\n~█")
        #expect(Chart([.nan, .infinity, 3], height: 1).drawn(width: 3).row(0) == "  █", "values that are not finite draw nothing")
    }
}

extension Chart {
    fileprivate func drawn(width: Int) -> CellBuffer {
        var b = CellBuffer(width: width, height: 1)
        render(into: &b, rect: b.bounds)
        return b
    }
}
