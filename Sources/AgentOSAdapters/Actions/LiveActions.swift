import AgentOSCore
import AgentOSCrypto
import Foundation

/// The HMAC key that scrubs personal data in audit payloads. Kept outside PostgreSQL: from
/// `AGENTOS_AUDIT_HMAC_KEY` (hex, at least 32 digits), else a 0600 key file made on first use.
public enum AuditKey {
    public static func load(directory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [UInt8] {
        if let hex = environment["AGENTOS_AUDIT_HMAC_KEY"], !hex.isEmpty {
            guard let key = Hex.decode(hex), key.count >= 16 else {
                throw ConfigurationError("AGENTOS_AUDIT_HMAC_KEY must be at least 32 hex digits")
            }
            return key
        }
        let file = directory.appendingPathComponent("audit-hmac.key")
        if let data = FileManager.default.contents(atPath: file.path) {
            guard let key = Hex.decode(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)), key.count >= 16 else {
                throw ConfigurationError("\(file.path): not a hex key of at least 32 digits")
            }
            return key
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = SecureRandom.bytes(32)
        guard FileManager.default.createFile(atPath: file.path, contents: Data((Hex.encode(key) + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw ConfigurationError("\(file.path): cannot create the audit HMAC key file")
        }
        return key
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The data directory: `--data-dir`, else `AGENTOS_DATA_DIR`, else `$XDG_DATA_HOME/agentos`,
/// else `~/.local/share/agentos`.
public enum DataDirectory {
    public static func resolve(_ explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let explicit, !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        if let dir = environment["AGENTOS_DATA_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("agentos") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/agentos")
    }
}

/// The live composition of the dispatcher: Redis DB2/DB3/DB4 stores, `audit_logs`,
/// `user_permissions`, the live executor, and the cascade on the SSOT cache and the DB5 bus.
public struct LiveActions: Sendable {
    public let dispatcher: ActionDispatcher
    public let audit: PostgresAuditLog
    public let breakers: RedisBreakerStore
    public let executor: LiveActionExecutor
    /// With Celery configured: the executor that routes the mapped actions to Celery's remote control.
    public let celery: CeleryActionExecutor?
    /// What the dispatcher runs (the Celery router when configured, else the live executor).
    public var routedExecutor: ActionExecutor { celery ?? executor }
    /// The write-behind `action_history` sink (`drain()` before the process exits).
    public let history: PostgresActionHistory
    /// Who PostgreSQL says this console is: an operator's own login (enforced) or a shared one.
    public let identities: ServerIdentityResolver
    /// nil while PostgreSQL cannot be asked.
    public var identity: ServerIdentity? { identities.current }

    public init(
        redis: RedisClient, postgres: PostgresClient, namespace: Namespace, dataDirectory: URL, postgresURL: String,
        dataManager: AdminDataManager, cache: SnapshotCache, bus: EventBus, pgDump: String? = nil,
        options: ActionDispatcher.Options = .init(), permissions: PermissionSource? = nil, celery: CeleryMonitor? = nil,
        lostCommitWaitSeconds: Double = 15
    ) throws {
        audit = PostgresAuditLog(postgres: postgres)
        let identities = ServerIdentityResolver(postgres: postgres)
        self.identities = identities
        breakers = RedisBreakerStore(redis: redis, namespace: namespace)
        let rateLimits = RedisRateLimitStore(redis: redis, namespace: namespace)
        executor = LiveActionExecutor(
            postgres: postgres, redis: redis, audit: audit, namespace: namespace,
            settings: .init(
                dataDirectory: dataDirectory, postgresURL: postgresURL, pgDump: pgDump, lostCommitWaitSeconds: lostCommitWaitSeconds,
                opensActions: { identities.current?.enforced ?? false }),
            breakers: breakers, rateLimits: rateLimits, refresh: { try dataManager.rebuild().generation })
        let live = executor
        self.celery = celery.map { CeleryActionExecutor(monitor: $0, fallback: live) }
        let scrubber = PIIScrubber(key: try AuditKey.load(directory: dataDirectory))
        history = PostgresActionHistory(postgres: postgres)
        let idempotency = RedisIdempotencyStore(redis: redis, postgres: postgres, namespace: namespace)
        // With the cache and the bus on Redis too, a success's follow-ups go out in one round trip.
        var followUps: FollowUpWriter?
        if let redisCache = cache as? RedisSnapshotCache, let redisBus = bus as? RedisEventBus {
            followUps = RedisFollowUps(redis: redis, idempotency: idempotency, breakers: breakers, cache: redisCache, bus: redisBus)
        }
        dispatcher = ActionDispatcher(
            .init(
                audit: audit,
                permissions: permissions ?? ServerPermissionSource(resolver: identities, shared: PostgresPermissionSource(postgres: postgres)),
                rateLimits: rateLimits, idempotency: idempotency,
                breakers: breakers, executor: self.celery ?? executor, cascade: CacheAndBusCascade(cache: cache, bus: bus),
                scrubber: scrubber, history: history, followUps: followUps, identify: { identities.actor($0) },
                admission: RedisAdmissionGate(
                    redis: redis, rateLimits: rateLimits, idempotency: idempotency, breakers: breakers, namespace: namespace)),
            options: options)
    }
}
