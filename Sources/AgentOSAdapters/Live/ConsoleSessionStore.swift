import AgentOSCore
import Foundation

/// The console sessions of a namespace (Redis DB6, CONTRACT.md): `{ns}:session:{id}` (the id starts
/// with the console's Redis user on an operator's own login: `sessionID`), a hash of
/// user, host, pid, tty, started, last_seen, view and mode. Each heartbeat renews its TTL, so a
/// console that dies leaves the list within `ttlSeconds`; one that quits deletes its row; one ended
/// by `system.session_terminate` leaves a tombstone, `{ns}:session_ended:{id}`.
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

    /// How long an ended session's tombstone stays: a console suspended past its TTL (a laptop lid)
    /// still learns it was ended when it wakes, instead of registering again.
    public static let tombstoneSeconds = 86_400

    /// Renews (or creates) session `s`'s row, unless the session was ended: then the row is not
    /// written again and the tombstone says who ended it. A console that missed its `session.kick`
    /// (pub/sub is at-most-once) learns it here, at its next beat. The tombstone is named in ARGV,
    /// not KEYS: the script only reads it, and a script's KEYS need write permission, which an
    /// operator's Redis user has on no other console's tombstone (D83).
    static let heartbeatScript = RedisScript(
        """
        local ended = redis.call('GET', ARGV[1])
        if ended then return ended end
        redis.call('HSET', KEYS[1], unpack(ARGV, 3))
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        return false
        """)

    /// Renews session `s`; returns how it was ended when it was (nil: it lives on).
    @discardableResult
    public func heartbeat(_ s: ConsoleSession) throws -> SessionKick? {
        let reply = try redis.evaluate(
            Self.heartbeatScript, keys: [ns.sessionKey(s.id)],
            args: [
                tombstoneKey(s.id), Self.ttlSeconds, "user", s.user, "host", s.host, "pid", s.pid, "tty", s.tty, "started",
                ISOTime.format(s.startedAt),
                "last_seen", ISOTime.format(s.lastSeen), "view", s.view, "mode", s.mode
            ])
        guard let bytes = reply.bytes else { return nil }
        return (try? AgentJSON.decoder().decode(SessionKick.self, from: Data(bytes))) ?? SessionKick(sessionID: s.id)
    }

    /// Ends session `id` as `kick` says: deletes its row and leaves the tombstone its console's next
    /// heartbeat reads. True when the row existed.
    @discardableResult
    public func terminate(_ kick: SessionKick) throws -> Bool {
        let tombstone = try AgentJSON.encoder().encode(kick)
        let replies = try redis.pipeline([
            ["DEL", ns.sessionKey(kick.sessionID)], ["SET", tombstoneKey(kick.sessionID), [UInt8](tombstone), "EX", Self.tombstoneSeconds]
        ])
        if case .error(let message) = replies.last { throw RedisError.server(message) }
        return replies.first?.int ?? 0 > 0
    }

    /// Deletes session `id` (its console quit); true when it existed.
    @discardableResult
    public func end(_ id: String) throws -> Bool { try redis.send("DEL", ns.sessionKey(id)).int ?? 0 > 0 }

    func tombstoneKey(_ id: String) -> String { "\(ns.prefix):session_ended:\(id)" }

    /// A console's session id: on an operator's own Redis user, `{user}:{random}`, so that user's
    /// ACL can be held to its own rows (`{ns}:session:{user}:*`, D91) and no operator can forge,
    /// renew or delete another console's row. On the shared login (no user, or `default`) the
    /// random part alone.
    public static func sessionID(_ random: String, redisUser: String?) -> String {
        guard let user = redisUser, !user.isEmpty, user != "default" else { return random }
        return user + ":" + random
    }

    /// Every session with a live row, oldest first.
    public func list() throws -> [ConsoleSession] {
        var keys: [[UInt8]] = []
        var cursor = "0"
        repeat {
            let reply = try redis.send("SCAN", cursor, "MATCH", "\(RedisGlob.escaped(ns.prefix)):session:*", "COUNT", 500).array ?? []
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
                    lastSeen: h["last_seen"].flatMap(ISOTime.parse) ?? .distantPast, view: h["view"] ?? "",
                    mode: h["mode"] ?? "interactive"))
        }
        return sessions.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
    }
}
