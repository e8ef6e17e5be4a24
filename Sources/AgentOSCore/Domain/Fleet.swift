import Foundation

/// A queue as the broker and the views see it.
public struct QueueInfo: Codable, Sendable, Equatable, Identifiable {
    public var name: String
    public var stage: String
    public var pending: Int
    public var reserved: Int
    public var failed: Int
    public var paused: Bool
    /// Tasks per minute; nil means unlimited.
    public var rateLimit: Int?
    public var consumers: Int
    public var oldestAgeSeconds: Double?
    public var id: String { name }

    public init(
        name: String, stage: String = "", pending: Int = 0, reserved: Int = 0, failed: Int = 0, paused: Bool = false,
        rateLimit: Int? = nil, consumers: Int = 0, oldestAgeSeconds: Double? = nil
    ) {
        self.name = name
        self.stage = stage
        self.pending = pending
        self.reserved = reserved
        self.failed = failed
        self.paused = paused
        self.rateLimit = rateLimit
        self.consumers = consumers
        self.oldestAgeSeconds = oldestAgeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case name, stage, pending, reserved, failed, paused, consumers
        case rateLimit = "rate_limit"
        case oldestAgeSeconds = "oldest_age_s"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.req(.name)
        stage = try c.opt(.stage, "")
        pending = try c.opt(.pending, 0)
        reserved = try c.opt(.reserved, 0)
        failed = try c.opt(.failed, 0)
        paused = try c.opt(.paused, false)
        rateLimit = try c.opt(.rateLimit, nil)
        consumers = try c.opt(.consumers, 0)
        oldestAgeSeconds = try c.opt(.oldestAgeSeconds, nil)
    }
}

public enum WorkerStatus: String, Codable, Sendable, CaseIterable {
    case starting, online, paused, draining, restarting, stopped, offline
    public var isUp: Bool { self == .online || self == .paused || self == .draining || self == .restarting }
}

/// A Celery worker of one pipeline stage.
public struct WorkerInfo: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var hostname: String
    public var stage: String
    public var queues: [String]
    public var status: WorkerStatus
    public var concurrency: Int
    public var autoscaleMin: Int?
    public var autoscaleMax: Int?
    public var active: Int
    public var processed: Int
    public var failed: Int
    public var load: Double
    public var rssBytes: Int
    public var heartbeatAgeSeconds: Double?
    public var version: String
    public var pid: Int?
    public var startedAt: Date?

    public init(
        id: String, hostname: String = "", stage: String, queues: [String] = [], status: WorkerStatus, concurrency: Int = 1,
        autoscaleMin: Int? = nil, autoscaleMax: Int? = nil, active: Int = 0, processed: Int = 0, failed: Int = 0,
        load: Double = 0, rssBytes: Int = 0, heartbeatAgeSeconds: Double? = nil, version: String = "", pid: Int? = nil,
        startedAt: Date? = nil
    ) {
        self.id = id
        self.hostname = hostname
        self.stage = stage
        self.queues = queues
        self.status = status
        self.concurrency = concurrency
        self.autoscaleMin = autoscaleMin
        self.autoscaleMax = autoscaleMax
        self.active = active
        self.processed = processed
        self.failed = failed
        self.load = load
        self.rssBytes = rssBytes
        self.heartbeatAgeSeconds = heartbeatAgeSeconds
        self.version = version
        self.pid = pid
        self.startedAt = startedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, hostname, stage, queues, status, concurrency, active, processed, failed, load, version, pid
        case autoscaleMin = "autoscale_min"
        case autoscaleMax = "autoscale_max"
        case rssBytes = "rss_bytes"
        case heartbeatAgeSeconds = "heartbeat_age_s"
        case startedAt = "started_at"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.req(.id)
        hostname = try c.opt(.hostname, "")
        stage = try c.opt(.stage, "")
        queues = try c.opt(.queues, [])
        status = try c.req(.status)
        concurrency = try c.opt(.concurrency, 1)
        active = try c.opt(.active, 0)
        processed = try c.opt(.processed, 0)
        failed = try c.opt(.failed, 0)
        load = try c.opt(.load, 0)
        version = try c.opt(.version, "")
        pid = try c.opt(.pid, nil)
        autoscaleMin = try c.opt(.autoscaleMin, nil)
        autoscaleMax = try c.opt(.autoscaleMax, nil)
        rssBytes = try c.opt(.rssBytes, 0)
        heartbeatAgeSeconds = try c.opt(.heartbeatAgeSeconds, nil)
        startedAt = try c.opt(.startedAt, nil)
    }
}

public enum ManagerStatus: String, Codable, Sendable, CaseIterable {
    case running, paused, stopped, failed, starting
}

/// A pipeline manager: scheduler, ingest, cleanup, autoscaler.
public struct ManagerInfo: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var kind: String
    public var status: ManagerStatus
    public var enabled: Bool
    public var schedule: String
    public var concurrency: Int
    public var lastRunAt: Date?
    public var nextRunAt: Date?
    public var lastResult: String?
    public var lastError: String?
    public var runs: Int

    public init(
        id: String, kind: String, status: ManagerStatus, enabled: Bool = true, schedule: String = "", concurrency: Int = 1,
        lastRunAt: Date? = nil, nextRunAt: Date? = nil, lastResult: String? = nil, lastError: String? = nil, runs: Int = 0
    ) {
        self.id = id
        self.kind = kind
        self.status = status
        self.enabled = enabled
        self.schedule = schedule
        self.concurrency = concurrency
        self.lastRunAt = lastRunAt
        self.nextRunAt = nextRunAt
        self.lastResult = lastResult
        self.lastError = lastError
        self.runs = runs
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, status, enabled, schedule, concurrency, runs
        case lastRunAt = "last_run_at"
        case nextRunAt = "next_run_at"
        case lastResult = "last_result"
        case lastError = "last_error"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.req(.id)
        status = try c.req(.status)
        kind = try c.opt(.kind, id)
        enabled = try c.opt(.enabled, true)
        schedule = try c.opt(.schedule, "")
        concurrency = try c.opt(.concurrency, 1)
        lastRunAt = try c.opt(.lastRunAt, nil)
        nextRunAt = try c.opt(.nextRunAt, nil)
        lastResult = try c.opt(.lastResult, nil)
        lastError = try c.opt(.lastError, nil)
        runs = try c.opt(.runs, 0)
    }
}
