import AgentOSCore
import Foundation

/// The Dashboard's quick actions: catalog actions aimed by the console (the busiest queue, the
/// top alert), each with its usual checks and dialog.
public enum QuickAction: String, CaseIterable, Sendable {
    case cacheRefresh, maintenanceOn, maintenanceOff, pauseBusiestQueue, restartAllWorkers, ackTopAlert

    /// Its key on the Dashboard.
    public var key: String {
        switch self {
        case .cacheRefresh: return "c"
        case .maintenanceOn: return "M"
        case .maintenanceOff: return "N"
        case .pauseBusiestQueue: return "P"
        case .restartAllWorkers: return "W"
        case .ackTopAlert: return "a"
        }
    }

    /// The catalog action it runs.
    public var action: String {
        switch self {
        case .cacheRefresh: return "system.cache_refresh"
        case .maintenanceOn: return "system.maintenance_on"
        case .maintenanceOff: return "system.maintenance_off"
        case .pauseBusiestQueue: return "queue.pause"
        case .restartAllWorkers: return "worker.restart_all"
        case .ackTopAlert: return "system.alert_ack"
        }
    }

    public var spec: ActionSpec { ActionCatalog.spec(action)! }

    /// The help's line.
    public var helpTitle: String {
        switch self {
        case .cacheRefresh: return "Refresh the SSOT cache"
        case .maintenanceOn: return "Maintenance mode on"
        case .maintenanceOff: return "Maintenance mode off"
        case .pauseBusiestQueue: return "Pause busiest queue"
        case .restartAllWorkers: return "Restart all workers"
        case .ackTopAlert: return "Ack the top alert"
        }
    }

    /// The payload for the current state, a note for the dialog, or why there is nothing to aim at.
    func resolve(_ state: AppState) -> (payload: [String: PayloadValue], title: String, blocked: String?) {
        let title = spec.title
        switch self {
        case .cacheRefresh, .maintenanceOn, .maintenanceOff:
            return ([:], title, nil)
        case .restartAllWorkers:
            return ([:], "Restart all workers (rolling)", nil)
        case .pauseBusiestQueue:
            let busiest = state.snapshot?.queues.filter { !$0.paused }.max { ($0.pending, $1.name) < ($1.pending, $0.name) }
            guard let q = busiest else { return ([:], "Pause the busiest queue", "no active queue to pause") }
            return (["queue": .string(q.name)], "Pause the busiest queue (\(q.name), \(Fmt.count(q.pending)) pending)", nil)
        case .ackTopAlert:
            guard let alert = App.topAlert(state) else { return ([:], "Acknowledge the top alert", "no active alert to acknowledge") }
            return (["id": .int(alert.id)], "Acknowledge the top alert (#\(alert.id) \(alert.title))", nil)
        }
    }
}

extension App {
    /// The name prefixes of the actions a view (and pane) offers.
    public static func actionPrefixes(_ state: AppState) -> [String] {
        switch state.view {
        case .dashboard: return []
        case .jobs: return state.current.pane == 0 ? ["job."] : ["queue."]
        case .workers: return ["worker."]
        case .managers: return ["manager."]
        case .system: return ["system.", "database."]
        case .logs: return ["logs."]
        case .config: return ["config."]
        case .analytics: return ["analytics."]
        }
    }

    /// Every action the current view offers on its selection, prefilled and checked: the
    /// action menu, the action keys and the help are all made from this list.
    /// Read-only (`--readonly`, the wallboard): none at all.
    public static func actionEntries(_ state: AppState) -> [ActionEntry] {
        guard !state.readOnly else { return [] }
        if state.view == .dashboard {
            return QuickAction.allCases.map { quick in
                let (payload, title, blocked) = quick.resolve(state)
                return ActionEntry(
                    key: state.keyMap.actionKey(quick.action, catalog: quick.key), spec: quick.spec, title: title,
                    helpTitle: quick.helpTitle, payload: payload,
                    disabled: unavailability(state, quick.spec, payload) ?? blocked, forbidden: forbidden(state, quick.spec))
            }
        }
        let prefixes = actionPrefixes(state)
        return ActionCatalog.all.filter { spec in prefixes.contains { spec.name.hasPrefix($0) } }.map { spec in
            let (payload, note) = prefill(state, spec)
            return ActionEntry(
                key: state.keyMap.actionKey(spec.name, catalog: spec.key), spec: spec, title: spec.title, payload: payload,
                note: note, disabled: unavailability(state, spec, payload), forbidden: forbidden(state, spec))
        }
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
                job.owner != state.actor.effectiveUser
            {
                return "denied: role user acts on its own jobs only (this job belongs to \(job.owner))"
            }
        case .allow:
            break
        }
        if let why = state.actionUnavailable[spec.name] { return why }
        let bypassesBreaker = spec.name.hasPrefix("system.breaker_") || spec.name == "system.reset"
        if !bypassesBreaker, let breaker = state.snapshot?.system.breakers.first(where: { $0.service == spec.service.rawValue && $0.state == .open })
        {
            return "\(breaker.service) circuit breaker is open"
        }
        return nil
    }

    /// The identity of the selected row, if any.
    static func selectedItemID(_ state: AppState) -> String? {
        let list = Screens.listing(state)
        let i = state.current.cursor.selected
        return i >= 0 && i < list.count ? list.id(i) : nil
    }

    /// The alert the Dashboard's acknowledge aims at: the selected one when it is active, else
    /// the first active alert as listed.
    static func topAlert(_ state: AppState) -> Alert? {
        guard let s = state.snapshot else { return nil }
        let active = { (id: String) in s.alerts.first { String($0.id) == id && $0.status == .active } }
        if state.view == .dashboard, let id = selectedItemID(state), let a = active(id) { return a }
        let listed = state.view == .dashboard ? Screens.listing(state) : nil
        if let listed {
            for i in 0..<listed.count { if let a = active(listed.id(i)) { return a } }
            return nil
        }
        return s.alerts.first { $0.status == .active }
    }

    /// The payload the selection gives an action (job id, queue, worker, manager, pid, log line
    /// or source, config key, analytics window) and a note when a bulk action follows the filter.
    static func prefill(_ state: AppState, _ spec: ActionSpec) -> ([String: PayloadValue], String?) {
        var p: [String: PayloadValue] = [:]
        var note: String?
        let id = selectedItemID(state)
        switch state.view {
        case .dashboard:
            break
        case .jobs:
            if state.current.pane == 0 {
                if let id, spec.field("id") != nil { p["id"] = .string(id) }
            } else {
                if let id, spec.field("queue") != nil { p["queue"] = .string(id) }
                if spec.bulk { note = "applies to every job of the queue, not only the rows shown" }
            }
        case .workers:
            if let id, spec.field("id") != nil { p["id"] = .string(id) }
            if spec.name == "worker.restart_all" {
                let shown = Screens.items(state).compactMap { item in state.snapshot?.workers.first { $0.id == item.id }?.stage }
                if state.current.filter.isActive, let stage = shown.first, shown.allSatisfy({ $0 == stage }) {
                    p["stage"] = .string(stage)
                    note = "follows the filter: only the workers of stage \(stage)"
                } else {
                    note =
                        state.current.filter.isActive
                        ? "every worker of every stage (the filter shows more than one stage)" : "every worker of every stage"
                }
            }
        case .managers:
            if let id, spec.field("id") != nil { p["id"] = .string(id) }
        case .system:
            if let id, let pid = Int(id), spec.field("pid") != nil { p["pid"] = .int(pid) }
        case .logs:
            if let id, let lineID = Int(id) {
                if spec.name == "logs.bookmark" { p["id"] = .int(lineID) }
                if spec.targetField == "source", spec.field("source") != nil,
                    let line = state.snapshot?.logs.recent.first(where: { $0.id == lineID })
                {
                    p["source"] = .string(line.source)
                }
            }
        case .config:
            if let id, spec.field("key") != nil { p["key"] = .string(id) }
            if spec.name == "config.lock", let id, let entry = state.snapshot?.config.first(where: { $0.key == id }) {
                p["locked"] = .bool(!entry.locked)
                note = entry.locked ? "unfreezes changes of \(id)" : "freezes changes of \(id)"
            }
        case .analytics:
            if spec.field("window") != nil { p["window"] = .int(state.analyticsWindow) }
        }
        return (p, note)
    }

    /// What the form's input starts with (config.set: the current value).
    static func initialText(_ state: AppState, _ pending: PendingAction, field: String) -> String {
        if pending.spec.name == "config.set", field == "value", let key = pending.payload["key"]?.description,
            let entry = state.snapshot?.config.first(where: { $0.key == key })
        {
            return entry.value.description
        }
        return ""
    }
}
