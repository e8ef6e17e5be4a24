import AgentOSCore
import Foundation

extension App {
    /// Every action the shown screen offers on its selection, prefilled and checked: the
    /// action menu, the action keys and the help are all made from this list.
    /// Read-only (`--readonly`, the wallboard): none at all.
    public static func actionEntries(_ state: AppState) -> [ActionEntry] {
        state.readOnly ? [] : state.screen.actionEntries(state)
    }

    /// Whether the operator's role may never run `spec` (read-only role, unknown role, RBAC deny):
    /// such an action's key is not shown in the help nor the menu.
    public static func forbidden(_ state: AppState, _ spec: ActionSpec) -> Bool {
        guard let role = Role(rawValue: state.operatorInfo.role), role != .readonly else { return true }
        if case .deny = Policy.decide(Grant(role: role), spec) { return true }
        return false
    }

    /// Catalog keys of the current view that a global key wins over (listed in the help).
    public static func shadowedActions(_ state: AppState) -> [ActionEntry] {
        actionEntries(state).filter { entry in
            guard let k = entry.key, let c = k.first, k.count == 1 else { return false }
            return state.keyMap.command(for: .char(c)) != nil
        }
    }

    /// Why the operator may not run `spec` now (nil: they may): the role, RBAC, an action the
    /// backend cannot perform (embedded), or the service's circuit breaker.
    public static func unavailability(_ state: AppState, _ spec: ActionSpec, _ payload: [String: PayloadValue]) -> String? {
        guard let role = Role(rawValue: state.operatorInfo.role) else {
            return "unknown role '\(state.operatorInfo.role)': read-only"
        }
        if role == .readonly { return "read-only role: actions are disabled" }
        switch Policy.decide(Grant(role: role), spec) {
        case .deny(let why):
            return "denied: \(why)"
        case .allowOwn:
            if let id = payload["id"]?.description, let job = state.snapshot?.jobs.recent.first(where: { $0.id == id }),
                job.owner != state.actions.actor.effectiveUser
            {
                return "denied: role user acts on its own jobs only (this job belongs to \(job.owner))"
            }
        case .allow:
            break
        }
        if let why = state.actions.unavailable[spec.name] { return why }
        // Marked rows: each is checked when the bulk run starts (`activate`), not the selected one.
        if state.current.markedIDs.isEmpty, let id = payload["id"]?.description, let why = inapplicability(state, spec, job: id) {
            return why
        }
        if !spec.bypassesBreaker,
            let breaker = state.snapshot?.system.breakers.first(where: { $0.service == spec.service.rawValue && $0.state == .open })
        {
            return "\(breaker.service) circuit breaker is open"
        }
        return nil
    }

    /// Why `spec` cannot apply to job `id` as the snapshot last showed it (nil: it can, or the job is
    /// not in the recent window; the executor still decides).
    static func inapplicability(_ state: AppState, _ spec: ActionSpec, job id: String) -> String? {
        guard spec.id.subject == "job", let job = state.snapshot?.jobs.recent.first(where: { $0.id == id }) else { return nil }
        return spec.inapplicability(toJobIn: job.status)
    }

    /// The identity of the selected row, if any.
    static func selectedItemID(_ state: AppState) -> String? {
        let list = Screens.listing(state)
        let i = state.current.cursor.selected
        return i >= 0 && i < list.count ? list.id(i) : nil
    }

    /// What the form's input starts with (config.set: the current value).
    static func initialText(_ state: AppState, _ pending: PendingAction, field: String) -> String {
        if pending.spec.id == .configSet, field == "value", let key = pending.payload["key"]?.description,
            let entry = state.snapshot?.config.first(where: { $0.key == key })
        {
            return entry.value.description
        }
        return ""
    }
}
