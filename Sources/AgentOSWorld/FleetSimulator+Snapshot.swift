import AgentOSCore
import Foundation

extension FleetSimulator {
    /// Builds the SSOT snapshot from the simulated state (the embedded mode's AdminDataManager
    /// source). Like the SQL builder, it returns counts over everything and bounded windows of rows.
    public func snapshot(generation: Int, source: String = "embedded") -> Snapshot {
        // Per-status counts from the tally the queues' figures come from (`queuePatch`).
        let byStatus = tally.byStatus
        let total = tally.total
        var byStage: [String: [String: Int]] = [:]
        for job in jobs.values { byStage[job.stage, default: [:]][job.status.rawValue, default: 0] += 1 }
        // Newest first; the keys are sorted, not the jobs (a job is a large value to move).
        var recentKeys: [(at: Double, id: String)] = []
        var failedKeys: [(at: Double, id: String)] = []
        recentKeys.reserveCapacity(jobs.count)
        for (id, job) in jobs {
            recentKeys.append((job.updatedAt.timeIntervalSince1970, id))
            if job.status == .failed { failedKeys.append((job.updatedAt.timeIntervalSince1970, id)) }
        }
        let newestFirst = { (a: (at: Double, id: String), b: (at: Double, id: String)) in a.at != b.at ? a.at > b.at : a.id > b.id }
        let recent = recentKeys.sorted(by: newestFirst).prefix(Snapshot.recentJobLimit).map { jobs[$0.id]! }
        let failed = failedKeys.sorted(by: newestFirst).prefix(Snapshot.failedJobLimit).map { jobs[$0.id]! }

        var queueList: [QueueInfo] = []
        for name in queues.keys.sorted(by: { Pipeline.order($0) < Pipeline.order($1) }) {
            var q = queues[name]!
            queuePatch(name).apply(to: &q)
            queueList.append(q)
        }

        let workerList = workers.values.map(\.info).sorted {
            (Pipeline.order($0.stage), $0.id) < (Pipeline.order($1.stage), $1.id)
        }
        let offline = workerList.filter { $0.status == .offline }.count
        let services = [
            ServiceHealth(name: "api", status: .ok, detail: "embedded"),
            ServiceHealth(name: "redis", status: .ok, detail: "in-memory (embedded)"),
            ServiceHealth(name: "postgres", status: .ok, detail: "in-memory (embedded)"),
            ServiceHealth(
                name: "workers", status: offline == 0 ? .ok : offline * 3 > workerList.count ? .down : .degraded,
                detail: "\(workerList.count - offline)/\(workerList.count) up"),
            ServiceHealth(name: "event bus", status: .ok, detail: "in-process")
        ]

        // Throughput over the longest window the Analytics view offers; latency over the stats window.
        let windowStart = now.addingTimeInterval(-Double(config.statsWindowMinutes) * 60)
        let historyStart = now.addingTimeInterval(-Double(Analytics.throughputHistoryMinutes) * 60)
        var throughput: [Analytics.Minute] = []
        var durations: [String: [Double]] = [:]
        for (minute, stages) in stats where minute >= historyStart {
            throughput.append(
                Analytics.Minute(
                    minute: minute, completed: stages.values.reduce(0) { $0 + $1.completed },
                    failed: stages.values.reduce(0) { $0 + $1.failed }))
            guard minute >= windowStart else { continue }
            for (stage, s) in stages { durations[stage, default: []].append(contentsOf: s.durationsMs) }
        }
        throughput.sort { $0.minute < $1.minute }
        let latency = Pipeline.stages.compactMap { stage -> Analytics.StageLatency? in
            guard let d = durations[stage], !d.isEmpty else { return nil }
            let sorted = d.sorted()
            return Analytics.StageLatency(stage: stage, p50Ms: Self.percentile(sorted, 0.5), p95Ms: Self.percentile(sorted, 0.95))
        }
        let errors = errorCounts.map { Analytics.ErrorClass(name: $0.key, count: $0.value.count, lastSeen: $0.value.last) }
            .sorted { ($0.count, $0.name) > ($1.count, $1.name) }

        var snapshot = Snapshot(
            generation: generation, generatedAt: now, source: source,
            system: SystemState(
                services: services, maintenance: maintenance,
                breakers: ["jobs", "queues", "workers", "managers", "system", "database", "config", "logs"]
                    .map { BreakerInfo(service: $0, state: .closed) },
                cache: CacheInfo(generation: generation)),
            queues: queueList,
            jobs: JobsSummary(total: total, byStatus: byStatus, byStage: byStage, recent: recent, failed: failed),
            workers: workerList,
            managers: managers.values.sorted { $0.id < $1.id },
            logs: LogsSummary(
                recent: Array(logs.suffix(Snapshot.recentLogLimit)), byLevel: logCountsByLevel, bySource: logCountsBySource,
                bookmarks: Array(logBookmarks.suffix(Snapshot.recentBookmarkLimit))),
            config: config_.values.sorted { $0.key < $1.key },
            analytics: Analytics(
                windowMinutes: config.statsWindowMinutes, throughput: throughput, stageLatency: latency, errorClasses: errors,
                taskTypes: taskTypes()),
            alerts: alerts)
        snapshot.system.broadcast = currentBroadcast
        snapshot.eventSeq = 0
        return snapshot
    }

    /// The task types over each of the Analytics view's windows of complete minutes, from the
    /// per-minute stats (attempts counted in the minute they ended; the succeeded ones' runtimes).
    func taskTypes() -> [Analytics.TaskType] {
        Analytics.taskTypeWindows.flatMap { minutes -> [Analytics.TaskType] in
            let (from, to) = Analytics.completeWindow(minutes: minutes, now: now)
            var by: [String: (ok: Int, failed: Int, ms: [Double])] = [:]
            for (minute, stages) in stats where minute >= from && minute < to {
                for (stage, s) in stages where s.completed + s.failed > 0 {
                    by[stage, default: (0, 0, [])].ok += s.completed
                    by[stage, default: (0, 0, [])].failed += s.failed
                    by[stage, default: (0, 0, [])].ms += s.durationsMs
                }
            }
            return by.keys.sorted { (Pipeline.order($0), $0) < (Pipeline.order($1), $1) }.map {
                let t = by[$0]!
                let sorted = t.ms.sorted()
                var histogram = [Int](repeating: 0, count: Analytics.taskHistogramBoundsMs.count + 1)
                for ms in sorted { histogram[Analytics.taskHistogramBucket(ms)] += 1 }
                let pct = { (p: Double) in sorted.isEmpty ? nil : Self.percentile(sorted, p) }
                return Analytics.TaskType(
                    stage: $0, windowMinutes: minutes, from: from, to: to, succeeded: t.ok, failed: t.failed,
                    p50Ms: pct(0.5), p95Ms: pct(0.95), p99Ms: pct(0.99), histogram: histogram)
            }
        }
    }

    package static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = p * Double(sorted.count - 1)
        let lo = Int(rank.rounded(.down))
        let hi = Int(rank.rounded(.up))
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - Double(lo))
    }
}
