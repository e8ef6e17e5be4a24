import AgentOSCore
import ConsoleUI
import Foundation

/// A key press (or, with `--mouse`, a click or a wheel step), decoded from the terminal.
public enum Key: Sendable, Equatable, Hashable {
    case char(Character)
    case ctrl(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, tab, backTab, backspace, delete
    case function(Int)
    case mouse(Mouse)
}

/// A mouse event at a cell.
public struct Mouse: Sendable, Equatable, Hashable {
    public enum Action: Sendable, Equatable, Hashable { case click, doubleClick, wheelUp, wheelDown }
    public var action: Action
    public var x: Int
    public var y: Int
    public init(_ action: Action, x: Int, y: Int) {
        self.action = action
        self.x = x
        self.y = y
    }
}

/// Where the data comes from and how healthy the links are.
public struct ConnectionState: Sendable, Equatable {
    public enum Link: Sendable, Equatable {
        case up
        case down(reason: String, retryInMillis: Int, attempts: Int)
        case unknown
    }

    public var mode: String // "embedded" or "live"
    public var environment: String // e.g. "production", "staging", "embedded"
    public var redis: Link = .unknown
    public var postgres: Link = .unknown
    public var events: Link = .unknown
    /// When the event stream went down (for the STALE banner).
    public var downSince: Date?
    /// Where snapshot reads went when they may go to a Redis replica (`read_from: replica`, D81); nil: the master.
    public var redisReads: Reads?

    public struct Reads: Sendable, Equatable {
        /// "reads: replica 127.0.0.1:6381 lag 0 B", or "reads: master (replica: why)".
        public var text: String
        /// The replica could not be read, so the master was.
        public var fellBack: Bool
        public init(text: String, fellBack: Bool) {
            self.text = text
            self.fellBack = fellBack
        }
    }

    public init(mode: String, environment: String) {
        self.mode = mode
        self.environment = environment
    }

    public var isStale: Bool {
        if case .down = events { return true }
        return false
    }
}

public struct OperatorInfo: Sendable, Equatable {
    public var user: String
    public var role: String
    public init(user: String, role: String) {
        self.user = user
        self.role = role
    }
}

/// A live filter: text or regular expression, optionally inverted (`!`).
public struct FilterState: Sendable, Equatable {
    public var text = ""
    public var editing = false

    public init(text: String = "", editing: Bool = false) {
        self.text = text
        self.editing = editing
    }

    public var isActive: Bool { !text.isEmpty && text != "!" }
    public var inverted: Bool { text.hasPrefix("!") }
    public var pattern: String { inverted ? String(text.dropFirst()) : text }

    /// Whether `haystack` passes; an invalid regex falls back to a plain case-insensitive substring.
    public func matches(_ haystack: String) -> Bool {
        guard isActive else { return true }
        let hit: Bool
        if let regex = try? Regex(pattern).ignoresCase() {
            hit = haystack.contains(regex)
        } else {
            hit = haystack.localizedCaseInsensitiveContains(pattern)
        }
        return hit != inverted
    }

    /// A compiled matcher for many rows (compiles the regex once).
    public func matcher() -> (String) -> Bool {
        guard isActive else { return { _ in true } }
        let inverted = self.inverted
        if let regex = try? Regex(pattern).ignoresCase() {
            return { ($0.contains(regex)) != inverted }
        }
        let p = pattern.lowercased()
        return { $0.lowercased().contains(p) != inverted }
    }
}

/// A short message in the notification line.
public struct Notice: Sendable, Equatable {
    public enum Level: Sendable, Equatable { case info, success, warning, error }
    public var text: String
    public var level: Level
    public var at: Date
    /// Cleaned here (TextSanitizer), not only where drawn: a notice also goes to the log file,
    /// and its text often carries bus fields ("alice ran X").
    public init(_ text: String, _ level: Level = .info, at: Date) {
        self.text = TextSanitizer.clean(text)
        self.level = level
        self.at = at
    }
}

/// What covers the view.
public enum Overlay: Sendable, Equatable {
    case none
    case help
    case palette(String)
    /// Drill-down into one item of the current view.
    case detail(DetailTarget)
    /// The action menu (`.`): every action of the view, greyed with the reason when not allowed.
    case actionMenu(ActionMenuState)
    /// The payload form: the missing required fields of an action, one line each.
    case actionForm(ActionFormState)
    /// The confirmation dialog of an action (y/N, measured impact, or typed name and reason).
    case confirm(ActionConfirmState)
    /// The column picker (`ctrl-w`): the shown table's columns, each shown or hidden.
    case columns(ColumnPicker)
}

/// Side effects requested by `update`, performed by the effect runner.
public enum Effect: Sendable, Equatable {
    case reloadSnapshot
    /// A snapshot at least as new as the event bus is now: after the stream was down (events may
    /// have been missed) or a loaded snapshot that stops short of events the console already has.
    /// The cached one serves only if it is that new; otherwise the backend builds one.
    case resyncSnapshot
    /// A job's timeline and its complete record, for its drill-down (answered by `.jobHistory` and `.jobRecord`).
    case loadJobHistory(String)
    /// The versions of a configuration entry, for its drill-down (answered by `.configHistory`).
    case loadConfigHistory(String)
    /// Runs an action through the backend's ActionDispatcher (off the terminal thread).
    case dispatch(ActionRequest)
    /// Measures an action's impact for its dialog; answered by `.impactMeasured(token, …)`.
    case measureImpact(token: Int, action: String, payload: [String: PayloadValue])
    /// Previews an action for its dialog (`d`); answered by `.previewed(token, …)`.
    case preview(token: Int, ActionRequest)
    /// Puts `text` on the terminal's clipboard (OSC 52; only when the operator opted in).
    case copyToClipboard(String)
    /// `:job <prefix>` beyond the recent window: the backend's jobs whose id starts so (answered by `.jobsFound`).
    case findJob(String)
    /// This console's session was ended from outside: stop renewing it and audit this side.
    case sessionEnded(SessionKick)
    /// The operator hid (or showed again) columns of `screen`: keep its hidden ones, in column order, in the configuration file.
    case saveHiddenColumns(screen: ViewID, columns: [String])
    case quit
}

/// Everything that reaches the update loop.
public enum Msg: Sendable {
    case key(Key)
    case resize(width: Int, height: Int)
    case tick(Date)
    case bus(BusMessage)
    case snapshotLoaded(Snapshot)
    case snapshotFailed(String)
    case jobHistory(String, [JobEvent])
    /// A job's complete record (arguments, result, raw row), already scrubbed.
    case jobRecord(String, JobRecord)
    /// The backend's jobs whose id starts with the query (`:job`).
    case jobsFound(String, Result<[Job], ActionFailure>)
    case configHistory(String, [ConfigChange])
    case connection(redis: ConnectionState.Link?, postgres: ConnectionState.Link?, redisReads: ConnectionState.Reads? = nil)
    /// The dispatcher's report on a `.dispatch` effect.
    case actionFinished(ActionReport)
    /// The measured impact for the dialog with this token (a failure: the payload did not validate).
    case impactMeasured(token: Int, Result<Int?, ActionFailure>)
    /// The preview for the dialog with this token.
    case previewed(token: Int, PreviewReport)
}
