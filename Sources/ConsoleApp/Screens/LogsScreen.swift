import AgentOSCore
import ConsoleUI
import Foundation

extension ViewID {
    public static let logs = ViewID(rawValue: "logs")
}

/// The system log, following new lines until the cursor moves up. Paused, it holds still: the
/// lines of the moment it paused stay on screen (a storm does not scroll them away or push them
/// out), and the context line counts what arrived since.
public struct LogsScreen: Screen {
    public struct Local: ScreenLocalState {
        /// The cursor stays on the newest line.
        public var follow = true {
            didSet { if follow { held = nil } }
        }
        /// While paused: the lines as they were when it paused.
        public var held: [LogLine]?
        public init() {}
    }

    /// The lines shown: the held ones while paused, else the snapshot's.
    func lines(_ s: Snapshot, _ state: AppState) -> [LogLine] { state[local: Local.self].held ?? s.logs.recent }

    /// Stops following and holds the lines on screen.
    static func pause(_ state: inout AppState) {
        state[local: Local.self].follow = false
        if state[local: Local.self].held == nil { state[local: Local.self].held = state.snapshot?.logs.recent }
    }

    /// Lines that arrived since the pause ("+" when some have already left the snapshot's window).
    static func arrivedSincePause(_ state: AppState) -> String? {
        guard let held = state[local: Local.self].held, let s = state.snapshot else { return nil }
        let newest = held.last?.id ?? Int.min
        let arrived = s.logs.recent.reduce(0) { $0 + ($1.id > newest ? 1 : 0) }
        guard arrived > 0 else { return nil }
        let more = held.isEmpty || (s.logs.recent.first?.id ?? 0) > newest + 1 ? "+" : ""
        return "+\(Fmt.count(arrived))\(more) new"
    }

    public var id: ViewID { .logs }
    public var title: String { "System Logs" }
    public var shortTitle: String { "Logs" }
    public var aliases: [String] { ["logs", "log", "l"] }
    public var actionView: ActionView? { .logs }

    public func columns(_ state: AppState) -> [TableColumn] {
        [
            TableColumn("TIME", .fixed(8), priority: 8), TableColumn("LEVEL", .fixed(8), priority: 9),
            TableColumn("SOURCE", .fixed(18), priority: 6), TableColumn("MESSAGE", .flex(weight: 1, min: 20), priority: 9)
        ]
    }

    public func rows(_ s: Snapshot, _ state: AppState) -> Screens.ListSource {
        // A bookmarked line is marked before its message; its notes are searchable.
        let notes = Dictionary(grouping: s.logs.bookmarks, by: \.logID).mapValues { $0.map(\.note).joined(separator: " ") }
        let mark = state.unicode ? "◆ " : "* "
        return Screens.ListSource(lines(s, state), id: { String($0.id) }) { l in
            ListItem(
                id: String(l.id),
                row: TableRow(
                    [Fmt.clock(l.ts), l.level.rawValue, l.source, (notes[l.id] == nil ? "" : mark) + l.message], style: Self.style(l.level)),
                sort: [
                    .number(l.ts.timeIntervalSince1970), .number(Double(LogLevel.allCases.firstIndex(of: l.level)!)), .text(l.source),
                    .text(l.message)
                ],
                search: "\(l.level.rawValue) \(l.source) \(l.message) \(l.jobID ?? "") \(notes[l.id] ?? "")")
        }
    }

    public func renderContext(_ state: AppState, _ b: inout CellBuffer, line: Rect, x: inout Int) {
        let follow = state[local: Local.self].follow
        x += b.put(follow ? "  following" : "  paused (f to follow)", x: x, y: line.y, follow ? Style(.ok) : Style(.warning))
        if let arrived = Self.arrivedSincePause(state) { x += b.put("  \(arrived)", x: x, y: line.y, Style(.accent, [.bold])) }
        let bookmarks = state.snapshot?.logs.bookmarks.count ?? 0
        if bookmarks > 0 {
            let jump = state.keyMap.keys(for: .nextBookmark).first.map { ", \(KeyMap.describe($0)) jumps" } ?? ""
            x += b.put("  \(bookmarks) bookmark\(bookmarks == 1 ? "" : "s")\(jump)", x: x, y: line.y, Style(.accent))
        }
    }

    /// A wallboard shows the newest lines.
    public func renderWallboard(_ state: AppState, _ b: inout CellBuffer, _ body: Rect) { App.wallboardTable(state, &b, body, fromEnd: true) }

    public func run(_ command: Command, _ state: inout AppState) -> [Effect]? {
        if command == .nextBookmark {
            jumpToNextBookmark(&state)
            return []
        }
        guard command == .follow else { return nil }
        if state[local: Local.self].follow {
            Self.pause(&state)
        } else {
            state[local: Local.self].follow = true
            App.move(&state, Int.max / 2, App.visibleRows(state))
        }
        return []
    }

    /// Moves to the next bookmarked line shown (after the selection, wrapping), pauses there and
    /// names its bookmark.
    func jumpToNextBookmark(_ state: inout AppState) {
        let bookmarks = state.snapshot?.logs.bookmarks ?? []
        guard !bookmarks.isEmpty else {
            state.notify("no bookmarks: logs.bookmark (B) bookmarks the selected line")
            return
        }
        let byLine = Dictionary(grouping: bookmarks, by: \.logID)
        let list = Screens.listing(state)
        let from = state.current.cursor.selected
        guard
            let target = (1...max(1, list.count)).lazy.map({ (from + $0) % max(1, list.count) })
                .first(where: { i in i < list.count && Int(list.id(i)).map { byLine[$0] != nil } == true }),
            let line = Int(list.id(target)), let newest = byLine[line]?.last
        else {
            state.notify("no bookmarked line is shown (\(bookmarks.count) bookmarks: their lines are filtered out or older than the lines kept)")
            return
        }
        Self.pause(&state)
        App.move(&state, target - from, App.visibleRows(state))
        state.notify("bookmark #\(newest.id) on line \(line) by \(newest.by): \(TextSanitizer.clean(newest.note))")
    }

    /// Paused before the first snapshot came: the first one is held.
    public func receive(_ msg: Msg, _ state: inout AppState) -> [Effect] {
        if !state[local: Local.self].follow && state[local: Local.self].held == nil {
            state[local: Local.self].held = state.snapshot?.logs.recent
        }
        return []
    }

    public func cursorMoved(_ state: inout AppState, delta: Int, count: Int) {
        if delta < 0 { Self.pause(&state) }
        // Moving on past the last held line takes up the lines that arrived (the cursor stays on its
        // line, the new ones appear under it); with none, it follows again.
        guard state.current.cursor.selected == count - 1 && delta > 0 else { return }
        if Self.arrivedSincePause(state) != nil {
            state[local: Local.self].held = state.snapshot?.logs.recent
            App.clampCursor(&state)
        } else {
            state[local: Local.self].follow = true
        }
    }

    public func pinsCursorToEnd(_ state: AppState) -> Bool { state[local: Local.self].follow }

    /// A line's actions aim at it (bookmark) or at its source.
    public func prefill(_ state: AppState, _ spec: ActionSpec, selected id: String?) -> ([String: PayloadValue], String?) {
        var p: [String: PayloadValue] = [:]
        if let id, let lineID = Int(id) {
            if spec.id == .logsBookmark { p["id"] = .int(lineID) }
            if spec.targetField == "source", spec.field("source") != nil,
                let snapshot = state.snapshot, let line = lines(snapshot, state).first(where: { $0.id == lineID })
            {
                p["source"] = .string(line.source)
            }
        }
        return (p, nil)
    }

    public func detail(_ state: AppState, _ s: Snapshot, id: String) -> DetailContent? {
        guard let id = Int(id) else { return nil }
        let all = lines(s, state)
        guard let i = all.firstIndex(where: { $0.id == id }) else { return nil }
        let line = all[i]
        var lines = [
            App.field("time", ISOTime.format(line.ts)), App.field("level", line.level.rawValue, LogsScreen.style(line.level).bold()),
            App.field("source", line.source), App.field("job", line.jobID ?? "-"), App.field("worker", line.workerID ?? "-"), ("", .plain),
            (line.message, LogsScreen.style(line.level)), ("", .plain)
        ]
        let marks = s.logs.bookmarks.filter { $0.logID == id }
        if !marks.isEmpty {
            lines.append(("Bookmarks", Style(.title, [.bold])))
            for m in marks { lines.append(("#\(m.id) \(Fmt.clock(m.ts)) \(m.by): \(m.note)", Style(.accent))) }
            lines.append(("", .plain))
        }
        lines.append(("Context (same source)", Style(.title, [.bold])))
        let context = all[max(0, i - 40)..<min(all.count, i + 40)].filter { $0.source == line.source }
        let around = context.firstIndex { $0.id == id } ?? 0
        for l in context[max(context.startIndex, around - 5)..<min(context.endIndex, around + 6)] {
            lines.append(
                (
                    "\(l.id == id ? ">" : " ") \(Fmt.clock(l.ts)) \(l.level.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(l.message)",
                    l.id == id ? LogsScreen.style(l.level).bold() : Style(.muted)
                ))
        }
        return ("Log line #\(id)", lines)
    }

    static func style(_ l: LogLevel) -> Style {
        switch l {
        case .debug: return Style(.muted)
        case .info: return Style(.text)
        case .warning: return Style(.warning)
        case .error: return Style(.danger)
        case .critical: return Style(.critical, [.bold])
        }
    }
}
