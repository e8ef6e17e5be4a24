import ConsoleUI
import Foundation

/// `--mouse` (opt-in, so the terminal's own copy and paste keeps working without it): a click on
/// a tab switches view, on a row selects it (a second click or a double click opens it), on a
/// dialog button presses it; the wheel scrolls. Hit tests read the frame the operator sees.
extension App {
    static func mouseEvent(_ state: inout AppState, _ m: Mouse) -> [Effect] {
        // Text entry and the wallboard take no mouse.
        if state.current.filter.editing || state.wallboard != nil { return [] }
        if case .palette = state.overlay { return [] }
        switch m.action {
        case .wheelUp, .wheelDown:
            guard state.overlay == .none || isMenu(state.overlay) else { return [] }
            if case .actionMenu(let menu) = state.overlay {
                let count = actionEntries(state).count
                let next = max(0, min(count - 1, menu.selected + (m.action == .wheelDown ? 1 : -1)))
                state.overlay = .actionMenu(ActionMenuState(selected: next))
                return []
            }
            move(&state, m.action == .wheelDown ? 3 : -3, visibleRows(state))
            return []
        case .click, .doubleClick:
            break
        }
        let frame = render(state)
        // A dialog button: `[ Yes ]` under the pointer presses its key.
        if state.overlay != .none, let label = buttonLabel(frame, m), let key = buttonKey(label) {
            return handleKey(&state, key)
        }
        switch state.overlay {
        case .actionMenu:
            // A row of the menu: the entry whose title it shows.
            let row = frame.row(m.y)
            let entries = actionEntries(state)
            guard let i = entries.firstIndex(where: { row.contains(" " + String($0.title.prefix(16))) }) else {
                return []
            }
            state.overlay = .actionMenu(ActionMenuState(selected: i))
            return handleKey(&state, .enter)
        case .none:
            break
        default:
            return []
        }
        if m.y == 0 {
            if let i = tabs(state).hit(x: m.x, width: state.width) { switchTo(&state, ScreenRegistry.tabs[i]) }
            return []
        }
        let rect = Screens.tableRect(state)
        guard m.y > rect.y, m.y < rect.maxY, m.x >= rect.x, m.x < rect.maxX else { return [] }
        let list = Screens.listing(state)
        let index = state.current.cursor.offset + (m.y - rect.y - 1)
        guard index < list.count else { return [] }
        let wasSelected = index == state.current.cursor.selected
        move(&state, index - state.current.cursor.selected, visibleRows(state))
        return wasSelected || m.action == .doubleClick ? run(&state, .open) : []
    }

    static func isMenu(_ overlay: Overlay) -> Bool {
        if case .actionMenu = overlay { return true }
        return false
    }

    /// The text between `[ ` and ` ]` around column x of the clicked row.
    static func buttonLabel(_ frame: CellBuffer, _ m: Mouse) -> String? {
        guard m.y >= 0, m.y < frame.height, m.x >= 0, m.x < frame.width else { return nil }
        let cells = (0..<frame.width).map { frame[$0, m.y].character }
        guard let open = cells[...m.x].lastIndex(of: "["), let close = cells[m.x...].firstIndex(of: "]"),
            !cells[open...m.x].dropFirst().contains("]"), close > open + 1
        else { return nil }
        return String(cells[(open + 1)..<close]).trimmingCharacters(in: .whitespaces)
    }

    /// The key a dialog button stands for.
    static func buttonKey(_ label: String) -> Key? {
        switch label {
        case "Yes": return .char("y")
        case "No", "Cancel", "Esc cancel": return .escape
        case "Enter continue", "Enter next", "Enter run": return .enter
        default: return nil
        }
    }
}
