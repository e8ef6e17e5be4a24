import Foundation

/// The deployment's kombu transport options (`broker_transport_options`) and the broker database:
/// every key and channel name of the Celery control plane and the monitor comes from here
/// (celery-redis-protocol.md §0.2 and gotcha 2).
public struct CeleryTransport: Sendable, Equatable {
    /// `fanout_prefix`: true (kombu's default) puts `/{db}.` in front of fan-out channels, false
    /// nothing, a string that string verbatim.
    public enum FanoutPrefix: Sendable, Equatable {
        case database, none
        case custom(String)
    }

    /// The Redis database of the broker (the `/N` of the broker URL).
    public var brokerDatabase: Int
    /// `global_keyprefix`: prefixes every broker key and channel (not result-backend keys).
    public var globalKeyPrefix: String
    public var fanoutPrefix: FanoutPrefix
    /// `fanout_patterns`: append `/routing_key` to fan-out channels (so events can be filtered).
    public var fanoutPatterns: Bool
    /// `priority_steps` (ascending, 0…9) and `sep`.
    public var prioritySteps: [Int]
    public var separator: [UInt8]
    /// The queues the console lists and purges besides those seen in events (`task_queues`).
    public var queues: [String]
    /// How long a control request waits for replies.
    public var replyTimeout: Double
    /// How long an action waits for the workers' own state to show its effect (the task in
    /// `dump_revoked`, the pool size in `stats`) before it reports "not confirmed" (D67).
    public var confirmTimeout: Double
    /// The Redis database of a Redis result backend on the broker's server (`result_db`), nil when
    /// there is none: the monitor reconciles its task figures with it at start (D77).
    public var resultDatabase: Int?
    /// The result backend's `global_keyprefix` (`result_backend_transport_options`).
    public var resultKeyPrefix = ""

    public init(
        brokerDatabase: Int = 0, globalKeyPrefix: String = "", fanoutPrefix: FanoutPrefix = .database, fanoutPatterns: Bool = true,
        prioritySteps: [Int] = [0, 3, 6, 9], separator: [UInt8] = [0x06, 0x16], queues: [String] = ["celery"],
        replyTimeout: Double = 1.0, confirmTimeout: Double = 10, resultDatabase: Int? = nil, resultKeyPrefix: String = ""
    ) throws(CeleryConfigError) {
        guard (0...15).contains(brokerDatabase) else { throw CeleryConfigError("broker database \(brokerDatabase) is not 0…15") }
        guard !prioritySteps.isEmpty, prioritySteps.first == 0, prioritySteps == prioritySteps.sorted(),
            Set(prioritySteps).count == prioritySteps.count,
            prioritySteps.allSatisfy({ (0...9).contains($0) })
        else {
            throw CeleryConfigError("priority steps \(prioritySteps) must start at 0 and rise within 0…9")
        }
        guard replyTimeout > 0, replyTimeout <= 60 else { throw CeleryConfigError("reply timeout \(replyTimeout) s is not within (0, 60]") }
        guard confirmTimeout > 0, confirmTimeout <= 300 else {
            throw CeleryConfigError("confirm timeout \(confirmTimeout) s is not within (0, 300]")
        }
        if let db = resultDatabase, !(0...15).contains(db) { throw CeleryConfigError("result database \(db) is not 0…15") }
        guard !separator.isEmpty else { throw CeleryConfigError("the priority separator is empty") }
        for q in queues where q.isEmpty || q.utf8.count > 200 { throw CeleryConfigError("queue name '\(q.prefix(40))' is empty or too long") }
        self.brokerDatabase = brokerDatabase
        self.globalKeyPrefix = globalKeyPrefix
        self.fanoutPrefix = fanoutPrefix
        self.fanoutPatterns = fanoutPatterns
        self.prioritySteps = prioritySteps
        self.separator = separator
        self.queues = queues
        self.replyTimeout = replyTimeout
        self.confirmTimeout = confirmTimeout
        self.resultDatabase = resultDatabase
        self.resultKeyPrefix = resultKeyPrefix
    }

    /// The SCAN pattern of the result backend's task records.
    public var resultKeyPattern: String { RedisGlob.escaped(resultKeyPrefix) + "celery-task-meta-*" }

    // MARK: queues (lists)

    /// The lists of a queue, highest priority first: `Q`, `Q<sep>3`, `Q<sep>6`, `Q<sep>9`.
    public func queueKeys(_ queue: String) -> [[UInt8]] {
        let base = Array((globalKeyPrefix + queue).utf8)
        return prioritySteps.map { $0 == 0 ? base : base + separator + Array(String($0).utf8) }
    }

    /// The queue a list key belongs to (the prefix and the priority suffix removed), nil for a foreign key.
    public func queueName(ofKey key: [UInt8]) -> String? {
        let pfx = Array(globalKeyPrefix.utf8)
        guard key.starts(with: pfx) else { return nil }
        var rest = Array(key.dropFirst(pfx.count))
        for step in prioritySteps where step != 0 {
            let suffix = separator + Array(String(step).utf8)
            if rest.count > suffix.count, Array(rest.suffix(suffix.count)) == suffix {
                rest.removeLast(suffix.count)
                break
            }
        }
        return String(validating: rest, as: UTF8.self)
    }

    public var unackedKey: String { globalKeyPrefix + "unacked" }

    /// Where a console's monitor shares its view of the fleet (workers, queues, tasks) with the
    /// headless commands, with a TTL (D61): beside kombu's keys, so it is per deployment.
    public var sharedViewKey: String { globalKeyPrefix + "_agentos.celery.view" }

    // MARK: fan-out channels

    var fanoutHead: String {
        switch fanoutPrefix {
        case .database: return "/\(brokerDatabase)."
        case .none: return ""
        case .custom(let s): return s
        }
    }

    /// The PUB/SUB channel of a fan-out exchange: `[keyprefix][/db.]exchange[/routing_key]`.
    public func fanoutChannel(exchange: String, routingKey: String = "") -> String {
        globalKeyPrefix + fanoutHead + exchange + (fanoutPatterns && !routingKey.isEmpty ? "/" + routingKey : "")
    }

    /// Where control requests go (`celery.pidbox`).
    public var pidboxChannel: String { fanoutChannel(exchange: "celery.pidbox") }

    /// What the monitor PSUBSCRIBEs: every event (`/0.celeryev/*`), or the one channel without patterns.
    public var eventPattern: String { fanoutPatterns ? fanoutChannel(exchange: "celeryev", routingKey: "*") : fanoutChannel(exchange: "celeryev") }

    // MARK: control replies

    public static let replyExchange = "reply.celery.pidbox"
    /// The reply LIST a worker LPUSHes to, and its priority siblings.
    public func replyKeys(oid: String) -> [[UInt8]] { queueKeys(oid + "." + Self.replyExchange) }
    public var replyBindingKey: String { globalKeyPrefix + "_kombu.binding." + Self.replyExchange }
    public var replyBindingPermanentKey: String { globalKeyPrefix + "_kombu.binding_permanent." + Self.replyExchange }
    /// The binding member `oid<sep><sep>oid.reply.celery.pidbox` the worker resolves the reply queue by.
    public func replyBindingMember(oid: String) -> [UInt8] {
        Array(oid.utf8) + separator + separator + Array((oid + "." + Self.replyExchange).utf8)
    }
}

public struct CeleryConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = "celery: " + description }
}
