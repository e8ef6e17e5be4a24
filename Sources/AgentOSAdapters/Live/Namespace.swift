/// Key and channel names of the data contract (CONTRACT.md), under a configurable namespace.
public struct Namespace: Sendable, Equatable {
    public let prefix: String

    public init(_ prefix: String = "agentos") { self.prefix = prefix }

    // DB1: SSOT cache
    public var snapshotKey: String { "\(prefix):admin:dashboard:v4" }
    public var snapshotLockKey: String { "\(prefix):admin:dashboard:v4:lock" }
    public var snapshotGenerationKey: String { "\(prefix):admin:dashboard:v4:generation" }
    public var snapshotStatsKey: String { "\(prefix):admin:dashboard:v4:stats" }
    // DB5: event bus (pub/sub channels are global across DBs: the prefix scopes them)
    public var eventsChannel: String { "\(prefix):events" }
    public var eventsSeqKey: String { "\(prefix):events:seq" }
    /// Control commands for the fleet (the simulator listens here; Celery has its own pidbox).
    public var controlChannel: String { "\(prefix):control" }
    // Shared runtime flags (DB1)
    public var maintenanceKey: String { "\(prefix):system:maintenance" }
    public var broadcastKey: String { "\(prefix):system:broadcast" }

    /// Logical databases, as in the seed.
    public enum DB {
        public static let queues = 0, cache = 1, idempotency = 2, rateLimit = 3, breakers = 4, events = 5, sessions = 6
    }
}
