import AgentOSCrypto
import Synchronization

/// A thread-safe client for one logical database: a small pool of connections, validated
/// before reuse and re-made on demand. After a failed connect it fails fast, with exponential
/// backoff and jitter, instead of making every caller wait on a dead server.
///
/// Commands are never retried automatically: after a lost connection it is unknown whether the
/// server executed the command, so the caller decides.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    /// Behind Sentinel: who knows the master. A new master ends the wait after a failed connect.
    public let sentinel: SentinelMonitor?
    private let maxIdle: Int
    private let state: Mutex<State>
    /// `read_from=replica` behind Sentinel (D81): the pool `read` tries first, on a replica of the master.
    private let replicaReads: RedisClient?
    private let reads: Mutex<ReadState>

    /// How often `read` measures a replica's lag (INFO replication on the replica, then on the master,
    /// D82): between measurements the route shows the last one, so a steady stream of snapshot reads
    /// sends the master nothing but this occasional INFO.
    public static let replicaLagIntervalNanos: UInt64 = 1_000_000_000

    /// Where the last `read` went, for the status line.
    public enum ReadRoute: Sendable, Equatable {
        /// Reads go to the master (`read_from` is not `replica`).
        case master
        /// Not read yet.
        case notYet
        /// The last read went to this replica, whose replication offset was `lagBytes` behind the
        /// master's at the last measurement, at most `replicaLagIntervalNanos` before (nil: the master's
        /// offset could not be read).
        case replica(address: String, lagBytes: Int?)
        /// The replica could not be read (why), so the last read went to the master.
        case fellBack(reason: String)

        /// The replica the last read went to.
        public var address: String? {
            if case .replica(let address, _) = self { return address }
            return nil
        }

        /// A few words for the status line (nil: nothing to say).
        public var statusText: String? {
            switch self {
            case .master, .notYet: return nil
            case .replica(let address, let lag): return "reads: replica \(address) lag \(lag.map { "\($0) B" } ?? "?")"
            case .fellBack(let reason): return "reads: master (replica: \(reason))"
            }
        }
    }

    private struct ReadState {
        var route: ReadRoute
        /// The last lag measurement (nil: measure on the next replica read).
        var lag: (address: String, at: UInt64, bytes: Int?)?
    }

    private struct State {
        var idle: [RedisConnection] = []
        var backoff = Backoff(baseMillis: 50, capMillis: 2_000)
        var retryAt: UInt64 = 0
        var lastError: RedisError?
        /// The sentinel monitor's generation when the last connect failed.
        var failedGeneration = 0
    }

    public init(_ configuration: RedisConfiguration, maxIdleConnections: Int = 4) {
        self.configuration = configuration
        self.sentinel = SentinelMonitor.shared(for: configuration)
        self.maxIdle = maxIdleConnections
        self.state = Mutex(State())
        var replica = configuration
        replica.connectsToReplica = true
        let readsReplica = sentinel != nil && configuration.readFrom == .replica && !configuration.connectsToReplica
        replicaReads = readsReplica ? RedisClient(replica, maxIdleConnections: maxIdleConnections) : nil
        reads = Mutex(ReadState(route: readsReplica ? .notYet : .master))
    }

    public convenience init(url: String, database: Int? = nil) throws(RedisError) {
        var config = try RedisConfiguration(url: url)
        if let database { config.database = database }
        self.init(config)
    }

    /// A client for another logical database on the same server, with the same credentials.
    public func selecting(database: Int) -> RedisClient {
        RedisClient(configuration.selecting(database: database), maxIdleConnections: maxIdle)
    }

    /// Runs `body` with a connection of the pool (made if needed), and returns it to the pool
    /// unless the connection broke.
    public func withConnection<T>(_ body: (RedisConnection) throws(RedisError) -> T) throws(RedisError) -> T {
        let connection = try checkout()
        do {
            let result = try body(connection)
            checkin(connection)
            return result
        } catch {
            if connection.isBroken { connection.close() } else { checkin(connection) }
            throw error
        }
    }

    /// A read that may be served a little behind the master (the snapshot's GET): with
    /// `read_from=replica` it goes to a replica of the current master and, at most once per
    /// `replicaLagIntervalNanos`, measures how far that replica is behind; when the replica cannot
    /// answer (down, gone in a failover, following another master) it goes to the master, and
    /// `readRoute` says why. Otherwise it is `withConnection`.
    public func read<T>(_ body: (RedisConnection) throws(RedisError) -> T) throws(RedisError) -> T {
        guard let replicaReads else { return try withConnection(body) }
        let onReplica = Result { () throws(RedisError) in
            try replicaReads.withConnection { (c) throws(RedisError) -> (T, String, measured: Bool, Int64?) in
                let value = try body(c)
                let address = c.endpoint.split(separator: "/").last.map(String.init) ?? c.endpoint
                guard claimLagMeasurement(on: address) else { return (value, address, false, nil) }
                return (value, address, true, Self.replicationField("slave_repl_offset", try c.send(["INFO", "replication"])))
            }
        }
        switch onReplica {
        case .success(let (value, address, measured, replicaOffset)):
            guard measured else {
                reads.withLock { s in s.route = .replica(address: address, lagBytes: s.lag?.address == address ? s.lag?.bytes : nil) }
                return value
            }
            // The master's offset after the replica's: the lag shown is an upper bound, never flattering.
            let masterOffset = try? withConnection { (c) throws(RedisError) in
                Self.replicationField("master_repl_offset", try c.send(["INFO", "replication"]))
            }
            let lag = replicaOffset.flatMap { r in masterOffset.flatMap { $0 }.map { Int(max(0, $0 - r)) } }
            reads.withLock { s in
                if s.lag?.address == address { s.lag?.bytes = lag }
                s.route = .replica(address: address, lagBytes: lag)
            }
            return value
        case .failure(let error):
            // The next replica read measures again: the lag seen before the failure says nothing now.
            reads.withLock { s in
                s.route = .fellBack(reason: error.description)
                s.lag = nil
            }
            return try withConnection(body)
        }
    }

    /// Whether this replica read measures the lag: the first on `address` and the first once
    /// `replicaLagIntervalNanos` have passed (claimed under the lock, so concurrent reads measure once).
    private func claimLagMeasurement(on address: String) -> Bool {
        let now = Monotonic.nanos()
        return reads.withLock { s in
            if let last = s.lag, last.address == address, now - last.at < Self.replicaLagIntervalNanos { return false }
            s.lag = (address, now, s.lag?.address == address ? s.lag?.bytes : nil)
            return true
        }
    }

    /// Where the last `read` went.
    public var readRoute: ReadRoute { reads.withLock { $0.route } }

    /// A number of INFO replication's `name:value` lines.
    static func replicationField(_ name: String, _ info: RedisValue) -> Int64? {
        guard let text = info.string else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix(name + ":") {
            return Int64(line.dropFirst(name.count + 1))
        }
        return nil
    }

    /// Sends one command; error replies are thrown as typed errors.
    @discardableResult
    public func send(_ args: any RedisArgument...) throws(RedisError) -> RedisValue {
        try send(args)
    }

    @discardableResult
    public func send(_ args: [any RedisArgument]) throws(RedisError) -> RedisValue {
        try withConnection { (c) throws(RedisError) in try c.send(args) }
    }

    /// Sends the commands in one write; replies (and error replies as `.error`) in order.
    public func pipeline(_ commands: [[any RedisArgument]]) throws(RedisError) -> [RedisValue] {
        if commands.isEmpty { return [] }
        return try withConnection { (c) throws(RedisError) in try c.pipeline(commands) }
    }

    /// Runs a Lua script by SHA; loads it again when the server answers NOSCRIPT
    /// (after a restart or SCRIPT FLUSH).
    @discardableResult
    public func evaluate(_ script: RedisScript, keys: [any RedisArgument] = [], args: [any RedisArgument] = []) throws(RedisError) -> RedisValue {
        try withConnection { (c) throws(RedisError) in try c.evaluate(script, keys: keys, args: args) }
    }

    /// Closes idle connections (open ones close when their current user returns them).
    public func shutdown() {
        let idle = state.withLock { s -> [RedisConnection] in
            let all = s.idle
            s.idle.removeAll()
            return all
        }
        idle.forEach { $0.close() }
        replicaReads?.shutdown()
    }

    private func checkout() throws(RedisError) -> RedisConnection {
        enum Taken {
            case connection(RedisConnection)
            case wait(Int, String)
            case connect
        }
        while true {
            let generation = sentinel?.generation ?? 0
            let taken: Taken = state.withLock { s in
                while let c = s.idle.popLast() {
                    if c.isStale {
                        c.close()
                        continue
                    }
                    return .connection(c)
                }
                let now = Monotonic.nanos()
                if now < s.retryAt, let last = s.lastError, generation == s.failedGeneration {
                    return .wait(Int((s.retryAt - now) / 1_000_000), last.description)
                }
                return .connect
            }
            switch taken {
            case .connection(let c): return c
            case .wait(let ms, let last):
                throw .unavailable(endpoint: configuration.endpointDescription, retryInMillis: ms, lastError: last)
            case .connect:
                do {
                    let c = try RedisConnection(configuration)
                    state.withLock { s in
                        s.backoff.reset()
                        s.retryAt = 0
                        s.lastError = nil
                    }
                    return c
                } catch {
                    if case .authFailed = error { throw error }
                    state.withLock { s in
                        let delay = s.backoff.next()
                        s.retryAt = Monotonic.nanos() + UInt64(delay) * 1_000_000
                        s.lastError = error
                        s.failedGeneration = generation
                    }
                    throw error
                }
            }
        }
    }

    private func checkin(_ connection: RedisConnection) {
        guard !connection.isBroken, !connection.isSuperseded else {
            connection.close()
            return
        }
        let extra: RedisConnection? = state.withLock { s in
            if s.idle.count < maxIdle {
                s.idle.append(connection)
                return nil
            }
            return connection
        }
        extra?.close()
    }
}

/// A Lua script identified by its SHA-1, as EVALSHA expects.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Hex.encode(Digest.sha1(Array(source.utf8)))
    }
}

extension RedisConnection {
    /// EVALSHA, and on NOSCRIPT: SCRIPT LOAD then EVALSHA again.
    @discardableResult
    public func evaluate(_ script: RedisScript, keys: [any RedisArgument] = [], args: [any RedisArgument] = []) throws(RedisError) -> RedisValue {
        let call: [any RedisArgument] = ["EVALSHA", script.sha1, keys.count] + keys + args
        do {
            return try send(call)
        } catch .noScript {
            let loaded = try send(["SCRIPT", "LOAD", script.source])
            guard loaded.string == script.sha1 else {
                throw .protocolError("SCRIPT LOAD returned \(loaded.string ?? "?"), expected \(script.sha1)")
            }
            return try send(call)
        }
    }
}
