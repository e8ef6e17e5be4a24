import AgentOSCore

/// Where and how to connect to Redis, parsed from a URL:
///
/// - `redis://[[user]:password@]host[:port][/db]`
/// - `rediss://…` — TLS, with `?ca=PATH&cert=PATH&key=PATH&sni=NAME` (CA defaults to the system store)
/// - `unix:///path/to/redis.sock[?db=N&user=U&password=P]` (also `redis+unix://`)
/// - `redis-sentinel://[[user]:password@]host1:26379,host2:26379/mastername[/db]` — the master that
///   Redis Sentinel names (`rediss-sentinel://` with TLS to the sentinels and the master, same query
///   options as `rediss://`); `sentinel_user=`/`sentinel_password=` when the sentinels want their own;
///   `read_from=replica` sends snapshot reads to a replica of that master (D81).
///
/// The password is never part of `description`.
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unix(path: String)
        /// Whichever server the sentinels name as the master; asked on every connect (`SentinelMonitor`).
        case sentinel(Sentinel)
    }

    /// The sentinels to ask and the name of the master they watch.
    public struct Sentinel: Sendable, Hashable {
        public struct Node: Sendable, Hashable {
            public var host: String
            public var port: Int
            public init(host: String, port: Int) {
                self.host = host
                self.port = port
            }
        }

        public var nodes: [Node]
        public var masterName: String
        /// Credentials of the sentinels themselves (the URL's user and password are the master's).
        public var username: String?
        public var password: String?

        public init(nodes: [Node], masterName: String, username: String? = nil, password: String? = nil) {
            self.nodes = nodes
            self.masterName = masterName
            self.username = username
            self.password = password
        }

        var description: String {
            nodes.map { "\($0.host.contains(":") ? "[\($0.host)]" : $0.host):\($0.port)" }.joined(separator: ",") + "/" + masterName
        }
    }

    public struct TLS: Sendable, Hashable {
        /// PEM file with the CA certificates to trust; nil means the system's default store.
        public var caFile: String?
        /// Optional client certificate chain (PEM) and its private key.
        public var certFile: String?
        public var keyFile: String?
        /// Name to verify and send as SNI; defaults to the host.
        public var serverName: String?

        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.serverName = serverName
        }
    }

    /// Where snapshot reads go (`read_from=`, D81). Only the reads a caller routes with
    /// `RedisClient.read` follow it; writes, locks and pub/sub always go to the master.
    public enum ReadFrom: String, Sendable, Hashable {
        case master
        /// A replica the sentinels list, checked with ROLE to be a replica of the current master.
        case replica
    }

    public var endpoint: Endpoint
    public var readFrom: ReadFrom = .master
    /// Set only on `RedisClient`'s own replica pool: its connections go to a replica, not the master.
    var connectsToReplica = false
    public var tls: TLS?
    public var username: String?
    public var password: String?
    public var database: Int
    public var connectTimeoutMillis: Int
    public var commandTimeoutMillis: Int
    /// Sent as CLIENT SETNAME so operators can find the console's connections.
    public var clientName: String?
    /// The largest reply read (issue 18 item 4, D64): a reply that grows past it is refused and its
    /// connection dropped, so a huge value or list cannot take the console's memory. Twice the
    /// snapshot's own limit; the snapshot is refused earlier, unread, by its size.
    public var maxReplyBytes: Int = RedisConfiguration.defaultMaxReplyBytes
    public static let defaultMaxReplyBytes = 128 * 1024 * 1024

    public init(
        endpoint: Endpoint = .tcp(host: "127.0.0.1", port: 6379), tls: TLS? = nil,
        username: String? = nil, password: String? = nil, database: Int = 0,
        connectTimeoutMillis: Int = 2_000, commandTimeoutMillis: Int = 5_000, clientName: String? = nil
    ) {
        self.endpoint = endpoint
        self.tls = tls
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeoutMillis = connectTimeoutMillis
        self.commandTimeoutMillis = commandTimeoutMillis
        self.clientName = clientName
    }

    /// Parses a Redis URL; the error names the part that is wrong.
    public init(url: String) throws(RedisError) {
        func fail(_ why: String) -> RedisError { .invalidURL(SecretRedactor.redact(url), why) }
        guard let schemeEnd = url.range(of: "://") else { throw fail("missing scheme (expected redis://, rediss:// or unix://)") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = String(url[schemeEnd.upperBound...])
        var query: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = Self.percentDecode(String(kv[0])) else { throw fail("bad percent-encoding in query") }
                let value = kv.count > 1 ? Self.percentDecode(String(kv[1])) : ""
                guard let value else { throw fail("bad percent-encoding in query parameter \(name)") }
                query[name.lowercased()] = value
            }
            rest = String(rest[..<q])
        }
        self.init()
        switch scheme {
        case "unix", "redis+unix":
            guard rest.hasPrefix("/") else { throw fail("unix socket URL needs an absolute path") }
            guard let path = Self.percentDecode(rest) else { throw fail("bad percent-encoding in socket path") }
            endpoint = .unix(path: path)
            username = query["user"]
            password = query["password"]
            if let db = query["db"] {
                guard let n = Int(db), n >= 0 else { throw fail("db must be a non-negative integer, got \(db)") }
                database = n
            }
        case "redis", "rediss", "redis-sentinel", "rediss-sentinel":
            let viaSentinel = scheme.hasSuffix("-sentinel")
            var authority = rest
            var path = ""
            if let slash = rest.firstIndex(of: "/") {
                authority = String(rest[..<slash])
                path = String(rest[rest.index(after: slash)...])
            }
            if let at = authority.lastIndex(of: "@") {
                let userinfo = authority[..<at]
                authority = String(authority[authority.index(after: at)...])
                let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                guard let user = Self.percentDecode(String(parts[0])) else { throw fail("bad percent-encoding in user") }
                if parts.count == 2 {
                    guard let pass = Self.percentDecode(String(parts[1])) else { throw fail("bad percent-encoding in password") }
                    password = pass
                    username = user.isEmpty ? nil : user
                } else {
                    // redis://secret@host is the legacy "password only" form.
                    password = user
                }
            }
            if viaSentinel {
                var nodes: [Sentinel.Node] = []
                for part in authority.split(separator: ",", omittingEmptySubsequences: false) {
                    let (host, port) = try Self.hostAndPort(String(part), defaultPort: 26379, fail: fail)
                    nodes.append(Sentinel.Node(host: host, port: port))
                }
                let segments = path.split(separator: "/", omittingEmptySubsequences: false)
                guard let name = segments.first.flatMap({ Self.percentDecode(String($0)) }), !name.isEmpty else {
                    throw fail("a sentinel URL names its master: redis-sentinel://host:26379,…/mastername[/db]")
                }
                guard segments.count <= 2 else { throw fail("expected /mastername[/db] after the sentinels") }
                if segments.count == 2, !segments[1].isEmpty {
                    guard let n = Int(segments[1]), n >= 0 else {
                        throw fail("database must be a non-negative integer, got '\(segments[1])'")
                    }
                    database = n
                }
                endpoint = .sentinel(
                    Sentinel(nodes: nodes, masterName: name, username: query["sentinel_user"], password: query["sentinel_password"]))
            } else {
                let (host, port) = try Self.hostAndPort(authority, defaultPort: 6379, fail: fail)
                endpoint = .tcp(host: host, port: port)
                if !path.isEmpty {
                    guard let n = Int(path), n >= 0 else { throw fail("database must be a non-negative integer, got '\(path)'") }
                    database = n
                }
            }
            if let db = query["db"] {
                guard let n = Int(db), n >= 0 else { throw fail("db must be a non-negative integer, got \(db)") }
                database = n
            }
            if scheme.hasPrefix("rediss") {
                tls = TLS(
                    caFile: query["ca"] ?? query["cacert"], certFile: query["cert"], keyFile: query["key"],
                    serverName: query["sni"])
                if (tls?.certFile == nil) != (tls?.keyFile == nil) {
                    throw fail("a client certificate needs both cert= and key=")
                }
            }
        default:
            throw fail("unsupported scheme '\(scheme)' (expected redis, rediss, redis-sentinel, rediss-sentinel or unix)")
        }
        if let from = query["read_from"] {
            guard let parsed = ReadFrom(rawValue: from.lowercased()) else { throw fail("read_from must be master or replica, got '\(from)'") }
            guard parsed == .master || scheme.hasSuffix("-sentinel") else {
                throw fail("read_from=replica needs a redis-sentinel:// URL (the sentinels list the replicas)")
            }
            readFrom = parsed
        }
        if let t = query["timeout"] {
            guard let ms = Int(t), ms > 0 else { throw fail("timeout must be a positive number of milliseconds") }
            commandTimeoutMillis = ms
        }
        if let t = query["connect_timeout"] {
            guard let ms = Int(t), ms > 0 else { throw fail("connect_timeout must be a positive number of milliseconds") }
            connectTimeoutMillis = ms
        }
    }

    /// `host[:port]` or `[v6][:port]`; an empty host is the loopback address.
    private static func hostAndPort(
        _ authority: String, defaultPort: Int, fail: (String) -> RedisError
    ) throws(RedisError) -> (String, Int) {
        var host = authority
        var port = defaultPort
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw fail("port must be 1-65535") }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw fail("port must be 1-65535")
            }
            port = p
        }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    /// The same server and credentials, another logical database.
    public func selecting(database db: Int) -> RedisConfiguration {
        var copy = self
        copy.database = db
        return copy
    }

    public var endpointDescription: String {
        switch endpoint {
        case .tcp(let host, let port): return "\(tls == nil ? "redis" : "rediss")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .unix(let path): return "unix://\(path)"
        case .sentinel(let sentinel): return "\(tls == nil ? "redis" : "rediss")-sentinel://\(sentinel.description)"
        }
    }

    /// URL-like form with the password hidden.
    public var description: String {
        let user = username.map { "\($0)@" } ?? (password != nil ? "***@" : "")
        switch endpoint {
        case .tcp(let host, let port):
            return "\(tls == nil ? "redis" : "rediss")://\(user)\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        case .unix(let path):
            return "unix://\(user)\(path)?db=\(database)"
        case .sentinel(let sentinel):
            return "\(tls == nil ? "redis" : "rediss")-sentinel://\(user)\(sentinel.description)/\(database)"
                + (readFrom == .replica ? "?read_from=replica" : "")
        }
    }

    static func percentDecode(_ s: String) -> String? {
        guard s.contains("%") else { return s }
        var bytes = [UInt8]()
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%") {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
