import AgentOSAdapters
import AgentOSCore
import ArgumentParser
import ConsoleConfig
import Foundation

@main
struct AgentOS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentos",
        abstract: "AgentOS Console: a keyboard-driven terminal admin console for the AgentOS video pipeline.",
        version: AgentOSVersion.string,
        subcommands: [
            ConsoleCommand.self, ConfigCommand.self, ActionCommand.self, CanICommand.self, AuditCommand.self, SnapshotCommand.self, SimCommand.self,
            SessionsCommand.self, OperatorCommand.self, Migrate.self,
            Check.self, MetricsCommand.self
        ],
        defaultSubcommand: ConsoleCommand.self
    )
}

/// Exit codes shared by every subcommand (documented in the README).
enum ExitStatus {
    static let usage: Int32 = 64 // EX_USAGE
    static let unavailable: Int32 = 69 // EX_UNAVAILABLE: a backend cannot be reached
    static let software: Int32 = 70 // EX_SOFTWARE: an internal error
    static let config: Int32 = 78 // EX_CONFIG: bad configuration
}

struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("PostgreSQL URL or key/value connection string (no password: see AGENTOS_POSTGRES_PASSWORD).", valueName: "url"))
    var postgres: String?

    @Option(name: .long, help: ArgumentHelp("Redis URL (redis://, rediss://, unix://; no password: see AGENTOS_REDIS_PASSWORD).", valueName: "url"))
    var redis: String?

    @Option(name: .long, help: ArgumentHelp("kombu global_keyprefix of the broker lists in DB0 (Celery's default: none).", valueName: "prefix"))
    var brokerPrefix: String = ""

    @Option(help: "Key and channel namespace (live mode; default: AGENTOS_NAMESPACE, else agentos).")
    var namespace: String?

    @Option(help: ArgumentHelp("Configuration file (default: $AGENTOS_CONFIG, else $XDG_CONFIG_HOME/agentos/config.yaml).", valueName: "path"))
    var config: String?

    /// What these flags say (nil: not given).
    func layer() -> SettingsLayer {
        var l = SettingsLayer(origin: "flag")
        l.redisURL = redis
        l.postgresURL = postgres
        l.namespace = namespace
        l.brokerPrefix = brokerPrefix.isEmpty ? nil : brokerPrefix
        return l
    }

    /// The settings every subcommand uses, through the console's loader (flags > environment >
    /// configuration file > defaults): `more` adds a command's own flags. A bad file or value exits 78,
    /// a password in `--redis`/`--postgres` 64.
    func resolve(celery: CeleryOption? = nil, _ more: (inout SettingsLayer) throws(ConfigError) -> Void = { _ in }) throws -> Settings {
        var flags = layer()
        flags.celery = celery?.celery
        let settings: ConsoleSettings
        do throws(ConfigError) {
            try more(&flags)
            settings = try SettingsLoader.load(configFlag: config, environment: ProcessInfo.processInfo.environment, flags: flags)
        } catch {
            throw fail(error.description, code: ExitStatus.config)
        }
        try refusePasswords(settings)
        return Settings(settings)
    }

    /// Any local user reads a command line (/proc/PID/cmdline), so a password may not be on one. Redis
    /// reads `redis://word@host` as a password only when none is given elsewhere (else `word` is the user).
    func refusePasswords(_ s: ConsoleSettings) throws {
        for (flag, value, elsewhere, name, alternative) in [
            ("--redis", redis, s.redisPassword != nil, "AGENTOS_REDIS_PASSWORD", "redis.password_file or redis.password_env"),
            ("--postgres", postgres, true, "AGENTOS_POSTGRES_PASSWORD", "postgres.password_file or postgres.password_env, or ~/.pgpass")
        ] {
            guard let value, SecretRedactor.containsPassword(value, bareRedisUserinfo: !elsewhere) else { continue }
            throw fail(
                "\(flag) \(SecretRedactor.redact(value)) holds a password, which any local user can read on a command line: "
                    + "give the URL without it and the password in \(name), or in the configuration file (\(alternative))",
                code: ExitStatus.usage)
        }
    }

    /// The resolved settings as the backends want them.
    struct Settings {
        let settings: ConsoleSettings
        init(_ settings: ConsoleSettings) { self.settings = settings }
        /// The Redis URL with its password put in (for the client only: never print it).
        var redisURL: String? { settings.redisConnectionURL }
        /// The PostgreSQL string with its password put in (for libpq only).
        var postgresURL: String? { settings.postgresConnectionString }
        var live: Bool { settings.redisURL != nil || settings.postgresURL != nil }
        /// The names, with the bus keys (D66; checked when the settings were loaded).
        var names: Namespace { Namespace(settings.namespace, brokerPrefix: settings.brokerPrefix, busKeys: (try? settings.busKeys()) ?? .none) }

        /// The Celery transport when Celery is configured (nil: the simulator's `{ns}:control` only), or exit 78.
        func celery() throws -> CeleryTransport? {
            guard let text = settings.celery else { return nil }
            let origin = settings.origins["celery"] ?? "?"
            do {
                return try CeleryTransport(options: text, place: origin == "flag" ? "--celery" : "celery (from \(origin))")
            } catch {
                throw fail("\(error)", code: ExitStatus.config)
            }
        }
    }
}

/// `--celery`, on every subcommand (D77): console, action, snapshot, check, can-i and config show
/// honour it; where Celery changes nothing (audit, sessions, operator, migrate, sim) it is refused
/// with the reason, never accepted and ignored.
struct CeleryOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Real Celery workers (live mode): the deployment's broker_transport_options as JSON, plus broker_db, queues, reply_timeout and result_db; '{}' for Celery's defaults (default: AGENTOS_CELERY).",
            valueName: "json"))
    var celery: String?

    /// Exit 64 when `--celery` was given to a command whose answer Celery does not change.
    func refuse(in command: String, _ why: String) throws {
        guard celery != nil else { return }
        throw fail("--celery has no meaning for `agentos \(command)`: \(why)", code: ExitStatus.usage)
    }
}

/// The simulated fleet: embedded by default, or `agentos sim`.
struct SimulatorOptions: ParsableArguments {
    @Option(help: "Seed of the simulator (same seed, same fleet).")
    var seed: UInt64 = 42

    @Option(help: "Activity of the simulator: 0.1 quiet … 1 normal … 100 incident storm.")
    var rate: Double = 1
}

func fail(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("agentos: \(TextSanitizer.clean(message, .multiLine))\n".utf8))
    return ExitCode(code)
}

/// The one way a `--json` answer reaches stdout: every string, keys too, cleaned by
/// `TextSanitizer.cleanJSON` (D64), so a field from the bus decodes to visible escapes.
enum JSONOutput {
    static func write(_ json: [UInt8]) throws {
        var out = try TextSanitizer.cleanJSON(json)
        out.append(0x0A)
        FileHandle.standardOutput.write(Data(out))
    }

    static func write(_ json: String) throws { try write(Array(json.utf8)) }

    static func write(object: Any, options: JSONSerialization.WritingOptions = [.sortedKeys]) throws {
        try write(Array(try JSONSerialization.data(withJSONObject: object, options: options)))
    }
}
