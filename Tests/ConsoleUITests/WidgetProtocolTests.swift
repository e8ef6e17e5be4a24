import Testing

@testable import ConsoleUI

@Suite struct WidgetProtocolTests {
    /// One of each widget, with content that fits the 30×10 rectangle below.
    static let widgets: [(String, any Widget)] = [
        ("tabs", Tabs(["Dashboard", "Jobs", "Logs"], selected: 1)),
        ("status", StatusBar(left: [.init("alice")], right: [.init("12:00")])),
        ("modal", Modal(title: "Confirm", lines: [("Cancel job 7?", Style(.text))], buttons: ["No", "Yes"], focusedButton: 0)),
        ("text", TextPane(lines: (0..<20).map { (text: "line \($0) of the log, long enough to wrap", style: Style()) })),
        ("help", HelpOverlay([.init("Move", [(keys: "j k", help: "down, up")])])),
        ("big", BigText("42", scale: 1)),
        ("bars", BarChart([.init("q1", 3), .init("q2", 7)])),
        ("gauge", Gauge(0.5)),
        (
            "spark",
            Chart.sparkline([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31])
        ),
        ("area", Chart.area([1, 5, 3, 8, 2])),
        ("table", Table(columns: [TableColumn("ID", .fixed(4)), TableColumn("NAME", .flex(weight: 1, min: 4))], rows: WidgetTests.rows(20))),
        ("panel", Panel(title: "Queues")),
        ("cover", Panel(title: "Detail", cover: Style(.text, bg: .background)))
    ]

    @Test(arguments: widgets.map(\.0))
    func aWidgetDrawsOnlyInsideItsRectangle(name: String) throws {
        let widget = try #require(Self.widgets.first { $0.0 == name }?.1)
        var b = CellBuffer(width: 40, height: 14)
        b.fill(b.bounds, "~")
        let rect = Rect(x: 5, y: 2, width: 30, height: 10)
        b.render(widget, in: rect)
        var inside = 0
        for y in 0..<b.height {
            for x in 0..<b.width {
                let inRect = x >= rect.x && x < rect.maxX && y >= rect.y && y < rect.maxY
                if !inRect { #expect(b[x, y].character == "~", "\(name) drew at \(x),\(y)") }
                if inRect && b[x, y].character != "~" { inside += 1 }
            }
        }
        #expect(inside > 0, "\(name) drew nothing")
    }

    @Test func theStatefulTableScrollsItsStateToTheSelection() {
        let table = Table(columns: WidgetTests.columns, rows: WidgetTests.rows(30), cursor: TableCursor(selected: 0, offset: 0))
        var state = TableCursor(selected: 12, offset: 0)
        var b = CellBuffer(width: 50, height: 5)
        b.render(table, in: b.bounds, state: &state)
        #expect(state.offset == 9 && state.selected == 12, "the selected row is the last of four visible: \(state)")
        #expect(b.row(4).hasPrefix("  job12") && b[5, 4].style.bg == .selection)

        // The same cursor, already scrolled, draws the same cells without state.
        var plain = CellBuffer(width: 50, height: 5)
        var table2 = table
        table2.cursor = state
        plain.render(table2, in: plain.bounds)
        #expect(plain == b)

        // Past the end: scrolled back so no blank rows follow the last; no selection (-1) stays none.
        var none = TableCursor(selected: -1, offset: 40)
        var c = CellBuffer(width: 50, height: 5)
        c.render(table, in: c.bounds, state: &none)
        #expect(none.offset == 26 && none.selected == -1 && c.row(4).hasPrefix("  job29"))
        #expect((0..<c.height).allSatisfy { c[5, $0].style.bg != .selection })
    }

    @Test func thePlainTableDrawsItsCursorAsGiven() {
        // A window of rows with the cursor at offset 0 (how the console draws a long listing).
        let table = Table(columns: WidgetTests.columns, rows: WidgetTests.rows(3), cursor: TableCursor(selected: 7, offset: 0))
        var b = CellBuffer(width: 50, height: 5)
        b.render(table, in: b.bounds)
        #expect(b.row(1).hasPrefix("  job0") && (0..<b.height).allSatisfy { b[5, $0].style.bg != .selection })
    }

    @Test func aPanelFramesItsInner() {
        var b = CellBuffer(width: 12, height: 4)
        Panel(title: "Logs").render(into: &b, rect: b.bounds)
        #expect(b.row(0) == "┌─ Logs ───┐" && b.row(3) == "└──────────┘")
        #expect(Panel.inner(b.bounds) == Rect(x: 1, y: 1, width: 10, height: 2))
    }
}
