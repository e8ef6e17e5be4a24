import AgentOSCore
import Foundation

/// The console sessions of a namespace (Redis DB6, CONTRACT.md): `{ns}:session:{id}`, a hash of
/// user, host, pid, tty, started, last_seen and view. Each heartbeat renews its TTL, so a console
/// that dies leaves the list within `ttlSeconds`; one that quits deletes its row.
public struct ConsoleSessionStore: Sendable {
    public static let ttlSeconds = 60
    /// How often a console renews its row (well inside the TTL).
    public static let heartbeatSeconds = 10.0
    let redis: RedisClient
    let ns: Namespace

    public init(redis: RedisClient, namespace: Namespace) {
        self.redis = redis.selecting(database: Namespace.DB.sessions)
        ns = namespace
    }

    public func heartbeat(_ s: ConsoleSession) throws {
        let key = ns.sessionKey(s.id)
        let fields: [any RedisArgument] = [
            "HSET", key, "user", s.user, "host", s.host, "pid", s.pid, "tty", s.tty, "started", ISOTime.format(s.startedAt),
            "last_seen", ISOTime.format(s.lastSeen), "view", s.view
        ]
        for reply in try redis.pipeline([fields, ["EXPIRE", key, Self.ttlSeconds]]) {
            if case .error(let message) = reply { throw RedisError.server(message) }
        }
    }

    /// Deletes session `id`; true when it existed.
    @discardableResult
    public func end(_ id: String) throws -> Bool { try redis.send("DEL", ns.sessionKey(id)).int ?? 0 > 0 }

    /// Every session with a live row, oldest first.
    public func list() throws -> [ConsoleSession] {
        var keys: [[UInt8]] = []
        var cursor = "0"
        repeat {
            let reply = try redis.send("SCAN", cursor, "MATCH", "\(Self.glob(ns.prefix)):session:*", "COUNT", 500).array ?? []
            cursor = reply.first?.string ?? "0"
            keys += (reply.dropFirst().first?.array ?? []).compactMap(\.bytes)
        } while cursor != "0"
        guard !keys.isEmpty else { return [] }
        let prefix = Array("\(ns.prefix):session:".utf8)
        var sessions: [ConsoleSession] = []
        for (key, reply) in zip(keys, try redis.pipeline(keys.map { ["HGETALL", $0] })) {
            // Expired between the SCAN and the read: gone, not an error.
            guard let items = reply.array, !items.isEmpty else { continue }
            var h: [String: String] = [:]
            for i in stride(from: 0, to: items.count - 1, by: 2) { h[items[i].string ?? ""] = items[i + 1].string ?? "" }
            sessions.append(
                ConsoleSession(
                    id: String(decoding: key.dropFirst(prefix.count), as: UTF8.self), user: h["user"] ?? "?", host: h["host"] ?? "?",
                    pid: Int(h["pid"] ?? "") ?? 0, tty: h["tty"] ?? "", startedAt: h["started"].flatMap(ISOTime.parse) ?? .distantPast,
                    lastSeen: h["last_seen"].flatMap(ISOTime.parse) ?? .distantPast, view: h["view"] ?? ""))
        }
        return sessions.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
    }

    /// `text` with glob metacharacters escaped, for SCAN MATCH.
    static func glob(_ text: String) -> String {
        var out = ""
        for c in text {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
