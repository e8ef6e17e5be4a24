import AgentOSCore
import ConsoleUI

/// What a key does. The key map binds keys to commands; update acts on commands; the help
/// overlay and the status hints are generated from the same map.
public enum Command: Sendable, Equatable, Hashable {
    case quit, help, palette, filter, reload, open, back
    case view(ViewID)
    case nextView, previousView
    case down, up, pageDown, pageUp, top, bottom
    case sortNext, sortReverse, mark, markAll, copyID, nextPane, previousPane, follow, nextBookmark, window
    case actionMenu, retryAction
    case toggleHints
    case columns

    public var help: String {
        switch self {
        case .quit: return "quit"
        case .help: return "this help"
        case .palette: return "command palette (:jobs, :logs, :q)"
        case .filter: return "filter rows (regex, ! inverts)"
        case .reload: return "reload the snapshot now"
        case .open: return "open the selected item"
        case .back: return "close / clear filter"
        case .view(let v): return v.title
        case .nextView: return "next view"
        case .previousView: return "previous view"
        case .down: return "down"
        case .up: return "up"
        case .pageDown: return "page down"
        case .pageUp: return "page up"
        case .top: return "first row"
        case .bottom: return "last row"
        case .sortNext: return "sort by next column"
        case .sortReverse: return "reverse the sort"
        case .mark: return "mark row (for bulk actions)"
        case .markAll: return "mark every shown row (again: clear the marks)"
        case .copyID: return "copy the selected id (OSC 52, with --osc52)"
        case .nextPane: return "next pane (jobs → queues)"
        case .previousPane: return "previous pane"
        case .follow: return "follow new log lines"
        case .nextBookmark: return "next bookmarked log line"
        case .window: return "analytics window (15 min, 1 h, 6 h)"
        case .actionMenu: return "action menu of this view"
        case .retryAction: return "retry the last failed action (same idempotency key)"
        case .toggleHints: return "show or hide the key hint bar"
        case .columns: return "choose the view's columns (kept in the config file)"
        }
    }

    /// The command's name in key map files (`quit`, `page_down`, `view.jobs`).
    public var name: String {
        switch self {
        case .quit: return "quit"
        case .help: return "help"
        case .palette: return "palette"
        case .filter: return "filter"
        case .reload: return "reload"
        case .open: return "open"
        case .back: return "back"
        case .view(let v): return "view.\(v.aliases[0])"
        case .nextView: return "next_view"
        case .previousView: return "previous_view"
        case .down: return "down"
        case .up: return "up"
        case .pageDown: return "page_down"
        case .pageUp: return "page_up"
        case .top: return "top"
        case .bottom: return "bottom"
        case .sortNext: return "sort_next"
        case .sortReverse: return "sort_reverse"
        case .mark: return "mark"
        case .markAll: return "mark_all"
        case .copyID: return "copy_id"
        case .nextPane: return "next_pane"
        case .previousPane: return "previous_pane"
        case .follow: return "follow"
        case .nextBookmark: return "next_bookmark"
        case .window: return "window"
        case .actionMenu: return "action_menu"
        case .retryAction: return "retry_action"
        case .toggleHints: return "toggle_hints"
        case .columns: return "columns"
        }
    }

    /// Every command, in help order.
    public static let all: [Command] =
        [.quit, .help, .palette, .filter, .reload]
        + ViewID.allCases.map { Command.view($0) }
        + [
            .nextView, .previousView, .down, .up, .pageDown, .pageUp, .top, .bottom, .open, .back,
            .sortNext, .sortReverse, .mark, .markAll, .copyID, .nextPane, .previousPane, .follow, .nextBookmark, .window, .actionMenu,
            .retryAction, .toggleHints, .columns
        ]

    public init?(name: String) {
        guard let c = Self.all.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = c
    }

    /// Commands that run or offer admin actions (hidden in read-only mode).
    public var isAction: Bool { self == .actionMenu || self == .retryAction }

    var section: String {
        switch self {
        case .view, .nextView, .previousView: return "Views"
        case .down, .up, .pageDown, .pageUp, .top, .bottom, .open, .back: return "Navigation"
        case .sortNext, .sortReverse, .mark, .markAll, .copyID, .nextPane, .previousPane, .follow, .nextBookmark, .filter, .window,
            .columns:
            return "Tables"
        case .quit, .help, .palette, .reload, .toggleHints: return "General"
        case .actionMenu, .retryAction: return "Actions"
        }
    }
}

/// Key bindings: several keys may run one command; a key runs at most one command.
public struct KeyMap: Sendable, Equatable {
    public private(set) var bindings: [(key: Key, command: Command)]
    private var index: [Key: Command]
    /// The map's name (`default`, `vim`, or a file's).
    public var name: String
    /// Per-view action keys moved away from the catalog's (`job.cancel` → `C`); an empty string unbinds.
    public var actionKeys: [String: String]

    public init(_ bindings: [(Key, Command)], name: String = "default", actionKeys: [String: String] = [:]) {
        self.bindings = bindings.map { (key: $0.0, command: $0.1) }
        var index: [Key: Command] = [:]
        for (k, c) in bindings where index[k] == nil { index[k] = c }
        self.index = index
        self.name = name
        self.actionKeys = actionKeys
    }

    public static func == (a: KeyMap, b: KeyMap) -> Bool { a.index == b.index && a.actionKeys == b.actionKeys }

    /// The key that runs `action` in its view: the map's choice, else the catalog's (nil: none).
    public func actionKey(_ action: ActionName, catalog: String?) -> String? {
        guard let k = actionKeys[action.rawValue] else { return catalog }
        return k.isEmpty ? nil : k
    }

    /// The text for a status hint: the command's first key and a word (`? help`), nil when unbound.
    public func hint(_ command: Command, _ word: String) -> String? {
        keys(for: command).first.map { "\(Self.describe($0)) \(word)" }
    }

    public func command(for key: Key) -> Command? { index[key] }

    public func keys(for command: Command) -> [Key] { bindings.filter { $0.command == command }.map(\.key) }

    /// The default bindings: what k9s and less users expect.
    public static let standard: KeyMap = {
        let general: [(Key, Command)] = [
            (.char("q"), .quit), (.ctrl("c"), .quit), (.char("?"), .help), (.char(":"), .palette), (.char("/"), .filter),
            (.ctrl("r"), .reload), (.char("R"), .reload), (.enter, .open), (.escape, .back)
        ]
        // The tabs take keys 1–9, in the registry's order.
        let tabs = ViewID.allCases.prefix(9).enumerated().map { (Key.char(Character(String($0.offset + 1))), Command.view($0.element)) }
        let navigation: [(Key, Command)] = [
            (.tab, .nextView), (.backTab, .previousView),
            (.down, .down), (.char("j"), .down), (.up, .up), (.char("k"), .up), (.pageDown, .pageDown), (.ctrl("f"), .pageDown),
            (.pageUp, .pageUp), (.ctrl("b"), .pageUp), (.home, .top), (.char("g"), .top), (.end, .bottom), (.char("G"), .bottom),
            (.char("s"), .sortNext), (.char("S"), .sortReverse), (.char(" "), .mark), (.char("*"), .markAll), (.char("Y"), .copyID),
            (.char("]"), .nextPane),
            (.right, .nextPane),
            (.char("["), .previousPane), (.left, .previousPane), (.char("f"), .follow), (.char("'"), .nextBookmark),
            (.char("w"), .window),
            (.char("."), .actionMenu), (.char("!"), .retryAction), (.char("H"), .toggleHints),
            // k9s's ctrl-w toggles its wide columns; here it opens the column picker.
            (.ctrl("w"), .columns)
        ]
        return KeyMap(general + tabs + navigation)
    }()

    public static func describe(_ key: Key) -> String {
        switch key {
        case .char(" "): return "space"
        case .char(let c): return String(c)
        case .ctrl(let c): return "ctrl-\(c)"
        case .up: return "↑"
        case .down: return "↓"
        case .left: return "←"
        case .right: return "→"
        case .pageUp: return "pgup"
        case .pageDown: return "pgdn"
        case .home: return "home"
        case .end: return "end"
        case .enter: return "enter"
        case .escape: return "esc"
        case .tab: return "tab"
        case .backTab: return "shift-tab"
        case .backspace: return "bksp"
        case .delete: return "del"
        case .function(let n): return "F\(n)"
        case .mouse: return "mouse"
        }
    }

    /// Reads a key as files and the help write it: `q`, `?`, `space`, `ctrl-r`, `enter`, `esc`,
    /// `tab`, `shift-tab`, `up`/`↑`, `pgdn`, `home`, `F5` …
    public static func parse(_ text: String) -> Key? {
        if text.count == 1, let c = text.first { return .char(c) }
        let t = text.lowercased()
        switch t {
        case "space": return .char(" ")
        case "up", "↑": return .up
        case "down", "↓": return .down
        case "left", "←": return .left
        case "right", "→": return .right
        case "pgup", "pageup", "page-up": return .pageUp
        case "pgdn", "pagedown", "page-down": return .pageDown
        case "home": return .home
        case "end": return .end
        case "enter", "return": return .enter
        case "esc", "escape": return .escape
        case "tab": return .tab
        case "shift-tab", "backtab", "btab": return .backTab
        case "bksp", "backspace": return .backspace
        case "del", "delete": return .delete
        default: break
        }
        if t.hasPrefix("ctrl-"), t.count == 6, let c = t.last, c.isLetter, c.isASCII { return .ctrl(c) }
        if t.hasPrefix("f"), let n = Int(t.dropFirst()), (1...24).contains(n) { return .function(n) }
        return nil
    }

    /// Help sections generated from the bindings (the eight view keys in one line); `readOnly`
    /// leaves out the commands that run actions.
    public func helpSections(readOnly: Bool = false) -> [HelpOverlay.Section] {
        var order: [Command] = []
        for b in bindings where !order.contains(b.command) && !(readOnly && b.command.isAction) { order.append(b.command) }
        let sections = ["General", "Views", "Navigation", "Tables"]
        return sections.map { name in
            var entries: [(keys: String, help: String)] = []
            let views = order.filter { if case .view = $0 { return $0.section == name } else { return false } }
            if !views.isEmpty {
                let viewKeys = views.compactMap { self.keys(for: $0).first }.map(Self.describe)
                entries.append(
                    (
                        keys: viewKeys.count > 2 ? "\(viewKeys.first!)-\(viewKeys.last!)" : viewKeys.joined(separator: " "),
                        help: "switch to view N"
                    ))
            }
            for command in order where command.section == name {
                if case .view = command { continue }
                entries.append((keys: keys(for: command).map(Self.describe).joined(separator: " "), help: command.help))
            }
            return HelpOverlay.Section(name, entries)
        }
    }
}
