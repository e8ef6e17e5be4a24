import Foundation

public enum JobStatus: String, Codable, Sendable, CaseIterable, Comparable {
    case pending, queued, running, retrying, completed, failed, cancelled

    /// Waiting in a queue (cancellable without killing anything).
    public var isWaiting: Bool { self == .pending || self == .queued || self == .retrying }
    public var isFinished: Bool { self == .completed || self == .failed || self == .cancelled }

    public static func < (a: JobStatus, b: JobStatus) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One video job as the views show it.
public struct Job: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var name: String
    public var pipeline: String
    public var stage: String
    public var queue: String
    public var status: JobStatus
    public var priority: Int
    public var progress: Double
    public var attempts: Int
    public var maxAttempts: Int
    public var workerID: String?
    public var owner: String
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var error: String?
    public var errorClass: String?
    public var traceback: String?
    /// When a job waiting to retry (`retrying`) or scheduled (`pending`) is due (`jobs.eta`); nil otherwise.
    public var eta: Date?

    public init(
        id: String, name: String = "", pipeline: String = "video", stage: String, queue: String, status: JobStatus,
        priority: Int = 5, progress: Double = 0, attempts: Int = 0, maxAttempts: Int = 3, workerID: String? = nil,
        owner: String = "system", createdAt: Date, updatedAt: Date? = nil, startedAt: Date? = nil,
        finishedAt: Date? = nil, error: String? = nil, errorClass: String? = nil, traceback: String? = nil, eta: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.pipeline = pipeline
        self.stage = stage
        self.queue = queue
        self.status = status
        self.priority = priority
        self.progress = progress
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.workerID = workerID
        self.owner = owner
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.error = error
        self.errorClass = errorClass
        self.traceback = traceback
        self.eta = eta
    }

    enum CodingKeys: String, CodingKey {
        case id, name, pipeline, stage, queue, status, priority, progress, attempts, owner, error, traceback, eta
        case maxAttempts = "max_attempts"
        case workerID = "worker"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case errorClass = "error_class"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.req(.id)
        name = try c.opt(.name, "")
        pipeline = try c.opt(.pipeline, "video")
        stage = try c.opt(.stage, "")
        queue = try c.opt(.queue, stage)
        status = try c.req(.status)
        priority = try c.opt(.priority, 5)
        progress = try c.opt(.progress, 0)
        attempts = try c.opt(.attempts, 0)
        maxAttempts = try c.opt(.maxAttempts, 3)
        workerID = try c.opt(.workerID, nil)
        owner = try c.opt(.owner, "system")
        createdAt = try c.opt(.createdAt, Date(timeIntervalSince1970: 0))
        updatedAt = try c.opt(.updatedAt, createdAt)
        startedAt = try c.opt(.startedAt, nil)
        finishedAt = try c.opt(.finishedAt, nil)
        error = try c.opt(.error, nil)
        errorClass = try c.opt(.errorClass, nil)
        traceback = try c.opt(.traceback, nil)
        eta = try c.opt(.eta, nil)
    }
}

/// One entry of a job's event-sourced history.
public struct JobEvent: Codable, Sendable, Equatable {
    public var jobID: String
    public var ts: Date
    public var type: String
    public var stage: String?
    public var status: String?
    public var workerID: String?
    public var message: String?

    public init(jobID: String, ts: Date, type: String, stage: String? = nil, status: String? = nil, workerID: String? = nil, message: String? = nil) {
        self.jobID = jobID
        self.ts = ts
        self.type = type
        self.stage = stage
        self.status = status
        self.workerID = workerID
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case ts, type, stage, status, message
        case jobID = "job_id"
        case workerID = "worker"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jobID = try c.req(.jobID)
        ts = try c.req(.ts)
        type = try c.req(.type)
        stage = try c.opt(.stage, nil)
        status = try c.opt(.status, nil)
        workerID = try c.opt(.workerID, nil)
        message = try c.opt(.message, nil)
    }
}

/// Job counts and the jobs the views list (recent and failed windows, never the whole history).
public struct JobsSummary: Codable, Sendable, Equatable {
    public var total: Int
    public var byStatus: [String: Int]
    /// stage → status → count, for jobs not finished plus the recent window.
    public var byStage: [String: [String: Int]]
    public var recent: [Job]
    public var failed: [Job]

    public init(total: Int = 0, byStatus: [String: Int] = [:], byStage: [String: [String: Int]] = [:], recent: [Job] = [], failed: [Job] = []) {
        self.total = total
        self.byStatus = byStatus
        self.byStage = byStage
        self.recent = recent
        self.failed = failed
    }

    enum CodingKeys: String, CodingKey {
        case total, recent, failed
        case byStatus = "by_status"
        case byStage = "by_stage"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        total = try c.opt(.total, 0)
        byStatus = try c.opt(.byStatus, [:])
        byStage = try c.opt(.byStage, [:])
        recent = try c.opt(.recent, [])
        failed = try c.opt(.failed, [])
    }

    public func count(_ status: JobStatus) -> Int { byStatus[status.rawValue] ?? 0 }
}
