import AgentOSCore
import Foundation
import Synchronization

/// Follows a Celery deployment: PSUBSCRIBE on the `celeryev` channels (worker heartbeats and
/// task events, `task.multi` lists included), `stats` + `active_queues` polls for pool
/// sizes and queues, and the broker lists for the queue depths. Malformed or foreign frames are
/// counted and logged, never fatal.
public final class CeleryMonitor: Sendable {
    public let transport: CeleryTransport
    public let control: CeleryControl
    let broker: RedisClient
    let subscriber: RedisSubscriber
    let state = Mutex(CeleryState())
    let pollFlags = Mutex<(stopped: Bool, pending: Bool, running: Bool)>((false, false, false))
    /// The result backend is to be read once the event subscription holds (D77): before, a task
    /// finishing in between would be counted by neither.
    let reconcile = Mutex<(wanted: Bool, due: Bool)>((false, false))
    /// Set by every applied frame and poll; `takeChange()` reads and clears it.
    let dirty = Mutex(false)
    /// Set once the fleet is known: polled, read from the shared view, or discovered.
    let known = Mutex(false)
    let log: @Sendable (String) -> Void
    let changed: @Sendable () -> Void
    /// Queues the console paused (cancel_consumer on every worker) → the workers that consumed
    /// them, so resume adds the consumer back on exactly those.
    let pausedQueues = Mutex<[String: [String]]>([:])

    /// `changed` runs after each applied frame (the console reloads its view from it).
    public init(
        redis: RedisClient, transport: CeleryTransport, log: @escaping @Sendable (String) -> Void = { _ in },
        changed: @escaping @Sendable () -> Void = {}
    ) {
        self.transport = transport
        broker = redis.selecting(database: transport.brokerDatabase)
        control = CeleryControl(redis: redis, transport: transport, log: log)
        self.log = log
        self.changed = changed
        // Frames are applied on the subscriber's own thread: a busy cooperative pool never delays them.
        let sink = Sink()
        subscriber = RedisSubscriber(redis.configuration, channels: [], patterns: [transport.eventPattern], onEvent: { sink.monitor?.handle($0) })
        sink.monitor = self
    }

    /// Breaks the init cycle (the subscriber's handler needs the monitor it belongs to).
    final class Sink: @unchecked Sendable {
        weak var monitor: CeleryMonitor?
    }

    func handle(_ event: SubscriptionEvent) {
        switch event {
        case .message(let channel, let payload, _): ingest(payload, channel: channel)
        case .subscribed:
            reconcile.withLock { r in
                if r.wanted { (r.wanted, r.due) = (false, true) }
            }
            requestPoll()
        case .disconnected(let reason, _): log("celery: event subscription lost: \(reason)")
        }
    }

    /// Starts the event subscription and the poll of the workers every `pollSeconds` (on a
    /// thread of its own: a poll blocks for the reply timeout).
    public func start(pollSeconds: Double = 5) {
        pollFlags.withLock { $0.running = true }
        if transport.resultDatabase != nil {
            state.withLock { $0.beginReconcile() }
            reconcile.withLock { $0.wanted = true }
        }
        let thread = Thread { [self] in
            var last = Date.distantPast
            while !pollFlags.withLock({ $0.stopped }) {
                let due = pollFlags.withLock { f -> Bool in
                    let d = f.pending || Date().timeIntervalSince(last) >= pollSeconds
                    f.pending = false
                    return d
                }
                if reconcile.withLock({ r in
                    defer { r.due = false }
                    return r.due
                }) {
                    reconcileWithBackend()
                }
                if due {
                    last = Date()
                    poll()
                    shareView()
                } else {
                    usleep(50_000)
                }
            }
            pollFlags.withLock { $0.running = false }
        }
        thread.name = "celery-poller"
        thread.start()
        subscriber.start()
    }

    /// Asks the poller for a `stats`/`active_queues` round soon (a worker came online).
    public func requestPoll() { pollFlags.withLock { $0.pending = true } }

    /// Stops the subscription and the poller; waits for a poll under way to end (and clean up its
    /// reply queue), at most three reply timeouts.
    public func stop() {
        subscriber.stop()
        pollFlags.withLock { $0.stopped = true }
        let deadline = Date().addingTimeInterval(3 * transport.replyTimeout + 1)
        while pollFlags.withLock({ $0.running }), Date() < deadline { usleep(20_000) }
    }

    /// Subscribed to the event channels (for tests and the status line).
    public var subscribed: Bool {
        ((try? broker.send("PUBSUB", "NUMPAT").int) ?? 0) > 0
    }

    /// Applies one frame from an event channel; a bad one is counted and logged.
    public func ingest(_ payload: [UInt8], channel: String) {
        do {
            let env = try CeleryEnvelope.decode(payload, place: "channel \(channel)")
            let events = try CeleryEvent.events(in: env, place: "channel \(channel)")
            var poll = false
            let now = Date().timeIntervalSince1970
            state.withLock { s in
                for e in events {
                    if e.type == "worker-online", s.workers[e.hostname]?.online != true { poll = true }
                    s.apply(e, appliedAt: now)
                }
            }
            if poll { requestPoll() }
        } catch {
            let n = state.withLock { s -> Int in
                s.noteMalformed(error)
                return s.malformed
            }
            log("celery: skipped malformed frame #\(n) (\(payload.count) bytes) on \(error)")
        }
        dirty.withLock { $0 = true }
        changed()
    }

    /// True once after the state changed (the console reloads its view then).
    public func takeChange() -> Bool {
        dirty.withLock {
            let d = $0
            $0 = false
            return d
        }
    }

    /// Makes sure the fleet is known before an action is routed (a headless `agentos action` has
    /// no poller): the view a console's monitor shared in Redis, else ONE `active_queues`
    /// broadcast, which names each worker and its queues and ends when every worker that got it
    /// answered (D61, D77). Once per monitor.
    public func learnFleetIfUnknown() {
        let learnt = known.withLock { k -> Bool in
            defer { k = true }
            return k
        }
        if learnt || loadSharedView() { return }
        // Any hostname, as the discovery ping took (a ping first would add a round trip, not a check: D77).
        ask("active_queues", accept: nil)
        shareView(onlyIfAbsent: true)
        dirty.withLock { $0 = true }
    }

    /// A headless command's view (`agentos snapshot`): the view a console shared (tasks included),
    /// then one poll, so the workers' state is as of now.
    public func catchUp() {
        if !loadSharedView() && transport.resultDatabase != nil {
            // No console's figures: the result backend's (no events are followed here).
            state.withLock { $0.beginReconcile() }
            reconcileWithBackend()
        }
        poll()
    }

    /// Counts the result backend's finished tasks that the events did not (D77): SCAN of its
    /// `celery-task-meta-*` records, read in batches of 1,000.
    public func reconcileWithBackend() {
        guard let db = transport.resultDatabase else { return }
        let backend = broker.selecting(database: db)
        var records: [CeleryBackendRecord] = []
        let pattern = transport.resultKeyPattern
        let idStart = transport.resultKeyPrefix.utf8.count + "celery-task-meta-".utf8.count
        do {
            var cursor = "0"
            repeat {
                let reply = try backend.send("SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
                guard let pair = reply.array, pair.count == 2, let next = pair[0].string else {
                    throw CeleryConfigError("result backend: unexpected SCAN reply")
                }
                cursor = next
                let keys = (pair[1].array ?? []).compactMap(\.bytes)
                if keys.isEmpty { continue }
                let values = try backend.send(["MGET"] + keys).array ?? []
                for (key, value) in zip(keys, values) {
                    guard let bytes = value.bytes else { continue }
                    let id = String(decoding: key.dropFirst(idStart), as: UTF8.self)
                    if let r = CeleryBackendRecord.parse(id: id, bytes) { records.append(r) }
                }
            } while cursor != "0"
        } catch {
            log("celery: reading the result backend (db \(db)) failed: \(error); the task figures count from the events only")
        }
        let now = Date().timeIntervalSince1970
        // A finishing event arrives within seconds of the record; ten minutes is ample.
        state.withLock { $0.finishReconcile(records, recentSince: now - 600, until: now + 600) }
        dirty.withLock { $0 = true }
        changed()
    }

    /// Asks every worker for `stats` (pool size) and `active_queues` and records the answers;
    /// each broadcast ends when every worker that got it answered. A ping first: replies count
    /// only from workers in the map or that answered it (D67).
    public func poll() {
        known.withLock { $0 = true }
        var accept = knownHosts()
        for method in ["ping", "stats", "active_queues"] {
            if pollFlags.withLock({ $0.stopped }) { break }
            let answered = ask(method, accept: method == "ping" ? nil : accept)
            if method == "ping" { accept.formUnion(answered) }
        }
        dirty.withLock { $0 = true }
        changed()
    }

    /// The hostnames in the worker map: who a broadcast to every worker expects replies from (D67).
    public func knownHosts() -> Set<String> { state.withLock { Set($0.workers.keys) } }

    /// One broadcast to every worker, replies counted from `accept` (nil: any, the discovery
    /// ping); each reply is also a sign of life. Returns the hostnames that replied.
    @discardableResult
    func ask(_ method: String, accept: Set<String>?) -> Set<String> {
        do {
            let b = try control.broadcast(method, accept: accept)
            let now = Date().timeIntervalSince1970
            state.withLock { s in
                for r in b.replies {
                    switch method {
                    case "stats": s.applyStats(r.hostname, r.value, now: now)
                    case "active_queues": s.applyActiveQueues(r.hostname, r.value, now: now)
                    default: break
                    }
                    s.applyPong(r.hostname, now: now)
                }
            }
            return Set(b.replies.map(\.hostname))
        } catch {
            log("celery: \(method) poll failed: \(error)")
            return []
        }
    }

    // MARK: the view shared with headless commands (D61)

    /// What the shared view holds: the workers, the newest tasks (as many as the views list) and
    /// the queues the console paused with the workers to resume them on.
    struct SharedView: Codable {
        var writtenAt: Double
        var workers: [CeleryState.Worker]
        var tasks: [CeleryState.Task]
        var pausedQueues: [String: [String]]
        /// The exact figures (D77); absent in a view written before them.
        var figures: CeleryFigures?
    }

    /// Seconds the shared view lives after its last write: three of the console's polls.
    public static let sharedViewSeconds = 15

    /// Writes the view for headless commands (`onlyIfAbsent`: a discovery never replaces a console's view).
    public func shareView(onlyIfAbsent: Bool = false) {
        let s = current
        let view = SharedView(
            writtenAt: Date().timeIntervalSince1970, workers: s.workers.values.sorted { $0.hostname < $1.hostname },
            tasks: Array(s.newestTasks()), pausedQueues: pausedQueues.withLock { $0 }, figures: s.figures)
        do {
            let json = try JSONEncoder().encode(view)
            var command: [any RedisArgument] = ["SET", transport.sharedViewKey, [UInt8](json), "EX", String(Self.sharedViewSeconds)]
            if onlyIfAbsent { command.append("NX") }
            try broker.send(command)
        } catch { log("celery: sharing the view failed: \(error)") }
    }

    /// Adds the shared view to what this monitor knows (its own facts win); false when there is none.
    func loadSharedView() -> Bool {
        do {
            guard let bytes = try broker.send("GET", transport.sharedViewKey).bytes else { return false }
            let view = try JSONDecoder().decode(SharedView.self, from: Data(bytes))
            state.withLock { s in
                for w in view.workers where s.workers[w.hostname] == nil { s.upsert(w) }
                for t in view.tasks where s.tasks[t.id] == nil { s.upsert(t) }
                // The console's counters, when this monitor has counted nothing itself.
                if let f = view.figures, s.figures.finished.isEmpty, s.eventsSeen == 0 { s.figures = f }
            }
            pausedQueues.withLock { p in p.merge(view.pausedQueues) { mine, _ in mine } }
            dirty.withLock { $0 = true }
            return true
        } catch {
            log("celery: reading the shared view failed: \(error)")
            return false
        }
    }

    public var current: CeleryState { state.withLock { $0 } }

    /// Events applied so far (read without copying the state: `current` copies the maps once the
    /// next event changes them).
    public var eventsApplied: Int { state.withLock { $0.eventsSeen } }

    /// Most tasks held (2,000 by default; the oldest finished go first). The exact figures do not
    /// depend on it (D77): they are counters.
    public func holdTasks(atMost n: Int) { state.withLock { $0.taskLimit = max(1, n) } }

    func update(_ body: (inout CeleryState) -> Void) { state.withLock { body(&$0) } }

    /// The known queues: configured, consumed by a worker, or seen in a task event.
    public func queueNames() -> [String] {
        let s = current
        var names = Set(transport.queues)
        for w in s.workers.values { names.formUnion(w.queues ?? []) }
        for t in s.tasks.values where !t.queue.isEmpty { names.insert(t.queue) }
        names.formUnion(pausedQueues.withLock { $0.keys })
        return names.sorted()
    }

    /// Depth of each queue: the sum of its priority lists; reserved = its messages in `unacked`
    /// (prefetched or waiting for their ETA), by routing key.
    public func queues(now: Double = Date().timeIntervalSince1970) throws -> [QueueInfo] {
        let names = queueNames()
        guard !names.isEmpty else { return [] }
        let lengths = try broker.pipeline(names.flatMap { transport.queueKeys($0).map { ["LLEN", $0] as [any RedisArgument] } })
        var reserved: [String: Int] = [:]
        for value in try broker.send("HVALS", transport.unackedKey).array ?? [] {
            guard let bytes = value.bytes, let rk = Self.unackedRoutingKey(bytes) else { continue }
            reserved[rk, default: 0] += 1
        }
        let s = current
        let pausedSet = Set(pausedQueues.withLock { $0.keys })
        let steps = transport.prioritySteps.count
        return names.enumerated().map { i, name in
            let pending = lengths[i * steps..<(i + 1) * steps].reduce(0) { $0 + Int($1.int ?? 0) }
            let consumers = s.workers.values.filter { $0.isOnline(now: now) && ($0.queues ?? []).contains(name) }.count
            return QueueInfo(
                name: name, stage: "celery", pending: pending, reserved: reserved[name] ?? 0, paused: pausedSet.contains(name), consumers: consumers)
        }
    }

    /// The routing key of an `unacked` value `[envelope, exchange, routing_key]`.
    public static func unackedRoutingKey(_ bytes: [UInt8]) -> String? {
        guard let v = try? JSONTree.parse(bytes), let a = v.array, a.count >= 3 else { return nil }
        if let rk = a[2].string, !rk.isEmpty { return rk }
        return a[0]["properties"]?["delivery_info"]?["routing_key"]?.string
    }

    /// Purge (celery-redis-protocol.md §e): LLEN + DEL of every priority list of the queue in one
    /// script, so nothing arrives between the count and the delete; returns the number of messages
    /// removed. More than `atMost` (the operator's confirmed figure): nothing is deleted and the
    /// refusal names the count. `unacked` is left alone.
    public func purge(_ queue: String, atMost limit: Int? = nil) throws -> Int {
        let reply = try broker.evaluate(Self.purgeScript, keys: transport.queueKeys(queue), args: [limit ?? -1])
        guard let a = reply.array, a.count == 2, let purged = a[0].int, let n = a[1].int else {
            throw CeleryConfigError("purge of \(queue): unexpected reply \(reply)")
        }
        if purged == 0, let limit { throw ActionFailure.impactExceeded(confirmed: limit, actual: Int(n)) }
        return Int(n)
    }

    /// KEYS: the queue's lists; ARGV[1]: the most messages that may go (-1: any). Returns {deleted?, count}.
    static let purgeScript = RedisScript(
        """
        local n = 0
        for _, k in ipairs(KEYS) do n = n + redis.call('LLEN', k) end
        local limit = tonumber(ARGV[1])
        if limit >= 0 and n > limit then return {0, n} end
        for _, k in ipairs(KEYS) do redis.call('DEL', k) end
        return {1, n}
        """)

    /// The snapshot with Celery's workers, queues and tasks merged in (replacing rows of the same id).
    public func merge(into snapshot: Snapshot, now: Double = Date().timeIntervalSince1970) -> Snapshot {
        var out = snapshot
        let s = current
        let workers = s.workerInfos(now: now)
        let ids = Set(workers.map(\.id))
        out.workers = out.workers.filter { !ids.contains($0.id) } + workers
        do {
            let queues = try queues(now: now)
            let names = Set(queues.map(\.name))
            out.queues = out.queues.filter { !names.contains($0.name) } + queues
        } catch { log("celery: reading the queues failed: \(error)") }
        let jobs = s.jobs()
        let jobIDs = Set(jobs.map(\.id))
        out.jobs.recent = (jobs + out.jobs.recent.filter { !jobIDs.contains($0.id) }).sorted { $0.updatedAt > $1.updatedAt }
        out.jobs.failed = jobs.filter { $0.status == .failed } + out.jobs.failed.filter { !jobIDs.contains($0.id) }
        s.mergeFigures(into: &out, now: now)
        return out
    }
}
