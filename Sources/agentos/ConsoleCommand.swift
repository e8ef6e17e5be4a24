import AgentOSAdapters
import AgentOSCore
import AgentOSWorld
import ArgumentParser
import ConsoleApp
import ConsoleConfig
import ConsoleTerminal
import Foundation
import Logging

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

    @OptionGroup var celery: CeleryOption

    @Option(help: "Environment name shown in the status line (e.g. production, staging).")
    var env: String?

    @OptionGroup var simulator: SimulatorOptions

    @Flag(help: "No colours, attributes only (also when NO_COLOR is set).")
    var monochrome = false

    @OptionGroup var dataDir: DataDirOption

    @OptionGroup var settings: SettingsOptions

    @Option(
        help: ArgumentHelp("Theme: a name under themes/ (default, light, high-contrast, monochrome) or a file.", valueName: "name|path"),
        completion: Completions.themes)
    var theme: String?

    @Option(help: ArgumentHelp("Key map: a name under keymaps/ (default, vim) or a file.", valueName: "name|path"), completion: Completions.keymaps)
    var keymap: String?

    @Flag(help: "Hide every action; the status line says READ-ONLY.")
    var readonly = false

    @Flag(help: "Clicks (tabs, rows, dialog buttons) and the wheel; off by default so the terminal's copy and paste keeps working.")
    var mouse = false

    @Flag(help: "Y copies the selected id to the clipboard through the terminal (OSC 52); off by default.")
    var osc52 = false

    @Flag(help: "Wallboard: read-only, no cursor, the chosen views in turn with large figures.")
    var wallboard = false

    @Option(help: ArgumentHelp("Views the wallboard cycles through (comma-separated).", valueName: "views"))
    var wallboardViews: String?

    @Option(help: ArgumentHelp("Seconds each wallboard view stays.", valueName: "seconds"))
    var wallboardInterval: Double?

    @Option(help: ArgumentHelp("The view the console starts on.", valueName: "view"), completion: Completions.views)
    var defaultView: String?

    @Option(help: ArgumentHelp("Seconds between snapshot re-reads.", valueName: "seconds"))
    var refreshInterval: Double?

    /// This binary (themes/ and keymaps/ are looked up beside it and above it).
    static var executable: URL? {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0])
        return exe.path.contains("/") ? exe : Bundle.main.executableURL
    }

    /// What the console's own flags say (nil: not given), on top of the connection's.
    func addFlags(to l: inout SettingsLayer) throws(ConfigError) {
        l.environment = env
        l.theme = theme
        l.keymap = keymap
        l.readOnly = readonly ? true : nil
        l.wallboard = wallboard ? true : nil
        l.mouse = mouse ? true : nil
        l.osc52 = osc52 ? true : nil
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
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let connected = try connection.resolve(celery: celery, addFlags)
        let resolved = connected.settings
        let celeryTransport = try connected.celery()
        let log = ConsoleLogging.start(resolved, environment: environment)
        var user = Identity.current()
        var advisory = false
        let dataDirectory = DataDirectory.resolve(dataDir.path)
        let actor = ConsoleActions.consoleActor()
        let backend: ConsoleBackend
        let connectionState: ConnectionState
        let role: String
        if resolved.redisURL != nil || resolved.postgresURL != nil {
            guard let redisURL = connected.redisURL, let postgresURL = connected.postgresURL else {
                throw fail(
                    "live mode needs both Redis and PostgreSQL (--redis/--postgres, AGENTOS_*_URL or the configuration file)",
                    code: ExitStatus.usage)
            }
            let live: LiveConsoleBackend
            do {
                live = try LiveConsoleBackend(
                    redisURL: redisURL, postgresURL: postgresURL,
                    namespace: connected.names, user: user,
                    dataDirectory: dataDirectory, actor: actor, warmIntervalMillis: Int(resolved.warmInterval * 1000),
                    celery: celeryTransport,
                    mode: resolved.wallboard ? "wallboard" : resolved.readOnly ? "readonly" : "interactive", log: { log.warning("\($0)") })
            } catch {
                log.error("live backend failed: \(SecretRedactor.redact(String(describing: error)))")
                throw fail(SecretRedactor.redact(String(describing: error)), code: ExitStatus.config)
            }
            backend = live
            role = live.role
            user = live.actor.user
            if let warning = live.identity?.sharedWarning {
                log.warning("\(warning)")
                FileHandle.standardError.write(Data("agentos: \(warning)\n".utf8))
                advisory = true
            }
            connectionState = ConnectionState(mode: "live", environment: resolved.environment ?? "live")
        } else {
            backend = EmbeddedConsoleBackend(
                world: EmbeddedWorld(
                    config: SimulatorConfig(seed: simulator.seed, rate: simulator.rate, scheduledShare: SimulatorConfig.fleetScheduledShare)),
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
        state.hintsShown = resolved.hints
        state.hiddenColumns = resolved.hiddenColumns
        // D66: a live console on a bus without a key says so on its status line.
        state.busUnsigned = connectionState.mode == "live" && !connected.names.busKeys.signed
        state.rbacAdvisory = advisory
        state.refreshInterval = resolved.refreshInterval
        state.view = resolved.defaultView
        let historyFile = Paths.paletteHistoryFile(environment)
        state.palette = PaletteState.load(historyFile)
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
            // The column picker's choices go to the configuration file this console read (or would have).
            let configFile = SettingsLoader.configFile(flag: connection.config, environment: environment).url
            runtime.onHiddenColumns = { screen, columns in try ConfigFile.saveHiddenColumns(screen, columns, in: configFile) }
            runtime.onNotice = { notice in
                let text = SecretRedactor.redact(notice.text)
                switch notice.level {
                case .error: log.error("\(text)")
                case .warning: log.warning("\(text)")
                case .info, .success: log.info("\(text)")
                }
            }
            let status = try runtime.run(theme: look.theme, monochrome: look.monochrome, mouse: resolved.mouse, osc52: resolved.osc52)
            log.info("console stopped")
            do { try runtime.palette.save(to: historyFile) } catch { log.warning("palette history not kept in \(historyFile.path): \(error)") }
            if let why = runtime.endedBecause {
                log.warning("\(why)")
                FileHandle.standardError.write(Data("agentos: \(why)\n".utf8))
            }
            // The problems again, now that the screen is back: they name file, line and key.
            for problem in look.problems { FileHandle.standardError.write(Data("agentos: \(problem) (used the default)\n".utf8)) }
            if status != 0 { throw ExitCode(status) }
        } catch let failure as CursesScreen.Failure {
            throw fail(failure.description, code: ExitStatus.usage)
        }
    }
}

/// Options the console and `config show` share: the log.
/// (`--config` is among the connection options, which every command reading the settings has.)
struct SettingsOptions: ParsableArguments {
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
                "redis": "\(s.redisURL.map { SecretRedactor.redact($0) } ?? "-")",
                "postgres": "\(s.postgresURL.map { SecretRedactor.redact($0) } ?? "-")",
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
