import AgentOSAdapters
import AgentOSCore
import AgentOSCrypto
import AgentOSWorld
import ArgumentParser
import ConsoleApp
import ConsoleConfig
import ConsoleTerminal
import ConsoleUI
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `agentos` / `agentos console`: the full-screen console.
struct ConsoleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Start the console (embedded simulator by default; live with --redis and --postgres).",
        discussion: """
            Keys: 1-8 views, Tab next view, j/k move, Enter open, / filter, : palette, ? help, q quit.
            Actions: . opens the view's action menu, each action's key runs it on the selection, ! retries the last failed one.
            Embedded, the operator is admin and the audit chain is kept under the data directory (logs/audit).
            Settings: flags > environment (AGENTOS_*) > the configuration file (--config, else $XDG_CONFIG_HOME/agentos/config.yaml) > defaults.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Environment name shown in the status line (e.g. production, staging).")
    var env: String?

    @OptionGroup var simulator: SimulatorOptions

    @Flag(help: "No colours, attributes only (also when NO_COLOR is set).")
    var monochrome = false

    @OptionGroup var dataDir: DataDirOption

    @OptionGroup var settings: SettingsOptions

    @Option(help: ArgumentHelp("Theme: a name under themes/ (default, light, high-contrast, monochrome) or a file.", valueName: "name|path"))
    var theme: String?

    @Option(help: ArgumentHelp("Key map: a name under keymaps/ (default, vim) or a file.", valueName: "name|path"))
    var keymap: String?

    @Flag(help: "Hide every action; the status line says READ-ONLY.")
    var readonly = false

    @Flag(help: "Clicks (tabs, rows, dialog buttons) and the wheel; off by default so the terminal's copy and paste keeps working.")
    var mouse = false

    @Flag(help: "Wallboard: read-only, no cursor, the chosen views in turn with large figures.")
    var wallboard = false

    @Option(help: ArgumentHelp("Views the wallboard cycles through (comma-separated).", valueName: "views"))
    var wallboardViews: String?

    @Option(help: ArgumentHelp("Seconds each wallboard view stays.", valueName: "seconds"))
    var wallboardInterval: Double?

    @Option(help: ArgumentHelp("The view the console starts on.", valueName: "view"))
    var defaultView: String?

    @Option(help: ArgumentHelp("Seconds between snapshot re-reads.", valueName: "seconds"))
    var refreshInterval: Double?

    /// This binary (themes/ and keymaps/ are looked up beside it and above it).
    static var executable: URL? {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0])
        return exe.path.contains("/") ? exe : Bundle.main.executableURL
    }

    /// What the flags say (nil: not given).
    func flagLayer() throws(ConfigError) -> SettingsLayer {
        var l = SettingsLayer(origin: "flag")
        l.redisURL = connection.redis
        l.postgresURL = connection.postgres
        l.namespace = connection.namespace
        l.brokerPrefix = connection.brokerPrefix.isEmpty ? nil : connection.brokerPrefix
        l.celery = connection.celery
        l.environment = env
        l.theme = theme
        l.keymap = keymap
        l.readOnly = readonly ? true : nil
        l.wallboard = wallboard ? true : nil
        l.mouse = mouse ? true : nil
        l.wallboardInterval = wallboardInterval
        l.refreshInterval = refreshInterval
        if let v = defaultView {
            guard let view = ViewID.named(v) else { throw ConfigError(file: "command line", line: nil, key: "--default-view", "unknown view '\(v)'") }
            l.defaultView = view
        }
        if let list = wallboardViews {
            l.wallboardViews = try list.split(separator: ",").map { name throws(ConfigError) in
                guard let view = ViewID.named(String(name).trimmingCharacters(in: .whitespaces)) else {
                    throw ConfigError(file: "command line", line: nil, key: "--wallboard-views", "unknown view '\(name)'")
                }
                return view
            }
        }
        try settings.apply(to: &l)
        return l
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let resolved: ConsoleSettings
        do throws(ConfigError) {
            resolved = try SettingsLoader.load(configFlag: settings.config, environment: environment, flags: try flagLayer())
        } catch {
            throw fail(error.description, code: ExitStatus.config)
        }
        let log = ConsoleLogging.start(resolved, environment: environment)
        let user = Identity.current()
        let dataDirectory = DataDirectory.resolve(dataDir.path)
        let actor = ConsoleActions.consoleActor()
        let backend: ConsoleBackend
        let connectionState: ConnectionState
        let role: String
        if resolved.redisURL != nil || resolved.postgresURL != nil {
            guard let redisURL = resolved.redisConnectionURL, let postgresURL = resolved.postgresConnectionString else {
                throw fail(
                    "live mode needs both Redis and PostgreSQL (--redis/--postgres, AGENTOS_*_URL or the configuration file)",
                    code: ExitStatus.usage)
            }
            let live: LiveConsoleBackend
            do {
                live = try LiveConsoleBackend(
                    redisURL: redisURL, postgresURL: postgresURL,
                    namespace: Namespace(resolved.namespace, brokerPrefix: resolved.brokerPrefix), user: user,
                    dataDirectory: dataDirectory, actor: actor, warmIntervalMillis: Int(resolved.warmInterval * 1000),
                    celery: try resolved.celery.map { try CeleryTransport(options: $0, place: "celery (from \(resolved.origins["celery"] ?? "?"))") },
                    log: { log.warning("\($0)") })
            } catch {
                log.error("live backend failed: \(ConsoleSettings.redact(String(describing: error)))")
                throw fail(ConsoleSettings.redact(String(describing: error)), code: ExitStatus.config)
            }
            backend = live
            role = live.role
            connectionState = ConnectionState(mode: "live", environment: resolved.environment ?? "live")
        } else {
            backend = EmbeddedConsoleBackend(
                world: EmbeddedWorld(config: SimulatorConfig(seed: simulator.seed, rate: simulator.rate)),
                dataDirectory: dataDirectory, actor: actor)
            role = "admin"
            connectionState = ConnectionState(mode: "embedded", environment: resolved.environment ?? "embedded")
        }
        var state = AppState(connection: connectionState, operatorInfo: OperatorInfo(user: user, role: role), now: Date())
        let look = ConsoleLook.resolve(resolved, environment: environment, monochromeFlag: monochrome, executable: Self.executable)
        for problem in look.problems {
            // Logged as the notice it becomes.
            state.notify("\(problem) (using the default)", .error)
        }
        state.keyMap = look.keyMap
        state.readOnly = resolved.readOnly
        state.refreshInterval = resolved.refreshInterval
        state.view = resolved.defaultView
        if resolved.wallboard {
            App.startWallboard(&state, Wallboard(views: resolved.wallboardViews, interval: resolved.wallboardInterval))
        }
        log.info(
            "console starting",
            metadata: [
                "mode": "\(connectionState.mode)", "role": "\(role)", "theme": "\(look.theme.name)",
                "keymap": "\(look.keyMap.name)", "readonly": "\(state.readOnly)", "wallboard": "\(resolved.wallboard)"
            ])
        do {
            let runtime = ConsoleRuntime(state: state, backend: backend)
            runtime.onNotice = { notice in
                let text = ConsoleSettings.redact(notice.text)
                switch notice.level {
                case .error: log.error("\(text)")
                case .warning: log.warning("\(text)")
                case .info, .success: log.info("\(text)")
                }
            }
            let status = try runtime.run(theme: look.theme, monochrome: look.monochrome, mouse: resolved.mouse)
            log.info("console stopped")
            // The problems again, now that the screen is back: they name file, line and key.
            for problem in look.problems { FileHandle.standardError.write(Data("agentos: \(problem) (used the default)\n".utf8)) }
            if status != 0 { throw ExitCode(status) }
        } catch let failure as CursesScreen.Failure {
            throw fail(failure.description, code: ExitStatus.usage)
        }
    }
}

/// Options every command that reads the settings shares: the file and the log.
struct SettingsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Configuration file (default: $AGENTOS_CONFIG, else $XDG_CONFIG_HOME/agentos/config.yaml).", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: String?

    @Option(help: ArgumentHelp("Log file (default: $XDG_STATE_HOME/agentos/agentos.log).", valueName: "path"))
    var logFile: String?

    func apply(to layer: inout SettingsLayer) throws(ConfigError) {
        if let level = logLevel {
            guard let l = ConsoleConfig.LogLevel(rawValue: level.lowercased()) else {
                throw ConfigError(
                    file: "command line", line: nil, key: "--log-level",
                    "unknown level '\(level)' (one of: \(ConsoleConfig.LogLevel.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            layer.logLevel = l
        }
        layer.logFile = logFile
    }
}

/// swift-log to the log file, never the screen.
enum ConsoleLogging {
    static func start(_ s: ConsoleSettings, environment: [String: String]) -> Logger {
        let url = s.logFile.map { URL(fileURLWithPath: $0) } ?? Paths.defaultLogFile(environment)
        do {
            let factory = try FileLogHandler.factory(url, level: s.logLevel.swiftLog)
            LoggingSystem.bootstrap(factory)
        } catch {
            FileHandle.standardError.write(Data("agentos: cannot write the log file \(url.path): \(error.localizedDescription)\n".utf8))
            LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        }
        var log = Logger(label: "console")
        log[metadataKey: "pid"] = "\(ProcessInfo.processInfo.processIdentifier)"
        log.debug(
            "settings",
            metadata: [
                "redis": "\(s.redisURL.map(ConsoleSettings.redact) ?? "-")",
                "postgres": "\(s.postgresURL.map(ConsoleSettings.redact) ?? "-")",
                "redis_password": "\(s.redisPassword?.description ?? "-")",
                "postgres_password": "\(s.postgresPassword?.description ?? "-")",
                "namespace": "\(s.namespace)", "environment": "\(s.environment ?? "-")"
            ])
        return log
    }
}

/// The operator is the Unix account running the process, never $USER.
enum Identity {
    static func current() -> String {
        guard let pw = getpwuid(getuid()), let name = pw.pointee.pw_name else { return "uid\(getuid())" }
        return String(cString: name)
    }
}

/// The console's action pipeline: the dispatcher, the executor that measures impact, and what
/// the backend cannot run.
struct ConsoleActions: Sendable {
    let dispatcher: ActionDispatcher
    let executor: ActionExecutor
    let unsupported: @Sendable (ActionSpec) -> String?

    /// The operator: the Unix account and SSH source of `currentActor`, a random session per console.
    static func consoleActor() -> Actor {
        var actor = currentActor()
        actor.sessionID = SecureRandom.hexToken(8)
        actor.userAgent = "agentos-console/\(AgentOSVersion.string)"
        return actor
    }

    /// The embedded pipeline: the JSONL audit chain under the data directory, the operator as
    /// admin, in-memory rate limits, idempotency keys and breakers, the simulator as executor.
    static func embedded(world: EmbeddedWorld, dataDirectory: URL, user: String) -> ConsoleActions {
        let executor = EmbeddedActionExecutor(world: world)
        do {
            let audit = try FileAuditLog(directory: dataDirectory.appendingPathComponent("logs/audit"))
            let scrubber = PIIScrubber(key: try AuditKey.load(directory: dataDirectory))
            let dispatcher = ActionDispatcher(
                .init(
                    audit: audit, permissions: StaticPermissions([user: Grant(role: .admin)]),
                    rateLimits: InMemoryRateLimitStore(), idempotency: InMemoryIdempotencyStore(),
                    breakers: InMemoryBreakerStore(), executor: executor,
                    cascade: CacheAndBusCascade(cache: world.cache, bus: world.bus), scrubber: scrubber))
            return ConsoleActions(dispatcher: dispatcher, executor: executor, unsupported: { executor.unsupported($0) })
        } catch {
            return unavailable("no audit log under \(dataDirectory.path): \(error)", cascade: CacheAndBusCascade(cache: world.cache, bus: world.bus))
        }
    }

    /// Without an audit trail nothing may run: every action is greyed with `why`, and a dispatch
    /// that gets through anyway stops at the (failing) audit stage.
    static func unavailable(_ why: String, cascade: ActionCascade) -> ConsoleActions {
        let reason = "actions unavailable: \(why)"
        let executor = UnavailableExecutor(reason: reason)
        let audit = InMemoryAuditLog()
        audit.failing = true
        let dispatcher = ActionDispatcher(
            .init(
                audit: audit, permissions: StaticPermissions(), rateLimits: InMemoryRateLimitStore(),
                idempotency: InMemoryIdempotencyStore(), breakers: InMemoryBreakerStore(), executor: executor,
                cascade: cascade, scrubber: PIIScrubber(key: SecureRandom.bytes(32))))
        return ConsoleActions(dispatcher: dispatcher, executor: executor, unsupported: { _ in reason })
    }

    /// The executor of a console whose pipeline could not be built.
    struct UnavailableExecutor: ActionExecutor {
        let reason: String
        func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult { throw .unavailable(reason) }
        func jobOwner(_ id: String) throws(ActionFailure) -> String? { nil }
        func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? { nil }
    }

    func impact(_ spec: ActionSpec, _ payload: Payload) -> Int? {
        do { return try executor.impact(spec, payload) } catch { return nil }
    }
}

/// The embedded default: the in-memory fleet.
final class EmbeddedConsoleBackend: ConsoleBackend {
    let world: EmbeddedWorld
    let actor: Actor
    let actions: ConsoleActions

    init(world: EmbeddedWorld, dataDirectory: URL, actor: Actor) {
        self.world = world
        self.actor = actor
        actions = ConsoleActions.embedded(world: world, dataDirectory: dataDirectory, user: actor.user)
    }

    /// This console's requests: the embedded snapshot's action figures (live ones come from audit_logs).
    let history = InMemoryActionHistory()

    func dispatch(_ request: ActionRequest) -> ActionReport {
        let started = SystemActionClock().nowMillis()
        let report = actions.dispatcher.dispatch(request)
        history.record(ActionHistoryEntry(report, user: request.actor.effectiveUser, startedMillis: started))
        return report
    }
    func impact(_ spec: ActionSpec, _ payload: Payload) -> Int? { actions.impact(spec, payload) }
    func unavailableReason(_ spec: ActionSpec) -> String? { actions.unsupported(spec) }
    func loadSnapshot() throws -> Snapshot {
        var snapshot = try world.dataManager.snapshot().0
        snapshot.system.actions = history.figures(nowMillis: SystemActionClock().nowMillis())
        return snapshot
    }
    func subscribe() -> AsyncStream<BusMessage> { world.bus.subscribe() }
    func jobHistory(_ id: String) throws -> [JobEvent] { world.read { $0.events(ofJob: id) } }
    /// The simulated fleet's configuration is not versioned: no history.
    func configHistory(_ key: String) throws -> [ConfigChange] { [] }
    func start() {
        world.start()
        let world = self.world
        // Re-warm the cache like the live leader does, so reloads see the fleet move.
        Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                _ = try? world.dataManager.rebuild()
            }
        }
    }
    func stop() { world.stop() }
    func links() -> (redis: ConnectionState.Link, postgres: ConnectionState.Link)? { nil }
}

/// Live: Redis (cache, bus) and PostgreSQL (the tables).
final class LiveConsoleBackend: ConsoleBackend {
    let dataManager: AdminDataManager
    let bus: RedisEventBus
    let postgres: PostgresClient
    let role: String
    let actor: Actor
    let actions: ConsoleActions
    /// Written behind the actions; drained when the console stops.
    let history: PostgresActionHistory?
    private let warmer = Mutex<Task<Void, Never>?>(nil)

    /// Real Celery workers (`--celery`): followed by the monitor, merged into every snapshot.
    let celery: CeleryMonitor?

    init(
        redisURL: String, postgresURL: String, namespace: Namespace, user: String, dataDirectory: URL, actor: Actor,
        warmIntervalMillis: Int = 5_000, celery transport: CeleryTransport? = nil, log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        var config = try RedisConfiguration(url: redisURL)
        config.clientName = "agentos-console"
        let redis = RedisClient(config)
        postgres = PostgresClient(postgresURL)
        bus = RedisEventBus(redis: redis, namespace: namespace, source: "console@\(ProcessInfo.processInfo.hostName)")
        let cache = RedisSnapshotCache(redis: redis, namespace: namespace)
        let manager = AdminDataManager(
            cache: cache, source: PostgresSnapshotSource(postgres: postgres, redis: redis, namespace: namespace), bus: bus,
            options: .init(
                warmIntervalMillis: warmIntervalMillis,
                owner: "console-\(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)"))
        dataManager = manager
        celery = transport.map { CeleryMonitor(redis: redis, transport: $0, log: log) }
        role = ((try? PostgresPermissionSource(postgres: postgres).grant(for: user)) ?? nil)?.role.rawValue ?? "readonly"
        self.actor = actor
        do {
            let live = try LiveActions(
                redis: redis, postgres: postgres, namespace: namespace, dataDirectory: dataDirectory, postgresURL: postgresURL,
                dataManager: manager, cache: cache, bus: bus, pgDump: ProcessInfo.processInfo.environment["AGENTOS_PG_DUMP"],
                celery: celery)
            actions = ConsoleActions(dispatcher: live.dispatcher, executor: live.routedExecutor, unsupported: { _ in nil })
            history = live.history
        } catch {
            actions = ConsoleActions.unavailable("\(error)", cascade: CacheAndBusCascade(cache: cache, bus: bus))
            history = nil
        }
    }

    func dispatch(_ request: ActionRequest) -> ActionReport { actions.dispatcher.dispatch(request) }
    func impact(_ spec: ActionSpec, _ payload: Payload) -> Int? { actions.impact(spec, payload) }
    func unavailableReason(_ spec: ActionSpec) -> String? { actions.unsupported(spec) }

    private let health = Mutex<(redis: ConnectionState.Link, postgres: ConnectionState.Link)>((.unknown, .unknown))
    private let failures = Mutex(0)

    func loadSnapshot() throws -> Snapshot {
        do {
            var (snapshot, origin) = try dataManager.snapshot()
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

    /// The bus, and with Celery a reload (at most every 250 ms) whenever Celery's state changed:
    /// the next snapshot merges it, so the views follow Celery's events within a second.
    func subscribe() -> AsyncStream<BusMessage> {
        guard let monitor = celery else { return bus.subscribe() }
        let upstream = bus.subscribe()
        return AsyncStream { continuation in
            let forward = Task.detached {
                for await m in upstream { continuation.yield(m) }
                continuation.finish()
            }
            let ticker = Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    if monitor.takeChange() { continuation.yield(.changedElsewhere) }
                }
            }
            continuation.onTermination = { _ in
                forward.cancel()
                ticker.cancel()
            }
        }
    }

    func configHistory(_ key: String) throws -> [ConfigChange] { try ConfigHistory.load(postgres, key: key) }

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

    func start() {
        celery?.start()
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
        celery?.stop()
        warmer.withLock { $0?.cancel() }
        history?.drain()
    }
}
