import AgentOSCore

/// Key and channel names of the data contract (CONTRACT.md), under a configurable namespace, and
/// the deployment's bus keys (D66) that sign and verify what goes through them.
public struct Namespace: Sendable, Equatable {
    public let prefix: String
    /// kombu's `global_keyprefix` for the broker lists in DB0 (Celery's default is none: the list
    /// is the queue's name).
    public let brokerPrefix: String
    /// Snapshots, events and control messages are signed with `busKeys.current` and verified
    /// against it and `busKeys.previous` (none: the bus is unsigned, as before D66).
    public var busKeys: BusKeys

    public init(_ prefix: String = "agentos", brokerPrefix: String = "", busKeys: BusKeys = .none) {
        self.prefix = prefix
        self.brokerPrefix = brokerPrefix
        self.busKeys = busKeys
    }

    // DB0: kombu's lists, one per priority bucket (celery-redis-protocol.md §0.2)
    public static let prioritySteps = [0, 3, 6, 9]

    /// The list a message of `priority` goes to: `queue`, `queue\x06\x163`, `…6`, `…9` (the largest
    /// step not above the priority; 0 is the highest and the plain name).
    public func brokerListKey(queue: String, priority: Int) -> [UInt8] {
        let step = Self.prioritySteps.last { $0 <= max(0, min(9, priority)) } ?? 0
        let base = Array((brokerPrefix + queue).utf8)
        return step == 0 ? base : base + [0x06, 0x16] + Array(String(step).utf8)
    }

    /// Every list of a queue, in the order workers read them.
    public func brokerListKeys(queue: String) -> [[UInt8]] { Self.prioritySteps.map { brokerListKey(queue: queue, priority: $0) } }

    /// The exact message AgentOS's own producers pushed for a job (DB0, with a TTL), so removing
    /// it from its list is one LREM instead of a scan of the queue.
    public func brokerMessageKey(job id: String) -> String { "\(prefix):broker:message:\(id)" }
    /// How long a message copy is kept: longer than any job waits in a queue.
    public static let brokerMessageTTLSeconds = 7 * 86_400

    /// LPUSH of a message and its copy, for a pipeline.
    public func brokerPush(queue: String, priority: Int, job id: String, message: [UInt8]) -> [[any RedisArgument]] {
        [
            ["LPUSH", brokerListKey(queue: queue, priority: priority), message],
            ["SET", brokerMessageKey(job: id), message, "EX", Self.brokerMessageTTLSeconds]
        ]
    }

    // DB1: SSOT cache
    public var snapshotKey: String { "\(prefix):admin:dashboard:v4" }
    public var snapshotLockKey: String { "\(prefix):admin:dashboard:v4:lock" }
    /// The single-flight lock of a cache-miss rebuild (SET NX PX; one console rebuilds, the others wait).
    public var snapshotRebuildLockKey: String { "\(prefix):admin:dashboard:v4:rebuild" }
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
