import Foundation

public enum HealthStatus: String, Codable, Sendable, CaseIterable {
    case ok, degraded, down, unknown
}

public struct ServiceHealth: Codable, Sendable, Equatable {
    public var name: String
    public var status: HealthStatus
    public var detail: String
    public var latencyMs: Double?

    public init(name: String, status: HealthStatus, detail: String = "", latencyMs: Double? = nil) {
        self.name = name
        self.status = status
        self.detail = detail
        self.latencyMs = latencyMs
    }

    enum CodingKeys: String, CodingKey {
        case name, status, detail
        case latencyMs = "latency_ms"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.req(.name)
        status = try c.opt(.status, .unknown)
        detail = try c.opt(.detail, "")
        latencyMs = try c.opt(.latencyMs, nil)
    }
}

public struct Maintenance: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var message: String?
    public var since: Date?
    public var by: String?

    public init(enabled: Bool = false, message: String? = nil, since: Date? = nil, by: String? = nil) {
        self.enabled = enabled
        self.message = message
        self.since = since
        self.by = by
    }
}

public struct Broadcast: Codable, Sendable, Equatable {
    public var message: String
    public var level: AlertSeverity
    public var expiresAt: Date?
    public var by: String?

    public init(message: String, level: AlertSeverity = .info, expiresAt: Date? = nil, by: String? = nil) {
        self.message = message
        self.level = level
        self.expiresAt = expiresAt
        self.by = by
    }

    enum CodingKeys: String, CodingKey {
        case message, level, by
        case expiresAt = "expires_at"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        message = try c.req(.message)
        level = try c.opt(.level, .info)
        expiresAt = try c.opt(.expiresAt, nil)
        by = try c.opt(.by, nil)
    }
}

public enum BreakerState: String, Codable, Sendable, CaseIterable {
    case closed, open
    case halfOpen = "half_open"
}

public struct BreakerInfo: Codable, Sendable, Equatable {
    public var service: String
    public var state: BreakerState
    public var failures: Int
    public var calls: Int
    public var openedAt: Date?

    public init(service: String, state: BreakerState, failures: Int = 0, calls: Int = 0, openedAt: Date? = nil) {
        self.service = service
        self.state = state
        self.failures = failures
        self.calls = calls
        self.openedAt = openedAt
    }

    enum CodingKeys: String, CodingKey {
        case service, state, failures, calls
        case openedAt = "opened_at"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.req(.service)
        state = try c.req(.state)
        failures = try c.opt(.failures, 0)
        calls = try c.opt(.calls, 0)
        openedAt = try c.opt(.openedAt, nil)
    }
}

public struct ConsoleSession: Codable, Sendable, Equatable {
    public var id: String
    public var user: String
    public var host: String
    public var pid: Int
    public var tty: String
    public var startedAt: Date
    public var lastSeen: Date
    public var view: String
    /// `interactive`, `readonly` or `wallboard`: what the console can do.
    public var mode: String

    public init(
        id: String, user: String, host: String, pid: Int, tty: String, startedAt: Date, lastSeen: Date, view: String,
        mode: String = "interactive"
    ) {
        self.id = id
        self.user = user
        self.host = host
        self.pid = pid
        self.tty = tty
        self.startedAt = startedAt
        self.lastSeen = lastSeen
        self.view = view
        self.mode = mode
    }

    enum CodingKeys: String, CodingKey {
        case id, user, host, pid, tty, view, mode
        case startedAt = "started_at"
        case lastSeen = "last_seen"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.req(.id)
        user = try c.opt(.user, "")
        host = try c.opt(.host, "")
        pid = try c.opt(.pid, 0)
        tty = try c.opt(.tty, "")
        startedAt = try c.opt(.startedAt, Date(timeIntervalSince1970: 0))
        lastSeen = try c.opt(.lastSeen, startedAt)
        view = try c.opt(.view, "")
        mode = try c.opt(.mode, "interactive")
    }
}

public struct CacheInfo: Codable, Sendable, Equatable {
    public var generation: Int
    public var buildMs: Double
    public var hits: Int
    public var misses: Int
    public var ttlSeconds: Int

    public init(generation: Int = 0, buildMs: Double = 0, hits: Int = 0, misses: Int = 0, ttlSeconds: Int = 30) {
        self.generation = generation
        self.buildMs = buildMs
        self.hits = hits
        self.misses = misses
        self.ttlSeconds = ttlSeconds
    }

    enum CodingKeys: String, CodingKey {
        case generation, hits, misses
        case buildMs = "build_ms"
        case ttlSeconds = "ttl_s"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        generation = try c.opt(.generation, 0)
        buildMs = try c.opt(.buildMs, 0)
        hits = try c.opt(.hits, 0)
        misses = try c.opt(.misses, 0)
        ttlSeconds = try c.opt(.ttlSeconds, 30)
    }
}

public struct DatabaseActivity: Codable, Sendable, Equatable {
    public struct Query: Codable, Sendable, Equatable {
        public var pid: Int
        public var user: String
        public var state: String
        public var durationSeconds: Double
        public var query: String

        public init(pid: Int, user: String, state: String, durationSeconds: Double, query: String) {
            self.pid = pid
            self.user = user
            self.state = state
            self.durationSeconds = durationSeconds
            self.query = query
        }

        enum CodingKeys: String, CodingKey {
            case pid, user, state, query
            case durationSeconds = "duration_s"
        }
    }

    public var connections: Int
    public var running: [Query]
    public var idleInTransaction: Int

    public init(connections: Int = 0, running: [Query] = [], idleInTransaction: Int = 0) {
        self.connections = connections
        self.running = running
        self.idleInTransaction = idleInTransaction
    }

    enum CodingKeys: String, CodingKey {
        case connections, running
        case idleInTransaction = "idle_in_transaction"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        connections = try c.opt(.connections, 0)
        running = try c.opt(.running, [])
        idleInTransaction = try c.opt(.idleInTransaction, 0)
    }
}

public struct BackupInfo: Codable, Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    public var kind: String
    public var sizeBytes: Int
    public var path: String

    public init(id: String, createdAt: Date, kind: String, sizeBytes: Int, path: String) {
        self.id = id
        self.createdAt = createdAt
        self.kind = kind
        self.sizeBytes = sizeBytes
        self.path = path
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, path
        case createdAt = "created_at"
        case sizeBytes = "size_bytes"
    }
}

/// Health and runtime state of the platform and of the console fleet.
public struct SystemState: Codable, Sendable, Equatable {
    public var services: [ServiceHealth]
    public var maintenance: Maintenance
    public var broadcast: Broadcast?
    public var breakers: [BreakerInfo]
    public var sessions: [ConsoleSession]
    public var cache: CacheInfo
    public var database: DatabaseActivity
    public var backups: [BackupInfo]
    /// Action key figures of the last 5 minutes (optional in the JSON: older snapshots decode to zeros).
    public var actions: ActionFigures = ActionFigures()

    public init(
        services: [ServiceHealth] = [], maintenance: Maintenance = .init(), broadcast: Broadcast? = nil, breakers: [BreakerInfo] = [],
        sessions: [ConsoleSession] = [], cache: CacheInfo = .init(), database: DatabaseActivity = .init(), backups: [BackupInfo] = []
    ) {
        self.services = services
        self.maintenance = maintenance
        self.broadcast = broadcast
        self.breakers = breakers
        self.sessions = sessions
        self.cache = cache
        self.database = database
        self.backups = backups
    }

    enum CodingKeys: String, CodingKey { case services, maintenance, broadcast, breakers, sessions, cache, database, backups, actions }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        services = try c.opt(.services, [])
        maintenance = try c.opt(.maintenance, Maintenance())
        broadcast = try c.opt(.broadcast, nil)
        breakers = try c.opt(.breakers, [])
        sessions = try c.opt(.sessions, [])
        cache = try c.opt(.cache, CacheInfo())
        database = try c.opt(.database, DatabaseActivity())
        backups = try c.opt(.backups, [])
        actions = try c.opt(.actions, ActionFigures())
    }
}

/// A recent admin action, as the audit trail summarises it.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var seq: Int
    public var ts: Date
    public var user: String
    public var action: String
    public var phase: String
    public var outcome: String?
    public var target: String?

    public init(seq: Int, ts: Date, user: String, action: String, phase: String, outcome: String? = nil, target: String? = nil) {
        self.seq = seq
        self.ts = ts
        self.user = user
        self.action = action
        self.phase = phase
        self.outcome = outcome
        self.target = target
    }

    enum CodingKeys: String, CodingKey { case seq, ts, user, action, phase, outcome, target }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.req(.seq)
        ts = try c.req(.ts)
        action = try c.req(.action)
        user = try c.opt(.user, "")
        phase = try c.opt(.phase, "")
        outcome = try c.opt(.outcome, nil)
        target = try c.opt(.target, nil)
    }
}
