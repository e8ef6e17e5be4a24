import Foundation

/// What happened, typed. Patches carry an identity and only the fields that changed.
public enum AgentEvent: Sendable, Equatable, Encodable {
    case jobCreated(JobPatch)
    case jobUpdated(JobPatch)
    case jobCancelled(JobPatch)
    case jobRetried(JobPatch)
    case jobDeleted(id: String)
    case queueUpdated(QueuePatch, cause: String)
    case workerUpdated(WorkerPatch, cause: String)
    case managerUpdated(ManagerInfo)
    case logAppended([LogLine])
    case configChanged(ConfigEntry)
    case alertRaised(Alert)
    case alertUpdated(AlertPatch)
    case maintenance(Maintenance)
    case broadcast(Broadcast?)
    case actionExecuted(ActionNotice)
    case cacheInvalidated
    /// `system.session_terminate`: the console whose session this is stops accepting actions.
    case sessionKick(SessionKick)
    /// A console registered its session (System Controls lists it at once, not at the next snapshot).
    case sessionStarted(ConsoleSession)
    /// A console quit and deleted its session.
    case sessionEnded(sessionID: String)
    /// A type this console does not know: counted and ignored.
    case unknown(type: String)

    public var type: String {
        switch self {
        case .jobCreated: return "job.created"
        case .jobUpdated: return "job.updated"
        case .jobCancelled: return "job.cancelled"
        case .jobRetried: return "job.retried"
        case .jobDeleted: return "job.deleted"
        case .queueUpdated(_, let cause): return cause
        case .workerUpdated(_, let cause): return cause
        case .managerUpdated: return "manager.updated"
        case .logAppended: return "log.appended"
        case .configChanged: return "config.changed"
        case .alertRaised: return "alert.raised"
        case .alertUpdated: return "alert.acked"
        case .maintenance: return "system.maintenance"
        case .broadcast: return "system.broadcast"
        case .actionExecuted: return "action.executed"
        case .cacheInvalidated: return "cache.invalidated"
        case .sessionKick: return "session.kick"
        case .sessionStarted: return "session.started"
        case .sessionEnded: return "session.ended"
        case .unknown(let type): return type
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .jobCreated(let p), .jobUpdated(let p), .jobCancelled(let p), .jobRetried(let p): try p.encode(to: encoder)
        case .jobDeleted(let id): try IDOnly(id: id).encode(to: encoder)
        case .queueUpdated(let p, _): try p.encode(to: encoder)
        case .workerUpdated(let p, _): try p.encode(to: encoder)
        case .managerUpdated(let m): try m.encode(to: encoder)
        case .logAppended(let lines): try LogBatch(lines: lines).encode(to: encoder)
        case .configChanged(let c): try c.encode(to: encoder)
        case .alertRaised(let a): try a.encode(to: encoder)
        case .alertUpdated(let p): try p.encode(to: encoder)
        case .maintenance(let m): try m.encode(to: encoder)
        case .broadcast(let b):
            if let b {
                try b.encode(to: encoder)
            } else {
                var c = encoder.container(keyedBy: Broadcast.CodingKeys.self)
                try c.encodeNil(forKey: .message)
            }
        case .actionExecuted(let n): try n.encode(to: encoder)
        case .cacheInvalidated, .unknown:
            _ = encoder.container(keyedBy: Broadcast.CodingKeys.self)
        case .sessionKick(let kick): try kick.encode(to: encoder)
        case .sessionStarted(let session): try session.encode(to: encoder)
        case .sessionEnded(let id): try SessionKick(sessionID: id).encode(to: encoder)
        }
    }
}

/// Changed fields of a job (`id` always present).
public struct JobPatch: Codable, Sendable, Equatable {
    public var id: String
    public var name: String?
    public var stage: String?
    public var queue: String?
    public var status: JobStatus?
    public var priority: Int?
    public var progress: Double?
    public var attempts: Int?
    public var workerID: String?
    public var owner: String?
    public var createdAt: Date?
    public var updatedAt: Date?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var error: String?
    public var errorClass: String?
    /// A retry's next attempt time (with status `retrying`) or a scheduled job's ETA (with `pending`);
    /// any other status drops the job's.
    public var eta: Date?

    public init(
        id: String, name: String? = nil, stage: String? = nil, queue: String? = nil, status: JobStatus? = nil, priority: Int? = nil,
        progress: Double? = nil, attempts: Int? = nil, workerID: String? = nil, owner: String? = nil, createdAt: Date? = nil,
        updatedAt: Date? = nil, startedAt: Date? = nil, finishedAt: Date? = nil, error: String? = nil, errorClass: String? = nil,
        eta: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.stage = stage
        self.queue = queue
        self.status = status
        self.priority = priority
        self.progress = progress
        self.attempts = attempts
        self.workerID = workerID
        self.owner = owner
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.error = error
        self.errorClass = errorClass
        self.eta = eta
    }

    /// The full patch of a job (used when it is created).
    public init(_ job: Job) {
        self.init(
            id: job.id, name: job.name, stage: job.stage, queue: job.queue, status: job.status, priority: job.priority,
            progress: job.progress, attempts: job.attempts, workerID: job.workerID, owner: job.owner, createdAt: job.createdAt,
            updatedAt: job.updatedAt, startedAt: job.startedAt, finishedAt: job.finishedAt, error: job.error, errorClass: job.errorClass,
            eta: job.eta)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, stage, queue, status, priority, progress, attempts, owner, error, eta
        case workerID = "worker"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case errorClass = "error_class"
    }

    /// Applies the patch to `job`.
    public func apply(to job: inout Job) {
        if let name { job.name = name }
        if let stage { job.stage = stage }
        if let queue { job.queue = queue }
        if let status {
            job.status = status
            if status != .retrying && status != .pending { job.eta = nil }
        }
        if let eta { job.eta = eta }
        if let priority { job.priority = priority }
        if let progress { job.progress = progress }
        if let attempts { job.attempts = attempts }
        if let workerID { job.workerID = workerID.isEmpty ? nil : workerID }
        if let owner { job.owner = owner }
        if let updatedAt { job.updatedAt = updatedAt }
        if let startedAt { job.startedAt = startedAt }
        if let finishedAt { job.finishedAt = finishedAt }
        if let error { job.error = error.isEmpty ? nil : error }
        if let errorClass { job.errorClass = errorClass.isEmpty ? nil : errorClass }
    }

    /// A job built from a patch that carries at least status and stage.
    public func makeJob(now: Date) -> Job? {
        guard let status, let stage else { return nil }
        var job = Job(id: id, stage: stage, queue: queue ?? stage, status: status, createdAt: createdAt ?? now)
        apply(to: &job)
        return job
    }
}

public struct QueuePatch: Codable, Sendable, Equatable {
    public var name: String
    public var pending: Int?
    public var reserved: Int?
    public var failed: Int?
    public var paused: Bool?
    public var rateLimit: Int?
    public var consumers: Int?
    public var oldestAgeSeconds: Double?
    /// For queue.cleared: how many messages were removed.
    public var removed: Int?

    public init(
        name: String, pending: Int? = nil, reserved: Int? = nil, failed: Int? = nil, paused: Bool? = nil, rateLimit: Int? = nil,
        consumers: Int? = nil, oldestAgeSeconds: Double? = nil, removed: Int? = nil
    ) {
        self.name = name
        self.pending = pending
        self.reserved = reserved
        self.failed = failed
        self.paused = paused
        self.rateLimit = rateLimit
        self.consumers = consumers
        self.oldestAgeSeconds = oldestAgeSeconds
        self.removed = removed
    }

    enum CodingKeys: String, CodingKey {
        case name, pending, reserved, failed, paused, consumers, removed
        case rateLimit = "rate_limit"
        case oldestAgeSeconds = "oldest_age_s"
    }

    public func apply(to q: inout QueueInfo) {
        if let pending { q.pending = pending }
        if let reserved { q.reserved = reserved }
        if let failed { q.failed = failed }
        if let paused { q.paused = paused }
        if let rateLimit { q.rateLimit = rateLimit < 0 ? nil : rateLimit }
        if let consumers { q.consumers = consumers }
        if let oldestAgeSeconds { q.oldestAgeSeconds = oldestAgeSeconds < 0 ? nil : oldestAgeSeconds }
    }
}

public struct WorkerPatch: Codable, Sendable, Equatable {
    public var id: String
    public var stage: String?
    public var status: WorkerStatus?
    public var concurrency: Int?
    public var active: Int?
    public var processed: Int?
    public var failed: Int?
    public var load: Double?
    public var rssBytes: Int?
    public var heartbeatAgeSeconds: Double?
    public var queues: [String]?
    public var hostname: String?
    public var version: String?

    public init(
        id: String, stage: String? = nil, status: WorkerStatus? = nil, concurrency: Int? = nil, active: Int? = nil, processed: Int? = nil,
        failed: Int? = nil, load: Double? = nil, rssBytes: Int? = nil, heartbeatAgeSeconds: Double? = nil, queues: [String]? = nil,
        hostname: String? = nil, version: String? = nil
    ) {
        self.id = id
        self.stage = stage
        self.status = status
        self.concurrency = concurrency
        self.active = active
        self.processed = processed
        self.failed = failed
        self.load = load
        self.rssBytes = rssBytes
        self.heartbeatAgeSeconds = heartbeatAgeSeconds
        self.queues = queues
        self.hostname = hostname
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case id, stage, status, concurrency, active, processed, failed, load, queues, hostname, version
        case rssBytes = "rss_bytes"
        case heartbeatAgeSeconds = "heartbeat_age_s"
    }

    public func apply(to w: inout WorkerInfo) {
        if let stage { w.stage = stage }
        if let status { w.status = status }
        if let concurrency { w.concurrency = concurrency }
        if let active { w.active = active }
        if let processed { w.processed = processed }
        if let failed { w.failed = failed }
        if let load { w.load = load }
        if let rssBytes { w.rssBytes = rssBytes }
        if let heartbeatAgeSeconds { w.heartbeatAgeSeconds = heartbeatAgeSeconds }
        if let queues { w.queues = queues }
        if let hostname { w.hostname = hostname }
        if let version { w.version = version }
    }
}

public struct AlertPatch: Codable, Sendable, Equatable {
    public var id: Int
    public var status: AlertStatus?
    public var ackedBy: String?
    public var silencedUntil: Date?

    public init(id: Int, status: AlertStatus? = nil, ackedBy: String? = nil, silencedUntil: Date? = nil) {
        self.id = id
        self.status = status
        self.ackedBy = ackedBy
        self.silencedUntil = silencedUntil
    }

    enum CodingKeys: String, CodingKey {
        case id, status
        case ackedBy = "acked_by"
        case silencedUntil = "silenced_until"
    }
}

/// An admin action that was executed somewhere (for the notification line of other consoles).
public struct ActionNotice: Codable, Sendable, Equatable {
    public var action: String
    public var user: String
    public var outcome: String
    public var target: String?
    public var requestID: String?
    public var summary: String?

    public init(action: String, user: String, outcome: String, target: String? = nil, requestID: String? = nil, summary: String? = nil) {
        self.action = action
        self.user = user
        self.outcome = outcome
        self.target = target
        self.requestID = requestID
        self.summary = summary
    }

    enum CodingKeys: String, CodingKey {
        case action, user, outcome, target, summary
        case requestID = "request_id"
    }
}
