import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let sessions = ViewID(rawValue: "sessions")
}

/// The consoles running on this backend: the second pane of System Controls. `system.session_terminate`
/// aims at the selected one.
public struct SessionsScreen: Screen {
    public var id: ViewID { .sessions }
    public var tab: ViewID { .system }
    public var title: String { "Console sessions" }
    public var aliases: [String] { ["sessions", "session", "consoles"] }
    public var actionView: ActionView? { .system }
    public var actionsTitle: String { "sessions" }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("OPERATOR", .fixed(12), priority: 9), TableColumn("HOST", .flex(weight: 1, min: 10), priority: 8),
            TableColumn("TTY", .fixed(12), priority: 4), TableColumn("PID", .fixed(7), align: .right, priority: 5),
            TableColumn("MODE", .fixed(13), priority: 7), TableColumn("VIEW", .fixed(10), priority: 3),
            TableColumn("STARTED", .fixed(7), align: .right, priority: 6), TableColumn("SEEN", .fixed(5), align: .right, priority: 6),
            TableColumn("SESSION", .fixed(9), priority: 8)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        Screens.ListSource(s.system.sessions, id: \.id) { c in
            let mine = c.id == state.actions.actor.sessionID
            return ListItem(
                id: c.id,
                row: TableRow(
                    [
                        c.user, c.host, c.tty.isEmpty ? "-" : c.tty, String(c.pid), c.mode + (mine ? " ←" : ""), c.view.isEmpty ? "-" : c.view,
                        Fmt.age(since: c.startedAt, now: state.now), Fmt.age(since: c.lastSeen, now: state.now), Fmt.shortID(c.id)
                    ], style: mine ? Style(.accent) : Style(.text)),
                sort: [
                    .text(c.user), .text(c.host), .text(c.tty), .number(Double(c.pid)), .text(c.mode), .text(c.view),
                    .number(-c.startedAt.timeIntervalSince1970), .number(-c.lastSeen.timeIntervalSince1970), .text(c.id)
                ],
                search: "\(c.user) \(c.host) \(c.tty) \(c.mode) \(c.id)")
        }
    }

    /// Only ending a session aims at a session; the other system actions belong to the first pane.
    public func offers(_ spec: ActionSpec) -> Bool { spec.id == .systemSessionTerminate }

    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        guard let id, spec.field("session") != nil else { return ([:], nil) }
        return (["session": .string(id)], id == state.actions.actor.sessionID ? "this is your own console" : nil)
    }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        guard let c = s.system.sessions.first(where: { $0.id == id }) else { return nil }
        let lines = [
            App.field("session", c.id), App.field("operator", c.user), App.field("host", c.host), App.field("tty", c.tty.isEmpty ? "-" : c.tty),
            App.field("pid", String(c.pid)), App.field("mode", c.mode), App.field("view", c.view.isEmpty ? "-" : c.view),
            App.field("started", "\(Fmt.clock(c.startedAt)) (\(Fmt.age(since: c.startedAt, now: state.now)) ago)"),
            App.field("last seen", "\(Fmt.age(since: c.lastSeen, now: state.now)) ago")
        ]
        return ("Console session \(Fmt.shortID(c.id))", lines)
    }
}
