import Testing

@testable import ConsoleUI

@Suite struct WidgetTests {
    static let columns = [
        TableColumn("ID", .fixed(8), priority: 9),
        TableColumn("STAGE", .flex(weight: 1, min: 6), priority: 7),
        TableColumn("STATUS", .fixed(9), priority: 8),
        TableColumn("OWNER", .fixed(6), priority: 2),
        TableColumn("AGE", .fixed(5), align: .right, priority: 3)
    ]

    static func rows(_ n: Int) -> [TableRow] {
        (0..<n).map { i in
            TableRow(
                ["job\(i)", "face_detector", i % 3 == 0 ? "failed" : "running", "alice", "\(i)s"],
                style: i % 3 == 0 ? Style(.danger) : nil)
        }
    }

    @Test func tableRendersHeaderRowsSelectionAndPosition() {
        var b = CellBuffer(width: 50, height: 5)
        let t = Table(
            columns: Self.columns, rows: Self.rows(10), cursor: TableCursor(selected: 1, offset: 0, marked: [2]),
            sortColumn: 4, sortAscending: false)
        t.render(into: &b, rect: b.bounds)
        let lines = (0..<b.height).map { b.row($0) }
        #expect(lines[0].hasPrefix("  ID       STAGE"))
        #expect(lines[0].contains("▼AGE"), "the sort column shows its direction: \(lines[0])")
        #expect(lines[1].hasPrefix("  job0     face_detector"))
        #expect(lines[3].hasPrefix("◆ job2"))
        #expect(b[5, 1].style.fg == .danger, "failed rows use the danger token")
        #expect(b[5, 2].style.bg == .selection && b[5, 2].style.attrs.contains(.bold), "the selected row")
    }

    @Test func narrowTablesDropLowPriorityColumns() {
        let t = Table(columns: Self.columns, rows: Self.rows(1))
        #expect(t.layout(width: 80).map(\.index) == [0, 1, 2, 3, 4])
        #expect(t.layout(width: 30).map(\.index) == [0, 1, 2], "OWNER and AGE go first")
        #expect(t.layout(width: 12).map(\.index) == [0])
    }

    /// A column that is dropped is said, not silently gone; a sorted column keeps its whole name
    /// (the mark goes before it), however narrow.
    @Test func droppedColumnsAreCountedAndSortMarksKeepTheName() {
        var b = CellBuffer(width: 30, height: 3)
        Table(columns: Self.columns, rows: Self.rows(2), sortColumn: 2, sortAscending: true).render(into: &b, rect: b.bounds)
        let header = b.row(0)
        #expect(header.hasSuffix(" +2"), "two columns did not fit: \(header)")
        #expect(header.contains("▲STATUS") && !header.contains("…"), "\(header)")
        let tight = Table(columns: [TableColumn("PROG", .fixed(4), align: .right)], rows: [TableRow(["56%"])], sortColumn: 0)
        var c = CellBuffer(width: 8, height: 2)
        tight.render(into: &c, rect: c.bounds)
        #expect(c.row(0).contains("▲PROG"), "\(c.row(0))")
        // Flexible columns take their minimum and share the rest: the fixed ones after them keep their width.
        let jobs = Table(
            columns: [
                TableColumn("NAME", .flex(weight: 3, min: 12)), TableColumn("WORKER", .flex(weight: 1, min: 10)), TableColumn("AGE", .fixed(4))
            ], rows: [])
        #expect(jobs.layout(width: 33).map(\.width) == [14, 11, 4] && jobs.layout(width: 33).last?.x == 29)
    }

    @Test func emptyTableSaysSo() {
        var b = CellBuffer(width: 40, height: 3)
        Table(columns: Self.columns, rows: [], emptyMessage: "no jobs match /boom/").render(into: &b, rect: b.bounds)
        #expect(b.row(1).contains("no jobs match /boom/"))
    }

    @Test func cursorKeepsTheSelectionVisible() {
        var c = TableCursor()
        c.move(5, count: 100, visible: 4)
        #expect(c.selected == 5 && c.offset == 2)
        c.move(-4, count: 100, visible: 4)
        #expect(c.selected == 1 && c.offset == 1)
        c.move(1_000, count: 100, visible: 4)
        #expect(c.selected == 99 && c.offset == 96)
        c.reveal(count: 10, visible: 4)
        #expect(c.selected == 9 && c.offset == 6, "shrinking lists clamp the selection")
        c.move(0, count: 0, visible: 4)
        #expect(c.selected == 0 && c.offset == 0)
    }

    @Test func sparklineScalesAndFallsBackToASCII() {
        var u = CellBuffer(width: 8, height: 1)
        Chart.sparkline([0, 1, 2, 3, 4, 5, 6, 7]).render(into: &u, rect: u.bounds)
        #expect(u.row(0) == " ▂▃▄▅▆▇█")
        var a = CellBuffer(width: 4, height: 1, glyphs: .ascii)
        Chart.sparkline([7, 7, 0, 3.5], maximum: 7).render(into: &a, rect: a.bounds)
        #expect(a.row(0) == "@@ +", "3.5 of 7 is level round(0.5 × 7) = 4 of _.-=+*#@")
    }

    @Test func gaugeColoursByThreshold() {
        var b = CellBuffer(width: 20, height: 1)
        Gauge(0.95).render(into: &b, rect: b.bounds)
        #expect(b.row(0).hasPrefix("[") && b.row(0).hasSuffix("95%"))
        #expect(Gauge(0.95).token == .danger && Gauge(0.8).token == .warning && Gauge(0.1).token == .ok)
        #expect(Gauge(.nan).fraction == 0)
    }

    @Test func tabsShortenWhenNarrow() {
        let names = ["Dashboard", "Jobs & Queue", "System Controls", "Agents & Workers", "Managers", "System Logs", "Configuration", "Analytics"]
        var wide = CellBuffer(width: 160, height: 1)
        Tabs(names, selected: 1).render(into: &wide, rect: wide.bounds)
        #expect(wide.row(0).contains(" 2 Jobs & Queue ") && wide.row(0).contains(" 8 Analytics "))
        #expect(wide[14, 0].style.bg == .selection && wide[12, 0].style.bg == nil)
        var narrow = CellBuffer(width: 80, height: 1)
        Tabs(names, selected: 0).render(into: &narrow, rect: narrow.bounds)
        #expect(narrow.row(0).contains(" 3 System") && narrow.row(0).contains(" 8 Analy"), "\(narrow.row(0))")
        #expect(DisplayWidth.of(narrow.row(0)) == 80)
    }

    @Test func statusBarPinsRightSegments() {
        var b = CellBuffer(width: 40, height: 1)
        StatusBar(left: [.init("alice (admin)"), .init("embedded")], right: [.init("12:00:01")]).render(into: &b, rect: b.bounds)
        #expect(b.row(0).hasPrefix("alice (admin) embedded") && b.row(0).hasSuffix("12:00:01 "))
    }

    @Test func modalShowsButtonsAndInput() {
        var b = CellBuffer(width: 60, height: 12)
        Modal(
            title: "Clear queue video_cutter", lines: [("Delete 1,284 pending jobs.", Style(.danger))],
            input: (label: "Type video_cutter:", value: "video_"), buttons: ["Cancel", "Clear"], focusedButton: 0, tone: .danger
        )
        .render(into: &b, rect: b.bounds)
        let text = b.text()
        #expect(text.contains("Clear queue video_cutter") && text.contains("Delete 1,284 pending jobs."))
        #expect(text.contains("Type video_cutter: video__") && text.contains("[ Cancel ]  [ Clear ]"))
    }

    @Test func textPaneWrapsAndFollows() {
        let lines = (1...10).map { (text: "line \($0) " + String(repeating: "x", count: 12), style: Style()) }
        var b = CellBuffer(width: 10, height: 3)
        TextPane(lines: lines, follow: true).render(into: &b, rect: b.bounds)
        #expect(b.row(2).hasPrefix("xxxx"), "follow shows the end")
        var top = CellBuffer(width: 10, height: 3)
        TextPane(lines: lines, offset: 0, follow: false, wrap: false).render(into: &top, rect: top.bounds)
        #expect(top.row(0) == "line 1 xx…")
    }
}
