import AgentOSAdapters
import AgentOSCore
import ConsoleApp
import ConsoleTerminal
import Foundation
import Synchronization

/// Live: Redis (cache, bus) and PostgreSQL (the tables).
final class LiveConsoleBackend: ConsoleBackend {
    let dataManager: AdminDataManager
    let bus: RedisEventBus
    let postgres: PostgresClient
    let role: String
    let actor: Actor
    /// Who PostgreSQL says this console is (nil: the action pipeline could not be built).
    let identity: ServerIdentity?
    let actions: ConsoleActions
    /// Written behind the actions; drained when the console stops.
    let history: PostgresActionHistory?
    private let warmer = Mutex<Task<Void, Never>?>(nil)
    /// This console's row in DB6 (System Controls lists every console; system.session_terminate ends one).
    let sessions: ConsoleSessionStore
    private let session: Mutex<ConsoleSession>
    private let heartbeat = Mutex<Task<Void, Never>?>(nil)
    /// Messages this backend adds to the bus's (the heartbeat finding this session ended).
    private let local = Mutex<BoundedBusStream?>(nil)

    /// Real Celery workers (`--celery`): followed by the monitor, merged into every snapshot.
    let celery: CeleryMonitor?
    /// Scrubs job records before the console shows them (D76).
    let scrubber: PIIScrubber
    /// The SSOT cache, whose reads may go to a Redis replica (D81).
    private let snapshotCache: RedisSnapshotCache

    init(
        redisURL: String, postgresURL: String, namespace: Namespace, user: String, dataDirectory: URL, actor: Actor,
        warmIntervalMillis: Int = 5_000, celery transport: CeleryTransport? = nil, mode: String = "interactive",
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        var config = try RedisConfiguration(url: redisURL)
        config.clientName = "agentos-console"
        // The session row is this Redis user's own (D91); the audit names the same session.
        var actor = actor
        actor.sessionID = ConsoleSessionStore.sessionID(actor.sessionID, redisUser: config.username)
        let redis = RedisClient(config)
        postgres = PostgresClient(postgresURL)
        bus = RedisEventBus(redis: redis, namespace: namespace, source: "console@\(ProcessInfo.processInfo.hostName)")
        let cache = RedisSnapshotCache(redis: redis, namespace: namespace)
        snapshotCache = cache
        let manager = AdminDataManager(
            // Rebuilds read where the string says (`read_from=standby`: a standby, a little behind).
            cache: cache, source: PostgresSnapshotSource(postgres: postgres.reads, redis: redis, namespace: namespace), bus: bus,
            options: .init(
                warmIntervalMillis: warmIntervalMillis,
                owner: "console-\(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)"))
        dataManager = manager
        sessions = ConsoleSessionStore(redis: redis, namespace: namespace)
        celery = transport.map { CeleryMonitor(redis: redis, transport: $0, log: log) }
        scrubber = ConsoleActions.recordScrubber(dataDirectory: dataDirectory)
        let sharedRole = { [postgres] in ((try? PostgresPermissionSource(postgres: postgres).grant(for: user)) ?? nil)?.role.rawValue ?? "readonly" }
        do {
            let live = try LiveActions(
                redis: redis, postgres: postgres, namespace: namespace, dataDirectory: dataDirectory, postgresURL: postgresURL,
                dataManager: manager, cache: cache, bus: bus, pgDump: ProcessInfo.processInfo.environment["AGENTOS_PG_DUMP"],
                celery: celery)
            actions = ConsoleActions(dispatcher: live.dispatcher, executor: live.routedExecutor, unsupported: { _ in nil })
            history = live.history
            identity = live.identity
        } catch {
            actions = ConsoleActions.unavailable("\(error)", cascade: CacheAndBusCascade(cache: cache, bus: bus))
            history = nil
            identity = nil
        }
        // An operator's own login: the name and role the server reports (a login in no group: none, so nothing runs).
        if let identity, identity.enforced {
            role = identity.role?.rawValue ?? "none"
            self.actor = identity.actor(actor)
        } else {
            role = sharedRole()
            self.actor = actor
        }
        // The row names whom the server knows (an operator's login, as the audit does).
        let tty = ttyname(STDIN_FILENO).map { String(cString: $0) } ?? ""
        session = Mutex(
            ConsoleSession(
                id: self.actor.sessionID, user: self.actor.user, host: actor.ip ?? actor.host, pid: Int(getpid()), tty: tty,
                startedAt: Date(), lastSeen: Date(), view: "", mode: mode))
    }

    func dispatch(_ request: ActionRequest) -> ActionReport { actions.dispatcher.dispatch(request) }
    func impact(_ spec: ActionSpec, _ payload: Payload) -> Int? { actions.impact(spec, payload) }
    func preview(_ request: ActionRequest) -> PreviewReport { actions.dispatcher.preview(request) }

    func sessionEnded(_ kick: SessionKick) {
        // No beat may write the row again: the tombstone already stops it, this saves the round trips.
        heartbeat.withLock { $0?.cancel() }
        actions.dispatcher.recordSessionEnded(kick, actor: actor)
    }
    func unavailableReason(_ spec: ActionSpec) -> String? { actions.unsupported(spec) }

    private let health = Mutex<(redis: ConnectionState.Link, postgres: ConnectionState.Link)>((.unknown, .unknown))
    private let failures = Mutex(0)
    /// Cached snapshots refused by the bus's authentication already told to the console (D66).
    private let refusalsTold = Mutex(0)

    func loadSnapshot() throws -> Snapshot { try load { try $0.snapshot() } }
    func loadCurrentSnapshot() throws -> Snapshot { try load { try $0.currentSnapshot() } }

    private func load(_ read: (AdminDataManager) throws -> (Snapshot, AdminDataManager.Origin)) throws -> Snapshot {
        do {
            var (snapshot, origin) = try read(dataManager)
            // A forged or unsigned document in the cache was refused and rebuilt over (D66): the console counts it and says it once.
            let stats = dataManager.currentStats
            let untold = refusalsTold.withLock { told in
                defer { told = stats.refused }
                return told < stats.refused
            }
            if untold, let refused = stats.lastRefused { local.withLock { $0?.yield(.refused(refused)) } }
            if let celery { snapshot = celery.merge(into: snapshot) }
            failures.withLock { $0 = 0 }
            // A cache hit proves Redis; a rebuild proves both.
            health.withLock { h in
                h.redis = .up
                if origin == .rebuilt { h.postgres = .up } else if case .unknown = h.postgres { h.postgres = .up }
            }
            return snapshot
        } catch {
            let n = failures.withLock {
                $0 += 1
                return $0
            }
            let reason = String(describing: error)
            health.withLock { h in
                if error is RedisError { h.redis = .down(reason: reason, retryInMillis: 5_000, attempts: n) }
                if error is PostgresError { h.postgres = .down(reason: reason, retryInMillis: 5_000, attempts: n) }
            }
            throw error
        }
    }

    func links() -> (redis: ConnectionState.Link, postgres: ConnectionState.Link)? { health.withLock { $0 } }

    func redisReads() -> ConnectionState.Reads? {
        let route = snapshotCache.readRoute
        guard let text = route.statusText else { return nil }
        if case .fellBack = route { return .init(text: text, fellBack: true) }
        return .init(text: text, fellBack: false)
    }

    /// The bus, this backend's own messages (the heartbeat finding this session ended), and with
    /// Celery a reload (at most every 250 ms) whenever Celery's state changed: the next snapshot
    /// merges it, so the views follow Celery's events within a second.
    func subscribe() -> AsyncStream<BusMessage> {
        let upstream = bus.subscribe()
        let monitor = celery
        // Bounded like the bus's own stream (D64): a console that reads slowly loses messages and
        // hears `.overflowed`, it never holds them all.
        let out = BoundedBusStream()
        local.withLock { $0 = out }
        let forward = Task.detached {
            for await m in upstream { out.yield(m) }
            out.finish()
        }
        let ticker = monitor.map { monitor in
            Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    if monitor.takeChange() { out.yield(.changedElsewhere) }
                }
            }
        }
        out.onTermination {
            forward.cancel()
            ticker?.cancel()
        }
        return out.stream
    }

    func configHistory(_ key: String) throws -> [ConfigChange] { try ConfigHistory.load(postgres, key: key) }

    func findJobs(idPrefix: String, limit: Int) throws -> [Job] {
        try PostgresSnapshotSource.findJobs(postgres.reads, idPrefix: idPrefix, limit: limit)
    }

    func jobRecord(_ id: String) throws -> JobRecord? {
        try PostgresSnapshotSource.jobRecord(postgres.reads, id: id).map { $0.scrubbed(scrubber) }
    }

    func jobHistory(_ id: String) throws -> [JobEvent] {
        try postgres.query(
            """
            SELECT job_id::text AS job_id, ts, type, stage, status, worker_id, message FROM job_events
            WHERE job_id = $1::uuid ORDER BY id DESC LIMIT 200
            """, [id]
        ).rows.reversed().map { row in
            JobEvent(
                jobID: try row.get("job_id"), ts: try row.get("ts"), type: try row.get("type"), stage: try row.get("stage"),
                status: try row.get("status"), workerID: try row.get("worker_id"), message: try row.get("message"))
        }
    }

    func noteView(_ view: String) { session.withLock { $0.view = view } }

    func start() {
        celery?.start()
        heartbeat.withLock { task in
            task = Task.detached { [self] in
                var announced = false
                while !Task.isCancelled {
                    let row = session.withLock {
                        $0.lastSeen = Date()
                        return $0
                    }
                    // A missed beat is retried at the next; the TTL outlasts several.
                    switch Result(catching: { try sessions.heartbeat(row) }) {
                    case .success(let kick?):
                        local.withLock { $0?.yield(.sessionEnded(kick)) }
                        return
                    case .success(nil) where !announced:
                        // The other consoles list this one now, not at their next snapshot.
                        announced = (try? bus.publish(.sessionStarted(row))) != nil
                    case .success, .failure:
                        break
                    }
                    try? await Task.sleep(for: .seconds(ConsoleSessionStore.heartbeatSeconds))
                }
            }
        }
        let manager = dataManager
        warmer.withLock { task in
            task = Task.detached {
                while !Task.isCancelled {
                    _ = try? manager.warmIfLeader()
                    try? await Task.sleep(for: .milliseconds(manager.options.warmIntervalMillis))
                }
            }
        }
    }

    func stop() {
        heartbeat.withLock { $0?.cancel() }
        let id = session.withLock { $0.id }
        if (try? sessions.end(id)) == true { _ = try? bus.publish(.sessionEnded(sessionID: id)) }
        celery?.stop()
        warmer.withLock { $0?.cancel() }
        history?.drain()
    }
}
