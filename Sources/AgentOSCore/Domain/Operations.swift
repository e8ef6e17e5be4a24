import Foundation

public enum LogLevel: String, Codable, Sendable, CaseIterable, Comparable {
    case debug, info, warning, error, critical
    public static func < (a: LogLevel, b: LogLevel) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

public struct LogLine: Codable, Sendable, Equatable, Identifiable {
    public var id: Int
    public var ts: Date
    public var level: LogLevel
    public var source: String
    public var message: String
    public var jobID: String?
    public var workerID: String?

    public init(id: Int, ts: Date, level: LogLevel, source: String, message: String, jobID: String? = nil, workerID: String? = nil) {
        self.id = id
        self.ts = ts
        self.level = level
        self.source = source
        self.message = message
        self.jobID = jobID
        self.workerID = workerID
    }

    enum CodingKeys: String, CodingKey {
        case id, ts, level, source, message
        case jobID = "job_id"
        case workerID = "worker"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.req(.id)
        ts = try c.req(.ts)
        level = try c.req(.level)
        source = try c.opt(.source, "")
        message = try c.opt(.message, "")
        jobID = try c.opt(.jobID, nil)
        workerID = try c.opt(.workerID, nil)
    }
}

public struct LogsSummary: Codable, Sendable, Equatable {
    /// Newest last.
    public var recent: [LogLine]
    public var byLevel: [String: Int]
    public var bySource: [String: Int]
    /// logs.bookmark's bookmarks, newest last (at most `Snapshot.recentBookmarkLimit`).
    public var bookmarks: [LogBookmark]

    public init(recent: [LogLine] = [], byLevel: [String: Int] = [:], bySource: [String: Int] = [:], bookmarks: [LogBookmark] = []) {
        self.recent = recent
        self.byLevel = byLevel
        self.bySource = bySource
        self.bookmarks = bookmarks
    }

    enum CodingKeys: String, CodingKey {
        case recent, bookmarks
        case byLevel = "by_level"
        case bySource = "by_source"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        recent = try c.opt(.recent, [])
        byLevel = try c.opt(.byLevel, [:])
        bySource = try c.opt(.bySource, [:])
        bookmarks = try c.opt(.bookmarks, [])
    }

    /// Without bookmarks the key is left out (snapshots of consoles that predate them stay the same).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recent, forKey: .recent)
        try c.encode(byLevel, forKey: .byLevel)
        try c.encode(bySource, forKey: .bySource)
        if !bookmarks.isEmpty { try c.encode(bookmarks, forKey: .bookmarks) }
    }
}

/// A bookmarked log line (logs.bookmark): listed on the Logs view, which jumps to its line.
public struct LogBookmark: Codable, Sendable, Equatable, Identifiable {
    public var id: Int
    public var logID: Int
    public var note: String
    public var by: String
    public var ts: Date

    public init(id: Int, logID: Int, note: String, by: String, ts: Date) {
        self.id = id
        self.logID = logID
        self.note = note
        self.by = by
        self.ts = ts
    }

    enum CodingKeys: String, CodingKey {
        case id, note
        case logID = "log_id"
        case by = "created_by"
        case ts = "created_at"
    }
}

/// A JSON scalar as config values are stored (jsonb).
public enum ConfigValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) {
            self = .bool(b)
            return
        }
        if let i = try? c.decode(Int.self) {
            self = .int(i)
            return
        }
        if let d = try? c.decode(Double.self) {
            self = .double(d)
            return
        }
        if let s = try? c.decode(String.self) {
            self = .string(s)
            return
        }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "a config value must be a number, boolean or string")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .bool(let b): try c.encode(b)
        case .string(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        case .string(let s): return s
        }
    }
}

public enum ConfigType: String, Codable, Sendable, CaseIterable {
    case int, float, bool, string, `enum`, duration, cron
}

public struct ConfigConstraints: Codable, Sendable, Equatable {
    public var min: Double?
    public var max: Double?
    public var allowed: [String]?
    public var pattern: String?

    public init(min: Double? = nil, max: Double? = nil, allowed: [String]? = nil, pattern: String? = nil) {
        self.min = min
        self.max = max
        self.allowed = allowed
        self.pattern = pattern
    }
}

public struct ConfigEntry: Codable, Sendable, Equatable, Identifiable {
    public var key: String
    public var type: ConfigType
    public var value: ConfigValue
    public var defaultValue: ConfigValue
    public var constraints: ConfigConstraints
    public var description: String
    public var version: Int
    public var locked: Bool
    public var updatedAt: Date?
    public var updatedBy: String
    public var id: String { key }

    public init(
        key: String, type: ConfigType, value: ConfigValue, defaultValue: ConfigValue, constraints: ConfigConstraints = .init(),
        description: String = "", version: Int = 1, locked: Bool = false, updatedAt: Date? = nil, updatedBy: String = "system"
    ) {
        self.key = key
        self.type = type
        self.value = value
        self.defaultValue = defaultValue
        self.constraints = constraints
        self.description = description
        self.version = version
        self.locked = locked
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }

    enum CodingKeys: String, CodingKey {
        case key, type, value, constraints, description, version, locked
        case defaultValue = "default"
        case updatedAt = "updated_at"
        case updatedBy = "updated_by"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        key = try c.req(.key)
        type = try c.req(.type)
        value = try c.req(.value)
        defaultValue = try c.opt(.defaultValue, value)
        constraints = try c.opt(.constraints, ConfigConstraints())
        description = try c.opt(.description, "")
        version = try c.opt(.version, 1)
        locked = try c.opt(.locked, false)
        updatedAt = try c.opt(.updatedAt, nil)
        updatedBy = try c.opt(.updatedBy, "system")
    }
}

public enum AlertSeverity: String, Codable, Sendable, CaseIterable, Comparable {
    case info, warning, error, critical
    public static func < (a: AlertSeverity, b: AlertSeverity) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

public enum AlertStatus: String, Codable, Sendable, CaseIterable {
    case active, acked, silenced, resolved
}

/// An alert. Alerts are keyed by source and kind: a repeat of an open alert raises its `count`
/// instead of adding a second one, and the raiser resolves it when its condition clears.
public struct Alert: Codable, Sendable, Equatable, Identifiable {
    /// The kinds the fleet raises (a kind names the condition, whatever the source).
    public enum Kind {
        public static let workerOffline = "worker.offline"
        public static let queueBacklog = "queue.backlog"
        public static let logRule = "log.rule"
    }

    public var id: Int
    /// When the condition was first seen (the alert's age counts from it).
    public var ts: Date
    public var severity: AlertSeverity
    public var source: String
    public var title: String
    public var message: String
    public var status: AlertStatus
    public var ackedBy: String?
    public var silencedUntil: Date?
    /// The condition's kind; alerts stored before kinds existed have none (their title stands in).
    public var kind: String
    /// How often the condition was seen while this alert was open.
    public var count: Int
    /// When it was last seen.
    public var lastSeen: Date?

    public init(
        id: Int, ts: Date, severity: AlertSeverity, source: String, title: String, message: String = "",
        status: AlertStatus = .active, ackedBy: String? = nil, silencedUntil: Date? = nil, kind: String = "", count: Int = 1,
        lastSeen: Date? = nil
    ) {
        self.id = id
        self.ts = ts
        self.severity = severity
        self.source = source
        self.title = title
        self.message = message
        self.status = status
        self.ackedBy = ackedBy
        self.silencedUntil = silencedUntil
        self.kind = kind
        self.count = count
        self.lastSeen = lastSeen
    }

    /// Source and kind: at most one open alert has a given key.
    public var key: String { "\(source)|\(kind.isEmpty ? title : kind)" }

    enum CodingKeys: String, CodingKey {
        case id, ts, severity, source, title, message, status, kind, count
        case ackedBy = "acked_by"
        case silencedUntil = "silenced_until"
        case lastSeen = "last_seen"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.req(.id)
        ts = try c.req(.ts)
        severity = try c.req(.severity)
        source = try c.opt(.source, "")
        title = try c.opt(.title, "")
        message = try c.opt(.message, "")
        status = try c.opt(.status, .active)
        ackedBy = try c.opt(.ackedBy, nil)
        silencedUntil = try c.opt(.silencedUntil, nil)
        kind = try c.opt(.kind, "")
        count = try c.opt(.count, 1)
        lastSeen = try c.opt(.lastSeen, nil)
    }
}

/// Per-minute throughput and latency series plus error classes.
public struct Analytics: Codable, Sendable, Equatable {
    public struct Minute: Codable, Sendable, Equatable {
        public var minute: Date
        public var completed: Int
        public var failed: Int
        public init(minute: Date, completed: Int, failed: Int) {
            self.minute = minute
            self.completed = completed
            self.failed = failed
        }
        public var successRate: Double? { completed + failed == 0 ? nil : Double(completed) / Double(completed + failed) }
    }

    public struct StageLatency: Codable, Sendable, Equatable {
        public var stage: String
        public var p50Ms: Double
        public var p95Ms: Double
        public init(stage: String, p50Ms: Double, p95Ms: Double) {
            self.stage = stage
            self.p50Ms = p50Ms
            self.p95Ms = p95Ms
        }
        enum CodingKeys: String, CodingKey {
            case stage
            case p50Ms = "p50_ms"
            case p95Ms = "p95_ms"
        }
    }

    public struct ErrorClass: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int
        public var lastSeen: Date?
        public init(name: String, count: Int, lastSeen: Date? = nil) {
            self.name = name
            self.count = count
            self.lastSeen = lastSeen
        }
        enum CodingKeys: String, CodingKey {
            case name = "class"
            case count
            case lastSeen = "last_seen"
        }
    }

    /// One task type (a pipeline stage's Celery task) over one window of complete minutes, as Flower
    /// shows them (D70): its attempts that succeeded and failed, and the succeeded ones' runtimes.
    public struct TaskType: Codable, Sendable, Equatable {
        /// The stage; the task's name is `agentos.<stage>`.
        public var stage: String
        /// The window: `windowMinutes` complete minutes, `from` ..< `to` (attempts that ended in it).
        public var windowMinutes: Int
        public var from: Date
        public var to: Date
        public var succeeded: Int
        /// Failed attempts (retried ones too).
        public var failed: Int
        /// Runtime percentiles of the succeeded attempts (started → done), nil with none.
        public var p50Ms: Double?
        public var p95Ms: Double?
        public var p99Ms: Double?
        /// Succeeded attempts per runtime bucket: bucket i holds runtimes under
        /// `Analytics.taskHistogramBoundsMs[i]` (and at least the bound before), the last one the rest.
        public var histogram: [Int]

        public init(
            stage: String, windowMinutes: Int, from: Date, to: Date, succeeded: Int, failed: Int, p50Ms: Double? = nil,
            p95Ms: Double? = nil, p99Ms: Double? = nil, histogram: [Int] = []
        ) {
            self.stage = stage
            self.windowMinutes = windowMinutes
            self.from = from
            self.to = to
            self.succeeded = succeeded
            self.failed = failed
            self.p50Ms = p50Ms
            self.p95Ms = p95Ms
            self.p99Ms = p99Ms
            self.histogram = histogram
        }

        enum CodingKeys: String, CodingKey {
            case stage, from, to, succeeded, failed, histogram
            case windowMinutes = "window_minutes"
            case p50Ms = "p50_ms"
            case p95Ms = "p95_ms"
            case p99Ms = "p99_ms"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            stage = try c.req(.stage)
            windowMinutes = try c.req(.windowMinutes)
            from = try c.req(.from)
            to = try c.req(.to)
            succeeded = try c.opt(.succeeded, 0)
            failed = try c.opt(.failed, 0)
            p50Ms = try c.opt(.p50Ms, nil)
            p95Ms = try c.opt(.p95Ms, nil)
            p99Ms = try c.opt(.p99Ms, nil)
            histogram = try c.opt(.histogram, [])
        }

        /// The Celery task's name.
        public var taskName: String { "agentos.\(stage)" }
        /// Attempts ended per minute over the window.
        public var perMinute: Double { windowMinutes > 0 ? Double(succeeded + failed) / Double(windowMinutes) : 0 }
        /// nil when nothing ended.
        public var successRate: Double? { succeeded + failed == 0 ? nil : Double(succeeded) / Double(succeeded + failed) }
    }

    /// The task types' runtime histogram buckets (upper bounds, ms); one more bucket takes the rest.
    public static let taskHistogramBoundsMs: [Double] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000]
    /// The windows task types are given for: the ones the Analytics view's `w` steps through.
    public static let taskTypeWindows = [15, 60, 360]

    /// The bucket of a runtime.
    public static func taskHistogramBucket(_ ms: Double) -> Int {
        taskHistogramBoundsMs.firstIndex { ms < $0 } ?? taskHistogramBoundsMs.count
    }

    /// The complete minutes' window of `minutes` before `now`: from ..< the start of the current minute.
    public static func completeWindow(minutes: Int, now: Date) -> (from: Date, to: Date) {
        let to = (now.timeIntervalSince1970 / 60).rounded(.down) * 60
        return (Date(timeIntervalSince1970: to - Double(minutes) * 60), Date(timeIntervalSince1970: to))
    }

    public var windowMinutes: Int
    public var throughput: [Minute]
    public var stageLatency: [StageLatency]
    public var errorClasses: [ErrorClass]
    /// Per task type and window (`taskTypeWindows`), pipeline order.
    public var taskTypes: [TaskType]

    public init(
        windowMinutes: Int = 60, throughput: [Minute] = [], stageLatency: [StageLatency] = [], errorClasses: [ErrorClass] = [],
        taskTypes: [TaskType] = []
    ) {
        self.windowMinutes = windowMinutes
        self.throughput = throughput
        self.stageLatency = stageLatency
        self.errorClasses = errorClasses
        self.taskTypes = taskTypes
    }

    enum CodingKeys: String, CodingKey {
        case throughput
        case windowMinutes = "window_minutes"
        case stageLatency = "stage_latency"
        case errorClasses = "error_classes"
        case taskTypes = "task_types"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        windowMinutes = try c.opt(.windowMinutes, 60)
        throughput = try c.opt(.throughput, [])
        stageLatency = try c.opt(.stageLatency, [])
        errorClasses = try c.opt(.errorClasses, [])
        taskTypes = try c.opt(.taskTypes, [])
    }

    /// Without task types the key is left out (snapshots that predate them stay the same bytes).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(windowMinutes, forKey: .windowMinutes)
        try c.encode(throughput, forKey: .throughput)
        try c.encode(stageLatency, forKey: .stageLatency)
        try c.encode(errorClasses, forKey: .errorClasses)
        if !taskTypes.isEmpty { try c.encode(taskTypes, forKey: .taskTypes) }
    }

    /// The task types over the window of `minutes` (pipeline order).
    public func taskTypes(window minutes: Int) -> [TaskType] { taskTypes.filter { $0.windowMinutes == minutes } }

    /// Minutes of throughput a snapshot carries: the longest window the Analytics view offers. The
    /// latency and error figures cover `windowMinutes`.
    public static let throughputHistoryMinutes = 360

    /// Success rate over the complete minutes of the last `window` minutes (nil when nothing
    /// finished): the Dashboard, the wallboard and the Analytics view give the same figure.
    public func successRate(last window: Int, now: Date) -> Double? {
        let minutes = completeMinutes(last: window, now: now)
        let done = minutes.reduce(0) { $0 + $1.completed }
        let failed = minutes.reduce(0) { $0 + $1.failed }
        return done + failed == 0 ? nil : Double(done) / Double(done + failed)
    }

    /// One entry per complete minute of the last `window` minutes before `now`, zeros where nothing
    /// finished, from the first minute with data on. The minute in progress is left out: a third of a
    /// minute's completions is not a rate.
    public func completeMinutes(last window: Int, now: Date) -> [Minute] {
        let current = (now.timeIntervalSince1970 / 60).rounded(.down) * 60
        let byMinute = Dictionary(throughput.map { ($0.minute.timeIntervalSince1970, $0) }, uniquingKeysWith: { a, _ in a })
        guard let first = byMinute.keys.filter({ $0 < current }).min() else { return [] }
        let start = max(first, current - Double(window) * 60)
        return stride(from: start, to: current, by: 60).map {
            byMinute[$0] ?? Minute(minute: Date(timeIntervalSince1970: $0), completed: 0, failed: 0)
        }
    }

    /// Completions per minute over the complete minutes of the last `window` minutes (0 with none).
    public func perMinute(last window: Int, now: Date) -> Double {
        let minutes = completeMinutes(last: window, now: now)
        return minutes.isEmpty ? 0 : Double(minutes.reduce(0) { $0 + $1.completed }) / Double(minutes.count)
    }
}
