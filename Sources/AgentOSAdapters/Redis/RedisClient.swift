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
