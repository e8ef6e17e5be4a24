import AgentOSCore
import Foundation

/// The action flow, as pure folds: key → (menu) → form for missing fields → dialog by the
/// spec's confirmation → `.dispatch` effect → `.actionFinished` notice (and `!` to retry).
/// The actions come from the shown screen (`Screen.actionEntries`); the requests on their way
/// live in `state.actions` (`ActionFlow`).
extension App {
    // MARK: starting

    /// Runs the view's action bound to `key` on the selection (nil: the key is not an action key here).
    static func actionKey(_ state: inout AppState, _ key: Key) -> [Effect]? {
        guard case .char(let c) = key, let entry = actionEntries(state).first(where: { $0.key == String(c) }) else { return nil }
        return activate(&state, entry)
    }

    static func openActionMenu(_ state: inout AppState) -> [Effect] {
        if state.readOnly {
            state.notify("read-only console: actions are hidden", .warning)
            return []
        }
        let entries = actionEntries(state)
        guard !entries.isEmpty else {
            state.notify("no actions in \(state.view.title)", .warning)
            return []
        }
        // Start on the first action that may run.
        state.overlay = .actionMenu(ActionMenuState(selected: entries.firstIndex { $0.disabled == nil } ?? 0))
        return []
    }

    /// A greyed action explains itself; any other starts.
    static func activate(_ state: inout AppState, _ entry: ActionEntry) -> [Effect] {
        if let why = entry.disabled {
            state.overlay = .none
            state.notify("\(entry.spec.name) not available: \(why)", .warning)
            return []
        }
        var pending = PendingAction(spec: entry.spec, payload: entry.payload, note: entry.note, token: state.actions.nextToken())
        // Rows are marked: an action aimed at the selected row runs on each marked row instead.
        if state.screen.actionsAimAtSelection, !state.current.markedIDs.isEmpty, let field = entry.spec.targetField, entry.payload[field] != nil {
            // Marked rows the action cannot apply to are left out, and said so.
            let marked = state.current.markedIDs.sorted()
            let skipped = marked.compactMap { id in inapplicability(state, entry.spec, job: id).map { (id, $0) } }
            let ids = marked.filter { id in !skipped.contains { $0.0 == id } }
            guard !ids.isEmpty else {
                state.overlay = .none
                state.notify("\(entry.spec.name) not available on the marked rows: \(skipped[0].1)", .warning)
                return []
            }
            if !skipped.isEmpty {
                let noun = skipped.count == 1 ? "row" : "rows"
                pending.note = "\(skipped.count) marked \(noun) left out: \(skipped[0].1)"
            }
            pending.bulk = ids.map { id in
                var payload = entry.payload
                payload[field] = .string(id)
                return payload
            }
        }
        return begin(&state, pending)
    }

    /// Asks the missing required fields, then confirms.
    static func begin(_ state: inout AppState, _ pending: PendingAction) -> [Effect] {
        let missing = pending.spec.fields.filter { $0.required && pending.payload[$0.name] == nil }.map(\.name)
        if let first = missing.first {
            state.overlay = .actionForm(ActionFormState(pending: pending, fields: missing, text: initialText(state, pending, field: first)))
            return []
        }
        return confirm(&state, pending)
    }

    static func confirm(_ state: inout AppState, _ pending: PendingAction) -> [Effect] {
        if !pending.bulk.isEmpty {
            state.overlay = .confirm(ActionConfirmState(pending: pending))
            return []
        }
        var pending = pending
        switch pending.spec.confirmation {
        case .none:
            return dispatch(&state, pending, reason: nil, confirmation: nil)
        case .yesNo:
            state.overlay = .confirm(ActionConfirmState(pending: pending))
            return []
        case .impact, .typed:
            pending.impact = .measuring
            state.overlay = .confirm(ActionConfirmState(pending: pending))
            return [.measureImpact(token: pending.token, action: pending.spec.name, payload: pending.payload)]
        }
    }

    /// A fresh idempotency key, made when the operator confirms (a retry reuses it).
    static func newIdempotencyKey() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    static func dispatch(_ state: inout AppState, _ pending: PendingAction, reason: String?, confirmation: String?) -> [Effect] {
        state.overlay = .none
        if !pending.bulk.isEmpty { return dispatchBulk(&state, pending, reason: reason) }
        let request = ActionRequest(
            action: pending.spec.name, payload: pending.confirmedPayload, actor: state.actions.actor,
            idempotencyKey: newIdempotencyKey(), reason: reason, confirmation: confirmation)
        return send(&state, request, retry: false)
    }

    static func send(_ state: inout AppState, _ request: ActionRequest, retry: Bool) -> [Effect] {
        state.actions.track(request)
        let target = ActionCatalog.spec(request.action).map { PendingAction(spec: $0, payload: request.payload, token: 0).targetPhrase } ?? ""
        state.notify("\(retry ? "retrying" : "running") \(request.action)\(target == "the system" ? "" : " on \(target)")…", .info)
        return [.dispatch(request)]
    }

    /// One request per marked row, each with its own idempotency key (and, critical, its own
    /// target as the typed confirmation: the operator typed the count). The marks are spent.
    static func dispatchBulk(_ state: inout AppState, _ pending: PendingAction, reason: String?) -> [Effect] {
        let requests = pending.bulk.map { payload in
            ActionRequest(
                action: pending.spec.name, payload: payload, actor: state.actions.actor, idempotencyKey: newIdempotencyKey(), reason: reason,
                confirmation: pending.spec.confirmation == .typed
                    ? PendingAction(spec: pending.spec, payload: payload, token: 0).target : nil)
        }
        for request in requests { state.actions.track(request) }
        state.actions.bulkRuns.append(BulkRun(action: pending.spec.name, requests: requests.map(\.requestID)))
        state.current.markedIDs = []
        state.notify("running \(pending.spec.name) on \(pending.targetPhrase)…", .info)
        return requests.map { .dispatch($0) }
    }

    /// `!`: the last failed action again, with the same idempotency key and payload.
    static func retryLastFailed(_ state: inout AppState) -> [Effect] {
        guard !state.readOnly else { return openActionMenu(&state) }
        guard var request = state.actions.lastFailed else {
            state.notify("no failed action to retry", .info)
            return []
        }
        state.actions.lastFailed = nil
        request.requestID = UUID()
        return send(&state, request, retry: true)
    }

    // MARK: results

    static func actionFinished(_ state: inout AppState, _ report: ActionReport) -> [Effect] {
        switch state.actions.finish(report) {
        case .single(let request):
            if report.succeeded {
                state.notify("\(report.action): \(compactIDs(report.message))", .success)
                for warning in report.warnings { state.notify("\(report.action): \(warning)", .warning) }
                return state.sync.reloadUnlessPending()
            }
            if case .failure(.impactExceeded(let confirmed, let actual)) = report.outcome, let request {
                return askAgain(&state, request, confirmed: confirmed, actual: actual)
            }
            state.notify("\(report.action) failed: \(failureText(report))\(request == nil ? "" : " — ! retries")", .error)
            return []
        case .bulkRunning:
            return []
        case .bulkDone(let run):
            // One notice when the last request of a bulk action has ended.
            if run.failures.isEmpty {
                state.notify("\(run.action): \(run.succeeded) of \(run.total) done", .success)
            } else {
                state.notify(
                    "\(run.action): \(run.succeeded) of \(run.total) done, \(run.failures.count) failed: \(run.failures[0]) — ! retries the last",
                    .error)
            }
            return run.succeeded > 0 ? state.sync.reloadUnlessPending() : []
        }
    }

    /// The executor refused because more would be affected than was confirmed (nothing changed): the
    /// dialog opens again with the new figure (a critical one keeps the reason, wants the name again).
    static func askAgain(_ state: inout AppState, _ request: ActionRequest, confirmed: Int, actual: Int) -> [Effect] {
        state.actions.lastFailed = nil
        let message = "\(request.action) not run: \(Fmt.count(actual)) would be affected, \(Fmt.count(confirmed)) confirmed"
        guard state.overlay == .none, let spec = ActionCatalog.spec(request.action) else {
            state.notify(message, .warning)
            return []
        }
        var payload = request.payload
        payload["expect"] = nil
        var pending = PendingAction(spec: spec, payload: payload, token: state.actions.nextToken())
        pending.impact = .measured(actual)
        var dialog = ActionConfirmState(pending: pending)
        dialog.reason = request.reason ?? ""
        dialog.error = "\(Fmt.count(actual)) now, \(Fmt.count(confirmed)) confirmed: nothing was changed; confirm the new figure"
        state.overlay = .confirm(dialog)
        state.notify(message, .warning)
        return []
    }

    /// While a dialog shows a counted impact, the count is taken again (each tick and each new
    /// snapshot, one measurement at a time), so the figure confirmed is the one that holds now.
    static func remeasureImpact(_ state: inout AppState) -> [Effect] {
        guard case .confirm(var dialog) = state.overlay, !dialog.remeasuring, dialog.pending.bulk.isEmpty,
            case .measured(_?) = dialog.pending.impact
        else { return [] }
        dialog.remeasuring = true
        state.overlay = .confirm(dialog)
        return [.measureImpact(token: dialog.pending.token, action: dialog.pending.spec.name, payload: dialog.pending.payload)]
    }

    static func impactMeasured(_ state: inout AppState, token: Int, _ result: Result<Int?, ActionFailure>) -> [Effect] {
        guard case .confirm(var dialog) = state.overlay, dialog.pending.token == token else { return [] }
        dialog.remeasuring = false
        switch result {
        case .success(let n): dialog.pending.impact = .measured(n)
        case .failure(let f): dialog.pending.impact = .failed(f.description)
        }
        state.overlay = .confirm(dialog)
        return []
    }

    /// Why an action failed, for a notice: ids shortened, without the outcome word the notice already says.
    static func failureText(_ report: ActionReport) -> String {
        let message = compactIDs(report.message)
        return message.hasPrefix("failed: ") ? String(message.dropFirst(8)) : message
    }

    /// Full UUIDs shortened to their first eight digits for the one-line notices.
    static func compactIDs(_ text: String) -> String {
        text.replacing(#/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/#) { match in
            "\(match.output.prefix(8))…"
        }
    }

    // MARK: overlays

    static func cancelAction(_ state: inout AppState, _ name: String) -> [Effect] {
        state.overlay = .none
        // Not "cancelled": after job.cancel that reads like the action's success.
        state.notify("\(name) not run: declined", .info)
        return []
    }

    static func menuKey(_ state: inout AppState, _ key: Key, _ menu: ActionMenuState) -> [Effect] {
        let entries = actionEntries(state)
        guard !entries.isEmpty else {
            state.overlay = .none
            return []
        }
        var menu = menu
        menu.selected = min(max(0, menu.selected), entries.count - 1)
        switch key {
        // Ctrl-C closes an action's dialog like Esc (a second one quits): an operator aborting an
        // action must not lose the console with it.
        case .escape, .char("."), .char("q"), .ctrl("c"):
            state.overlay = .none
            return []
        case .down, .char("j"), .tab:
            menu.selected = (menu.selected + 1) % entries.count
        case .up, .char("k"), .backTab:
            menu.selected = (menu.selected + entries.count - 1) % entries.count
        case .home, .char("g"):
            menu.selected = 0
        case .end, .char("G"):
            menu.selected = entries.count - 1
        case .enter:
            return activate(&state, entries[menu.selected])
        case .char(let c):
            if let entry = entries.first(where: { $0.key == String(c) }) { return activate(&state, entry) }
        default:
            break
        }
        state.overlay = .actionMenu(menu)
        return []
    }

    static func formKey(_ state: inout AppState, _ key: Key, _ form: ActionFormState) -> [Effect] {
        var form = form
        switch key {
        case .escape, .ctrl("c"):
            return cancelAction(&state, form.pending.spec.name)
        case .backspace:
            if !form.text.isEmpty { form.text.removeLast() }
        case .char(let c):
            form.text.append(c)
            form.error = nil
        case .enter:
            guard let field = form.field else { return confirm(&state, form.pending) }
            var raw = form.pending.payload
            raw[field.name] = .string(form.text)
            do throws(ActionFailure) {
                _ = try form.pending.spec.validate(raw)
            } catch {
                // Fields are checked in order: an error on a later field (not asked yet) waits its turn.
                if case .invalid(let name, let why) = error, name == field.name {
                    form.error = why
                    state.overlay = .actionForm(form)
                    return []
                }
            }
            form.pending.payload[field.name] = .string(form.text)
            form.index += 1
            form.error = nil
            guard form.index < form.fields.count else { return confirm(&state, form.pending) }
            form.text = initialText(state, form.pending, field: form.fields[form.index])
        default:
            break
        }
        state.overlay = .actionForm(form)
        return []
    }

    static func confirmKey(_ state: inout AppState, _ key: Key, _ dialog: ActionConfirmState) -> [Effect] {
        var dialog = dialog
        let pending = dialog.pending
        if dialog.preview != nil { return previewKey(&state, key, dialog) }
        if key == .ctrl("c") { return cancelAction(&state, pending.spec.name) }
        if isPreviewKey(key, dialog) { return openPreview(&state, dialog) }
        switch dialog.kind {
        case .none:
            return dispatch(&state, pending, reason: nil, confirmation: nil)
        case .yesNo, .impact:
            // y confirms, and Enter on [Yes]; ←/→/Tab move between the buttons (No first); any
            // other key cancels. No answer before the impact is known.
            switch key {
            case .left, .right, .tab, .backTab, .char("h"), .char("l"):
                dialog.focusYes.toggle()
                state.overlay = .confirm(dialog)
                return []
            case .char("y"), .char("Y"), .enter:
                // Enter presses the focused button: No unless it was moved.
                guard key != .enter || dialog.focusYes else { return cancelAction(&state, pending.spec.name) }
                if pending.impact == .measuring { return [] }
                return dispatch(&state, pending, reason: nil, confirmation: nil)
            default:
                return cancelAction(&state, pending.spec.name)
            }
        case .typed:
            switch key {
            case .escape:
                return cancelAction(&state, pending.spec.name)
            case .backspace:
                if dialog.step == .name {
                    if !dialog.typedName.isEmpty { dialog.typedName.removeLast() }
                } else if !dialog.reason.isEmpty {
                    dialog.reason.removeLast()
                } else {
                    dialog.step = .name
                }
            case .char(let c):
                if dialog.step == .name { dialog.typedName.append(c) } else { dialog.reason.append(c) }
            case .enter:
                switch dialog.step {
                case .name:
                    guard dialog.typedName == pending.target else {
                        dialog.error =
                            dialog.typedName.isEmpty
                            ? "type \(pending.target) to confirm"
                            : "refused: '\(dialog.typedName)' is not '\(pending.target)'"
                        dialog.typedName = ""
                        break
                    }
                    dialog.step = .reason
                    dialog.error = nil
                case .reason:
                    let reason = dialog.reason.trimmingCharacters(in: .whitespaces)
                    guard !reason.isEmpty else {
                        dialog.error = "a reason (ticket) is required"
                        break
                    }
                    guard reason.count <= 500 else {
                        dialog.error = "the reason is longer than 500 characters"
                        break
                    }
                    return dispatch(&state, pending, reason: reason, confirmation: dialog.typedName)
                }
            default:
                break
            }
            state.overlay = .confirm(dialog)
            return []
        }
    }
}
