import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let config = ViewID(rawValue: "config")
}

/// The configuration entries, with the selected one's description and constraints under them.
public struct ConfigScreen: Screen {
    /// The versions of entries, newest first, as loaded for their drill-down.
    public struct Local: ScreenLocalState {
        public var history: [String: [ConfigChange]] = [:]
        public init() {}
    }

    public var id: ViewID { .config }
    public var title: String { "Configuration" }
    public var shortTitle: String { "Config" }
    public var aliases: [String] { ["config", "configuration", "cfg", "c"] }
    public var actionView: ActionView? { .config }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("KEY", .flex(weight: 2, min: 16), priority: 9), TableColumn("TYPE", .fixed(8), priority: 5),
            TableColumn("VALUE", .flex(weight: 1, min: 10), priority: 9), TableColumn("DEFAULT", .flex(weight: 1, min: 8), priority: 4),
            TableColumn("VER", .fixed(3), align: .right, priority: 6), TableColumn("BY", .fixed(8), priority: 3)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        return Screens.ListSource(s.config, id: \.key) { c in
            let changed = c.value != c.defaultValue
            return ListItem(
                id: c.key,
                row: TableRow(
                    [c.key, c.type.rawValue, c.value.description, c.defaultValue.description, String(c.version), c.updatedBy],
                    style: c.locked ? Style(.muted) : nil, cellStyles: changed ? [2: Style(.accent, [.bold])] : [:]),
                sort: [
                    .text(c.key), .text(c.type.rawValue), .text(c.value.description), .text(c.defaultValue.description),
                    .number(Double(c.version)), .text(c.updatedBy)
                ],
                search: "\(c.key) \(c.type.rawValue) \(c.value) \(c.description) \(c.updatedBy)")
        }
    }

    public func tableRect(_ state: AppState, body: Rect) -> Rect { areas(body).table }

    /// The keys over the selected key's description and constraints.
    func areas(_ body: Rect) -> (table: Rect, info: Rect) {
        let parts = Layout.vertical([.fill(1), .length(min(3, body.height / 3))]).split(body)
        return (parts[0], parts[1])
    }

    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        var p: [String: PayloadValue] = [:]
        var note: String?
        if let id, spec.field("key") != nil { p["key"] = .string(id) }
        if spec.id == .configLock, let id, let entry = state.snapshot?.config.first(where: { $0.key == id }) {
            p["locked"] = .bool(!entry.locked)
            note = entry.locked ? "unfreezes changes of \(id)" : "freezes changes of \(id)"
        }
        return (p, note)
    }

    public func detailLoads(id: String, after event: AgentEvent?) -> [Effect] {
        switch event {
        case nil: return [.loadConfigHistory(id)]
        case .configChanged(let entry)? where entry.key == id: return [.loadConfigHistory(id)]
        default: return []
        }
    }

    public func receive(_ msg: Msg, _ state: inout AppState) -> [Effect] {
        if case .configHistory(let key, let changes) = msg { state[local: Local.self].history[key] = changes }
        return []
    }

    public func detail(_ state: AppState, _ s: Snapshot, id key: String) -> DetailContent? {
        guard let c = s.config.first(where: { $0.key == key }) else { return nil }
        var lines = [
            App.field("key", c.key), App.field("type", c.type.rawValue), App.field("value", c.value.description, Style(.accent, [.bold])),
            App.field("default", c.defaultValue.description), App.field("version", String(c.version)), App.field("updated by", c.updatedBy),
            App.field("updated", c.updatedAt.map { ISOTime.format($0) } ?? "-"), App.field("locked", c.locked ? "yes" : "no"),
            ("", .plain), (c.description, Style(.text)), ("", .plain)
        ]
        // The diff against the default: what an operator reverting would change.
        if c.value == c.defaultValue {
            lines.append(("= the default value", Style(.ok)))
        } else {
            lines.append(("- \(c.defaultValue.description)   (default)", Style(.danger)))
            lines.append(("+ \(c.value.description)   (now, version \(c.version))", Style(.ok)))
        }
        lines.append(("", .plain))
        lines.append(("History", Style(.title, [.bold])))
        if let changes = state[local: Local.self].history[key] {
            if changes.isEmpty { lines.append(("no recorded changes", Style(.muted))) }
            for ch in changes {
                let when = "\(ISOTime.format(ch.changedAt).prefix(16).replacingOccurrences(of: "T", with: " "))"
                lines.append(
                    (
                        "v\(ch.version)  \(when)  \(ch.changedBy)  \(ch.oldValue ?? "(unset)") → \(ch.newValue)"
                            + (ch.reason.map { "  — \($0)" } ?? ""), ch.version == c.version ? Style(.text, [.bold]) : Style(.text)
                    ))
            }
            if changes.count > 1 { lines.append(("b rolls back to a version", Style(.muted))) }
        } else {
            lines.append(("loading…", Style(.muted)))
        }
        return ("Config \(key)", lines)
    }

    public func render(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) {
        let (table, info) = areas(body)
        App.renderTable(state, &b, table)
        let list = Screens.listing(state)
        guard let s = state.snapshot, state.current.cursor.selected < list.count,
            let entry = s.config.first(where: { $0.key == list.id(state.current.cursor.selected) })
        else { return }
        let y = info.y
        guard info.height > 0 else { return }
        b.hline(x: body.x, y: y, width: body.width)
        var constraints: [String] = []
        if let lo = entry.constraints.min { constraints.append("min \(lo)") }
        if let hi = entry.constraints.max { constraints.append("max \(hi)") }
        if let allowed = entry.constraints.allowed { constraints.append("one of " + allowed.joined(separator: ", ")) }
        if let p = entry.constraints.pattern { constraints.append("matches \(p)") }
        b.put(entry.description, x: body.x + 1, y: y + 1, Style(.text), maxWidth: body.width - 2)
        if y + 2 < body.maxY {
            let info =
                (constraints.isEmpty ? "" : constraints.joined(separator: " · ") + " · ") + "v\(entry.version) by \(entry.updatedBy)"
                + (entry.locked ? " · LOCKED" : "")
            b.put(info, x: body.x + 1, y: y + 2, Style(.muted), maxWidth: body.width - 2)
        }
    }
}
