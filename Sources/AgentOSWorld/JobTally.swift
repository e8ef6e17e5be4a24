import AgentOSCore

/// Job counts per queue and status: the one aggregate the per-queue figures (reserved, failed)
/// and the per-status counts are both read from, so they agree at every generation.
public struct JobTally: Sendable, Equatable {
    /// queue → status → jobs the simulator holds.
    private var held: [String: [JobStatus: Int]] = [:]
    /// queue → status → finished jobs retention forgot (their counts are kept).
    private var forgotten: [String: [JobStatus: Int]] = [:]

    public init() {}

    /// Jobs of `queue` in `status`, held or forgotten.
    public func count(_ queue: String, _ status: JobStatus) -> Int {
        (held[queue]?[status] ?? 0) + (forgotten[queue]?[status] ?? 0)
    }

    /// Forgotten jobs of `queue` in `status` (counted, but no longer there to act on).
    public func forgottenCount(_ queue: String, _ status: JobStatus) -> Int { forgotten[queue]?[status] ?? 0 }

    /// Status → count over every queue.
    public var byStatus: [String: Int] {
        var out: [String: Int] = [:]
        for table in [held, forgotten] {
            for statuses in table.values { for (status, n) in statuses where n != 0 { out[status.rawValue, default: 0] += n } }
        }
        return out
    }

    public var total: Int { [held, forgotten].reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.values.reduce(0, +) } } }

    /// A job changed from `old` (nil: new) to `new` (nil: gone, its count with it).
    mutating func replace(_ old: Job?, with new: Job?) {
        if let old { held[old.queue, default: [:]][old.status, default: 0] -= 1 }
        if let new { held[new.queue, default: [:]][new.status, default: 0] += 1 }
    }

    /// Retention dropped `job`: its count moves from held to forgotten.
    mutating func forget(_ job: Job) {
        held[job.queue, default: [:]][job.status, default: 0] -= 1
        forgotten[job.queue, default: [:]][job.status, default: 0] += 1
    }

    /// queue.purge_failed: the forgotten failed jobs of `queue` go with the held ones.
    mutating func dropForgotten(_ queue: String, _ status: JobStatus) { forgotten[queue]?[status] = nil }
}
