import AgentOSCore
import ConsoleUI
import Foundation

/// The preview inside an action's dialog: what the action would touch, counted and listed.
public struct DialogPreview: Sendable, Equatable {
    public enum Answer: Sendable, Equatable {
        case waiting
        case shown(ActionPreview)
        case failed(String)
    }
    public var answer: Answer = .waiting
    /// The first listed row on screen.
    public var scroll = 0

    public init(answer: Answer = .waiting) { self.answer = answer }
}

/// `d` in a dialog (Ctrl-D in a typed one, where `d` is text): the preview replaces the question
/// until `d` or Esc brings it back. Nothing in the preview runs the action.
extension App {
    /// The keys that open and close a dialog's preview.
    static func isPreviewKey(_ key: Key, _ dialog: ActionConfirmState) -> Bool {
        key == .ctrl("d") || (key == .char("d") && (dialog.kind != .typed || dialog.preview != nil))
    }

    static func openPreview(_ state: inout AppState, _ dialog: ActionConfirmState) -> [Effect] {
        var dialog = dialog
        let p = dialog.pending
        guard p.bulk.isEmpty else {
            // Each marked row is its own request; the dialog lists them already.
            state.notify("preview one row at a time: the marked rows are listed in the dialog", .info)
            return []
        }
        dialog.preview = DialogPreview()
        state.overlay = .confirm(dialog)
        return [.preview(token: p.token, ActionRequest(action: p.spec.name, payload: p.payload, actor: state.actions.actor))]
    }

    static func previewed(_ state: inout AppState, token: Int, _ report: PreviewReport) -> [Effect] {
        guard case .confirm(var dialog) = state.overlay, dialog.pending.token == token, dialog.preview != nil else { return [] }
        switch report.outcome {
        case .success(let p): dialog.preview = DialogPreview(answer: .shown(p))
        case .failure(let f): dialog.preview = DialogPreview(answer: .failed(f.description))
        }
        state.overlay = .confirm(dialog)
        return []
    }

    /// Keys while the preview shows: back to the question, scroll, or Ctrl-C to cancel. No key runs the action.
    static func previewKey(_ state: inout AppState, _ key: Key, _ dialog: ActionConfirmState) -> [Effect] {
        var dialog = dialog
        guard var preview = dialog.preview else { return [] }
        let listed: Int
        if case .shown(let p) = preview.answer { listed = p.rows.count } else { listed = 0 }
        let page = previewRoom(state)
        switch key {
        case .ctrl("c"): return cancelAction(&state, dialog.pending.spec.name)
        case .escape, .char("q"): dialog.preview = nil
        case _ where isPreviewKey(key, dialog): dialog.preview = nil
        case .down, .char("j"): preview.scroll += 1
        case .up, .char("k"): preview.scroll -= 1
        case .pageDown, .char(" "): preview.scroll += page
        case .pageUp: preview.scroll -= page
        case .home, .char("g"): preview.scroll = 0
        case .end, .char("G"): preview.scroll = listed
        default: break
        }
        if dialog.preview != nil {
            preview.scroll = max(0, min(preview.scroll, listed - page))
            dialog.preview = preview
        }
        state.overlay = .confirm(dialog)
        return []
    }

    /// Rows of the list that fit in the dialog.
    static func previewRoom(_ state: AppState) -> Int { max(3, state.height - 14) }

    static func renderPreview(_ state: AppState, _ dialog: ActionConfirmState, _ preview: DialogPreview, _ b: inout CellBuffer, _ body: Rect) {
        let spec = dialog.pending.spec
        var lines: [(text: String, style: Style)] = []
        switch preview.answer {
        case .waiting:
            lines.append(("\(spec.title) \(dialog.pending.targetPhrase): listing what it would touch…", Style(.text, [.bold])))
        case .failed(let why):
            lines.append(("no preview: \(why)", Style(.warning, [.bold])))
        case .shown(let p):
            lines.append((p.summary, Style(.text, [.bold])))
            if !p.rows.isEmpty {
                lines.append(("", .plain))
                let room = previewRoom(state)
                let start = max(0, min(preview.scroll, p.rows.count - room))
                let end = min(p.rows.count, start + room)
                if start > 0 { lines.append(("\(b.glyphs.ellipsis) \(start) above", Style(.muted))) }
                for row in p.rows[start..<end] { lines.append((row, Style(.text))) }
                // Below the window: the listed rows not shown, then those not listed at all.
                let below = p.count - end
                if below > 0 { lines.append(("+\(Fmt.count(below)) more", Style(.muted))) }
            }
        }
        lines.append(("", .plain))
        lines.append(("nothing was changed · ↑/↓ scroll · d or Esc back to the question", Style(.muted)))
        Modal(title: "Preview \(spec.name)", lines: lines, buttons: [], focusedButton: 0, tone: .accent).render(into: &b, rect: body)
    }
}
