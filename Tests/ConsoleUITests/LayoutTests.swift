import AgentOSTestSupport
import Testing

@testable import ConsoleUI

@Suite struct LayoutTests {
    static let area = Rect(x: 3, y: 2, width: 100, height: 30)

    func widths(_ constraints: [Constraint], _ width: Int, spacing: Int = 0) -> [Int] {
        Layout.horizontal(constraints).spacing(spacing).split(Rect(x: 0, y: 0, width: width, height: 1)).map(\.width)
    }

    @Test func eachConstraintGetsWhatItAsksWhenThereIsRoom() {
        #expect(widths([.length(10), .fill(1)], 100) == [10, 90])
        #expect(widths([.percentage(25), .fill(1)], 100) == [25, 75])
        #expect(widths([.ratio(1, 3), .fill(1)], 99) == [33, 66])
        #expect(widths([.max(10), .fill(1)], 100) == [10, 90])
        #expect(widths([.min(10), .fill(1)], 100) == [10, 90], "a fill takes the room before a minimum does")
        #expect(widths([.min(10), .length(5)], 100) == [95, 5], "without a fill the minima take the room")
        #expect(widths([.length(10), .length(20)], 100) == [10, 90], "else the last part does")
        #expect(widths([.length(10), .max(20)], 100) == [80, 20], "but not past its maximum")
        #expect(widths([.fill(1), .fill(3)], 100) == [25, 75])
        #expect(widths([.fill(0), .fill(1)], 100) == [0, 100])
    }

    @Test func partsGiveWayInOrderWhenTheAreaIsTooSmall() {
        #expect(widths([.percentage(50), .length(30), .min(30)], 70) == [10, 30, 30], "percentages first")
        #expect(widths([.length(30), .min(30)], 40) == [10, 30], "then lengths")
        #expect(widths([.length(30), .max(10), .min(30)], 35) == [4, 1, 30], "lengths and maxima in proportion")
        #expect(widths([.min(30), .min(10)], 20) == [14, 6], "minima last, in proportion (none asks for more than the room)")
        #expect(widths([.length(10), .length(10), .length(10)], 20) == [7, 7, 6], "rounding comes off the last")
    }

    @Test func spacingAndMargins() {
        let parts = Layout.vertical([.length(3), .fill(1), .length(1)]).margin(1).spacing(1).split(Self.area)
        #expect(parts == [Rect(x: 4, y: 3, width: 98, height: 3), Rect(x: 4, y: 7, width: 98, height: 22), Rect(x: 4, y: 30, width: 98, height: 1)])
        let sides = Layout.horizontal([.fill(1), .fill(1)]).margin(horizontal: 2, vertical: 0).spacing(2).split(Self.area)
        #expect(sides == [Rect(x: 5, y: 2, width: 47, height: 30), Rect(x: 54, y: 2, width: 47, height: 30)])
        #expect(widths([.fill(1), .fill(1), .fill(1)], 3, spacing: 2) == [0, 0, 0], "narrower than its gaps: every part is empty")
        #expect(Layout.horizontal([.fill(1)]).margin(40).split(Rect(x: 0, y: 0, width: 5, height: 5)) == [Rect(x: 2, y: 2, width: 1, height: 1)])
        #expect(Layout.vertical([]).split(Self.area).isEmpty)
    }

    @Test func hugeAndNegativeArgumentsStayInTheArea() {
        #expect(widths([.length(-5), .fill(1)], 10) == [0, 10])
        #expect(widths([.length(Int.max), .fill(Int.max)], 10) == [10, 0])
        #expect(widths([.ratio(Int.max - 1, Int.max), .ratio(1, 0), .fill(1)], 10) == [9, 0, 1])
        #expect(widths([.percentage(250), .percentage(-3)], 10) == [10, 0])
        #expect(widths([.fill(1), .fill(1)], 10, spacing: Int.max) == [0, 0])
    }

    /// The constraints that replaced the old `Rect` splits give the rectangles the old arithmetic gave.
    @Test func constraintsGiveTheOldSplitsRectangles() {
        let r = Rect(x: 1, y: 1, width: 80, height: 24)
        #expect(Layout.horizontal([.fill(1), .fill(1), .fill(2)]).spacing(1).split(r).map(\.width) == [20, 19, 39])
        #expect(Layout.horizontal([.fill(1), .fill(1), .fill(1)]).spacing(1).split(r).map(\.x) == [1, 28, 55])
        #expect(
            Layout.vertical([.fill(1), .fill(1)]).spacing(1).split(r) == [
                Rect(x: 1, y: 1, width: 80, height: 12), Rect(x: 1, y: 14, width: 80, height: 11)
            ])
        #expect(
            Layout.vertical([.length(30), .fill(1)]).split(r) == [Rect(x: 1, y: 1, width: 80, height: 24), Rect(x: 1, y: 25, width: 80, height: 0)])
        #expect(
            Layout.vertical([.fill(1), .length(1)]).split(r) == [Rect(x: 1, y: 1, width: 80, height: 23), Rect(x: 1, y: 24, width: 80, height: 1)])
        #expect(Layout.horizontal([.length(-2), .fill(1)]).split(r)[0].width == 0)
        #expect(Layout.horizontal([.length(40), .fill(1)]).split(r)[1] == Rect(x: 41, y: 1, width: 40, height: 24))
    }

    static func randomConstraint(_ g: inout Fuzz) -> Constraint {
        let n = Int.random(in: -5...120, using: &g)
        switch Int.random(in: 0..<6, using: &g) {
        case 0: return .length(n)
        case 1: return .min(n)
        case 2: return .max(n)
        case 3: return .percentage(Int.random(in: -10...130, using: &g))
        case 4: return .ratio(Int.random(in: -1...5, using: &g), Int.random(in: -1...5, using: &g))
        default: return .fill(Int.random(in: -1...5, using: &g))
        }
    }

    /// For many random constraint sets, sizes, margins and spacings: the parts and the gaps
    /// between them tile the area less its margins exactly, in order, none negative or outside.
    @Test func partsAlwaysTileTheArea() {
        var g = Fuzz(seed: 21)
        for _ in 0..<20_000 {
            let constraints = (0..<Int.random(in: 1...7, using: &g)).map { _ in Self.randomConstraint(&g) }
            let vertical = Bool.random(using: &g)
            let area = Rect(
                x: Int.random(in: -3...10, using: &g), y: Int.random(in: -3...10, using: &g), width: Int.random(in: 0...250, using: &g),
                height: Int.random(in: 0...250, using: &g))
            let spacing = Int.random(in: -1...6, using: &g)
            let margin = (h: Int.random(in: -1...4, using: &g), v: Int.random(in: -1...4, using: &g))
            let layout = Layout(
                vertical ? .vertical : .horizontal, constraints, horizontalMargin: margin.h, verticalMargin: margin.v, spacing: spacing)
            let parts = layout.split(area)
            let h = min(max(0, margin.h), area.width / 2)
            let v = min(max(0, margin.v), area.height / 2)
            let inner = area.inset(top: v, left: h, bottom: v, right: h)
            let (start, length) = vertical ? (inner.y, inner.height) : (inner.x, inner.width)
            let label = "\(constraints) \(vertical ? "v" : "h") \(area) spacing \(spacing) margin \(margin)"
            #expect(parts.count == constraints.count, "\(label)")
            // Sizes before `Rect` clamps them: none negative.
            #expect(layout.segments(length).allSatisfy { $0.size >= 0 && $0.offset >= 0 }, "\(label)")
            var next = start
            for (i, p) in parts.enumerated() {
                let (pStart, pLength) = vertical ? (p.y, p.height) : (p.x, p.width)
                let (cross, crossLength) = vertical ? (p.x, p.width) : (p.y, p.height)
                let gap = pStart - next
                #expect(pLength >= 0 && gap >= 0 && gap <= max(0, spacing) && (i > 0 || gap == 0), "\(label): part \(i) \(p)")
                #expect(cross == (vertical ? inner.x : inner.y) && crossLength == (vertical ? inner.width : inner.height), "\(label)")
                next = pStart + pLength
            }
            #expect(next == start + length, "\(label): the parts end at \(next), the area at \(start + length)")
            if next != start + length { return } // one failing case is enough to read
        }
    }
}
