import AgentOSCore
import Foundation

/// The command palette (`:`): a view by name (`:queues`), a command (`:reload`, `:help`, `:q`), or
/// an item by what its id starts with (`:job 1f3a`, `:worker cut-1`, `:queue video_cutter`,
/// `:config cache.`, `:manager ingest`, `:alert 12`), whose drill-down opens in its own tab. A job older than
/// the recent window is looked up in the backend. Tab completes view names and ids; ↑/↓ recall
/// earlier commands.
public struct PaletteState: Sendable, Equatable {
    /// The commands run, oldest first (the last `limit`).
    public var history: [String] = []
    /// Which history entry ↑/↓ show (nil: the line being typed).
    public var recall: Int?
    public static let limit = 100

    public init() {}

    /// The history kept in `url` (one command a line, the newest last); empty when there is none.
    public static func load(_ url: URL) -> PaletteState {
        var state = PaletteState()
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return state }
        for line in text.split(separator: "\n") {
            state.remember(String(line.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }))
        }
        return state
    }

    /// Keeps the history in `url` for the next console (0600: commands can name jobs and keys).
    public func save(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(history.map { $0 + "\n" }.joined().utf8).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }

    mutating func remember(_ command: String) {
        guard !command.isEmpty else { return }
        history.removeAll { $0 == command }
        history.append(command)
        if history.count > Self.limit { history.removeFirst(history.count - Self.limit) }
    }
}

extension App {
    static let paletteCommands = ["help", "quit", "reload"]

    static func editPalette(_ state: inout AppState, _ key: Key, _ text: String) -> [Effect] {
        switch key {
        case .escape:
            state.overlay = .none
            state.palette.recall = nil
        case .backspace:
            state.overlay = text.isEmpty ? .none : .palette(String(text.dropLast()))
        case .tab:
            if let match = paletteCompletions(text, state).first { state.overlay = .palette(match) }
        case .up, .down:
            let history = state.palette.history
            guard !history.isEmpty else { break }
            let next = (state.palette.recall ?? history.count) + (key == .up ? -1 : 1)
            if next >= history.count {
                state.palette.recall = nil
                state.overlay = .palette("")
            } else {
                state.palette.recall = max(0, next)
                state.overlay = .palette(history[max(0, next)])
            }
        case .char(let c):
            state.overlay = .palette(text + String(c))
        case .enter:
            state.overlay = .none
            state.palette.recall = nil
            let command = text.trimmingCharacters(in: .whitespaces)
            state.palette.remember(command)
            return runPalette(&state, command)
        default:
            break
        }
        return []
    }

    static func runPalette(_ state: inout AppState, _ command: String) -> [Effect] {
        if ["q", "quit", "q!", "exit"].contains(command) {
            state.quitting = true
            return [.quit]
        }
        if ["help", "h", "?"].contains(command) {
            state.overlay = .help
            return []
        }
        if ["reload", "refresh"].contains(command) { return askReload(&state) }
        let words = command.split(separator: " ", maxSplits: 1).map(String.init)
        guard let name = words.first, let screen = ViewID.screenNamed(name) else {
            if !command.isEmpty { state.notify("unknown command :\(command) (try :jobs, :job <id>, :workers, :logs, :help)", .warning) }
            return []
        }
        // A command that worked clears an earlier "unknown command".
        state.notices.removeAll { $0.text.hasPrefix("unknown command") }
        show(&state, screen)
        guard words.count == 2 else { return [] }
        return find(&state, screen, words[1].trimmingCharacters(in: .whitespaces))
    }

    /// The pane named, in its tab.
    static func show(_ state: inout AppState, _ screen: ViewID) {
        let tab = ScreenRegistry.screen(screen).tab
        state.screens.show(screen, in: tab)
        switchTo(&state, tab)
    }

    /// The ids of `screen`'s rows that `query` names: the one equal to it (any case), else those
    /// it starts, else those containing it.
    static func matches(_ state: AppState, _ screen: ViewID, _ query: String) -> [String] {
        guard let s = state.snapshot, !query.isEmpty else { return [] }
        let source = ScreenRegistry.screen(screen).rows(s, state)
        let ids = (0..<source.count).map(source.id)
        let q = query.lowercased()
        if let exact = ids.first(where: { $0.lowercased() == q }) { return [exact] }
        let starting = ids.filter { $0.lowercased().hasPrefix(q) }
        return starting.isEmpty ? ids.filter { $0.lowercased().contains(q) } : starting
    }

    /// `:view query`: one match opens its drill-down; several filter the pane; none for a job is
    /// looked up beyond the recent window.
    static func find(_ state: inout AppState, _ screen: ViewID, _ query: String) -> [Effect] {
        let found = matches(state, screen, query)
        let title = ScreenRegistry.screen(screen).paneLabel
        if found.count == 1 { return open(&state, screen, found[0]) }
        if found.count > 1 {
            state.current.filter = FilterState(text: NSRegularExpression.escapedPattern(for: query))
            clampCursor(&state)
            state.notify("\(found.count) rows of \(title) match '\(query)': shown filtered", .info)
            return []
        }
        if screen == .jobs, Self.isJobIDPrefix(query) {
            state.notify("looking up job \(query)… (not in the recent window)", .info)
            return [.findJob(query.lowercased())]
        }
        state.notify("nothing in \(title) matches '\(query)'", .warning)
        return []
    }

    /// What `:job` sends to the backend: part of a UUID, at least 4 characters.
    static func isJobIDPrefix(_ text: String) -> Bool {
        text.count >= 4 && text.count <= 36 && text.allSatisfy { $0.isHexDigit || $0 == "-" }
    }

    /// Opens the drill-down of `id` in `screen` (or selects its row when the screen has none).
    static func open(_ state: inout AppState, _ screen: ViewID, _ id: String) -> [Effect] {
        show(&state, screen)
        if let s = state.snapshot, ScreenRegistry.screen(screen).detail(state, s, id: id) != nil {
            state.overlay = .detail(DetailTarget(screen, id))
            state.detailOffset = 0
            return ScreenRegistry.screen(screen).detailLoads(id: id, after: nil)
        }
        if let position = Screens.listing(state).position(of: id) {
            state.current.cursor.selected = position
            state.current.selectedID = id
            clampCursor(&state)
        }
        return []
    }

    /// The backend's answer to `:job prefix` for a job beyond the recent window.
    static func jobsFound(_ state: inout AppState, _ query: String, _ result: Result<[Job], ActionFailure>) -> [Effect] {
        switch result {
        case .failure(let f):
            state.notify("job lookup \(query) failed: \(f.description)", .error)
        case .success(let jobs) where jobs.isEmpty:
            state.notify("no job id starts with \(query)", .warning)
        case .success(let jobs) where jobs.count > 1:
            state.notify("\(jobs.count) jobs start with \(query): type more of the id", .warning)
        case .success(let jobs):
            state[local: JobsScreen.Local.self].found[jobs[0].id] = jobs[0]
            return open(&state, .jobs, jobs[0].id)
        }
        return []
    }

    /// Palette suggestions: view names and commands, and after a view name the ids of its rows.
    public static func paletteCompletions(_ text: String, _ state: AppState? = nil) -> [String] {
        let words = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if words.count == 2, let state, let screen = ViewID.screenNamed(words[0]) {
            // Nothing typed after the name yet: every id of the pane, in its order.
            let ids =
                words[1].isEmpty
                ? state.snapshot.map { s in
                    let source = ScreenRegistry.screen(screen).rows(s, state)
                    return (0..<min(source.count, 50)).map(source.id)
                } ?? [] : matches(state, screen, words[1]).filter { $0 != words[1] }.sorted()
            return ids.map { "\(words[0]) \($0)" }
        }
        let t = text.lowercased()
        let names = ScreenRegistry.all.flatMap(\.aliases) + paletteCommands
        return names.filter { $0.hasPrefix(t) && $0 != t }.sorted { ($0.count, $0) < ($1.count, $1) }
    }
}
