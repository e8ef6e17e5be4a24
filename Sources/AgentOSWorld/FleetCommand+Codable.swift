import Foundation

/// Wire form of a fleet command on `{ns}:control`: `{"command":"worker.pause","target":"w1","value":4}`.
extension FleetCommand: Codable {
    enum CodingKeys: String, CodingKey {
        case command, target, value, queue, by, reply
        case errorClass = "error_class"
    }

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
        case .deleteJob: return "job.delete"
        case .setJobPriority: return "job.set_priority"
        case .moveJob: return "job.move"
        case .clearQueue: return "queue.clear"
        case .retryFailed: return "queue.retry_failed"
        case .purgeFailed: return "queue.purge_failed"
        case .forgetWorker: return "worker.forget"
        case .ackAlert: return "system.alert_ack"
        case .pingWorker: return "worker.ping"
        }
    }

    public var target: String {
        switch self {
        case .pauseWorker(let t), .resumeWorker(let t), .restartWorker(let t), .shutdownWorker(let t), .drainWorker(let t),
            .startWorker(let t), .scaleWorker(let t, _), .pauseQueue(let t), .resumeQueue(let t), .setQueueRateLimit(let t, _),
            .cancelJob(let t), .killJob(let t), .retryJob(let t), .startManager(let t), .stopManager(let t), .pauseManager(let t),
            .resumeManager(let t), .triggerManager(let t), .deleteJob(let t), .setJobPriority(let t, _), .moveJob(let t, _),
            .clearQueue(let t), .retryFailed(let t, _), .purgeFailed(let t), .forgetWorker(let t), .pingWorker(let t, _):
            return t
        case .ackAlert(let id, _): return String(id)
        case .maintenance: return "system"
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .command)
        try c.encode(target, forKey: .target)
        switch self {
        case .scaleWorker(_, let n): try c.encode(n, forKey: .value)
        case .setQueueRateLimit(_, let n): try c.encodeIfPresent(n, forKey: .value)
        case .maintenance(let on): try c.encode(on ? 1 : 0, forKey: .value)
        case .setJobPriority(_, let n): try c.encode(n, forKey: .value)
        case .moveJob(_, let to): try c.encode(to, forKey: .queue)
        case .retryFailed(_, let errorClass): try c.encodeIfPresent(errorClass, forKey: .errorClass)
        case .ackAlert(_, let by): try c.encode(by, forKey: .by)
        case .pingWorker(_, let reply): try c.encode(reply, forKey: .reply)
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
            guard let value else {
                throw DecodingError.keyNotFound(CodingKeys.value, .init(codingPath: c.codingPath, debugDescription: "worker.scale needs a value"))
            }
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
        case "job.delete": self = .deleteJob(t)
        case "job.set_priority":
            guard let value else {
                throw DecodingError.keyNotFound(CodingKeys.value, .init(codingPath: c.codingPath, debugDescription: "job.set_priority needs a value"))
            }
            self = .setJobPriority(t, value)
        case "job.move": self = .moveJob(t, to: try c.decode(String.self, forKey: .queue))
        case "queue.clear": self = .clearQueue(t)
        case "queue.retry_failed": self = .retryFailed(t, errorClass: try c.decodeIfPresent(String.self, forKey: .errorClass))
        case "queue.purge_failed": self = .purgeFailed(t)
        case "worker.forget": self = .forgetWorker(t)
        case "system.alert_ack":
            guard let id = Int(t) else {
                throw DecodingError.dataCorruptedError(forKey: .target, in: c, debugDescription: "system.alert_ack needs an alert id")
            }
            self = .ackAlert(id, by: try c.decodeIfPresent(String.self, forKey: .by) ?? "operator")
        case "worker.ping": self = .pingWorker(t, reply: try c.decode(String.self, forKey: .reply))
        default:
            throw DecodingError.dataCorruptedError(forKey: .command, in: c, debugDescription: "unknown fleet command '\(name.prefix(40))'")
        }
    }
}
