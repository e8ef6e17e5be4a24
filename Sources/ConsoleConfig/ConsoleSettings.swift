import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation

/// A password: its text never appears in a description, a log line or JSON output.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    /// Where it came from (`env AGENTOS_REDIS_PASSWORD`, `file /run/secrets/pg`, `config.yaml:7`), shown instead.
    public let source: String
    public init(_ value: String, source: String) {
        self.value = value
        self.source = source
    }
    public var description: String { "<secret from \(source)>" }
    public var debugDescription: String { description }
}

/// One source of settings (the configuration file, the environment or the flags): nil means
/// "not said here". Layers merge with flags > environment > file > defaults.
public struct SettingsLayer: Sendable, Equatable {
    public var redisURL: String?
    public var postgresURL: String?
    public var redisPassword: Secret?
    public var postgresPassword: Secret?
    /// `redis.read_from` (D81): `master` or `replica`.
    public var redisReadFrom: String?
    public var namespace: String?
    public var brokerPrefix: String?
    public var environment: String?
    public var badge: ThemeColor?
    public var refreshInterval: Double?
    public var warmInterval: Double?
    public var theme: String?
    public var keymap: String?
    public var defaultView: ViewID?
    public var readOnly: Bool?
    public var wallboard: Bool?
    public var mouse: Bool?
    public var osc52: Bool?
    public var hints: Bool?
    /// `hidden_columns:` (per screen, the column names its table leaves out).
    public var hiddenColumns: [ViewID: Set<String>]?
    public var wallboardViews: [ViewID]?
    public var wallboardInterval: Double?
    public var logLevel: LogLevel?
    public var logFile: String?
    /// Real Celery (`celery:`): the transport options as a JSON object (checked by the live backend).
    public var celery: String?
    /// The configuration file's `keys:` section (user key overrides), applied on top of the key map.
    public var keys: KeysSection?
    /// The deployment's bus key and its id, and the previous ones during a rotation (D66).
    public var busKey: Secret?
    public var busKeyID: String?
    public var busPreviousKey: Secret?
    public var busPreviousKeyID: String?
    /// Where this layer's values came from, for `config show` (`flag`, `env`, a file path).
    public var origin: String

    public init(origin: String) { self.origin = origin }

    public struct KeysSection: Sendable, Equatable {
        public var file: String
        public var text: String
    }
}

/// swift-log's levels, by their names.
public enum LogLevel: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// The console's settings after merging every layer.
public struct ConsoleSettings: Sendable, Equatable {
    public var redisURL: String?
    public var postgresURL: String?
    public var redisPassword: Secret?
    public var postgresPassword: Secret?
    /// Where snapshot reads go behind Sentinel (`redis.read_from`, D81); nil: as the URL says (the master by default).
    public var redisReadFrom: String?
    public var namespace = "agentos"
    public var brokerPrefix = ""
    public var environment: String?
    public var badge: ThemeColor?
    public var refreshInterval: Double = 5
    public var warmInterval: Double = 5
    public var theme = "default"
    public var keymap = "default"
    public var defaultView: ViewID = .dashboard
    public var readOnly = false
    public var wallboard = false
    /// Clicks and the wheel (off by default: the terminal's copy and paste keeps working).
    public var mouse = false
    /// `Y` copies the selected id through the terminal (OSC 52): off by default, as some terminals
    /// let programs write the clipboard without asking.
    public var osc52 = false
    /// The key hint bar (k9s style), on by default; `H` hides it for the session.
    public var hints = true
    /// Per screen, the columns the operator hid with the column picker (`ctrl-w`), kept in the file.
    public var hiddenColumns: [ViewID: Set<String>] = [:]
    public var wallboardViews: [ViewID] = Wallboard.defaultViews
    public var wallboardInterval: Double = 10
    public var logLevel: LogLevel = .info
    public var logFile: String?
    public var keys: SettingsLayer.KeysSection?
    public var celery: String?
    /// The bus key (D66; never on a flag): snapshots, events and control messages are signed with it.
    public var busKey: Secret?
    public var busKeyID = "k1"
    /// Still accepted during a rotation (never used to sign).
    public var busPreviousKey: Secret?
    public var busPreviousKeyID: String?
    /// Which layer gave each setting that is not a default (`theme` → `env`).
    public var origins: [String: String] = [:]

    public init() {}

    /// Later layers win: pass them as file, environment, flags.
    public static func merge(_ layers: [SettingsLayer]) -> ConsoleSettings {
        var s = ConsoleSettings()
        for l in layers {
            func take<T>(_ value: T?, _ name: String, _ apply: (T) -> Void) {
                if let value {
                    apply(value)
                    s.origins[name] = l.origin
                }
            }
            take(l.redisURL, "redis.url") { s.redisURL = $0 }
            take(l.postgresURL, "postgres.url") { s.postgresURL = $0 }
            take(l.redisPassword, "redis.password") { s.redisPassword = $0 }
            take(l.postgresPassword, "postgres.password") { s.postgresPassword = $0 }
            take(l.redisReadFrom, "redis.read_from") { s.redisReadFrom = $0 }
            take(l.namespace, "namespace") { s.namespace = $0 }
            take(l.brokerPrefix, "broker_prefix") { s.brokerPrefix = $0 }
            take(l.celery, "celery") { s.celery = $0 }
            take(l.environment, "environment.name") { s.environment = $0 }
            take(l.badge, "environment.badge") { s.badge = $0 }
            take(l.refreshInterval, "refresh_interval") { s.refreshInterval = $0 }
            take(l.warmInterval, "warm_interval") { s.warmInterval = $0 }
            take(l.theme, "theme") { s.theme = $0 }
            take(l.keymap, "keymap") { s.keymap = $0 }
            take(l.defaultView, "default_view") { s.defaultView = $0 }
            take(l.readOnly, "readonly") { s.readOnly = $0 }
            take(l.wallboard, "wallboard.enabled") { s.wallboard = $0 }
            take(l.wallboardViews, "wallboard.views") { s.wallboardViews = $0 }
            take(l.mouse, "mouse") { s.mouse = $0 }
            take(l.osc52, "osc52") { s.osc52 = $0 }
            take(l.hints, "hints") { s.hints = $0 }
            take(l.hiddenColumns, "hidden_columns") { s.hiddenColumns = $0 }
            take(l.wallboardInterval, "wallboard.interval") { s.wallboardInterval = $0 }
            take(l.logLevel, "log.level") { s.logLevel = $0 }
            take(l.logFile, "log.file") { s.logFile = $0 }
            take(l.keys, "keys") { s.keys = $0 }
            take(l.busKey, "bus.key") { s.busKey = $0 }
            take(l.busKeyID, "bus.key_id") { s.busKeyID = $0 }
            take(l.busPreviousKey, "bus.previous_key") { s.busPreviousKey = $0 }
            take(l.busPreviousKeyID, "bus.previous_key_id") { s.busPreviousKeyID = $0 }
        }
        return s
    }

    /// The keys the bus is signed and verified with (none: unsigned); a key shorter than 16 bytes, a
    /// bad id or a previous key with the current one's id is a configuration error (exit 78).
    public func busKeys() throws(ConfigError) -> BusKeys {
        func key(_ secret: Secret?, _ id: String?, _ name: String) throws(ConfigError) -> BusKey? {
            guard let secret else { return nil }
            let id = id ?? "k1"
            guard BusKey.validID(id) else {
                throw ConfigError(file: origins["\(name)_id"] ?? "settings", line: nil, key: "\(name)_id", "'\(id)' is not 1–32 of A-Z a-z 0-9 _ -")
            }
            guard let k = BusKey(id: id, secret: secret.value) else {
                throw ConfigError(file: secret.source, line: nil, key: name, "a bus key is at least 16 bytes (openssl rand -hex 32 makes one)")
            }
            return k
        }
        let current = try key(busKey, busKeyID, "bus.key")
        let previous = try key(busPreviousKey, busPreviousKeyID ?? (busPreviousKey == nil ? nil : "k0"), "bus.previous_key")
        if let current, let previous, current.id == previous.id {
            throw ConfigError(
                file: "settings", line: nil, key: "bus.previous_key_id", "the previous bus key needs its own id (both are '\(current.id)')")
        }
        if current == nil, previous != nil {
            throw ConfigError(
                file: busPreviousKey?.source ?? "settings", line: nil, key: "bus.previous_key", "a previous bus key without a current one")
        }
        return BusKeys(current: current, previous: previous)
    }

    /// The badge colour: the configured one, else red for production and amber for staging.
    public var effectiveBadge: ThemeColor? {
        if let badge { return badge }
        switch environment?.lowercased() {
        case "production", "prod", "prd": return .rgb(0xd7, 0, 0)
        case "staging", "stage", "stg": return .rgb(0xd7, 0x87, 0)
        default: return nil
        }
    }

    /// The Redis URL with the password put in (for the client only: never print it), and
    /// `redis.read_from` as the URL's `read_from=` unless the URL says it itself.
    public var redisConnectionURL: String? {
        guard var url = redisURL else { return nil }
        if let readFrom = redisReadFrom, var parts = URLParts(url), !parts.query.contains(where: { URLParts.name(of: $0) == "read_from" }) {
            parts.query.append("read_from=\(readFrom)")
            url = parts.string
        }
        guard let password = redisPassword?.value else { return url }
        return Self.inject(password, into: url, queryKey: url.hasPrefix("unix:") ? "password" : nil)
    }

    /// The PostgreSQL URL or key/value string with the password put in (for libpq only).
    public var postgresConnectionString: String? {
        guard let url = postgresURL else { return nil }
        guard let password = postgresPassword?.value else { return url }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") { return Self.inject(password, into: url, queryKey: nil) }
        let escaped = password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return url + " password='\(escaped)'"
    }

    /// Puts the password into the URL's user information, or into the query item `queryKey`.
    static func inject(_ password: String, into url: String, queryKey: String?) -> String {
        guard var parts = URLParts(url) else { return url }
        let encoded = URLParts.encode(password)
        if let queryKey {
            parts.query = parts.query.filter { URLParts.name(of: $0) != queryKey } + ["\(queryKey)=\(encoded)"]
        } else {
            let user = parts.userinfo.map { $0.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0] } ?? ""
            parts.userinfo = "\(user):\(encoded)"
        }
        return parts.string
    }

    /// The settings as JSON-ready values, passwords replaced by where they come from.
    public func redactedDictionary() -> [String: Any] {
        var d: [String: Any] = [
            "namespace": namespace, "broker_prefix": brokerPrefix, "celery": celery as Any? ?? NSNull(), "refresh_interval": refreshInterval,
            "warm_interval": warmInterval,
            "theme": theme, "keymap": keymap, "default_view": defaultView.aliases[0], "readonly": readOnly, "mouse": mouse, "osc52": osc52,
            "hints": hints,
            "hidden_columns": Dictionary(uniqueKeysWithValues: hiddenColumns.map { (App.configName(of: $0.key), $0.value.sorted()) }),
            "wallboard": ["enabled": wallboard, "views": wallboardViews.map { $0.aliases[0] }, "interval": wallboardInterval] as [String: Any],
            "log": ["level": logLevel.rawValue, "file": logFile as Any? ?? NSNull()] as [String: Any],
            "origins": origins
        ]
        d["redis"] =
            [
                "url": redisURL.map { SecretRedactor.redact($0) } as Any? ?? NSNull(),
                "password": redisPassword.map { $0.description } as Any? ?? NSNull(),
                "read_from": redisReadFrom as Any? ?? NSNull()
            ]
            as [String: Any]
        d["postgres"] =
            [
                "url": postgresURL.map { SecretRedactor.redact($0) } as Any? ?? NSNull(),
                "password": postgresPassword.map { $0.description } as Any? ?? NSNull()
            ] as [String: Any]
        d["bus"] =
            [
                "key": busKey.map { $0.description } as Any? ?? NSNull(), "key_id": busKey == nil ? NSNull() : busKeyID as Any,
                "previous_key": busPreviousKey.map { $0.description } as Any? ?? NSNull(),
                "previous_key_id": busPreviousKey == nil ? NSNull() : (busPreviousKeyID ?? "k0") as Any,
                "signed": busKey != nil
            ] as [String: Any]
        d["environment"] =
            ["name": environment as Any? ?? NSNull(), "badge": effectiveBadge.map { $0.description } as Any? ?? NSNull()] as [String: Any]
        return d
    }
}

/// A connection URL cut the way the Redis and PostgreSQL parsers read it: `scheme://[userinfo@]hosts[/path][?query]`.
/// Hand-cut because URLComponents rejects the several `host:port` of Sentinel and multi-host URLs.
struct URLParts {
    var scheme: String
    var userinfo: String?
    var rest: String
    var query: [String]

    init?(_ url: String) {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        scheme = String(url[..<schemeEnd.lowerBound])
        var rest = url[schemeEnd.upperBound...]
        query = []
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...].split(separator: "&").map(String.init)
            rest = rest[..<q]
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        if let at = rest[..<authorityEnd].lastIndex(of: "@") {
            userinfo = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }
        self.rest = String(rest)
    }

    var string: String {
        scheme + "://" + (userinfo.map { $0 + "@" } ?? "") + rest + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    static func name(of item: String) -> String { (item.split(separator: "=", maxSplits: 1).first.map(String.init) ?? "").lowercased() }

    /// Only unreserved ASCII stays as is, so both parsers decode the same bytes.
    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))
            ?? s
    }
}
