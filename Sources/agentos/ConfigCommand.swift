import AgentOSAdapters
import AgentOSCore
import ArgumentParser
import ConsoleConfig
import ConsoleUI
import Foundation

/// `agentos config check|show`: the configuration file, its theme and key map.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check or show the console's configuration (file, environment, flags).",
        subcommands: [Check.self, Show.self]
    )

    /// `agentos config check [PATH]`: exit 0 when the file, its theme and key map load; 78 with
    /// `FILE:LINE: KEY: problem` lines otherwise.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file (default: the one the console would read) with its theme and key map.")

        @Argument(help: ArgumentHelp("The file (default: $AGENTOS_CONFIG, else $XDG_CONFIG_HOME/agentos/config.yaml).", valueName: "path"))
        var path: String?

        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            let (url, _) = SettingsLoader.configFile(flag: path, environment: env)
            var problems: [ConfigError] = []
            var layer: SettingsLayer?
            do throws(ConfigError) {
                layer = try ConfigFile.load(url, environment: env)
            } catch {
                problems.append(error)
            }
            var theme = "default"
            var keymap = "default"
            if let layer {
                let settings = ConsoleSettings.merge([layer])
                theme = settings.theme
                keymap = settings.keymap
                let look = ConsoleLook.resolve(settings, environment: env, monochromeFlag: false, executable: ConsoleCommand.executable)
                problems += look.problems
                if let celery = settings.celery {
                    do { _ = try CeleryTransport(options: celery, place: "celery") } catch {
                        problems.append(
                            ConfigError(
                                file: url.path, line: nil, key: "celery", error.description.replacingOccurrences(of: "celery: celery: ", with: "")))
                    }
                }
            }
            if json {
                let out: [String: Any] = [
                    "file": url.path, "ok": problems.isEmpty, "theme": theme, "keymap": keymap,
                    "problems": problems.map {
                        [
                            "file": $0.file, "line": $0.line as Any? ?? NSNull(), "key": $0.key as Any? ?? NSNull(),
                            "message": $0.message
                        ] as [String: Any]
                    }
                ]
                print(
                    String(
                        decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]),
                        as: UTF8.self))
            } else if problems.isEmpty {
                print("\(url.path): ok (theme \(theme), keymap \(keymap))")
            }
            guard problems.isEmpty else {
                if !json { for p in problems { FileHandle.standardError.write(Data("agentos: \(p)\n".utf8)) } }
                throw ExitCode(ExitStatus.config)
            }
        }
    }

    /// `agentos config show [--json]`: the merged settings and where each came from; passwords never.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the settings the console would use and where each comes from (passwords are never shown).")

        @OptionGroup var connection: ConnectionOptions

        @OptionGroup var settings: SettingsOptions

        @OptionGroup var celery: CeleryOption

        @Flag(help: "Print as JSON.")
        var json = false

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            // --celery is shown with its origin, once its options are valid (D77).
            let connected = try connection.resolve(celery: celery, settings.apply)
            _ = try connected.celery()
            let resolved = connected.settings
            let dict = resolved.redactedDictionary()
            if json {
                print(
                    String(
                        decoding: try JSONSerialization.data(withJSONObject: dict, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]),
                        as: UTF8.self))
                return
            }
            func line(_ key: String, _ value: Any?) {
                let origin = resolved.origins[key].map { "  (\($0))" } ?? "  (default)"
                print("\(key.padding(toLength: 20, withPad: " ", startingAt: 0)) \(value.map { "\($0)" } ?? "-")\(origin)")
            }
            line("redis.url", resolved.redisURL.map { SecretRedactor.redact($0) })
            line("redis.password", resolved.redisPassword?.description)
            line("redis.read_from", resolved.redisReadFrom)
            line("postgres.url", resolved.postgresURL.map { SecretRedactor.redact($0) })
            line("postgres.password", resolved.postgresPassword?.description)
            line("bus.key", resolved.busKey.map { "\($0) (id \(resolved.busKeyID))" } ?? "- (unsigned bus)")
            line("bus.previous_key", resolved.busPreviousKey.map { "\($0) (id \(resolved.busPreviousKeyID ?? "k0"))" })
            line("namespace", resolved.namespace)
            line("broker_prefix", resolved.brokerPrefix)
            line("celery", resolved.celery)
            line("environment.name", resolved.environment)
            line("environment.badge", resolved.effectiveBadge?.description)
            line("refresh_interval", resolved.refreshInterval)
            line("warm_interval", resolved.warmInterval)
            line("theme", resolved.theme)
            line("keymap", resolved.keymap)
            line("default_view", resolved.defaultView.aliases[0])
            line("readonly", resolved.readOnly)
            line("mouse", resolved.mouse)
            line("wallboard.enabled", resolved.wallboard)
            line("wallboard.views", resolved.wallboardViews.map { $0.aliases[0] }.joined(separator: ","))
            line("wallboard.interval", resolved.wallboardInterval)
            line("log.level", resolved.logLevel.rawValue)
            line("log.file", resolved.logFile ?? Paths.defaultLogFile(env).path)
        }
    }
}
