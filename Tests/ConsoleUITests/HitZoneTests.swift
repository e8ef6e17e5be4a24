import Testing

@testable import ConsoleUI

@Suite struct HitZoneTests {
    static let names = ["Dashboard", "Jobs & Queue", "System Controls", "Agents & Workers", "Managers", "System Logs", "Configuration", "Analytics"]

    /// The columns a tab label covers, from the labels alone (the arithmetic the mouse used before zones).
    static func tabAt(_ x: Int, _ tabs: Tabs, width: Int) -> Int? {
        var left = 0
        for (i, label) in tabs.labels(width: width).enumerated() {
            let w = DisplayWidth.of(label)
            if x >= left && x < left + w && x < width { return i }
            left += w
        }
        return nil
    }

    @Test(arguments: [160, 80, 40, 21])
    func eachColumnOfTheTabLineHitsTheTabDrawnThere(width: Int) {
        let tabs = Tabs(Self.names, selected: 2)
        var b = CellBuffer(width: width, height: 3)
        tabs.render(into: &b, rect: Rect(x: 0, y: 0, width: width, height: 1))
        for x in 0..<width {
            let expected = Self.tabAt(x, tabs, width: width)
            #expect(b.hit(x: x, y: 0) == expected.map { .tab($0) }, "column \(x) of \(b.row(0))")
        }
        #expect(b.hit(x: 3, y: 1) == nil, "nothing under the tab line")
    }

    @Test func tableRowsRecordTheirListingIndexAndTheHeaderNothing() {
        var b = CellBuffer(width: 50, height: 6)
        Table(columns: WidgetTests.columns, rows: WidgetTests.rows(3), firstRowIndex: 40).render(
            into: &b, rect: Rect(x: 0, y: 1, width: 50, height: 5))
        #expect(b.hit(x: 10, y: 1) == nil, "the header")
        #expect(b.hit(x: 0, y: 2) == .row(40) && b.hit(x: 49, y: 4) == .row(42))
        #expect(b.hit(x: 10, y: 5) == nil, "below the last row")

        var scrolled = CellBuffer(width: 50, height: 4)
        var state = TableCursor(selected: 9)
        Table(columns: WidgetTests.columns, rows: WidgetTests.rows(10)).render(into: &scrolled, rect: scrolled.bounds, state: &state)
        #expect(scrolled.hit(x: 5, y: 3) == .row(9) && scrolled.hit(x: 5, y: 1) == .row(7), "rows by their index, not their line")

        var empty = CellBuffer(width: 50, height: 4)
        Table(columns: WidgetTests.columns, rows: []).render(into: &empty, rect: empty.bounds)
        #expect(empty.zones.isEmpty)
    }

    @Test func aDialogHidesTheRowsUnderItAndItsButtonsAndEntriesAreZones() throws {
        var b = CellBuffer(width: 60, height: 16)
        Table(columns: WidgetTests.columns, rows: WidgetTests.rows(15)).render(into: &b, rect: b.bounds)
        Modal(
            title: "Actions", lines: [("Pick one", Style(.muted)), ("Retry job", Style(.text)), ("Cancel job", Style(.text))], buttons: ["No", "Yes"],
            focusedButton: 0, lineTargets: [1: .menuEntry(0), 2: .menuEntry(1)]
        )
        .render(into: &b, rect: b.bounds)
        let yesRow = try #require((0..<b.height).first { b.row($0).contains("[ Yes ]") })
        let yes = try #require(b.row(yesRow).range(of: "[ Yes ]")).lowerBound.utf16Offset(in: b.row(yesRow))
        for x in yes..<(yes + 7) { #expect(b.hit(x: x, y: yesRow) == .button("Yes")) }
        #expect(b.hit(x: yes - 1, y: yesRow) == nil, "between the buttons: the dialog, not the row under it")
        let no = try #require(b.row(yesRow).range(of: "[ No ]")).lowerBound.utf16Offset(in: b.row(yesRow))
        #expect(b.hit(x: no + 2, y: yesRow) == .button("No"))
        let retry = try #require((0..<b.height).first { b.row($0).contains("Retry job") })
        #expect(b.hit(x: 30, y: retry) == .menuEntry(0) && b.hit(x: 30, y: retry + 1) == .menuEntry(1))
        #expect(b.hit(x: 30, y: retry - 1) == nil, "a line without a target")
        #expect(b.hit(x: 0, y: retry) == .row(retry - 1), "beside the dialog the row still shows")
    }

    @Test func helpCoversTheScreenUnderIt() {
        var b = CellBuffer(width: 80, height: 20)
        Table(columns: WidgetTests.columns, rows: WidgetTests.rows(20)).render(into: &b, rect: b.bounds)
        HelpOverlay([.init("Move", [(keys: "j", help: "down")])]).render(into: &b, rect: b.bounds)
        #expect(b.hit(x: 40, y: 10) == nil && b.hit(x: 0, y: 10) == .row(9))
    }

    @Test func aCoveringPanelBlanksAndHidesWhatIsUnderItAPlainOneNeither() {
        var b = CellBuffer(width: 40, height: 10)
        Table(columns: WidgetTests.columns, rows: WidgetTests.rows(9)).render(into: &b, rect: b.bounds)
        var plain = b
        Panel(title: "Plain").render(into: &plain, rect: Rect(x: 2, y: 2, width: 20, height: 5))
        #expect(plain.hit(x: 5, y: 4) == .row(3) && plain.row(4).contains("ob3"), "a border alone hides nothing")
        Panel(title: "Detail", style: Style(.accent), cover: Style(.text, bg: .background)).render(
            into: &b, rect: Rect(x: 2, y: 2, width: 20, height: 5))
        #expect(b.hit(x: 5, y: 4) == nil && b.hit(x: 2, y: 2) == nil, "inside and on the border: the panel, not the row under it")
        #expect(b.hit(x: 30, y: 4) == .row(3) && b.hit(x: 5, y: 8) == .row(7), "beside and under it the rows still take clicks")
        #expect(b[5, 4].character == " " && b[5, 4].style == Style(.text, bg: .background) && b[2, 2].character == "┌")
    }

    @Test func recordingChangesNoCellAndEqualityIgnoresZones() {
        var b = CellBuffer(width: 10, height: 3)
        b.put("hello", x: 0, y: 1, Style(.accent))
        let before = b.cells
        b.recordZone(Rect(x: -5, y: 1, width: 8, height: 9), .row(1))
        b.recordZone(Rect(x: 2, y: 1, width: 2, height: 1), .button("Yes"))
        b.recordZone(Rect(x: 20, y: 0, width: 2, height: 1), .tab(0))
        #expect(b.cells == before && b == CellBuffer(width: 10, height: 3).drawn { $0.put("hello", x: 0, y: 1, Style(.accent)) })
        #expect(b.zones == [HitZone(Rect(x: 0, y: 1, width: 3, height: 2), .row(1)), HitZone(Rect(x: 2, y: 1, width: 2, height: 1), .button("Yes"))])
        #expect(b.hit(x: 2, y: 1) == .button("Yes") && b.hit(x: 1, y: 2) == .row(1) && b.hit(x: 5, y: 1) == nil, "the zone drawn last wins")
        b.clear()
        #expect(b.zones.isEmpty && b.hit(x: 2, y: 1) == nil)
    }
}

extension CellBuffer {
    fileprivate func drawn(_ draw: (inout CellBuffer) -> Void) -> CellBuffer {
        var copy = self
        draw(&copy)
        return copy
    }
}
