import AgentOSCore

/// Everything that can go wrong talking to Redis, with messages an operator can act on.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String, String)
    case connectionRefused(endpoint: String)
    case connectFailed(endpoint: String, reason: String)
    case authFailed(endpoint: String, reason: String)
    case timeout(endpoint: String, operation: String, millis: Int)
    case connectionLost(endpoint: String, reason: String)
    case tls(endpoint: String, reason: String)
    case wrongType(String)
    case noScript(String)
    case server(String)
    case protocolError(String)
    /// A recent connection attempt failed; the client waits before trying again.
    case unavailable(endpoint: String, retryInMillis: Int, lastError: String)
    /// No master is known: the sentinels do not answer or name none, or the server they name is not a master.
    case noMaster(String)
    /// `read_from=replica`: the sentinels list no healthy replica, or the one listed is not a replica of the current master.
    case noReplica(String)
    /// A reply grew past `RedisConfiguration.maxReplyBytes`; the connection was dropped unread.
    case replyTooLarge(endpoint: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .invalidURL(let url, let why): return "invalid Redis URL \(url): \(why)"
        case .connectionRefused(let ep): return "Redis at \(ep) refused the connection (is redis-server running?)"
        case .connectFailed(let ep, let why): return "cannot connect to Redis at \(ep): \(why)"
        case .authFailed(let ep, let why): return "Redis at \(ep) rejected the credentials: \(why)"
        case .timeout(let ep, let op, let ms): return "Redis at \(ep) did not answer \(op) within \(ms) ms"
        case .connectionLost(let ep, let why): return "connection to Redis at \(ep) lost: \(why)"
        case .tls(let ep, let why): return "TLS with Redis at \(ep) failed: \(why)"
        case .wrongType(let msg): return "Redis: wrong type for this operation (\(msg))"
        case .noScript(let msg): return "Redis: script not loaded (\(msg))"
        case .server(let msg): return "Redis error: \(msg)"
        case .protocolError(let msg): return "Redis protocol error: \(msg)"
        case .unavailable(let ep, let ms, let last): return "Redis at \(ep) unavailable (\(last)); next attempt in \(ms) ms"
        case .noMaster(let why): return "no Redis master known: \(why)"
        case .noReplica(let why): return "no Redis replica to read from: \(why)"
        case .replyTooLarge(let ep, let bytes, let limit):
            return
                "Redis at \(ep) sent a reply of over \(bytes / (1024 * 1024)) MiB, past the \(limit / (1024 * 1024)) MiB limit: refused, connection dropped"
        }
    }

    /// True when the connection is gone or was never made (as opposed to a command error).
    public var isConnectionError: Bool {
        switch self {
        case .connectionRefused, .connectFailed, .timeout, .connectionLost, .tls, .protocolError, .unavailable, .authFailed, .noMaster, .noReplica:
            return true
        case .invalidURL, .wrongType, .noScript, .server, .replyTooLarge:
            return false
        }
    }

    /// Maps an error reply from the server to a typed error.
    static func fromReply(_ message: String) -> RedisError {
        if message.hasPrefix("WRONGTYPE") { return .wrongType(message) }
        if message.hasPrefix("NOSCRIPT") { return .noScript(message) }
        return .server(message)
    }
}

/// NOPERM: the login's ACL does not allow the command (a readonly operator writing).
extension RedisError: PermissionRefusal {
    public var isPermissionRefusal: Bool {
        if case .server(let message) = self { return message.hasPrefix("NOPERM") }
        return false
    }
}
