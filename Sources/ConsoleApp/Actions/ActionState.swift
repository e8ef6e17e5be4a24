import AgentOSCore
import Foundation

/// An action the operator started: the catalog spec, the payload collected so far (prefilled
/// from the selection, then asked in the form) and the measured impact for the dialog.
public struct PendingAction: Sendable, Equatable {
    public enum Impact: Sendable, Equatable {
        case notAsked
        case measuring
        case measured(Int?)
        case failed(String)
    }

    public var spec: ActionSpec
    public var payload: [String: PayloadValue]
    /// Context for the dialog (a dashboard quick action's choice, the filter a bulk action follows).
    public var note: String?
    /// Matches an impact measurement to this dialog.
    public var token: Int
    public var impact: Impact = .notAsked
    /// A bulk action: one payload per marked row (empty: the action runs once, on `payload`).
    public var bulk: [[String: PayloadValue]] = []

    public init(spec: ActionSpec, payload: [String: PayloadValue], note: String? = nil, token: Int) {
        self.spec = spec
        self.payload = payload
        self.note = note
        self.token = token
    }

    /// What the action is aimed at, as the pipeline computes it: the target field's value, or
    /// `system`. A bulk action's is the number of rows (what a critical one wants typed).
    public var target: String {
        if !bulk.isEmpty { return String(bulk.count) }
        guard let field = spec.targetField, let value = payload[field] else { return "system" }
        return value.description
    }

    /// The payload sent when the operator confirms: with the figure the dialog showed as `expect`
    /// for an action bounded by it, so the executor refuses if more would be affected.
    public var confirmedPayload: [String: PayloadValue] {
        guard spec.takesExpect, bulk.isEmpty, case .measured(let n?) = impact else { return payload }
        var out = payload
        out["expect"] = .int(n)
        return out
    }

    /// What one row is ("job", "queue", "worker"…), for a bulk action's sentences.
    public var rowNoun: String { spec.targetField == "queue" ? "queue" : String(spec.id.subject) }

    /// The target for a sentence ("job 1f3a2b3c…", "queue video_downloader", "the system", "3 marked jobs").
    public var targetPhrase: String {
        if !bulk.isEmpty { return "\(bulk.count) marked \(rowNoun)\(bulk.count == 1 ? "" : "s")" }
        let t = target
        guard let field = spec.targetField, payload[field] != nil else { return "the system" }
        if spec.field(field)?.kind == .uuid { return "\(String(t.prefix(8)))…" }
        return t
    }
}

/// The action menu (`.`): the highlighted entry.
public struct ActionMenuState: Sendable, Equatable {
    public var selected: Int
    public init(selected: Int = 0) { self.selected = selected }
}

/// The payload form: one line of input per missing required field.
public struct ActionFormState: Sendable, Equatable {
    public var pending: PendingAction
    /// The fields asked, in catalog order.
    public var fields: [String]
    public var index: Int = 0
    public var text: String
    public var error: String?

    public init(pending: PendingAction, fields: [String], text: String = "") {
        self.pending = pending
        self.fields = fields
        self.text = text
    }

    public var field: FieldSpec? { index < fields.count ? pending.spec.field(fields[index]) : nil }
}

/// The confirmation dialog of an action (y/N, impact, or typed name + reason).
public struct ActionConfirmState: Sendable, Equatable {
    public enum Step: Sendable, Equatable { case name, reason }
    public var pending: PendingAction
    public var step: Step = .name
    public var typedName = ""
    public var reason = ""
    public var error: String?
    /// A new measurement of the impact is on its way (the figure is re-measured while the dialog is open).
    public var remeasuring = false
    /// A y/N dialog's focused button: No until ←/→/Tab moves it (Enter presses it).
    public var focusYes = false
    /// The preview shown inside the dialog (`d`; Ctrl-D in a typed one), nil: the question.
    public var preview: DialogPreview?

    public init(pending: PendingAction) { self.pending = pending }

    /// A bulk action always asks: y/N, or the count typed for a critical one.
    public var kind: Confirmation {
        guard !pending.bulk.isEmpty else { return pending.spec.confirmation }
        return pending.spec.confirmation == .typed ? .typed : .yesNo
    }
}

/// One line of the action menu: the action, its key, the payload prefilled from the selection
/// and, when the operator may not run it, why.
public struct ActionEntry: Sendable, Equatable {
    public var key: String?
    public var spec: ActionSpec
    /// The menu's title (a quick action names its choice: "Pause the busiest queue (video_downloader, …)").
    public var title: String
    /// The help's title (short, without the choice).
    public var helpTitle: String
    public var payload: [String: PayloadValue]
    public var note: String?
    public var disabled: String?
    /// The operator's role may never run it: its key is not shown (pressing it still says why).
    public var forbidden: Bool

    public init(
        key: String?, spec: ActionSpec, title: String, helpTitle: String? = nil, payload: [String: PayloadValue], note: String? = nil,
        disabled: String? = nil, forbidden: Bool = false
    ) {
        self.key = key
        self.spec = spec
        self.title = title
        self.helpTitle = helpTitle ?? title
        self.payload = payload
        self.note = note
        self.disabled = disabled
        self.forbidden = forbidden
    }
}

/// A bulk action in flight: its requests, and how they ended.
public struct BulkRun: Sendable, Equatable {
    public var action: String
    public var total: Int
    public var waiting: Set<UUID>
    public var succeeded = 0
    public var failures: [String] = []

    public init(action: String, requests: [UUID]) {
        self.action = action
        total = requests.count
        waiting = Set(requests)
    }
}
