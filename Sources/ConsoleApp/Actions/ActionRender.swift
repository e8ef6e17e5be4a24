import AgentOSCore
import ConsoleUI
import Foundation

/// Drawing of the action menu, the payload form and the confirmation dialogs (pure).
extension App {
    /// The help overlay's sections: the current view's actions first (from the catalog), then the key map.
    /// Keys of actions the operator may not run are left out; read-only, the whole Actions section.
    public static func helpSections(_ state: AppState) -> [HelpOverlay.Section] {
        let entries = actionEntries(state)
        // Read-only, or a role that may run none of them: no Actions section, no action keys.
        if state.readOnly || entries.allSatisfy(\.forbidden) { return state.keyMap.helpSections(readOnly: true) }
        let shadowed = shadowedActions(state).filter { !$0.forbidden }
        let shadowedNames = Set(shadowed.map(\.spec.name))
        func keys(_ command: Command) -> String { state.keyMap.keys(for: command).map(KeyMap.describe).joined(separator: " ") }
        var lines: [(keys: String, help: String)] = entries.compactMap { e in
            guard let k = e.key, !e.forbidden, !shadowedNames.contains(e.spec.name) else { return nil }
            return (keys: k, help: e.helpTitle)
        }
        lines.append((keys: keys(.actionMenu), help: "menu: all \(entries.count) actions"))
        lines.append((keys: keys(.retryAction), help: "retry failed action"))
        // A catalog key a global key wins over: reachable from the menu only.
        for e in shadowed {
            lines.append((keys: "(\(e.key ?? ""))", help: "shadowed: \(e.helpTitle)"))
        }
        return [HelpOverlay.Section("Actions — \(actionContextTitle(state))", lines)] + state.keyMap.helpSections()
    }

    static func actionContextTitle(_ state: AppState) -> String { state.screen.actionsTitle }

    static func plural(_ n: Int, _ noun: String) -> String { "\(Fmt.count(n)) \(noun)\(n == 1 ? "" : "s")" }

    /// The dialog's sentence naming the target and the measured count.
    static func impactSentence(_ p: PendingAction, _ n: Int) -> String {
        let t = p.targetPhrase
        switch p.spec.id {
        case .queueClear: return "Clear queue \(t): \(plural(n, "pending job")) will be deleted."
        case .queuePause: return "Pause queue \(t): \(plural(n, "pending job")) will wait until it is resumed."
        case .queueRetryFailed: return "Retry failed jobs of queue \(t): \(plural(n, "failed job")) will be re-enqueued."
        case .queuePurgeFailed: return "Purge failed jobs of queue \(t): \(plural(n, "failed job")) will be deleted."
        case .workerRestart: return "Restart worker \(t): \(plural(n, "running job")) will be interrupted and requeued."
        case .workerShutdown: return "Shut down worker \(t): it has \(plural(n, "running job"))."
        case .workerDrain: return "Drain worker \(t): it finishes \(plural(n, "running job")), then stops."
        case .workerRestartAll:
            return "Restart \(plural(n, "worker"))\(p.payload["stage"].map { " of stage \($0)" } ?? ""), one after another."
        case .databasePurgeHistory: return "\(plural(n, "finished job")) and their events will be deleted."
        case .logsPurge: return "\(plural(n, "log line")) will be deleted."
        case .logsArchive: return "\(plural(n, "log line")) will be archived, then removed."
        case .databaseKillIdle: return "\(plural(n, "idle-in-transaction session")) will be terminated."
        case .systemIOCleanup: return "\(plural(n, "media file")) will be deleted."
        default: return "\(p.spec.title) \(t): \(plural(n, "item")) affected."
        }
    }

    /// The marked rows a bulk action runs on, as many as fit ("q1, q2, q3 and 4 more").
    static func bulkList(_ p: PendingAction, width: Int) -> String {
        guard let field = p.spec.targetField else { return "" }
        let short = p.spec.field(field)?.kind == .uuid
        let ids = p.bulk.compactMap { payload in payload[field]?.description }.map { short ? "\($0.prefix(8))…" : $0 }
        var shown: [String] = []
        for id in ids {
            let rest = ids.count - shown.count - 1
            let candidate = (shown + [id]).joined(separator: ", ") + (rest > 0 ? " and \(rest) more" : "")
            if DisplayWidth.of(candidate) > max(20, width), !shown.isEmpty { break }
            shown.append(id)
        }
        let rest = ids.count - shown.count
        return shown.joined(separator: ", ") + (rest > 0 ? " and \(rest) more" : "")
    }

    static func renderActionMenu(_ state: AppState, _ menu: ActionMenuState, _ b: inout CellBuffer, _ body: Rect) {
        let entries = actionEntries(state)
        guard !entries.isEmpty else { return }
        let selected = min(max(0, menu.selected), entries.count - 1)
        let titleWidth = min(max(24, body.width / 2), entries.map { DisplayWidth.of($0.title) }.max() ?? 10)
        let rows = entries.map { e -> String in
            let key = ((e.forbidden ? nil : e.key) ?? " ").padding(toLength: 2, withPad: " ", startingAt: 0)
            let title = DisplayWidth.truncate(e.title, to: titleWidth, ellipsis: b.glyphs.ellipsis)
            let padded = title + String(repeating: " ", count: max(0, titleWidth - DisplayWidth.of(title)))
            return "\(key) \(padded)  \(e.spec.risk.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0))"
                + (e.disabled.map { why in
                    // The row names the action already.
                    " \(b.glyphs.cross) " + (why.hasPrefix(e.spec.name + " ") ? String(why.dropFirst(e.spec.name.count + 1)) : why)
                } ?? "")
        }
        let width = min(max(20, body.width - 8), rows.map { DisplayWidth.of($0) }.max() ?? 20)
        var lines: [(text: String, style: Style)] = []
        let context: String
        if !state.screen.actionsAimAtSelection {
            context = "quick actions on the whole fleet"
        } else if let id = selectedItemID(state) {
            context = "on the selection: \(id)"
        } else {
            context = "no row selected"
        }
        lines.append((context, Style(.muted)))
        lines.append(("", .plain))
        // A window of entries around the highlighted one.
        let room = max(3, body.height - 9)
        let start = max(0, min(selected - room / 2, entries.count - room))
        // A click on an entry's line means that entry (the mouse reads these zones).
        var targets: [Int: HitTarget] = [:]
        for i in start..<min(entries.count, start + room) {
            targets[lines.count] = .menuEntry(i)
            let text = rows[i] + String(repeating: " ", count: max(0, width - DisplayWidth.of(rows[i])))
            let style: Style
            switch (i == selected, entries[i].disabled != nil) {
            case (true, false): style = Style(.text, bg: .selection, [.bold])
            case (true, true): style = Style(.muted, bg: .selection)
            case (false, false): style = Style(.text)
            case (false, true): style = Style(.muted)
            }
            lines.append((text, style))
        }
        lines.append(("", .plain))
        if let why = entries[selected].disabled {
            lines.append(("\(b.glyphs.cross) \(why)", Style(.warning)))
        } else {
            lines.append(("\(entries[selected].spec.name) · Enter runs · its key runs it · Esc closes", Style(.muted)))
        }
        let counter = entries.count > room ? " (\(selected + 1)/\(entries.count))" : ""
        Modal(title: "Actions — \(actionContextTitle(state))\(counter)", lines: lines, buttons: [], focusedButton: 0, lineTargets: targets)
            .render(into: &b, rect: body)
    }

    static func renderActionForm(_ state: AppState, _ form: ActionFormState, _ b: inout CellBuffer, _ body: Rect) {
        guard let field = form.field else { return }
        let spec = form.pending.spec
        var lines: [(text: String, style: Style)] = [("\(spec.name) · \(spec.risk.rawValue) risk", Style(.muted))]
        for f in spec.fields {
            if let v = form.pending.payload[f.name] { lines.append(("\(f.name): \(v.description)", Style(.text))) }
        }
        lines.append(("", .plain))
        let help = field.help.isEmpty ? "" : " — \(field.help)"
        lines.append(("\(field.name) (\(field.typeDescription))\(help)", Style(.accent)))
        if form.fields.count > 1 { lines.append(("field \(form.index + 1) of \(form.fields.count)", Style(.muted))) }
        if let error = form.error { lines.append(("\(b.glyphs.cross) \(error)", Style(.danger, [.bold]))) }
        let last = form.index == form.fields.count - 1
        Modal(
            title: spec.title, lines: lines, input: (label: field.name + ":", value: form.text),
            buttons: ["Esc cancel", last ? "Enter continue" : "Enter next"], focusedButton: 1
        )
        .render(into: &b, rect: body)
    }

    static func renderConfirm(_ state: AppState, _ dialog: ActionConfirmState, _ b: inout CellBuffer, _ body: Rect) {
        if let preview = dialog.preview { return renderPreview(state, dialog, preview, &b, body) }
        let p = dialog.pending
        let spec = p.spec
        var lines: [(text: String, style: Style)] = []
        switch dialog.kind {
        case .none:
            return
        case .yesNo where !p.bulk.isEmpty:
            lines.append(("\(spec.title): \(p.targetPhrase)? [y/N]", Style(.text, [.bold])))
            lines.append((bulkList(p, width: body.width - 12), Style(.muted)))
            if let note = p.note { lines.append((note, Style(.muted))) }
            lines.append(("", .plain))
            lines.append(("y confirms · ←/→ and Enter choose · any other key cancels · one audited request per row", Style(.muted)))
            Modal(
                title: "Confirm \(spec.name) on \(p.targetPhrase)", lines: lines, buttons: ["No", "Yes"], focusedButton: dialog.focusYes ? 1 : 0,
                tone: .warning
            )
            .render(into: &b, rect: body)
        case .yesNo:
            lines.append(("\(spec.title) \(p.targetPhrase)? [y/N]", Style(.text, [.bold])))
            if let note = p.note { lines.append((note, Style(.muted))) }
            lines.append(("", .plain))
            lines.append(("y confirms · d previews · ←/→ and Enter choose · any other key cancels", Style(.muted)))
            Modal(title: "Confirm \(spec.name)", lines: lines, buttons: ["No", "Yes"], focusedButton: dialog.focusYes ? 1 : 0, tone: .warning)
                .render(into: &b, rect: body)
        case .impact:
            switch p.impact {
            case .measuring, .notAsked:
                lines.append(("\(spec.title) \(p.targetPhrase): measuring the impact…", Style(.text, [.bold])))
            case .measured(let n?):
                lines.append((impactSentence(p, n) + " [y/N]", Style(.text, [.bold])))
            case .measured(nil):
                lines.append(("\(spec.title) \(p.targetPhrase)? [y/N]", Style(.text, [.bold])))
            case .failed(let why):
                lines.append(("\(spec.title) \(p.targetPhrase)? [y/N]", Style(.text, [.bold])))
                lines.append(("impact unknown: \(why)", Style(.warning)))
            }
            if let note = p.note { lines.append((note, Style(.muted))) }
            lines.append(("", .plain))
            lines.append(
                (
                    p.impact == .measuring
                        ? "waiting for the count · d previews · any key but y cancels"
                        : "y confirms · d previews · ←/→ and Enter choose · any other key cancels", Style(.muted)
                ))
            Modal(
                title: "Confirm \(spec.name) (\(spec.risk.rawValue) risk)", lines: lines, buttons: ["Cancel", "Yes"],
                focusedButton: dialog.focusYes ? 1 : 0, tone: .warning
            )
            .render(into: &b, rect: body)
        case .typed:
            if !p.bulk.isEmpty {
                lines.append(("\(spec.title): \(p.targetPhrase).", Style(.text, [.bold])))
                lines.append((bulkList(p, width: body.width - 12), Style(.muted)))
            } else if case .measured(let n?) = p.impact {
                lines.append((impactSentence(p, n), Style(.text, [.bold])))
            } else {
                lines.append(
                    (
                        p.targetPhrase == "the system" ? "\(spec.title): affects the whole system." : "\(spec.title) \(p.targetPhrase).",
                        Style(.text, [.bold])
                    ))
            }
            if let note = p.note { lines.append((note, Style(.muted))) }
            lines.append(("Critical: type \(p.target) to confirm, then give a reason (ticket); both are audited.", Style(.warning)))
            if p.bulk.isEmpty { lines.append(("Ctrl-D previews what it would touch (nothing runs)", Style(.muted))) }
            if dialog.step == .reason { lines.append(("confirmed: \(dialog.typedName) \(b.glyphs.check)", Style(.ok))) }
            if let error = dialog.error { lines.append(("\(b.glyphs.cross) \(error)", Style(.danger, [.bold]))) }
            let input = dialog.step == .name ? (label: "type \(p.target):", value: dialog.typedName) : (label: "reason:", value: dialog.reason)
            Modal(
                title: "CRITICAL \(spec.name)", lines: lines, input: input,
                buttons: ["Esc cancel", dialog.step == .name ? "Enter next" : "Enter run"], focusedButton: 0, tone: .critical
            )
            .render(into: &b, rect: body)
        }
    }
}
