import AgentOSCore
import Foundation

/// One Celery event (celery-redis-protocol.md §c): `type`, `hostname`, `timestamp` and the rest.
public struct CeleryEvent: Sendable, Equatable {
    public var type: String
    public var hostname: String
    public var timestamp: Double
    public var fields: [String: JSONTree]

    public subscript(key: String) -> JSONTree? { fields[key] }

    public init(type: String, hostname: String, timestamp: Double, fields: [String: JSONTree]) {
        self.type = type
        self.hostname = hostname
        self.timestamp = timestamp
        self.fields = fields
    }

    /// The events of one frame: a single object, or the list of a `task.multi` frame.
    public static func events(in envelope: CeleryEnvelope, place: String) throws(CeleryFrameError) -> [CeleryEvent] {
        let items: [JSONTree]
        switch envelope.body {
        case .array(let list): items = list
        case .object: items = [envelope.body]
        default: throw CeleryFrameError(place: place, problem: "event body is neither an object nor a list")
        }
        var out: [CeleryEvent] = []
        for (i, item) in items.enumerated() {
            guard let o = item.object else { throw CeleryFrameError(place: place, problem: "event \(i) is not an object") }
            guard let type = o["type"]?.string, type.hasPrefix("worker-") || type.hasPrefix("task-") else {
                throw CeleryFrameError(place: place, problem: "event \(i) has no worker-/task- type")
            }
            guard let host = o["hostname"]?.string, !host.isEmpty else {
                throw CeleryFrameError(place: place, problem: "\(type) event \(i) has no hostname")
            }
            guard let ts = o["timestamp"]?.double, ts.isFinite else {
                throw CeleryFrameError(place: place, problem: "\(type) event \(i) has no timestamp")
            }
            if type.hasPrefix("task-"), o["uuid"]?.string?.isEmpty ?? true {
                throw CeleryFrameError(place: place, problem: "\(type) event \(i) has no uuid")
            }
            out.append(CeleryEvent(type: type, hostname: host, timestamp: ts, fields: o))
        }
        return out
    }
}

/// What the console knows about Celery's workers and tasks from events and control replies
/// (a pure value; `CeleryMonitor` feeds it). Workers are offline when no heartbeat came within
/// 2 × `freq` (as Celery and Flower judge).
public struct CeleryState: Sendable, Equatable {
    public struct Worker: Sendable, Equatable, Codable {
        public var hostname: String
        public var online = true
        public var lastHeartbeat: Double
        public var freq: Double = 2
        public var active = 0
        public var processed = 0
        public var failed = 0
        public var loadavg = 0.0
        public var version = ""
        public var pid: Int?
        public var startedAt: Double?
        public var concurrency: Int?
        public var queues: [String]?
        public var paused = false
        /// The queues worker.pause cancelled (worker.resume adds them back).
        public var pausedQueues: [String]?

        /// Offline after `2 × freq` without a heartbeat (or after worker-offline).
        public func isOnline(now: Double) -> Bool { online && now <= lastHeartbeat + 2 * freq }
    }

    public struct Task: Sendable, Equatable, Codable {
        public var id: String
        public var name = ""
        public var state = "PENDING"
        public var hostname: String?
        public var queue = ""
        public var args = ""
        public var retries = 0
        public var sent: Double?
        public var received: Double?
        /// The ETA or countdown a received task waits for (`task-received`'s `eta`), seconds since 1970.
        public var eta: Double?
        public var started: Double?
        public var finished: Double?
        public var updated: Double
        public var exception: String?
        public var traceback: String?
        public var result: String?
        public var terminated = false
        /// When the console applied this task's latest event (its own clock), for the latency check.
        public var appliedAt: Double?
    }

    /// The workers and tasks by id. Add entries through `upsert` (the eviction heaps follow it);
    /// changing an entry in place without touching its last-seen time needs nothing more.
    public var workers: [String: Worker] = [:]
    public var tasks: [String: Task] = [:]
    /// Most workers kept (the longest unseen go first, D67).
    public var workerLimit = 5_000
    var taskHeap = EvictionHeap()
    var workerHeap = EvictionHeap()
    /// Frames skipped as malformed or foreign, and the last reason.
    public var malformed = 0
    public var lastMalformed: String?
    public var eventsSeen = 0
    /// Most tasks kept (the oldest finished ones go first).
    public var taskLimit = 2_000
    /// Exact figures from the events, whatever the cap (D77).
    public var figures = CeleryFigures()
    /// While the result backend is read at start: the tasks the events counted meanwhile (its
    /// records of them are not counted again).
    var countedWhileReconciling: Set<String>?
    /// Tasks the backend's records counted that had finished shortly before: their finishing
    /// event, should it still come, is not counted again. Dropped after `reconciledUntil`.
    var reconciled: Set<String> = []
    var reconciledUntil = 0.0

    public init() {}

    /// Applies one event; `appliedAt` (the console's clock) is kept on tasks.
    public mutating func apply(_ e: CeleryEvent, appliedAt: Double? = nil) {
        eventsSeen += 1
        if e.type.hasPrefix("worker-") { applyWorker(e) } else { applyTask(e, appliedAt: appliedAt) }
    }

    mutating func applyWorker(_ e: CeleryEvent) {
        var w = workers[e.hostname] ?? Worker(hostname: e.hostname, lastHeartbeat: e.timestamp)
        if let f = e["freq"]?.double, f > 0 { w.freq = f }
        if let a = e["active"]?.int { w.active = a }
        if let p = e["processed"]?.int { w.processed = p }
        if let l = e["loadavg"]?.array?.first?.double { w.loadavg = l }
        if let v = e["sw_ver"]?.string { w.version = v }
        if let pid = e["pid"]?.int { w.pid = pid }
        switch e.type {
        case "worker-offline":
            w.online = false
        case "worker-online":
            w.online = true
            w.startedAt = e.timestamp
            w.lastHeartbeat = max(w.lastHeartbeat, e.timestamp)
        default:
            w.online = true
            w.lastHeartbeat = max(w.lastHeartbeat, e.timestamp)
        }
        upsert(w)
    }

    mutating func applyTask(_ e: CeleryEvent, appliedAt: Double?) {
        guard let id = e["uuid"]?.string else { return }
        var t = tasks[id] ?? Task(id: id, updated: e.timestamp)
        let wasFinal = CeleryFigures.finalStates.contains(t.state)
        t.appliedAt = appliedAt ?? t.appliedAt
        t.updated = max(t.updated, e.timestamp)
        if let n = e["name"]?.string { t.name = n }
        if let a = e["args"]?.string { t.args = a }
        if let r = e["retries"]?.int { t.retries = r }
        if let q = e["queue"]?.string ?? e["routing_key"]?.string, !q.isEmpty { t.queue = q }
        let finalStates = CeleryFigures.finalStates
        func advance(_ s: String) { if !finalStates.contains(t.state) || finalStates.contains(s) { t.state = s } }
        switch e.type {
        case "task-sent":
            t.sent = e.timestamp
            advance("PENDING")
        case "task-received":
            t.received = e.timestamp
            t.eta = e["eta"]?.string.flatMap(Self.etaSeconds)
            t.hostname = e.hostname
            advance("RECEIVED")
        case "task-started":
            t.started = e.timestamp
            t.hostname = e.hostname
            advance("STARTED")
        case "task-succeeded":
            t.finished = e.timestamp
            t.result = e["result"]?.string
            advance("SUCCESS")
        case "task-failed":
            t.finished = e.timestamp
            t.exception = e["exception"]?.string
            t.traceback = e["traceback"]?.string
            advance("FAILURE")
            workers[e.hostname]?.failed += 1
        case "task-retried":
            t.exception = e["exception"]?.string
            t.traceback = e["traceback"]?.string
            advance("RETRY")
        case "task-revoked":
            t.finished = e.timestamp
            t.terminated = e["terminated"]?.bool ?? false
            advance("REVOKED")
        case "task-rejected":
            t.finished = e.timestamp
            advance("REJECTED")
        default: break
        }
        if !wasFinal && finalStates.contains(t.state) {
            countFinished(id, t.state, at: e.timestamp, runtime: e.type == "task-succeeded" ? e["runtime"]?.double : nil)
        }
        upsert(t)
    }

    // MARK: exact figures (D77)

    /// Counts a task that reached a final state, unless the result backend's record counted it.
    mutating func countFinished(_ id: String, _ state: String, at timestamp: Double, runtime: Double?) {
        if !reconciled.isEmpty {
            if timestamp > reconciledUntil { reconciled = [] } else if reconciled.remove(id) != nil { return }
        }
        countedWhileReconciling?.insert(id)
        figures.recordFinished(state, at: timestamp, runtime: runtime)
    }

    /// Called before the result backend is read: the events counted from now on are remembered.
    public mutating func beginReconcile() { countedWhileReconciling = [] }

    /// Counts the backend's finished tasks that the events did not; those finished after
    /// `recentSince` are remembered until `until`, so their late events are not counted twice.
    public mutating func finishReconcile(_ records: [CeleryBackendRecord], recentSince: Double, until: Double) {
        let counted = countedWhileReconciling ?? []
        countedWhileReconciling = nil
        for r in records where CeleryFigures.finalStates.contains(r.state) && !counted.contains(r.id) {
            figures.recordFinished(r.state, at: r.done ?? -.infinity, runtime: nil)
            if (r.done ?? .infinity) >= recentSince { reconciled.insert(r.id) }
        }
        reconciledUntil = until
    }

    // MARK: bounded (D67): a heap per map, not a sort per event

    /// Eviction order of a task: finished ones first, then the oldest last event.
    static func evictionKey(_ t: Task) -> EvictionHeap.Key { EvictionHeap.Key(rank: t.finished == nil ? 1 : 0, time: t.updated) }
    static func evictionKey(_ w: Worker) -> EvictionHeap.Key { EvictionHeap.Key(rank: 0, time: w.lastHeartbeat) }

    /// Adds or replaces a task; past `taskLimit` the first in eviction order goes. O(log n).
    public mutating func upsert(_ t: Task) {
        if let old = tasks[t.id] { figures.held(old.state, -1) }
        figures.held(t.state, 1)
        for gone in Self.upsert(t, id: t.id, into: &tasks, heap: &taskHeap, limit: taskLimit, key: Self.evictionKey) {
            figures.held(gone.state, -1)
        }
    }

    /// Adds or replaces a worker; past `workerLimit` the longest unseen goes. O(log n).
    public mutating func upsert(_ w: Worker) {
        _ = Self.upsert(w, id: w.hostname, into: &workers, heap: &workerHeap, limit: workerLimit, key: Self.evictionKey)
    }

    /// One bounded map with its heap: a popped pair whose key is no longer the entry's is stale.
    /// Returns the entries evicted.
    private static func upsert<V>(
        _ value: V, id: String, into map: inout [String: V], heap: inout EvictionHeap, limit: Int, key: (V) -> EvictionHeap.Key
    ) -> [V] {
        map[id] = value
        heap.push(key(value), id)
        var evicted: [V] = []
        while map.count > limit, let (popped, victim) = heap.pop() {
            if let cur = map[victim], key(cur) == popped {
                map[victim] = nil
                evicted.append(cur)
            }
        }
        if heap.needsCompaction(live: map.count) { heap.rebuild(map.map { (key($0.value), $0.key) }) }
        return evicted
    }

    public mutating func noteMalformed(_ error: CeleryFrameError) {
        malformed += 1
        lastMalformed = error.description
    }

    // MARK: control replies

    /// The pool processes a `stats` reply lists.
    static func poolProcesses(_ stats: JSONTree) -> Int? { stats["pool"]?["processes"]?.array?.count }

    /// `stats` reply: the pool size (and pid).
    public mutating func applyStats(_ host: String, _ reply: JSONTree, now: Double) {
        var w = workers[host] ?? Worker(hostname: host, lastHeartbeat: now)
        if let n = reply["pool"]?["max-concurrency"]?.int {
            w.concurrency = n
        } else if let n = Self.poolProcesses(reply) {
            w.concurrency = n
        }
        if let pid = reply["pid"]?.int { w.pid = pid }
        upsert(w)
    }

    /// `active_queues` reply: the queues the worker consumes from.
    public mutating func applyActiveQueues(_ host: String, _ reply: JSONTree, now: Double) {
        guard let list = reply.array else { return }
        var w = workers[host] ?? Worker(hostname: host, lastHeartbeat: now)
        w.queues = list.compactMap { $0["name"]?.string }.sorted()
        upsert(w)
    }

    /// A `ping` reply counts as a sign of life.
    public mutating func applyPong(_ host: String, now: Double) {
        var w = workers[host] ?? Worker(hostname: host, lastHeartbeat: now)
        w.online = true
        w.lastHeartbeat = max(w.lastHeartbeat, now)
        upsert(w)
    }

    // MARK: views

    /// The workers as the Workers view shows them.
    public func workerInfos(now: Double) -> [WorkerInfo] {
        workers.values.sorted { $0.hostname < $1.hostname }.map { w in
            let host = w.hostname.split(separator: "@", maxSplits: 1).last.map(String.init) ?? w.hostname
            let status: WorkerStatus = !w.isOnline(now: now) ? .offline : (w.paused ? .paused : .online)
            return WorkerInfo(
                id: w.hostname, hostname: host, stage: "celery", queues: w.queues ?? [], status: status,
                concurrency: w.concurrency ?? max(1, w.active), active: w.active, processed: w.processed, failed: w.failed,
                load: w.loadavg, heartbeatAgeSeconds: max(0, now - w.lastHeartbeat), version: w.version, pid: w.pid,
                startedAt: w.startedAt.map { Date(timeIntervalSince1970: $0) })
        }
    }

    /// The newest tasks (by their latest event), newest first: what the views list.
    public func newestTasks(limit: Int = 500) -> ArraySlice<Task> { tasks.values.sorted { $0.updated > $1.updated }.prefix(limit) }

    /// Adds the exact figures to a snapshot (D77): per-status totals, the minutes' completed and
    /// failed tasks, and the runtime p50/p95 over the analytics window as stage "celery".
    public func mergeFigures(into snapshot: inout Snapshot, now: Double) {
        // The totals and per-minute figures from the counters, not the capped lists (D77).
        for (state, n) in figures.finished.merging(figures.inFlight, uniquingKeysWith: +) {
            let status = CeleryState.jobStatus(state).rawValue
            snapshot.jobs.byStatus[status, default: 0] += n
            snapshot.jobs.byStage["celery", default: [:]][status, default: 0] += n
            snapshot.jobs.total += n
        }
        var byMinute = Dictionary(snapshot.analytics.throughput.map { ($0.minute, $0) }, uniquingKeysWith: { a, _ in a })
        for m in figures.minutes {
            let at = Date(timeIntervalSince1970: Double(m.minute) * 60)
            var entry = byMinute[at] ?? Analytics.Minute(minute: at, completed: 0, failed: 0)
            entry.completed += m.completed
            entry.failed += m.failed
            byMinute[at] = entry
        }
        snapshot.analytics.throughput = byMinute.values.sorted { $0.minute < $1.minute }
        let window = Analytics.completeWindow(minutes: snapshot.analytics.windowMinutes, now: Date(timeIntervalSince1970: now))
        let inWindow = figures.minutes.filter {
            let t = Double($0.minute) * 60
            return t >= window.from.timeIntervalSince1970 && t < window.to.timeIntervalSince1970
        }
        if let p50 = CeleryFigures.runtimeQuantileMs(0.5, of: inWindow), let p95 = CeleryFigures.runtimeQuantileMs(0.95, of: inWindow) {
            snapshot.analytics.stageLatency.removeAll { $0.stage == "celery" }
            snapshot.analytics.stageLatency.append(.init(stage: "celery", p50Ms: p50, p95Ms: p95))
        }
    }

    /// The job status a Celery task state shows as.
    public static func jobStatus(_ state: String) -> JobStatus {
        switch state {
        case "SUCCESS": return .completed
        case "FAILURE", "REJECTED": return .failed
        case "REVOKED": return .cancelled
        case "RETRY": return .retrying
        case "STARTED": return .running
        case "RECEIVED": return .queued
        default: return .pending
        }
    }

    /// Celery's `eta` (Python's `isoformat()`: `2026-12-06T21:40:00.123456+00:00`, the fraction optional).
    static func etaSeconds(_ text: String) -> Double? {
        var whole = text
        var fraction = 0.0
        if let dot = text.firstIndex(of: ".") {
            let digits = text[text.index(after: dot)...].prefix { $0.isNumber }
            fraction = Double("0." + digits) ?? 0
            whole = String(text[..<dot]) + text[text.index(after: dot)...].dropFirst(digits.count)
        }
        return ISO8601DateFormatter().date(from: whole).map { $0.timeIntervalSince1970 + fraction }
    }

    /// The tasks as jobs, newest first. A task received with an ETA is not run before it: it is a
    /// scheduled job (`pending` with `eta`, D80) until it starts.
    public func jobs(limit: Int = 500) -> [Job] {
        newestTasks(limit: limit).map { t in
            let scheduled = t.state == "RECEIVED" ? t.eta : nil
            let status = scheduled == nil ? Self.jobStatus(t.state) : .pending
            let created = Date(timeIntervalSince1970: t.sent ?? t.received ?? t.updated)
            return Job(
                id: t.id, name: t.name + t.args, pipeline: "celery", stage: "celery", queue: t.queue, status: status,
                attempts: t.retries + (t.started == nil ? 0 : 1),
                workerID: t.hostname, owner: "celery", createdAt: created, updatedAt: Date(timeIntervalSince1970: t.updated),
                startedAt: t.started.map { Date(timeIntervalSince1970: $0) }, finishedAt: t.finished.map { Date(timeIntervalSince1970: $0) },
                error: t.exception ?? (t.state == "REVOKED" ? (t.terminated ? "terminated" : "revoked") : nil),
                errorClass: t.exception.map { String($0.prefix { $0 != "(" }) }, traceback: t.traceback,
                eta: scheduled.map { Date(timeIntervalSince1970: $0) })
        }
    }
}

/// A binary min-heap of (key, id) with lazy deletion (D67): every change of an entry's key pushes
/// a new pair; a popped pair whose key is no longer the entry's is stale and skipped. Rebuilt from
/// the live entries when stale pairs outnumber them, so it stays O(live) in size and O(log n) per push.
struct EvictionHeap: Sendable, Equatable {
    struct Key: Sendable, Equatable, Comparable {
        var rank: Int
        var time: Double
        static func < (a: Key, b: Key) -> Bool { (a.rank, a.time) < (b.rank, b.time) }
    }
    struct Pair: Sendable, Equatable {
        var key: Key
        var id: String
    }
    private(set) var items: [Pair] = []

    var count: Int { items.count }

    mutating func push(_ key: Key, _ id: String) {
        items.append(Pair(key: key, id: id))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].key < items[parent].key else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Key, String)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        siftDown(0)
        return (top.key, top.id)
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < items.count, items[l].key < items[m].key { m = l }
            if r < items.count, items[r].key < items[m].key { m = r }
            if m == i { return }
            items.swapAt(i, m)
            i = m
        }
    }

    func needsCompaction(live: Int) -> Bool { items.count > 2 * live + 64 }

    /// Replaces the pairs with one per live entry (heapify, O(n)).
    mutating func rebuild(_ live: [(Key, String)]) {
        items = live.map { Pair(key: $0.0, id: $0.1) }
        for i in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
    }
}
