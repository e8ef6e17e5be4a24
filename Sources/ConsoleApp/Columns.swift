import ConsoleUI
import Foundation

/// The column picker (`ctrl-w`, issue 20 item 8): a toggle list of the shown table's columns. What
/// the operator hides stays hidden per screen, in the configuration file's `hidden_columns:`
/// (written by the composition root on `.saveHiddenColumns`), and so in the next console.
public struct ColumnPicker: Sendable, Equatable {
    /// The screen whose columns it lists.
    public var screen: ViewID
    public var selected: Int
    public init(screen: ViewID, selected: Int = 0) {
        self.screen = screen
        self.selected = selected
    }
}

extension App {
    /// A column's name in the picker and the configuration file: its title, lower-cased (`worker`, `rate/min`).
    public static func columnName(_ column: TableColumn) -> String { column.title.lowercased() }

    /// A screen's name in the configuration file: its first palette name (as in key map files).
    public static func configName(of screen: ViewID) -> String { ScreenRegistry.screen(screen).aliases[0] }

    /// The screen a configuration file names (one of its palette names, exactly).
    public static func screen(configName name: String) -> ViewID? {
        ScreenRegistry.all.first { $0.aliases.contains(name.lowercased()) }?.id
    }

    /// A screen's column names, in order: what `hidden_columns:` may name for it.
    public static func columnNames(of screen: ViewID) -> [String] {
        let probe = AppState(
            connection: ConnectionState(mode: "embedded", environment: ""), operatorInfo: OperatorInfo(user: "", role: ""), now: Date())
        return ScreenRegistry.screen(screen).columns(probe).map(columnName)
    }

    /// The indices of the shown screen's columns the operator hid (the table leaves them out).
    static func hiddenColumnIndices(_ state: AppState) -> Set<Int> {
        guard let hidden = state.hiddenColumns[state.screen.id], !hidden.isEmpty else { return [] }
        return Set(Screens.columns(state).enumerated().filter { hidden.contains(columnName($0.element)) }.map(\.offset))
    }

    static func openColumnPicker(_ state: inout AppState) {
        guard !Screens.columns(state).isEmpty else { return }
        state.overlay = .columns(ColumnPicker(screen: state.screen.id))
    }

    /// j/k (and the arrows) move, space or Enter shows or hides the column, Esc (q, ctrl-w) closes.
    static func columnPickerKey(_ state: inout AppState, _ key: Key, _ picker: ColumnPicker) -> [Effect] {
        let names = ScreenRegistry.screen(picker.screen).columns(state).map(columnName)
        var picker = picker
        switch key {
        case .escape, .char("q"), .ctrl("c"):
            state.overlay = .none
            return []
        case _ where state.keyMap.command(for: key) == .columns:
            state.overlay = .none
            return []
        case .down, .char("j"), .tab:
            picker.selected = min(names.count - 1, picker.selected + 1)
        case .up, .char("k"), .backTab:
            picker.selected = max(0, picker.selected - 1)
        case .home, .char("g"):
            picker.selected = 0
        case .end, .char("G"):
            picker.selected = names.count - 1
        case .char(" "), .enter:
            guard names.indices.contains(picker.selected) else { return [] }
            let name = names[picker.selected]
            var hidden = state.hiddenColumns[picker.screen] ?? []
            if hidden.contains(name) {
                hidden.remove(name)
            } else {
                guard names.filter({ !hidden.contains($0) }).count > 1 else {
                    state.notify("one column stays shown", .warning)
                    return []
                }
                hidden.insert(name)
            }
            state.hiddenColumns[picker.screen] = hidden.isEmpty ? nil : hidden
            clampCursor(&state)
            return [.saveHiddenColumns(screen: picker.screen, columns: names.filter(hidden.contains))]
        default:
            return []
        }
        state.overlay = .columns(picker)
        return []
    }

    static func renderColumnPicker(_ state: AppState, _ picker: ColumnPicker, _ b: inout CellBuffer, _ body: Rect) {
        let screen = ScreenRegistry.screen(picker.screen)
        let names = screen.columns(state).map(\.title)
        let hidden = state.hiddenColumns[picker.screen] ?? []
        let width = max(24, names.map { DisplayWidth.of($0) }.max() ?? 0) + 4
        var lines: [(text: String, style: Style)] = []
        // A window of columns around the highlighted one when the body is short.
        let room = max(3, body.height - 7)
        let start = max(0, min(picker.selected - room / 2, names.count - room))
        for i in start..<min(names.count, start + room) {
            let shown = !hidden.contains(names[i].lowercased())
            let text = "[\(shown ? "x" : " ")] \(names[i])"
            let padded = text + String(repeating: " ", count: max(0, width - DisplayWidth.of(text)))
            let style = i == picker.selected ? Style(.text, bg: .selection, [.bold]) : shown ? Style(.text) : Style(.muted)
            lines.append((padded, style))
        }
        lines.append(("", .plain))
        lines.append(("space shows or hides · Esc closes", Style(.muted)))
        lines.append(("kept in the configuration file", Style(.muted)))
        Modal(title: "Columns — \(screen.title)", lines: lines, buttons: [], focusedButton: 0).render(into: &b, rect: body)
    }
}
