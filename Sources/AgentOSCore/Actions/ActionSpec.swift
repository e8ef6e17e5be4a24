import Foundation

/// How risky an action is; decides the confirmation dialog.
public enum Risk: String, Sendable, Codable, CaseIterable, Comparable {
    case standard, high, critical
    private var rank: Int { self == .standard ? 0 : self == .high ? 1 : 2 }
    public static func < (a: Risk, b: Risk) -> Bool { a.rank < b.rank }
}

/// The dialog an action needs before it runs.
public enum Confirmation: String, Sendable, Codable {
    /// Runs at once.
    case none
    /// y/N, No by default.
    case yesNo
    /// Names the target and its measured impact, Cancel by default.
    case impact
    /// The operator types the target's name and gives a reason.
    case typed
}

/// The backend service an action depends on (one circuit breaker each).
public enum BackendService: String, Sendable, Codable, CaseIterable {
    case postgres, redis, workers, filesystem
}

/// Which admin view offers an action.
public enum ActionView: String, Sendable, Codable, CaseIterable {
    case jobs, workers, managers, system, logs, config, analytics
}

/// A payload field: its type, range and whether it names the action's target.
public struct FieldSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case uuid
        /// A name: letters, digits and `_ . : @ -`, at most 128 characters.
        case name
        case text(maxLength: Int)
        case int(min: Int, max: Int)
        case bool
        case choice([String])
        /// A cron expression (5 fields) or an interval (`30s`, `5m`, `1h`, `1d`).
        case schedule
        /// A file path under the data directory (no `..`).
        case path
    }

    public let name: String
    public let kind: Kind
    public let required: Bool
    public let defaultValue: PayloadValue?
    public let help: String

    public init(_ name: String, _ kind: Kind, required: Bool = true, default defaultValue: PayloadValue? = nil, help: String = "") {
        self.name = name
        self.kind = kind
        self.required = required && defaultValue == nil
        self.defaultValue = defaultValue
        self.help = help
    }

    public var typeDescription: String {
        switch kind {
        case .uuid: return "uuid"
        case .name: return "name"
        case .text(let n): return "text≤\(n)"
        case .int(let lo, let hi): return "int \(lo)…\(hi)"
        case .bool: return "bool"
        case .choice(let values): return values.joined(separator: "|")
        case .schedule: return "cron|interval"
        case .path: return "path"
        }
    }
}

/// One admin action, as data: the key map, the help, the CLI and `can-i` come from here.
public struct ActionSpec: Sendable, Equatable, Identifiable {
    public let id: ActionName
    public let view: ActionView
    public let title: String
    public let permission: Permission
    public let risk: Risk
    /// Destroys or interrupts something (a standard destructive action still asks y/N).
    public let destructive: Bool
    public let fields: [FieldSpec]
    /// The field naming the target (`system` when nil).
    public let targetField: String?
    public let service: BackendService
    /// Per-user limit per minute (the seed's table, else by risk).
    public let ratePerMinute: Int
    /// Applies to many rows (what the current filter shows, or the named queue/stage).
    public let bulk: Bool
    /// The key that runs it on the selection, in its view.
    public let key: String?

    /// The wire name (`job.cancel`).
    public var name: String { id.rawValue }

    /// What the action is aimed at in `payload` (what a critical action's confirmation types): the target
    /// field's value, or `system`.
    public func target(in payload: [String: PayloadValue]) -> String {
        targetField.flatMap { payload[$0]?.description } ?? "system"
    }

    public init(
        _ id: ActionName, _ view: ActionView, _ title: String, _ permission: Permission, _ risk: Risk = .standard,
        destructive: Bool = false, fields: [FieldSpec] = [], target: String? = nil, service: BackendService = .postgres,
        rate: Int? = nil, bulk: Bool = false, key: String? = nil
    ) {
        self.id = id
        self.view = view
        self.title = title
        self.permission = permission
        self.risk = risk
        self.destructive = destructive
        self.fields = ActionSpec.boundedByExpect.contains(id) ? fields + [ActionSpec.expectField] : fields
        self.targetField = target ?? fields.first(where: { $0.required })?.name
        self.service = service
        self.ratePerMinute = rate ?? ActionSpec.defaultRate(id: id, risk: risk)
        self.bulk = bulk
        self.key = key
    }

    /// The actions whose effect is a count of rows the operator confirms ("19 pending jobs will be
    /// deleted"), each counted and changed in one transaction: they take `expect` and refuse, changing
    /// nothing, when more rows would be affected than were confirmed.
    public static let boundedByExpect: Set<ActionName> = [.queueClear, .queuePurgeFailed, .queueRetryFailed, .logsPurge, .logsArchive]

    /// The figure the operator confirmed (the dialog sends it; `agentos action --expect N`).
    public static let expectField = FieldSpec(
        "expect", .int(min: 0, max: Int.max), required: false, help: "confirmed count: refused, nothing changed, if more would be affected")

    /// Takes `expect` (the confirmed count travels with the request).
    public var takesExpect: Bool { ActionSpec.boundedByExpect.contains(id) }

    public var confirmation: Confirmation {
        switch risk {
        case .standard: return destructive ? .yesNo : .none
        case .high: return .impact
        case .critical: return .typed
        }
    }

    /// Mutates state (everything but the read-only exports and checks).
    public var mutating: Bool {
        ![
            .systemHealthCheck, .systemAuditVerify, .configValidate, .configExport, .logsExport, .analyticsExportCSV, .analyticsExportJSON,
            .analyticsReport, .workerPing
        ].contains(id)
    }

    /// Runs while its service's breaker is open (the actions that close, open or reset breakers).
    public var bypassesBreaker: Bool { [.systemBreakerReset, .systemBreakerTrip, .systemReset].contains(id) }

    /// A success invalidates the SSOT cache (a refresh has just stored a new one; read-only actions change nothing).
    public var invalidatesCache: Bool { mutating && id != .systemCacheRefresh }

    public func field(_ name: String) -> FieldSpec? { fields.first { $0.name == name } }

    /// Why this action cannot apply to a job in `status` (nil: it can, or it is no job action): the one
    /// rule the console's menu, action keys and bulk runs follow, so an action that would be refused
    /// is greyed with its reason instead of asked and then refused (the executors check the same).
    public func inapplicability(toJobIn status: JobStatus) -> String? {
        let state = "job is \(status.rawValue)"
        switch id {
        case .jobCancel:
            if status == .running { return "\(state): job.kill stops it" }
            return status.isFinished ? "\(state): nothing to cancel" : nil
        case .jobKill: return status == .running ? nil : "\(state): only running jobs are killed"
        case .jobRetry:
            // Retrying or scheduled (pending): run now, without waiting for its next attempt or its ETA (D76, D80).
            return [.failed, .cancelled, .retrying, .pending].contains(status)
                ? nil : "\(state): only failed, cancelled, retrying or scheduled jobs are retried"
        case .jobDelete: return status == .running ? "\(state): cancel or kill it first" : nil
        case .jobSetPriority: return status.isWaiting ? nil : "\(state): only waiting jobs change priority"
        case .jobMove: return status.isWaiting ? nil : "\(state): only waiting jobs move"
        default: return nil
        }
    }

    /// The seed's per-action limits; otherwise standard 50, high 20, critical 5 per minute.
    static func defaultRate(id: ActionName, risk: Risk) -> Int {
        switch id {
        case .workerRestart: return 30
        case .queueClear: return 10
        case .workerRestartAll: return 5
        case .systemBackup: return 2
        case .systemReset: return 1
        default:
            if id.subject == "job" { return 50 }
            if id.subject == "database" { return 3 }
            switch risk {
            case .standard: return 50
            case .high: return 20
            case .critical: return 5
            }
        }
    }
}
