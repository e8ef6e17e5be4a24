import AgentOSAdapters
import AgentOSCore
import ArgumentParser
import Foundation

@main
struct AgentOS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentos",
        abstract: "AgentOS Console: a keyboard-driven terminal admin console for the AgentOS video pipeline.",
        version: AgentOSVersion.string,
        subcommands: [
            ConsoleCommand.self, ConfigCommand.self, ActionCommand.self, CanICommand.self, AuditCommand.self, SnapshotCommand.self, SimCommand.self,
            Migrate.self,
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
    @Option(name: .long, help: ArgumentHelp("PostgreSQL URL or key/value connection string.", valueName: "url"))
    var postgres: String?

    @Option(name: .long, help: ArgumentHelp("Redis URL (redis://, rediss://, unix://).", valueName: "url"))
    var redis: String?

    @Option(name: .long, help: ArgumentHelp("kombu global_keyprefix of the broker lists in DB0 (Celery's default: none).", valueName: "prefix"))
    var brokerPrefix: String = ""

    @Option(help: "Key and channel namespace (live mode; default: AGENTOS_NAMESPACE, else agentos).")
    var namespace: String?

    /// The contract's names for these options.
    var names: Namespace {
        Namespace(
            namespace ?? ProcessInfo.processInfo.environment["AGENTOS_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? "agentos",
            brokerPrefix: brokerPrefix)
    }

    var postgresURL: String? { postgres ?? ProcessInfo.processInfo.environment["AGENTOS_POSTGRES_URL"] }
    var redisURL: String? { redis ?? ProcessInfo.processInfo.environment["AGENTOS_REDIS_URL"] }
}

/// `--celery`, on the subcommands whose answer Celery changes (console, action, snapshot, check);
/// the others reject it as an unknown option rather than ignore it.
struct CeleryOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Real Celery workers (live mode): the deployment's broker_transport_options as JSON, plus broker_db, queues and reply_timeout; '{}' for Celery's defaults (default: AGENTOS_CELERY).",
            valueName: "json"))
    var celery: String?

    /// The Celery transport when Celery is configured (nil: the simulator's `{ns}:control` only).
    func transport() throws -> CeleryTransport? {
        guard let text = celery ?? ProcessInfo.processInfo.environment["AGENTOS_CELERY"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        return try CeleryTransport(options: text, place: celery != nil ? "--celery" : "AGENTOS_CELERY")
    }

    /// The transport, or exit 78 (EX_CONFIG) naming what is wrong with the options.
    func checkedTransport() throws -> CeleryTransport? {
        do { return try transport() } catch { throw fail("\(error)", code: ExitStatus.config) }
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
