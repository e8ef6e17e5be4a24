import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// The column picker (issue 20 item 8): `ctrl-w` lists the shown table's columns; space hides one,
/// the table leaves it out (and `s` skips it), and the choice goes out to be kept in the configuration file.
@Suite struct ColumnPickerTests {
    static func header(_ s: AppState) -> String {
        let lines = App.render(s).text().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return lines[Screens.tableRect(s).y]
    }

    @Test func hidingAColumnTakesItOutOfTheTableAndAsksToKeepIt() throws {
        var s = Fixture.state(width: 160, height: 30, view: .jobs)
        #expect(Self.header(s).contains("STAGE") && Self.header(s).contains("STATUS"))
        _ = App.update(&s, .key(.ctrl("w")))
        guard case .columns(let picker) = s.overlay else {
            Issue.record("ctrl-w opened \(s.overlay)")
            return
        }
        #expect(picker.screen == .jobs)
        let frame = App.render(s).text()
        #expect(frame.contains("Columns — ") && frame.contains("[x] ID") && frame.contains("[x] STAGE"), "\(frame)")
        _ = App.update(&s, .key(.char("j")))
        _ = App.update(&s, .key(.char("j")))
        let effects = App.update(&s, .key(.char(" ")))
        #expect(effects == [.saveHiddenColumns(screen: .jobs, columns: ["stage"])])
        #expect(App.render(s).text().contains("[ ] STAGE"))
        _ = App.update(&s, .key(.escape))
        #expect(s.overlay == .none)
        let header = Self.header(s)
        #expect(!header.contains("STAGE") && header.contains("STATUS") && header.contains("NAME"), "\(header)")
        // Sorting steps over the hidden column: ID, NAME, then STATUS.
        for _ in 0..<3 { _ = App.update(&s, .key(.char("s"))) }
        #expect(s.current.sortColumn == 3)
        // Other screens keep all theirs.
        var queues = s
        _ = App.update(&queues, .key(.char("]")))
        #expect(queues.screen.id == .queues && queues.hiddenColumns[.queues] == nil && Self.header(queues).contains("PENDING"))
        // Shown again: the file is told the screen hides nothing.
        _ = App.update(&s, .key(.ctrl("w")))
        for _ in 0..<2 { _ = App.update(&s, .key(.down)) }
        #expect(App.update(&s, .key(.enter)) == [.saveHiddenColumns(screen: .jobs, columns: [])])
        #expect(Self.header(s).contains("STAGE"))
    }

    @Test func theLastShownColumnStays() throws {
        var s = Fixture.state(width: 120, height: 30, view: .logs)
        s.hiddenColumns[.logs] = ["time", "level", "source"]
        _ = App.update(&s, .key(.ctrl("w")))
        _ = App.update(&s, .key(.char("G")))
        #expect(App.update(&s, .key(.char(" "))).isEmpty)
        #expect(s.hiddenColumns[.logs] == ["time", "level", "source"])
        #expect(s.notices.last?.text == "one column stays shown")
    }

    @Test func theTableLeavesOutHiddenColumnsWithoutCountingThemDropped() {
        let columns = [TableColumn("A", .fixed(4)), TableColumn("B", .fixed(4)), TableColumn("C", .flex(weight: 1, min: 4))]
        let table = Table(columns: columns, rows: [TableRow(["a", "b", "c"])], hidden: [1])
        #expect(table.layout(width: 40).map(\.index) == [0, 2])
        var b = CellBuffer(width: 40, height: 3)
        table.render(into: &b, rect: Rect(x: 0, y: 0, width: 40, height: 3))
        let head = b.text().split(separator: "\n").first.map(String.init) ?? ""
        #expect(head.contains("A") && !head.contains("B") && !head.contains("+"), "\(head)")
    }
}
