import AgentOSCore
import Foundation

/// Commands the console sends to the fleet (the simulator obeys them; a real deployment's
/// workers get them through the Celery control plane).
public enum FleetCommand: Sendable, Equatable {
    case pauseWorker(String)
    case resumeWorker(String)
    case restartWorker(String)
    case shutdownWorker(String)
    case drainWorker(String)
    case startWorker(String)
    case scaleWorker(String, Int)
    case pauseQueue(String)
    case resumeQueue(String)
    case setQueueRateLimit(String, Int?)
    case cancelJob(String)
    case killJob(String)
    /// job.retry, by the user who asked (the job's timeline names them).
    case retryJob(String, by: String)
    case startManager(String)
    case stopManager(String)
    case pauseManager(String)
    case resumeManager(String)
    case triggerManager(String)
    /// system.maintenance_on / _off: with the operator's message and name (the banner every console shows).
    case maintenance(Bool, message: String? = nil, by: String? = nil)
    case deleteJob(String)
    case setJobPriority(String, Int)
    case moveJob(String, to: String)
    case clearQueue(String)
    case retryFailed(String, errorClass: String?, by: String)
    case purgeFailed(String)
    case forgetWorker(String)
    case ackAlert(Int, by: String)
    /// worker.ping: the worker answers on `Namespace.pingReplyKey(reply)` if it is up (LiveSimulation does).
    case pingWorker(String, reply: String)
    /// manager.enable / manager.disable: a disabled manager does not run, whatever its schedule.
    case enableManager(String)
    case disableManager(String)
    /// manager.restart: the manager goes through `starting`, comes back running and runs at once.
    case restartManager(String)
    /// manager.set_schedule: cron or interval (`Schedule`); the next run is planned from it.
    case setManagerSchedule(String, String)
    /// manager.set_concurrency: how many work slots one run of the manager has.
    case setManagerConcurrency(String, Int)
    /// logs.set_level: lines of `service` (a source, a stage's workers, or `worker`) below `level` are not written.
    case setLogLevel(String, LogLevel)
    /// logs.mute_source / unmute_source: a muted source's lines are dropped.
    case muteLogSource(String)
    case unmuteLogSource(String)
    /// logs.ack_errors: the error and critical lines so far (of one source, or all) leave the error figures.
    case ackErrors(source: String?)
    /// logs.bookmark: the log store keeps a note on line `id` (embedded: the simulator is the store).
    case bookmarkLog(Int, note: String, by: String)
    /// logs.alert_rule_add / remove (the rule's id is its row's).
    case addLogAlertRule(LogAlertRule)
    case removeLogAlertRule(Int)
    /// system.alert_silence: the alert is silenced until then, and comes back after.
    case silenceAlert(Int, until: Date)
    /// config.set, reset, rollback, import: the key's row has a new version. Its owner reads the
    /// row from the configuration store (LiveSimulation does) and applies it as `setConfig`.
    case configChanged(String)
    /// config.reload: the services (one, or `all`) read their whole configuration again.
    case reloadConfig(String)
    /// A configuration entry as the store holds it, handed to the component that owns its key.
    /// In process only: on the wire it is the `config.changed` of its key.
    case setConfig(ConfigEntry)
    /// analytics.reset_counters: the per-minute stats and the workers' counters start again from zero.
    case resetCounters
    /// config.lock: one key (nil: the whole configuration) refuses changes of value until unlocked.
    case lockConfig(String?, locked: Bool)
    /// worker.autoscale: the pool's bounds, which the autoscaler keeps the pool within.
    case setAutoscale(String, min: Int, max: Int)
    /// worker.rate_limit: the worker starts at most `rate` tasks of type `task` (`TaskRate`; "0" lifts the limit).
    case setTaskRateLimit(String, task: String, rate: String)
    /// worker.time_limit: a task of type `task` gets a warning after `soft` seconds and is ended as failed after `hard`.
    case setTaskTimeLimit(String, task: String, soft: Int, hard: Int)
}

/// The simulated AgentOS backend: a six-stage pipeline of workers pulling jobs from priority
/// queues, managers that create and clean up work, logs, alerts and per-minute stats.
/// A pure state machine: `advance(to:)` moves simulated time forward and returns the events that
/// happened, so the same engine runs embedded (in memory) and live (`agentos sim`, persisted).
public struct FleetSimulator: Sendable {
    public struct SimWorker: Sendable {
        public var info: WorkerInfo
        public var running: [String: Double] = [:] // job id → seconds of work left
        public var lastHeartbeat: Date
        public var restartAt: Date?
        public var desired: String = "running"
        /// Task type → the most starts per period (worker.rate_limit).
        public var rateLimits: [String: TaskRate] = [:]
        /// Task type → soft and hard seconds (worker.time_limit).
        public var timeLimits: [String: TaskTimeLimit] = [:]
        /// Task type → when its recent tasks started (the rate limit's window).
        var recentStarts: [String: [Date]] = [:]
        /// Running job → when this attempt started (the time limits count from it).
        var attemptStarted: [String: Date] = [:]
        /// Running jobs already warned of their soft time limit.
        var softWarned: Set<String> = []
    }

    public private(set) var config: SimulatorConfig
    public private(set) var now: Date
    public private(set) var jobs: [String: Job] = [:]
    /// Queue name → job ids waiting, one FIFO per priority (0 = highest … 9).
    public private(set) var waiting: [String: [[String]]] = [:]
    /// Queue name → its settings (paused, rate limit); its counts are `queuePatch`'s, from the tally.
    public private(set) var queues: [String: QueueInfo] = [:]
    public internal(set) var workers: [String: SimWorker] = [:]
    public internal(set) var managers: [String: ManagerInfo] = [:]
    public internal(set) var logs: [LogLine] = []
    public internal(set) var logCountsByLevel: [String: Int] = [:]
    public internal(set) var logCountsBySource: [String: Int] = [:]
    public internal(set) var alerts: [Alert] = []
    /// Service → the lowest level it writes (logs.set_level).
    public internal(set) var logLevels: [String: LogLevel] = [:]
    /// Sources whose lines are dropped (logs.mute_source).
    public internal(set) var mutedSources: Set<String> = []
    public internal(set) var logAlertRules: [Int: LogAlertRule] = [:]
    /// logs.bookmark's notes on lines, oldest first.
    public internal(set) var logBookmarks: [LogBookmark] = []
    /// Rule → its last matching line; rule → its open alert.
    var ruleMatches: [Int: (at: Date, line: String)] = [:]
    var ruleAlerts: [Int: Int] = [:]
    /// Source → error and critical lines not yet acknowledged (logs.ack_errors takes them out of the counts).
    var unackedErrors: [String: [LogLevel: Int]] = [:]
    /// Source (or `*` for every source) → the last line id its errors were acknowledged through.
    var errorsAckedThrough: [String: Int] = [:]
    public internal(set) var config_: [String: ConfigEntry] = [:]
    /// Key → its versions, oldest first (config.rollback's source; embedded, the simulator is the store).
    public internal(set) var configHistory: [String: [ConfigChange]] = [:]
    /// config.lock without a key: every change of value is refused until unfrozen.
    public internal(set) var configFrozen = false
    /// system.broadcast's banner until it expires (embedded; live it is a key in Redis).
    public internal(set) var broadcast: Broadcast?
    public private(set) var maintenance = Maintenance()
    public private(set) var jobEvents: [String: [JobEvent]] = [:]
    /// Job history entries not yet taken by a persister (`takeOutbox`).
    public private(set) var outbox: [JobEvent] = []
    /// minute → stage → (completed, failed, durations)
    public internal(set) var stats: [Date: [String: StageStats]] = [:]
    public internal(set) var errorCounts: [String: (count: Int, last: Date)] = [:]
    public private(set) var totalJobsCreated = 0
    /// Per-queue, per-status job counts (`JobTally`): every job change goes through `store`/`drop`.
    public private(set) var tally = JobTally()

    public struct StageStats: Sendable {
        public var completed = 0
        public var failed = 0
        public var retried = 0
        public var durationsMs: [Double] = []
    }

    /// Whether job history is collected for a persister (the live `sim`); off in embedded mode.
    public var trackOutbox = false
    private var rng: SimRandom
    private var nextLogID = 1
    private var nextAlertID = 1
    /// Jobs held back until a time: retries (status `retrying`) and scheduled jobs (`pending` with an ETA).
    private var dueAt: [String: Date] = [:]
    private var lastProgressEvent: [String: Date] = [:]
    private var dispatchedThisMinute: [String: (minute: Int, count: Int)] = [:]
    /// Managers restarting (manager.restart) → when they are up again.
    var managerRestartAt: [String: Date] = [:]
    /// Queues maintenance paused: resumed when it ends (a queue paused before stays paused).
    private var maintenancePaused: Set<String> = []

    public init(config: SimulatorConfig = SimulatorConfig(), start: Date) {
        self.config = config
        self.now = start
        self.rng = SimRandom(seed: config.seed)
        setUp()
    }

    // MARK: set-up

    private mutating func setUp() {
        for (i, stage) in Pipeline.stages.enumerated() {
            let q = Pipeline.queue(for: stage)
            queues[q] = QueueInfo(name: q, stage: stage)
            waiting[q] = Array(repeating: [], count: 10)
            for n in 1...max(1, config.workersPerStage) {
                let host = "gpu-\(String(format: "%02d", i * config.workersPerStage + n))"
                let id = "\(Pipeline.shortName(stage))-\(n)@\(host)"
                let info = WorkerInfo(
                    id: id, hostname: host, stage: stage, queues: [q], status: .online,
                    concurrency: config.concurrencyPerWorker, autoscaleMin: 1, autoscaleMax: config.concurrencyPerWorker * 3,
                    rssBytes: 400_000_000 + Int(rng.next() % 300_000_000), heartbeatAgeSeconds: 0, version: "5.7.0",
                    pid: 1_000 + Int(rng.next() % 30_000), startedAt: now)
                workers[id] = SimWorker(info: info, lastHeartbeat: now)
            }
        }
        let m: [(String, String, String)] = [
            ("scheduler", "scheduler", "every 1s"), ("ingest", "ingest", "every 30s"),
            ("cleanup", "cleanup", "*/5 * * * *"), ("autoscaler", "autoscaler", "every 15s")
        ]
        for (id, kind, schedule) in m {
            var manager = ManagerInfo(id: id, kind: kind, status: .running, enabled: true, schedule: schedule, concurrency: 1)
            manager.nextRunAt = nextRun(of: manager, after: now)
            managers[id] = manager
        }
        let entries: [ConfigEntry] = [
            ConfigEntry(
                key: "pipeline.max_attempts", type: .int, value: .int(3), defaultValue: .int(3),
                constraints: .init(min: 1, max: 10), description: "attempts per stage before a job fails"),
            ConfigEntry(
                key: "pipeline.default_priority", type: .int, value: .int(5), defaultValue: .int(5),
                constraints: .init(min: 0, max: 9), description: "priority of new jobs (0 = highest)"),
            ConfigEntry(
                key: "cache.ssot_ttl_seconds", type: .int, value: .int(30), defaultValue: .int(30),
                constraints: .init(min: 5, max: 600), description: "TTL of admin:dashboard:v4"),
            ConfigEntry(
                key: "cache.warm_interval", type: .duration, value: .string("5s"), defaultValue: .string("5s"),
                constraints: .init(pattern: "^[0-9]+(ms|s|m)$"), description: "how often the leader re-warms the snapshot"),
            ConfigEntry(
                key: "workers.autoscale", type: .bool, value: .bool(true), defaultValue: .bool(true),
                description: "let the autoscaler change pool sizes"),
            ConfigEntry(
                key: "transcriber.model", type: .enum, value: .string("whisper-large-v3"), defaultValue: .string("whisper-large-v3"),
                constraints: .init(allowed: ["whisper-small", "whisper-medium", "whisper-large-v3"]), description: "speech model"),
            ConfigEntry(
                key: "cropper.target_aspect", type: .string, value: .string("9:16"), defaultValue: .string("9:16"),
                constraints: .init(pattern: "^[0-9]+:[0-9]+$"), description: "output aspect ratio"),
            ConfigEntry(
                key: "detector.face_threshold", type: .float, value: .double(0.62), defaultValue: .double(0.6),
                constraints: .init(min: 0, max: 1), description: "minimum face confidence", version: 2,
                updatedBy: "alice"),
            ConfigEntry(
                key: "cleanup.schedule", type: .cron, value: .string("*/5 * * * *"), defaultValue: .string("*/5 * * * *"),
                description: "when processed media is cleaned up"),
            ConfigEntry(
                key: "io.output_retention_days", type: .int, value: .int(14), defaultValue: .int(30),
                constraints: .init(min: 1, max: 365), description: "days processed media is kept", version: 3, updatedBy: "bob")
        ]
        // The versions before the current one of the entries changed since install (the first is
        // the default, by the installer): an entry at version 3 has three rows of history, each a
        // day apart, so its drill-down and config.rollback find every version its number counts.
        let between: [String: [(ConfigValue, String)]] = ["io.output_retention_days": [(.int(21), "alice")]]
        for e in entries {
            config_[e.key] = ConfigEntry(
                key: e.key, type: e.type, value: e.value, defaultValue: e.defaultValue,
                constraints: e.constraints, description: e.description, version: e.version,
                locked: false, updatedAt: now, updatedBy: e.updatedBy)
            let values = e.version == 1 ? [(e.value, e.updatedBy)] : [(e.defaultValue, "system")] + (between[e.key] ?? []) + [(e.value, e.updatedBy)]
            precondition(values.count == e.version, "seed history of \(e.key): \(values.count) values for version \(e.version)")
            configHistory[e.key] = values.indices.map { i in
                ConfigChange(
                    version: i + 1, oldValue: i == 0 ? nil : ConfigCheck.json(values[i - 1].0), newValue: ConfigCheck.json(values[i].0),
                    changedBy: values[i].1, changedAt: now.addingTimeInterval(-86_400 * Double(values.count - 1 - i)))
            }
        }
        _ = log(.info, "scheduler", "AgentOS fleet started: \(workers.count) workers in \(Pipeline.stages.count) stages")
    }

    // MARK: time

    /// Advances simulated time to `target` in steps of at most `step` seconds.
    public mutating func advance(to target: Date, step: Double = 0.25) -> [AgentEvent] {
        var events: [AgentEvent] = []
        var pendingLogs: [LogLine] = []
        while now < target {
            let dt = min(step, target.timeIntervalSince(now))
            now = now.addingTimeInterval(dt)
            tick(dt, &events, &pendingLogs)
        }
        if !pendingLogs.isEmpty { events.append(.logAppended(pendingLogs)) }
        return events
    }

    private mutating func tick(_ dt: Double, _ events: inout [AgentEvent], _ logsOut: inout [LogLine]) {
        var touchedQueues = Set<String>()
        createJobs(dt, &events, &logsOut, &touchedQueues)
        releaseDueJobs(&events, &touchedQueues)
        runWorkers(dt, &events, &logsOut, &touchedQueues)
        heartbeats(&events, &logsOut)
        runManagers(&events, &logsOut, &touchedQueues)
        watchAlerts(&events)
        watchLogRules(&events)
        expireSilences(&events)
        for q in touchedQueues.sorted() { events.append(.queueUpdated(queuePatch(q), cause: "queue.updated")) }
    }

    var speed: Double { max(0.05, config.rate) }

    // MARK: jobs

    private mutating func createJobs(_ dt: Double, _ events: inout [AgentEvent], _ logsOut: inout [LogLine], _ touched: inout Set<String>) {
        guard !maintenance.enabled, let scheduler = managers["scheduler"], scheduler.status == .running, scheduler.enabled else { return }
        let lambda = config.jobsPerMinute / 60 * speed * dt
        for _ in 0..<rng.poisson(lambda) {
            let job = newJob(mayWait: true)
            events.append(.jobCreated(JobPatch(job)))
            touched.insert(job.queue)
            if rng.chance(0.2) { logsOut.append(log(.info, "scheduler", "job \(job.id.prefix(8)) queued: \(job.name)", job: job.id)) }
        }
    }

    /// The countdown of a job the scheduler submits, at rate 1: `share` of them wait 10–100 s
    /// before their first run, as a Celery task sent with `countdown` or `eta` does (the scheduled
    /// set). Read from the job's random id rather than drawn, so the draws of a seeded run stay
    /// where they were.
    static func countdown(id: String, share: Double) -> Double? {
        guard share > 0, let n = UInt32(id.replacingOccurrences(of: "-", with: "").suffix(4), radix: 16), Double(n) < share * 65_536
        else { return nil }
        return 10 + Double(n % 91)
    }

    /// `mayWait`: the scheduler's own submissions, a share of which wait for their ETA (status
    /// `pending` with `eta`, out of the queue until `releaseDueJobs` enqueues them).
    @discardableResult
    private mutating func newJob(owner: String? = nil, mayWait: Bool = false) -> Job {
        let stage = Pipeline.stages[0]
        let id = rng.uuid()
        let priority = rng.chance(0.1) ? Int(rng.next() % 3) : 3 + Int(rng.next() % 7)
        let title = rng.pick(SimulatorConfig.titles)
        var job = Job(
            id: id, name: "\(title) [\(rng.hex(6))]", pipeline: "video", stage: stage, queue: Pipeline.queue(for: stage),
            status: .queued, priority: priority, attempts: 0, maxAttempts: configInt("pipeline.max_attempts") ?? 3,
            owner: owner ?? rng.pick(config.users),
            createdAt: now)
        if mayWait, let countdown = Self.countdown(id: id, share: config.scheduledShare) {
            let eta = now.addingTimeInterval(countdown / speed)
            job.status = .pending
            job.eta = eta
            dueAt[id] = eta
            store(job)
            recordEvent(job, "created", "scheduled in \(job.queue), due in \(Int((countdown / speed).rounded(.up))) s")
        } else {
            store(job)
            enqueue(id, queue: job.queue, priority: priority)
            recordEvent(job, "created", "queued in \(job.queue)")
        }
        totalJobsCreated += 1
        return job
    }

    /// Every change of a job goes through here, so the tally follows it.
    private mutating func store(_ job: Job) {
        tally.replace(jobs.updateValue(job, forKey: job.id), with: job)
    }

    private mutating func enqueue(_ id: String, queue: String, priority: Int) {
        waiting[queue, default: Array(repeating: [], count: 10)][max(0, min(9, priority))].append(id)
    }

    private mutating func dequeue(_ queue: String) -> String? {
        guard var lists = waiting[queue] else { return nil }
        for p in 0..<lists.count where !lists[p].isEmpty {
            let id = lists[p].removeFirst()
            waiting[queue] = lists
            return id
        }
        return nil
    }

    private mutating func removeFromQueue(_ id: String) -> Bool {
        for q in waiting.keys.sorted() {
            let lists = waiting[q]!
            for p in 0..<lists.count {
                if let i = lists[p].firstIndex(of: id) {
                    waiting[q]![p].remove(at: i)
                    return true
                }
            }
        }
        return false
    }

    /// Drops a job and its history (job.delete, queue.clear, queue.purge_failed).
    private mutating func forget(_ id: String) {
        tally.replace(jobs.removeValue(forKey: id), with: nil)
        jobEvents[id] = nil
        dueAt[id] = nil
    }

    /// Failed jobs of a queue (optionally of one error class), oldest first.
    func failedJobs(_ queue: String, _ errorClass: String?) -> [String] {
        jobs.values.filter { $0.queue == queue && $0.status == .failed && (errorClass == nil || $0.errorClass == errorClass) }
            .sorted { ($0.updatedAt, $0.id) < ($1.updatedAt, $1.id) }.map(\.id)
    }

    /// `stage`: the stage the event happened in, when the job has moved on already (stage_completed).
    private mutating func recordEvent(_ job: Job, _ type: String, _ message: String, stage: String? = nil) {
        var list = jobEvents[job.id, default: []]
        let event = JobEvent(
            jobID: job.id, ts: now, type: type, stage: stage ?? job.stage, status: job.status.rawValue, workerID: job.workerID,
            message: message)
        list.append(event)
        if trackOutbox { outbox.append(event) }
        if list.count > 50 { list.removeFirst(list.count - 50) }
        jobEvents[job.id] = list
    }

    private mutating func releaseDueJobs(_ events: inout [AgentEvent], _ touched: inout Set<String>) {
        guard !dueAt.isEmpty else { return }
        for (id, at) in dueAt.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) where at <= now {
            dueAt[id] = nil
            guard var job = jobs[id], job.status == .retrying || job.status == .pending else { continue }
            job.status = .queued
            job.eta = nil
            job.updatedAt = now
            store(job)
            enqueue(id, queue: job.queue, priority: job.priority)
            touched.insert(job.queue)
            events.append(.jobUpdated(JobPatch(id: id, status: .queued, updatedAt: now)))
        }
    }

    private mutating func runWorkers(_ dt: Double, _ events: inout [AgentEvent], _ logsOut: inout [LogLine], _ touched: inout Set<String>) {
        let minute = Int(now.timeIntervalSince1970 / 60)
        for id in workers.keys.sorted() {
            // Taken out while it changes, so its `running` table is not copied on write.
            guard var w = workers.removeValue(forKey: id) else { continue }
            if let at = w.restartAt, at <= now {
                w.restartAt = nil
                w.info.status = w.desired == "paused" ? .paused : .online
                w.info.startedAt = now
                w.info.pid = 1_000 + Int(rng.next() % 30_000)
                w.lastHeartbeat = now
                events.append(.workerUpdated(WorkerPatch(id: id, status: w.info.status, active: 0, heartbeatAgeSeconds: 0), cause: "worker.online"))
                logsOut.append(log(.info, id, "worker \(id) online (pool \(w.info.concurrency))", worker: id))
            }
            // Progress running jobs.
            for (jobID, left) in w.running.sorted(by: { $0.key < $1.key }) {
                let remaining = left - dt * speed
                guard var job = jobs[jobID], job.status == .running else {
                    w.running[jobID] = nil
                    continue
                }
                if enforceTimeLimits(&job, worker: &w, &events, &logsOut, &touched) { continue }
                if remaining > 0 {
                    w.running[jobID] = remaining
                    let median = SimulatorConfig.stageMedianSeconds[job.stage] ?? 8
                    job.progress = min(0.99, max(job.progress, 1 - remaining / max(median * 2, remaining + 0.001)))
                    job.updatedAt = now
                    store(job)
                    if now.timeIntervalSince(lastProgressEvent[jobID] ?? .distantPast) >= 1 {
                        lastProgressEvent[jobID] = now
                        events.append(.jobUpdated(JobPatch(id: jobID, progress: (job.progress * 100).rounded() / 100, updatedAt: now)))
                    }
                    continue
                }
                w.running[jobID] = nil
                finishStage(&job, worker: &w, events: &events, logsOut: &logsOut, touched: &touched)
            }
            // Take new work.
            let canTake = w.info.status == .online && w.restartAt == nil && !maintenance.enabled
            if canTake {
                for q in w.info.queues {
                    guard let queue = queues[q], !queue.paused else { continue }
                    let task = Self.taskName(queue.stage)
                    while w.running.count < w.info.concurrency {
                        if let limit = queue.rateLimit {
                            let used = dispatchedThisMinute[q].map { $0.minute == minute ? $0.count : 0 } ?? 0
                            if used >= limit { break }
                        }
                        guard w.mayStart(task, at: now), let jobID = dequeue(q), var job = jobs[jobID] else { break }
                        w.started(task, jobID, at: now)
                        let used = dispatchedThisMinute[q].map { $0.minute == minute ? $0.count : 0 } ?? 0
                        dispatchedThisMinute[q] = (minute, used + 1)
                        let median = SimulatorConfig.stageMedianSeconds[job.stage] ?? 8
                        w.running[jobID] = rng.logNormal(median: median, sigma: 0.45)
                        job.status = .running
                        job.workerID = id
                        job.progress = 0
                        job.attempts += 1
                        job.startedAt = job.startedAt ?? now
                        job.updatedAt = now
                        store(job)
                        recordEvent(job, "started", "attempt \(job.attempts) on \(id)")
                        touched.insert(q)
                        events.append(
                            .jobUpdated(
                                JobPatch(
                                    id: jobID, stage: job.stage, status: .running, progress: 0, attempts: job.attempts,
                                    workerID: id, updatedAt: now, startedAt: job.startedAt)))
                    }
                }
            }
            if w.info.status == .draining && w.running.isEmpty {
                w.info.status = .stopped
                events.append(.workerUpdated(WorkerPatch(id: id, status: .stopped, active: 0), cause: "worker.updated"))
                logsOut.append(log(.info, id, "worker \(id) drained and stopped", worker: id))
            }
            w.info.active = w.running.count
            w.forgetFinishedAttempts()
            workers[id] = w
        }
    }

    private mutating func finishStage(
        _ job: inout Job, worker w: inout SimWorker, events: inout [AgentEvent],
        logsOut: inout [LogLine], touched: inout Set<String>
    ) {
        let stage = job.stage
        let minuteKey = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 60).rounded(.down) * 60)
        let failP = min(0.9, config.failureRate * (config.incident ? 8 : 1) * (stage == "audio_transcriber" ? 1.5 : 1))
        // The attempt's own runtime, so the timeline adds up ("started 13:42:11 … done in 3000 ms" at
        // 13:42:14) and analytics' latencies are the ones the jobs had. The draw that used to be the
        // figure is kept so that seeded worlds (golden frames, property tests) take the same path.
        let drawnMs = (SimulatorConfig.stageMedianSeconds[stage] ?? 8) * 1000 * exp(0.45 * rng.normal()) / speed
        let durationMs = w.attemptStarted[job.id].map { max(0, now.timeIntervalSince($0)) * 1000 } ?? drawnMs
        if rng.chance(failP) {
            let candidates = SimulatorConfig.errorCatalog.filter { $0.stage == stage }
            let err = candidates.isEmpty ? SimulatorConfig.errorCatalog[0] : rng.pick(candidates)
            failAttempt(
                &job, worker: &w, errorClass: err.errorClass, message: err.message,
                traceback: Self.traceback(stage: stage, frame: err.frame, errorClass: err.errorClass, message: err.message),
                permanent: err.permanent, &events, &logsOut, &touched)
            return
        }
        w.info.processed += 1
        stats[minuteKey, default: [:]][stage, default: StageStats()].completed += 1
        var s = stats[minuteKey]![stage]!
        s.durationsMs.append(durationMs)
        stats[minuteKey]![stage] = s
        if let next = Pipeline.stage(after: stage) {
            job.stage = next
            job.queue = Pipeline.queue(for: next)
            job.status = .queued
            job.progress = 0
            job.attempts = 0
            job.workerID = nil
            job.updatedAt = now
            store(job)
            enqueue(job.id, queue: job.queue, priority: job.priority)
            touched.insert(job.queue)
            recordEvent(job, "stage_completed", "\(stage) done in \(Int(durationMs.rounded())) ms", stage: stage)
            events.append(
                .jobUpdated(
                    JobPatch(
                        id: job.id, stage: next, queue: job.queue, status: .queued, progress: 0, attempts: 0,
                        workerID: "", updatedAt: now)))
        } else {
            job.status = .completed
            job.progress = 1
            job.workerID = nil
            job.finishedAt = now
            job.updatedAt = now
            store(job)
            recordEvent(job, "completed", "all stages done")
            if rng.chance(0.3) { logsOut.append(log(.info, w.info.id, "job \(job.id.prefix(8)) completed: \(job.name)", job: job.id)) }
            events.append(.jobUpdated(JobPatch(id: job.id, status: .completed, progress: 1, workerID: "", updatedAt: now, finishedAt: now)))
        }
    }

    /// Ends an attempt with an error: the job is retried later, or fails when it is out of attempts
    /// or the error is permanent.
    mutating func failAttempt(
        _ job: inout Job, worker w: inout SimWorker, errorClass: String, message: String, traceback: String, permanent: Bool,
        _ events: inout [AgentEvent], _ logsOut: inout [LogLine], _ touched: inout Set<String>
    ) {
        let stage = job.stage
        let minuteKey = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 60).rounded(.down) * 60)
        w.info.failed += 1
        job.error = message
        job.errorClass = errorClass
        job.traceback = traceback
        job.updatedAt = now
        job.workerID = nil
        stats[minuteKey, default: [:]][stage, default: StageStats()].failed += 1
        let ec = errorCounts[errorClass] ?? (0, now)
        errorCounts[errorClass] = (ec.count + 1, now)
        if job.attempts < job.maxAttempts && !permanent {
            job.status = .retrying
            let due = now.addingTimeInterval(2 * Double(job.attempts) / speed)
            dueAt[job.id] = due
            job.eta = due
            stats[minuteKey, default: [:]][stage, default: StageStats()].retried += 1
            logsOut.append(
                log(
                    .warning, w.info.id, "\(errorClass): \(message) (job \(job.id.prefix(8)), retry \(job.attempts)/\(job.maxAttempts - 1))",
                    job: job.id, worker: w.info.id))
            recordEvent(job, "retrying", "\(errorClass): \(message)")
            events.append(
                .jobRetried(
                    JobPatch(
                        id: job.id, status: .retrying, attempts: job.attempts, workerID: "", updatedAt: now, error: message,
                        errorClass: errorClass, eta: due)))
        } else {
            job.status = .failed
            job.finishedAt = now
            logsOut.append(
                log(.error, w.info.id, "job \(job.id.prefix(8)) failed in \(stage): \(errorClass): \(message)", job: job.id, worker: w.info.id))
            recordEvent(job, "failed", "\(errorClass): \(message)")
            events.append(
                .jobUpdated(
                    JobPatch(id: job.id, status: .failed, workerID: "", updatedAt: now, finishedAt: now, error: message, errorClass: errorClass)))
            touched.insert(job.queue)
        }
        store(job)
    }

    /// The Celery task name of a stage (what rate and time limits name).
    public static func taskName(_ stage: String) -> String { "agentos.\(stage)" }

    static func traceback(stage: String, frame: String, errorClass: String, message: String) -> String {
        """
        Traceback (most recent call last):
          File "/app/agentos/workers/base.py", line 88, in run
            result = self.process(job)
          File "/app/agentos/workers/\(stage).py", line 142, in process
            return self.\(frame)(job.payload)
          File "/app/agentos/workers/\(stage).py", line 211, in \(frame)
            raise \(errorClass)(msg)
        \(errorClass): \(message)
        """
    }

    // MARK: workers

    private mutating func heartbeats(_ events: inout [AgentEvent], _ logsOut: inout [LogLine]) {
        for id in workers.keys.sorted() {
            guard var w = workers.removeValue(forKey: id) else { continue }
            let up = w.info.status.isUp && w.restartAt == nil
            if up && now.timeIntervalSince(w.lastHeartbeat) >= 2 {
                w.lastHeartbeat = now
                w.info.load = min(1, Double(w.running.count) / Double(max(1, w.info.concurrency)) * 0.8 + rng.unit() * 0.2)
                w.info.rssBytes = max(200_000_000, w.info.rssBytes + Int(rng.normal() * 5_000_000))
                w.info.heartbeatAgeSeconds = 0
                events.append(
                    .workerUpdated(
                        WorkerPatch(
                            id: id, active: w.running.count, processed: w.info.processed, failed: w.info.failed,
                            load: (w.info.load * 100).rounded() / 100, rssBytes: w.info.rssBytes, heartbeatAgeSeconds: 0),
                        cause: "worker.heartbeat"))
                // A rare crash: the worker goes offline and its jobs are retried.
                if w.info.status == .online && rng.chance(0.0002 * (config.incident ? 20 : 1)) {
                    w.info.status = .offline
                    w.restartAt = now.addingTimeInterval(20 / speed)
                    for jobID in w.running.keys.sorted() { requeueInterrupted(jobID, &events) }
                    w.running = [:]
                    w.info.active = 0
                    events.append(.workerUpdated(WorkerPatch(id: id, status: .offline, active: 0), cause: "worker.offline"))
                    logsOut.append(log(.critical, id, "worker \(id) lost: WorkerLostError: process exited with signal 9 (SIGKILL)", worker: id))
                    raise(
                        .error, kind: Alert.Kind.workerOffline, source: id, title: "Worker \(id) went offline",
                        message: "its running jobs were requeued", &events)
                }
            }
            if !up { w.info.heartbeatAgeSeconds = now.timeIntervalSince(w.lastHeartbeat) }
            workers[id] = w
        }
    }

    private mutating func requeueInterrupted(_ jobID: String, _ events: inout [AgentEvent]) {
        guard var job = jobs[jobID], job.status == .running else { return }
        job.status = .queued
        job.workerID = nil
        job.progress = 0
        job.updatedAt = now
        store(job)
        enqueue(jobID, queue: job.queue, priority: job.priority)
        recordEvent(job, "requeued", "worker lost")
        events.append(.jobUpdated(JobPatch(id: jobID, status: .queued, progress: 0, workerID: "", updatedAt: now)))
    }

    // MARK: managers

    private mutating func runManagers(_ events: inout [AgentEvent], _ logsOut: inout [LogLine], _ touched: inout Set<String>) {
        finishManagerRestarts(&events)
        if isDue("ingest"), !maintenance.enabled, let m = managers["ingest"] {
            // Each of its `concurrency` ingest slots takes a batch of uploads.
            let n = (1 + Int(rng.next() % UInt64(max(1, Int(4 * speed))))) * max(1, m.concurrency)
            for _ in 0..<min(n, 500) {
                let job = newJob(owner: "ingest")
                events.append(.jobCreated(JobPatch(job)))
                touched.insert(job.queue)
            }
            managerRan("ingest", result: "ingested \(n) uploads from /io/input", &events)
            logsOut.append(log(.info, "ingest", "ingested \(n) uploads from /io/input"))
        }
        if isDue("cleanup") {
            let removed = cleanup()
            managerRan("cleanup", result: "removed \(removed) finished jobs from memory", &events)
            if removed > 0 { logsOut.append(log(.debug, "cleanup", "cleanup removed \(removed) finished jobs")) }
        }
        if isDue("autoscaler") {
            var changes = 0
            if case .bool(true) = config_["workers.autoscale"]?.value {
                for id in workers.keys.sorted() {
                    guard var w = workers[id], w.info.status == .online else { continue }
                    let depth = pendingCount(w.info.queues.first ?? "")
                    let maxC = w.info.autoscaleMax ?? w.info.concurrency
                    let minC = min(w.info.autoscaleMin ?? 1, maxC)
                    // Bounds set by worker.autoscale first: a pool outside them is brought back at once.
                    if w.info.concurrency > maxC || w.info.concurrency < minC {
                        w.info.concurrency = max(minC, min(maxC, w.info.concurrency))
                        changes += 1
                    } else if depth > 20 && w.info.concurrency < maxC {
                        w.info.concurrency += 1
                        changes += 1
                    } else if depth == 0 && w.info.concurrency > minC && w.running.count < w.info.concurrency - 1 {
                        w.info.concurrency -= 1
                        changes += 1
                    } else {
                        continue
                    }
                    workers[id] = w
                    events.append(.workerUpdated(WorkerPatch(id: id, concurrency: w.info.concurrency), cause: "worker.updated"))
                }
            }
            managerRan("autoscaler", result: changes == 0 ? "no change" : "resized \(changes) pools", &events)
            if changes > 0 { logsOut.append(log(.info, "autoscaler", "resized \(changes) worker pools")) }
        }
        if var s = managers["scheduler"], s.status == .running, s.enabled, now.timeIntervalSince(s.lastRunAt ?? .distantPast) >= 10 {
            s.lastRunAt = now
            s.nextRunAt = nextRun(of: s, after: now)
            s.runs += 1
            s.lastResult = "\(totalJobsCreated) jobs scheduled since start"
            managers["scheduler"] = s
        }
    }

    /// manager.trigger of the scheduler: jobs arrive continuously (`createJobs`), so a triggered
    /// run dispatches the next scheduled job at once.
    private mutating func runSchedulerNow(_ events: inout [AgentEvent]) throws(FleetCommandError) {
        guard managers["scheduler"]?.status == .running else {
            throw .invalid("manager scheduler is \(managers["scheduler"]?.status.rawValue ?? "gone"): it dispatches nothing until it runs")
        }
        guard !maintenance.enabled else { throw .invalid("maintenance mode: the scheduler dispatches nothing") }
        let job = newJob()
        events.append(.jobCreated(JobPatch(job)))
        events.append(.queueUpdated(queuePatch(job.queue), cause: "queue.updated"))
        managerRan("scheduler", result: "triggered: dispatched job \(job.id.prefix(8)) now", &events)
        if let line = log(.info, "scheduler", "job \(job.id.prefix(8)) queued: \(job.name) (triggered run)", job: job.id) {
            events.append(.logAppended([line]))
        }
    }

    private mutating func managerRan(_ id: String, result: String, _ events: inout [AgentEvent]) {
        guard var m = managers[id] else { return }
        m.lastRunAt = now
        m.runs += 1
        m.lastResult = result
        m.nextRunAt = nextRun(of: m, after: now)
        managers[id] = m
        events.append(.managerUpdated(m))
    }

    /// Forgets the oldest finished jobs beyond the retention limit (their counts are kept).
    private mutating func cleanup() -> Int {
        let finished = jobs.values.filter { $0.status.isFinished }
        guard finished.count > config.retainFinishedJobs else { return 0 }
        let excess = finished.sorted { ($0.updatedAt, $0.id) < ($1.updatedAt, $1.id) }.prefix(finished.count - config.retainFinishedJobs)
        for job in excess {
            jobs[job.id] = nil
            jobEvents[job.id] = nil
            lastProgressEvent[job.id] = nil
            tally.forget(job)
        }
        return excess.count
    }

    // MARK: alerts

    /// Conditions that clear resolve their alerts: a worker's offline alert once it is not offline
    /// (back, restarting, or stopped by the operator); a queue's backlog alert, raised above 100
    /// waiting jobs, once fewer than 50 wait.
    private mutating func watchAlerts(_ events: inout [AgentEvent]) {
        for i in alerts.indices where alerts[i].status != .resolved && alerts[i].kind == Alert.Kind.workerOffline {
            if workers[alerts[i].source]?.info.status != .offline {
                alerts[i].status = .resolved
                events.append(.alertUpdated(AlertPatch(id: alerts[i].id, status: .resolved)))
            }
        }
        var backlogAlerted = Set<String>()
        for alert in alerts where alert.status != .resolved && alert.kind == Alert.Kind.queueBacklog { backlogAlerted.insert(alert.source) }
        for name in queues.keys.sorted() {
            let depth = pendingCount(name)
            if depth > 100 && !backlogAlerted.contains(name) {
                raise(
                    .warning, kind: Alert.Kind.queueBacklog, source: name, title: "Queue \(name) backlog above 100",
                    message: "\(depth) jobs waiting", &events)
            } else if depth < 50 && backlogAlerted.contains(name) {
                resolveAlert(Alert.Kind.queueBacklog, source: name, &events)
            }
        }
        // Prune stale alerts so the list stays bounded.
        if alerts.count > 200 { alerts.removeLast(alerts.count - 200) }
    }

    /// Where the alert not resolved yet of this kind and source is, if any (at most one: `raise` groups).
    func openAlertIndex(_ kind: String, source: String) -> Int? {
        alerts.firstIndex { $0.status != .resolved && $0.kind == kind && $0.source == source }
    }

    /// A condition back within this long of its alert's last occurrence reopens that alert (a
    /// flapping worker is one alert counting its crashes, not one alert per crash).
    static let regroupSeconds: Double = 600

    /// Raises an alert, or counts the repeat on the one of the same kind and source that is still
    /// open or was last seen less than `regroupSeconds` ago (sent again whole: consumers replace an
    /// alert by its id). Returns the alert's id.
    @discardableResult
    mutating func raise(
        _ severity: AlertSeverity, kind: String, source: String, title: String, message: String, _ events: inout [AgentEvent]
    ) -> Int {
        let recent =
            openAlertIndex(kind, source: source)
            ?? alerts.firstIndex {
                $0.kind == kind && $0.source == source
                    && now.timeIntervalSince($0.lastSeen ?? $0.ts) < Self.regroupSeconds / speed
            }
        if let i = recent {
            alerts[i].count += 1
            alerts[i].lastSeen = now
            alerts[i].message = message
            alerts[i].severity = max(alerts[i].severity, severity)
            if alerts[i].status == .resolved { alerts[i].status = .active }
            events.append(.alertRaised(alerts[i]))
            return alerts[i].id
        }
        let alert = Alert(
            id: nextAlertID, ts: now, severity: severity, source: source, title: title, message: message, kind: kind, lastSeen: now)
        nextAlertID += 1
        alerts.insert(alert, at: 0)
        events.append(.alertRaised(alert))
        return alert.id
    }

    /// The condition cleared: its open alert (if any) is resolved.
    mutating func resolveAlert(_ kind: String, source: String, _ events: inout [AgentEvent]) {
        guard let i = openAlertIndex(kind, source: source) else { return }
        alerts[i].status = .resolved
        events.append(.alertUpdated(AlertPatch(id: alerts[i].id, status: .resolved)))
    }

    // MARK: logs

    @discardableResult
    public mutating func log(_ level: LogLevel, _ source: String, _ message: String, job: String? = nil, worker: String? = nil) -> LogLine? {
        guard emits(level, from: source) else { return nil }
        let line = LogLine(id: nextLogID, ts: now, level: level, source: source, message: message, jobID: job, workerID: worker)
        nextLogID += 1
        logs.append(line)
        if logs.count > 5_000 { logs.removeFirst(logs.count - 5_000) }
        logCountsByLevel[level.rawValue, default: 0] += 1
        logCountsBySource[source, default: 0] += 1
        noteLogged(line)
        return line
    }

    /// Hands over the job history recorded since the last call.
    public mutating func takeOutbox() -> [JobEvent] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// The current per-minute stats of the last `minutes` minutes (for persisting).
    public func recentStats(minutes: Int) -> [(minute: Date, stage: String, stats: StageStats)] {
        let since = now.addingTimeInterval(-Double(minutes) * 60)
        return stats.filter { $0.key >= since }.flatMap { minute, stages in stages.map { (minute, $0.key, $0.value) } }
            .sorted { ($0.minute, $0.stage) < ($1.minute, $1.stage) }
    }

    // MARK: queries

    public func pendingCount(_ queue: String) -> Int { waiting[queue]?.reduce(0) { $0 + $1.count } ?? 0 }

    public func queuePatch(_ name: String) -> QueuePatch {
        let q = queues[name] ?? QueueInfo(name: name)
        let consumers = workers.values.filter { $0.info.queues.contains(name) && $0.info.status == .online }.count
        return QueuePatch(
            name: name, pending: pendingCount(name), reserved: tally.count(name, .running), failed: tally.count(name, .failed),
            paused: q.paused,
            rateLimit: q.rateLimit ?? -1, consumers: consumers, oldestAgeSeconds: oldestAge(name) ?? -1)
    }

    public func oldestAge(_ queue: String) -> Double? {
        guard let lists = waiting[queue] else { return nil }
        var oldest: Date?
        for list in lists { for id in list.prefix(1) { if let j = jobs[id], oldest == nil || j.updatedAt < oldest! { oldest = j.updatedAt } } }
        return oldest.map { now.timeIntervalSince($0) }
    }

    public func events(ofJob id: String) -> [JobEvent] { jobEvents[id] ?? [] }

    /// Maintenance on: the operator's banner, and every running queue paused; off: the banner
    /// gone and the queues it paused resumed.
    private mutating func setMaintenance(_ on: Bool, message: String?, by: String?, _ events: inout [AgentEvent]) throws(FleetCommandError) {
        guard maintenance.enabled != on else { throw .invalid("maintenance mode is already \(on ? "on" : "off")") }
        if on {
            maintenance = Maintenance(enabled: true, message: message ?? "maintenance in progress", since: now, by: by ?? "operator")
            for name in queues.keys.sorted() where queues[name]?.paused == false {
                queues[name]!.paused = true
                maintenancePaused.insert(name)
                events.append(.queueUpdated(queuePatch(name), cause: "queue.paused"))
            }
        } else {
            maintenance = Maintenance()
            for name in maintenancePaused.sorted() where queues[name]?.paused == true {
                queues[name]!.paused = false
                events.append(.queueUpdated(queuePatch(name), cause: "queue.resumed"))
            }
            maintenancePaused = []
        }
        events.append(.maintenance(maintenance))
    }

    // MARK: control

    /// Applies a control command from the console; returns the events it caused, or an error
    /// message when the target does not exist or the command does not apply.
    public mutating func apply(_ command: FleetCommand) -> Result<[AgentEvent], FleetCommandError> {
        var events: [AgentEvent] = []
        func worker(_ id: String) throws(FleetCommandError) -> SimWorker {
            guard let w = workers[id] else { throw .notFound("worker \(id)") }
            return w
        }
        do throws(FleetCommandError) {
            switch command {
            case .pauseWorker(let id):
                var w = try worker(id)
                w.info.status = .paused
                w.desired = "paused"
                workers[id] = w
                events.append(.workerUpdated(WorkerPatch(id: id, status: .paused), cause: "worker.updated"))
            case .resumeWorker(let id), .startWorker(let id):
                var w = try worker(id)
                w.desired = "running"
                if w.info.status == .stopped || w.info.status == .offline {
                    w.info.status = .starting
                    w.restartAt = now.addingTimeInterval(1)
                } else {
                    w.info.status = .online
                }
                workers[id] = w
                events.append(.workerUpdated(WorkerPatch(id: id, status: w.info.status), cause: "worker.updated"))
            case .restartWorker(let id):
                var w = try worker(id)
                for jobID in w.running.keys.sorted() { requeueInterrupted(jobID, &events) }
                w.running = [:]
                w.info.status = .restarting
                w.restartAt = now.addingTimeInterval(2)
                workers[id] = w
                events.append(.workerUpdated(WorkerPatch(id: id, status: .restarting, active: 0), cause: "worker.updated"))
            case .shutdownWorker(let id):
                var w = try worker(id)
                for jobID in w.running.keys.sorted() { requeueInterrupted(jobID, &events) }
                w.running = [:]
                w.info.status = .stopped
                w.desired = "stopped"
                w.restartAt = nil
                workers[id] = w
                events.append(.workerUpdated(WorkerPatch(id: id, status: .stopped, active: 0), cause: "worker.updated"))
            case .drainWorker(let id):
                var w = try worker(id)
                w.info.status = .draining
                w.desired = "drained"
                workers[id] = w
                events.append(.workerUpdated(WorkerPatch(id: id, status: .draining), cause: "worker.updated"))
            case .scaleWorker(let id, let n):
                guard n >= 0 && n <= 64 else { throw .invalid("concurrency must be 0-64") }
                var w = try worker(id)
                w.info.concurrency = n
                workers[id] = w
                events.append(.workerUpdated(WorkerPatch(id: id, concurrency: n), cause: "worker.updated"))
            case .pauseQueue(let name), .resumeQueue(let name):
                guard queues[name] != nil else { throw .notFound("queue \(name)") }
                let pause: Bool
                if case .pauseQueue = command { pause = true } else { pause = false }
                queues[name]!.paused = pause
                events.append(.queueUpdated(queuePatch(name), cause: pause ? "queue.paused" : "queue.resumed"))
            case .setQueueRateLimit(let name, let limit):
                guard queues[name] != nil else { throw .notFound("queue \(name)") }
                queues[name]!.rateLimit = limit
                events.append(.queueUpdated(queuePatch(name), cause: "queue.updated"))
            case .cancelJob(let id), .killJob(let id):
                guard var job = jobs[id] else { throw .notFound("job \(id)") }
                let kill: Bool
                if case .killJob = command { kill = true } else { kill = false }
                if job.status == .running {
                    guard kill else { throw .invalid("job \(id) is running: use job.kill") }
                    if let wid = job.workerID { workers[wid]?.running[id] = nil }
                } else if !job.status.isWaiting {
                    throw .invalid("job \(id) is \(job.status.rawValue)")
                }
                _ = removeFromQueue(id)
                dueAt[id] = nil
                job.eta = nil
                job.status = .cancelled
                job.workerID = nil
                job.finishedAt = now
                job.updatedAt = now
                store(job)
                recordEvent(job, "cancelled", kill ? "terminated by operator" : "cancelled by operator")
                events.append(.jobCancelled(JobPatch(id: id, status: .cancelled, workerID: "", updatedAt: now, finishedAt: now)))
                events.append(.queueUpdated(queuePatch(job.queue), cause: "queue.updated"))
            case .retryJob(let id, let by):
                guard var job = jobs[id] else { throw .notFound("job \(id)") }
                guard [.failed, .cancelled, .retrying, .pending].contains(job.status) else { throw .invalid("job \(id) is \(job.status.rawValue)") }
                // ACTIONS.md: "re-enqueued, attempts+1", as the live executor writes it. A retrying job's failed
                // attempt is counted already, a scheduled one has not run: retry (run) now only skips the wait (D76, D80).
                if job.status != .retrying && job.status != .pending { job.attempts += 1 }
                dueAt[id] = nil
                job.eta = nil
                job.status = .queued
                job.error = nil
                job.errorClass = nil
                job.finishedAt = nil
                job.updatedAt = now
                store(job)
                enqueue(id, queue: job.queue, priority: job.priority)
                recordEvent(job, "retried", "re-enqueued by \(by)")
                events.append(.jobRetried(JobPatch(id: id, status: .queued, attempts: job.attempts, updatedAt: now, error: "", errorClass: "")))
            case .startManager(let id), .resumeManager(let id):
                guard managers[id] != nil else { throw .notFound("manager \(id)") }
                managers[id]!.status = .running
                events.append(.managerUpdated(managers[id]!))
            case .stopManager(let id), .pauseManager(let id):
                guard managers[id] != nil else { throw .notFound("manager \(id)") }
                if case .stopManager = command { managers[id]!.status = .stopped } else { managers[id]!.status = .paused }
                events.append(.managerUpdated(managers[id]!))
            case .triggerManager(let id):
                guard let m = managers[id] else { throw .notFound("manager \(id)") }
                guard m.enabled else { throw .invalid("manager \(id) is disabled") }
                if id == "scheduler" {
                    try runSchedulerNow(&events)
                } else {
                    managers[id]!.nextRunAt = now
                    events.append(.managerUpdated(managers[id]!))
                }
            case .enableManager(let id), .disableManager(let id), .restartManager(let id), .setManagerSchedule(let id, _),
                .setManagerConcurrency(let id, _):
                events.append(try changeManager(id, command))
            case .deleteJob(let id):
                guard let job = jobs[id] else { throw .notFound("job \(id)") }
                guard job.status != .running else { throw .invalid("job \(id) is running: kill it first (job.kill), then delete it") }
                _ = removeFromQueue(id)
                forget(id)
                events.append(.jobDeleted(id: id))
                events.append(.queueUpdated(queuePatch(job.queue), cause: "queue.updated"))
            case .setJobPriority(let id, let priority):
                guard (0...9).contains(priority) else { throw .invalid("priority must be 0-9") }
                guard var job = jobs[id] else { throw .notFound("job \(id)") }
                guard job.status.isWaiting else { throw .invalid("job \(id) is \(job.status.rawValue): only waiting jobs change priority") }
                job.priority = priority
                job.updatedAt = now
                store(job)
                if removeFromQueue(id) { enqueue(id, queue: job.queue, priority: priority) }
                recordEvent(job, "priority", "priority set to \(priority) by operator")
                events.append(.jobUpdated(JobPatch(id: id, priority: priority, updatedAt: now)))
            case .moveJob(let id, let to):
                guard queues[to] != nil else { throw .notFound("queue \(to)") }
                guard var job = jobs[id] else { throw .notFound("job \(id)") }
                guard job.status.isWaiting else { throw .invalid("job \(id) is \(job.status.rawValue): only waiting jobs move") }
                let from = job.queue
                job.queue = to
                job.updatedAt = now
                store(job)
                if removeFromQueue(id) { enqueue(id, queue: to, priority: job.priority) }
                recordEvent(job, "moved", "moved from \(from) to \(to) by operator")
                events.append(.jobUpdated(JobPatch(id: id, queue: to, updatedAt: now)))
                events.append(.queueUpdated(queuePatch(from), cause: "queue.updated"))
                events.append(.queueUpdated(queuePatch(to), cause: "queue.updated"))
            case .clearQueue(let name):
                guard queues[name] != nil else { throw .notFound("queue \(name)") }
                let ids = (waiting[name] ?? []).flatMap { $0 }
                waiting[name] = Array(repeating: [], count: 10)
                for id in ids {
                    forget(id)
                    events.append(.jobDeleted(id: id))
                }
                var patch = queuePatch(name)
                patch.removed = ids.count
                events.append(.queueUpdated(patch, cause: "queue.cleared"))
            case .retryFailed(let name, let errorClass, let by):
                guard queues[name] != nil else { throw .notFound("queue \(name)") }
                for id in failedJobs(name, errorClass) {
                    var job = jobs[id]!
                    job.status = .queued
                    job.attempts += 1
                    job.progress = 0
                    job.error = nil
                    job.errorClass = nil
                    job.traceback = nil
                    job.workerID = nil
                    job.finishedAt = nil
                    job.updatedAt = now
                    store(job)
                    enqueue(id, queue: name, priority: job.priority)
                    recordEvent(job, "retried", "bulk retry by \(by)")
                    events.append(.jobRetried(JobPatch(id: id, status: .queued, attempts: job.attempts, updatedAt: now, error: "", errorClass: "")))
                }
                events.append(.queueUpdated(queuePatch(name), cause: "queue.updated"))
            case .purgeFailed(let name):
                guard queues[name] != nil else { throw .notFound("queue \(name)") }
                for id in failedJobs(name, nil) {
                    forget(id)
                    events.append(.jobDeleted(id: id))
                }
                // Failed jobs retention forgot are purged with the rest (they are in the queue's figure).
                tally.dropForgotten(name, .failed)
                events.append(.queueUpdated(queuePatch(name), cause: "queue.updated"))
            case .forgetWorker(let id):
                let w = try worker(id)
                guard w.info.status == .offline || w.info.status == .stopped else {
                    throw .invalid("worker \(id) is \(w.info.status.rawValue): only offline or stopped workers are forgotten")
                }
                workers[id] = nil
                events.append(.workerUpdated(WorkerPatch(id: id, status: .offline), cause: "worker.forgotten"))
            case .ackAlert(let id, let by):
                guard let i = alerts.firstIndex(where: { $0.id == id }) else { throw .notFound("alert \(id)") }
                guard alerts[i].status == .active else {
                    throw .invalid("alert \(id) is \(alerts[i].status.rawValue): only active alerts can be acknowledged")
                }
                alerts[i].status = .acked
                alerts[i].ackedBy = by
                events.append(.alertUpdated(AlertPatch(id: id, status: .acked, ackedBy: by)))
            case .pingWorker(let id, _):
                let w = try worker(id)
                // Only a running process answers: not one shut down, offline or between restarts.
                guard w.info.status.isUp, w.info.status != .restarting, w.restartAt == nil else {
                    throw .invalid("worker \(id) is \(w.info.status.rawValue): no process to answer")
                }
            case .setAutoscale(let id, let lo, let hi): events.append(try setAutoscale(id, min: lo, max: hi))
            case .setTaskRateLimit(let id, let task, let rate): events.append(try setRateLimit(id, task: task, rate: rate))
            case .setTaskTimeLimit(let id, let task, let soft, let hard): events.append(try setTimeLimit(id, task: task, soft: soft, hard: hard))
            case .setLogLevel, .muteLogSource, .unmuteLogSource, .ackErrors, .addLogAlertRule, .removeLogAlertRule:
                try changeLogging(command, &events)
            case .bookmarkLog(let line, let note, let by): try bookmark(line, note: note, by: by)
            case .silenceAlert(let id, let until):
                guard let i = alerts.firstIndex(where: { $0.id == id }) else { throw .notFound("alert \(id)") }
                guard alerts[i].status == .active || alerts[i].status == .acked else {
                    throw .invalid("alert \(id) is \(alerts[i].status.rawValue): resolved alerts need no silence")
                }
                alerts[i].status = .silenced
                alerts[i].silencedUntil = until
                events.append(.alertUpdated(AlertPatch(id: id, status: .silenced, silencedUntil: until)))
            case .setConfig(let entry): events += try applyConfig(entry)
            case .configChanged(let key), .reloadConfig(let key):
                throw .invalid("\(command.command.wire) \(key): the owner reads the configuration store first (setConfig)")
            case .resetCounters: events += resetCounters()
            case .lockConfig(let key, let locked): events += try lockConfig(key, locked: locked)
            case .maintenance(let on, let message, let by): try setMaintenance(on, message: message, by: by, &events)
            }
        } catch {
            return .failure(error)
        }
        watchAlerts(&events) // a command may clear a condition (a worker restarted, a queue cleared)
        return .success(events)
    }
}

public enum FleetCommandError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let what): return "\(what) does not exist"
        case .invalid(let why): return why
        }
    }
}
