import Foundation

/// Wire form of a fleet command on `{ns}:control`: `{"command":"worker.pause","target":"w1","value":4}`.
extension FleetCommand: Codable {
    enum CodingKeys: String, CodingKey { case command, target, value }

    public var name: String {
        switch self {
        case .pauseWorker: return "worker.pause"
        case .resumeWorker: return "worker.resume"
        case .restartWorker: return "worker.restart"
        case .shutdownWorker: return "worker.shutdown"
        case .drainWorker: return "worker.drain"
        case .startWorker: return "worker.start"
        case .scaleWorker: return "worker.scale"
        case .pauseQueue: return "queue.pause"
        case .resumeQueue: return "queue.resume"
        case .setQueueRateLimit: return "queue.set_rate_limit"
        case .cancelJob: return "job.cancel"
        case .killJob: return "job.kill"
        case .retryJob: return "job.retry"
        case .startManager: return "manager.start"
        case .stopManager: return "manager.stop"
        case .pauseManager: return "manager.pause"
        case .resumeManager: return "manager.resume"
        case .triggerManager: return "manager.trigger"
        case .maintenance: return "system.maintenance"
        }
    }

    public var target: String {
        switch self {
        case let .pauseWorker(t), let .resumeWorker(t), let .restartWorker(t), let .shutdownWorker(t), let .drainWorker(t),
             let .startWorker(t), let .scaleWorker(t, _), let .pauseQueue(t), let .resumeQueue(t), let .setQueueRateLimit(t, _),
             let .cancelJob(t), let .killJob(t), let .retryJob(t), let .startManager(t), let .stopManager(t), let .pauseManager(t),
             let .resumeManager(t), let .triggerManager(t):
            return t
        case .maintenance: return "system"
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .command)
        try c.encode(target, forKey: .target)
        switch self {
        case let .scaleWorker(_, n): try c.encode(n, forKey: .value)
        case let .setQueueRateLimit(_, n): try c.encodeIfPresent(n, forKey: .value)
        case let .maintenance(on): try c.encode(on ? 1 : 0, forKey: .value)
        default: break
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .command)
        let t = try c.decodeIfPresent(String.self, forKey: .target) ?? ""
        let value = try c.decodeIfPresent(Int.self, forKey: .value)
        switch name {
        case "worker.pause": self = .pauseWorker(t)
        case "worker.resume": self = .resumeWorker(t)
        case "worker.restart": self = .restartWorker(t)
        case "worker.shutdown": self = .shutdownWorker(t)
        case "worker.drain": self = .drainWorker(t)
        case "worker.start": self = .startWorker(t)
        case "worker.scale":
            guard let value else { throw DecodingError.keyNotFound(CodingKeys.value, .init(codingPath: c.codingPath, debugDescription: "worker.scale needs a value")) }
            self = .scaleWorker(t, value)
        case "queue.pause": self = .pauseQueue(t)
        case "queue.resume": self = .resumeQueue(t)
        case "queue.set_rate_limit": self = .setQueueRateLimit(t, value)
        case "job.cancel": self = .cancelJob(t)
        case "job.kill": self = .killJob(t)
        case "job.retry": self = .retryJob(t)
        case "manager.start": self = .startManager(t)
        case "manager.stop": self = .stopManager(t)
        case "manager.pause": self = .pauseManager(t)
        case "manager.resume": self = .resumeManager(t)
        case "manager.trigger": self = .triggerManager(t)
        case "system.maintenance": self = .maintenance((value ?? 0) != 0)
        default:
            throw DecodingError.dataCorruptedError(forKey: .command, in: c, debugDescription: "unknown fleet command '\(name.prefix(40))'")
        }
    }
}
