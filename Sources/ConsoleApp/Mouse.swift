import ConsoleUI
import Foundation

/// `--mouse` (opt-in, so the terminal's own copy and paste keeps working without it): a click on
/// a tab switches view, on a row selects it (a second click or a double click opens it), on a
/// menu entry runs that entry, on a dialog button presses it; the wheel scrolls. What was clicked
/// is what the frame on screen recorded there while drawing (`CellBuffer.hit`).
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
        switch render(state).hit(x: m.x, y: m.y) {
        case .button(let label)?:
            return buttonKey(label).map { handleKey(&state, $0) } ?? []
        case .menuEntry(let i)?:
            state.overlay = .actionMenu(ActionMenuState(selected: i))
            return handleKey(&state, .enter)
        // Under an overlay, the tabs and rows that still show around it take no click.
        case .tab(let i)? where state.overlay == .none:
            switchTo(&state, ScreenRegistry.tabs[i])
            return []
        case .row(let index)? where state.overlay == .none:
            let wasSelected = index == state.current.cursor.selected
            move(&state, index - state.current.cursor.selected, visibleRows(state))
            return wasSelected || m.action == .doubleClick ? run(&state, .open) : []
        default:
            return []
        }
    }

    static func isMenu(_ overlay: Overlay) -> Bool {
        if case .actionMenu = overlay { return true }
        return false
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
