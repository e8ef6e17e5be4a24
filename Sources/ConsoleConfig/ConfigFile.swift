import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation

/// The configuration file (`$XDG_CONFIG_HOME/agentos/config.yaml` or `--config PATH`), in the
/// same YAML as the themes and key maps. Every key is optional:
///
/// ```yaml
/// redis:                              # or just the URL: redis: redis://cache:6379/0
///   url: redis://agentos@cache:6379/0
///   password_env: REDIS_PASSWORD      # or password_file: /run/secrets/redis (never echoed)
///   read_from: replica                # behind Sentinel: snapshot reads from a replica (D81); default master
/// postgres:
///   url: postgresql://agentos@db:5432/agentos
///   password_file: /run/secrets/pg
/// namespace: agentos
/// broker_prefix: ""
/// celery: { global_keyprefix: "prod:", queues: [celery] }   # real Celery workers (README: Real Celery)
/// environment: { name: production, badge: red }   # or environment: staging
/// refresh_interval: 5                 # seconds between snapshot re-reads
/// warm_interval: 1                    # seconds between cache warms (the leader's)
/// theme: default                      # a name under themes/ or a path
/// keymap: vim                         # a name under keymaps/ or a path
/// keys: { bindings: { reload: [F5] } }   # your overrides, merged on top of the key map
/// default_view: jobs
/// readonly: false
/// mouse: false                        # clicks and the wheel (the terminal's copy and paste then needs Shift)
/// osc52: false                        # Y copies the selected id to the clipboard through the terminal
/// hints: true                         # the one-line key hint bar above the status line (H toggles it)
/// hidden_columns: { jobs: [worker, owner] }   # per view, the columns left out (ctrl-w picks them; the console rewrites this)
/// wallboard: { enabled: false, views: [dashboard, workers, analytics], interval: 10 }
/// log: { level: info, file: ~/.local/state/agentos/agentos.log }
/// bus:                                # D66: the deployment's bus key (or AGENTOS_BUS_KEY[_FILE])
///   key_file: /run/secrets/agentos-bus   # or key_env: NAME, or key: (then the file must be 0600)
///   key_id: k2
///   previous_key_file: /run/secrets/agentos-bus.old   # accepted during a rotation
///   previous_key_id: k1
/// ```
public enum ConfigFile {
    static let topKeys = [
        "redis", "postgres", "namespace", "broker_prefix", "celery", "environment", "refresh_interval", "warm_interval", "theme",
        "keymap", "keys", "default_view", "readonly", "mouse", "osc52", "hints", "hidden_columns", "wallboard", "log", "bus"
    ]

    /// Reads and checks a configuration file. `environment` answers `password_env`.
    /// Refused (as ssh refuses a key) when someone else owns it or may write it, or when it holds a
    /// password (`password:`, or one in a URL) and someone else may read it.
    public static func load(_ url: URL, environment: [String: String]) throws(ConfigError) -> SettingsLayer {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigError(file: url.path, line: nil, key: nil, "cannot read: \((error as NSError).localizedDescription)")
        }
        let layer = try parse(text, file: url.path, environment: environment)
        // A password written in it: `password:` (its source is this file) or one inside a URL.
        let inline =
            [layer.redisPassword, layer.postgresPassword, layer.busKey, layer.busPreviousKey].contains {
                $0?.source.hasPrefix(url.path + ":") == true
            }
            || layer.redisURL.map { SecretRedactor.containsPassword($0, bareRedisUserinfo: layer.redisPassword == nil) } == true
            || layer.postgresURL.map { SecretRedactor.containsPassword($0) } == true
        try FilePermissions.check(url.path, holdsPassword: inline)
        return layer
    }

    public static func parse(_ text: String, file: String, environment: [String: String]) throws(ConfigError) -> SettingsLayer {
        let r = YAMLReader(file: file)
        let root = try r.root(text)
        var layer = SettingsLayer(origin: file)
        for entry in try r.entries(root, allowed: topKeys) {
            switch r.name(entry) {
            case "redis":
                (layer.redisURL, layer.redisPassword) = try connection(r, entry, environment, also: ["read_from"])
                layer.redisReadFrom = try redisReadFrom(r, entry)
            case "postgres":
                (layer.postgresURL, layer.postgresPassword) = try connection(r, entry, environment)
            case "namespace":
                let ns = try r.string(entry)
                guard !ns.isEmpty, !ns.contains(" ") else { throw r.fail(entry, "a namespace is one word") }
                layer.namespace = ns
            case "broker_prefix": layer.brokerPrefix = try r.string(entry)
            case "celery":
                // A mapping of Celery's transport options (or the same as one JSON string), kept as JSON.
                if case .scalar = entry.node { layer.celery = try r.string(entry) } else { layer.celery = try r.json(entry) }
            case "environment":
                if case .scalar = entry.node {
                    layer.environment = try r.string(entry)
                } else {
                    for e in try r.entries(entry, allowed: ["name", "badge"]) {
                        if r.name(e) == "name" { layer.environment = try r.string(e) } else { layer.badge = try ThemeFile.color(r, e, limit: 256) }
                    }
                }
            case "refresh_interval": layer.refreshInterval = try r.number(entry, in: 0.5...3600)
            case "warm_interval": layer.warmInterval = try r.number(entry, in: 0.1...3600)
            case "theme": layer.theme = try r.string(entry)
            case "keymap": layer.keymap = try r.string(entry)
            case "keys":
                // Checked now (so `config check` finds its errors), applied when the key map is built.
                var probe = KeyMapLayers.standard
                try probe.apply(r, entry, allowExtends: false, locator: nil, depth: 0)
                layer.keys = .init(file: file, text: text)
            case "default_view": layer.defaultView = try view(r, entry)
            case "readonly": layer.readOnly = try r.bool(entry)
            case "mouse": layer.mouse = try r.bool(entry)
            case "osc52": layer.osc52 = try r.bool(entry)
            case "hints": layer.hints = try r.bool(entry)
            case "hidden_columns": layer.hiddenColumns = try hiddenColumns(r, entry)
            case "wallboard":
                if case .scalar = entry.node {
                    layer.wallboard = try r.bool(entry)
                } else {
                    for e in try r.entries(entry, allowed: ["enabled", "views", "interval"]) {
                        switch r.name(e) {
                        case "enabled": layer.wallboard = try r.bool(e)
                        case "views": layer.wallboardViews = try r.items(e).map { v throws(ConfigError) in try view(r, v) }
                        default: layer.wallboardInterval = try r.number(e, in: 2...3600)
                        }
                    }
                }
            case "bus":
                let allowed = ["key", "key_env", "key_file", "key_id", "previous_key", "previous_key_env", "previous_key_file", "previous_key_id"]
                for e in try r.entries(entry, allowed: allowed) {
                    let name = r.name(e)
                    let previous = name.hasPrefix("previous_")
                    if name.hasSuffix("_id") {
                        let id = try r.string(e)
                        guard BusKey.validID(id) else { throw r.fail(e, "a key id is 1–32 of A-Z a-z 0-9 _ -") }
                        if previous { layer.busPreviousKeyID = id } else { layer.busKeyID = id }
                        continue
                    }
                    if (previous ? layer.busPreviousKey : layer.busKey) != nil {
                        throw r.fail(e, "give one of \(previous ? "previous_key, previous_key_env, previous_key_file" : "key, key_env, key_file")")
                    }
                    let secret = try self.secret(
                        r, e, kind: String(name.dropFirst(previous ? 9 : 0)).replacingOccurrences(of: "key", with: "password"), environment)
                    if previous { layer.busPreviousKey = secret } else { layer.busKey = secret }
                }
            default: // log
                for e in try r.entries(entry, allowed: ["level", "file"]) {
                    if r.name(e) == "level" {
                        let s = try r.string(e)
                        guard let level = LogLevel(rawValue: s.lowercased()) else {
                            throw r.fail(e, "unknown level '\(s)' (one of: \(LogLevel.allCases.map(\.rawValue).joined(separator: ", ")))")
                        }
                        layer.logLevel = level
                    } else {
                        layer.logFile = (try r.string(e) as NSString).expandingTildeInPath
                    }
                }
            }
        }
        return layer
    }

    static func view(_ r: YAMLReader, _ v: YAMLReader.Value) throws(ConfigError) -> ViewID {
        let s = try r.string(v)
        guard let view = ViewID.named(s) else {
            throw r.fail(v, "unknown view '\(s)' (one of: \(ViewID.allCases.map { $0.aliases[0] }.joined(separator: ", ")))")
        }
        return view
    }

    /// `redis: URL` or `redis: { url, password | password_env | password_file }` (and the keys `also`
    /// allows, read by their own functions).
    static func connection(_ r: YAMLReader, _ v: YAMLReader.Value, _ env: [String: String], also: [String] = []) throws(ConfigError) -> (
        String?, Secret?
    ) {
        if case .scalar = v.node { return (try r.string(v), nil) }
        var url: String?
        var secret: Secret?
        for e in try r.entries(v, allowed: ["url", "password", "password_env", "password_file"] + also) where !also.contains(r.name(e)) {
            if r.name(e) != "url" && secret != nil { throw r.fail(e, "give one of password, password_env, password_file") }
            if r.name(e) == "url" { url = try r.string(e) } else { secret = try self.secret(r, e, kind: r.name(e), env) }
        }
        return (url, secret)
    }

    /// `redis: { read_from: master | replica }` (D81): where snapshot reads go behind Sentinel.
    static func redisReadFrom(_ r: YAMLReader, _ v: YAMLReader.Value) throws(ConfigError) -> String? {
        if case .scalar = v.node { return nil }
        guard let e = try r.entries(v).first(where: { r.name($0) == "read_from" }) else { return nil }
        let value = try r.string(e).lowercased()
        guard value == "master" || value == "replica" else { throw r.fail(e, "read_from is master or replica, not '\(value)'") }
        return value
    }

    /// `password` (`key`) inline, `password_env` (a variable's name) or `password_file` (a path, whose
    /// permissions are checked as ssh checks a key's).
    static func secret(_ r: YAMLReader, _ e: YAMLReader.Value, kind: String, _ env: [String: String]) throws(ConfigError) -> Secret {
        switch kind {
        case "password": return Secret(try r.string(e), source: "\(r.file):\(e.line ?? 0)")
        case "password_env":
            let name = try r.string(e)
            guard let value = env[name], !value.isEmpty else { throw r.fail(e, "environment variable \(name) is not set") }
            return Secret(value, source: "env \(name)")
        default:
            let path = (try r.string(e) as NSString).expandingTildeInPath
            return try readSecretFile(path) { () throws(ConfigError) in throw r.fail(e, "cannot read the password file \(path)") }
        }
    }

    /// A password or key file: refused unless only its owner (you or root) may read and write it.
    static func readSecretFile(_ path: String, unreadable: () throws(ConfigError) -> Never) throws(ConfigError) -> Secret {
        try FilePermissions.check(path, holdsPassword: true)
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            try unreadable()
        }
        return Secret(text.trimmingCharacters(in: .newlines), source: "file \(path)")
    }

    /// Applies the configuration's `keys:` section on top of `layers`.
    public static func applyKeys(_ keys: SettingsLayer.KeysSection, to layers: inout KeyMapLayers) throws(ConfigError) {
        let r = YAMLReader(file: keys.file)
        let root = try r.root(keys.text)
        guard let section = try r.entries(root).first(where: { r.name($0) == "keys" }) else { return }
        try layers.apply(r, section, allowExtends: false, locator: nil, depth: 0)
    }
}

/// The settings the environment gives (`AGENTOS_*`; `NO_COLOR` is read by the console itself).
public enum EnvironmentSettings {
    public static let variables = [
        "AGENTOS_REDIS_URL", "AGENTOS_POSTGRES_URL", "AGENTOS_REDIS_PASSWORD", "AGENTOS_POSTGRES_PASSWORD",
        "AGENTOS_NAMESPACE", "AGENTOS_BROKER_PREFIX", "AGENTOS_ENV", "AGENTOS_ENV_BADGE", "AGENTOS_REFRESH_INTERVAL",
        "AGENTOS_WARM_INTERVAL", "AGENTOS_THEME", "AGENTOS_KEYMAP", "AGENTOS_DEFAULT_VIEW", "AGENTOS_READONLY",
        "AGENTOS_WALLBOARD", "AGENTOS_MOUSE", "AGENTOS_LOG_LEVEL", "AGENTOS_LOG_FILE", "AGENTOS_BUS_KEY", "AGENTOS_BUS_KEY_FILE",
        "AGENTOS_BUS_KEY_ID", "AGENTOS_BUS_PREVIOUS_KEY", "AGENTOS_BUS_PREVIOUS_KEY_FILE", "AGENTOS_BUS_PREVIOUS_KEY_ID"
    ]

    public static func layer(_ env: [String: String]) throws(ConfigError) -> SettingsLayer {
        var l = SettingsLayer(origin: "env")
        func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        func fail(_ name: String, _ message: String) -> ConfigError { ConfigError(file: "environment", line: nil, key: name, message) }
        func number(_ name: String, _ range: ClosedRange<Double>) throws(ConfigError) -> Double? {
            guard let s = value(name) else { return nil }
            guard let d = Double(s), range.contains(d) else {
                throw fail(name, "expected a number in \(range.lowerBound)…\(range.upperBound), not '\(s)'")
            }
            return d
        }
        func bool(_ name: String) throws(ConfigError) -> Bool? {
            guard let s = value(name) else { return nil }
            guard let b = YAMLReader.parseBool(s) else { throw fail(name, "expected true or false, not '\(s)'") }
            return b
        }
        l.redisURL = value("AGENTOS_REDIS_URL")
        l.postgresURL = value("AGENTOS_POSTGRES_URL")
        l.redisPassword = value("AGENTOS_REDIS_PASSWORD").map { Secret($0, source: "env AGENTOS_REDIS_PASSWORD") }
        l.postgresPassword = value("AGENTOS_POSTGRES_PASSWORD").map { Secret($0, source: "env AGENTOS_POSTGRES_PASSWORD") }
        l.namespace = value("AGENTOS_NAMESPACE")
        l.brokerPrefix = env["AGENTOS_BROKER_PREFIX"]
        l.celery = value("AGENTOS_CELERY")
        l.environment = value("AGENTOS_ENV")
        if let badge = value("AGENTOS_ENV_BADGE") {
            guard let c = ThemeColor(parsing: badge) else { throw fail("AGENTOS_ENV_BADGE", "not a colour: '\(badge)'") }
            l.badge = c
        }
        l.refreshInterval = try number("AGENTOS_REFRESH_INTERVAL", 0.5...3600)
        l.warmInterval = try number("AGENTOS_WARM_INTERVAL", 0.1...3600)
        l.theme = value("AGENTOS_THEME")
        l.keymap = value("AGENTOS_KEYMAP")
        if let v = value("AGENTOS_DEFAULT_VIEW") {
            guard let view = ViewID.named(v) else { throw fail("AGENTOS_DEFAULT_VIEW", "unknown view '\(v)'") }
            l.defaultView = view
        }
        l.readOnly = try bool("AGENTOS_READONLY")
        l.wallboard = try bool("AGENTOS_WALLBOARD")
        l.mouse = try bool("AGENTOS_MOUSE")
        l.osc52 = try bool("AGENTOS_OSC52")
        l.hints = try bool("AGENTOS_HINTS")
        if let v = value("AGENTOS_LOG_LEVEL") {
            guard let level = LogLevel(rawValue: v.lowercased()) else { throw fail("AGENTOS_LOG_LEVEL", "unknown level '\(v)'") }
            l.logLevel = level
        }
        l.logFile = value("AGENTOS_LOG_FILE")
        // The bus keys (D66): the key itself or a file holding it (checked like a password file).
        func key(_ name: String) throws(ConfigError) -> Secret? {
            if let v = value(name) {
                if value(name + "_FILE") != nil { throw fail(name, "give \(name) or \(name)_FILE, not both") }
                return Secret(v, source: "env \(name)")
            }
            guard let path = value(name + "_FILE") else { return nil }
            return try ConfigFile.readSecretFile((path as NSString).expandingTildeInPath) { () throws(ConfigError) in
                throw fail(name + "_FILE", "cannot read the key file \(path)")
            }
        }
        l.busKey = try key("AGENTOS_BUS_KEY")
        l.busPreviousKey = try key("AGENTOS_BUS_PREVIOUS_KEY")
        l.busKeyID = value("AGENTOS_BUS_KEY_ID")
        l.busPreviousKeyID = value("AGENTOS_BUS_PREVIOUS_KEY_ID")
        return l
    }
}

/// Loads the settings from every layer: the file (`--config`, else `$AGENTOS_CONFIG`, else the
/// XDG default when it exists), the environment and the flags.
public enum SettingsLoader {
    public static func configFile(flag: String?, environment: [String: String]) -> (url: URL, required: Bool) {
        if let flag { return (URL(fileURLWithPath: (flag as NSString).expandingTildeInPath), true) }
        if let path = environment["AGENTOS_CONFIG"], !path.isEmpty { return (URL(fileURLWithPath: path), true) }
        return (Paths.defaultConfigFile(environment), false)
    }

    public static func load(configFlag: String?, environment: [String: String], flags: SettingsLayer) throws(ConfigError) -> ConsoleSettings {
        let (url, required) = configFile(flag: configFlag, environment: environment)
        var layers: [SettingsLayer] = []
        if required || FileManager.default.fileExists(atPath: url.path) {
            layers.append(try ConfigFile.load(url, environment: environment))
        }
        layers.append(try EnvironmentSettings.layer(environment))
        layers.append(flags)
        let settings = ConsoleSettings.merge(layers)
        _ = try settings.busKeys() // a bad key is exit 78 now, not at the first message
        return settings
    }
}
