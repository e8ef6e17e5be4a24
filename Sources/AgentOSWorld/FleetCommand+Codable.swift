import AgentOSCore
import Foundation

/// Wire form of a fleet command on `{ns}:control`: `{"command":"worker.pause","target":"w1","value":4}`.
extension FleetCommand: Codable {
    enum CodingKeys: String, CodingKey {
        case command, target, value, queue, by, reply, message, note, min, max, task, rate, soft, hard, schedule, level, pattern, severity, version,
            locked
        case errorClass = "error_class"
    }

    /// The target of logs.ack_errors for every source.
    static let allSources = "all"

    public var command: ControlCommand {
        switch self {
        case .pauseWorker: return .action(.workerPause)
        case .resumeWorker: return .action(.workerResume)
        case .restartWorker: return .action(.workerRestart)
        case .shutdownWorker: return .action(.workerShutdown)
        case .drainWorker: return .action(.workerDrain)
        case .startWorker: return .action(.workerStart)
        case .scaleWorker: return .action(.workerScale)
        case .pauseQueue: return .action(.queuePause)
        case .resumeQueue: return .action(.queueResume)
        case .setQueueRateLimit: return .action(.queueSetRateLimit)
        case .cancelJob: return .action(.jobCancel)
        case .killJob: return .action(.jobKill)
        case .retryJob: return .action(.jobRetry)
        case .startManager: return .action(.managerStart)
        case .stopManager: return .action(.managerStop)
        case .pauseManager: return .action(.managerPause)
        case .resumeManager: return .action(.managerResume)
        case .triggerManager: return .action(.managerTrigger)
        case .maintenance: return .maintenance
        case .deleteJob: return .action(.jobDelete)
        case .setJobPriority: return .action(.jobSetPriority)
        case .moveJob: return .action(.jobMove)
        case .clearQueue: return .action(.queueClear)
        case .retryFailed: return .action(.queueRetryFailed)
        case .purgeFailed: return .action(.queuePurgeFailed)
        case .forgetWorker: return .action(.workerForget)
        case .ackAlert: return .action(.systemAlertAck)
        case .pingWorker: return .action(.workerPing)
        case .configChanged, .setConfig: return .configChanged
        case .reloadConfig: return .action(.configReload)
        case .resetCounters: return .action(.analyticsResetCounters)
        case .setLogLevel: return .action(.logsSetLevel)
        case .muteLogSource: return .action(.logsMuteSource)
        case .unmuteLogSource: return .action(.logsUnmuteSource)
        case .ackErrors: return .action(.logsAckErrors)
        case .addLogAlertRule: return .action(.logsAlertRuleAdd)
        case .removeLogAlertRule: return .action(.logsAlertRuleRemove)
        case .bookmarkLog: return .action(.logsBookmark)
        case .silenceAlert: return .action(.systemAlertSilence)
        case .enableManager: return .action(.managerEnable)
        case .disableManager: return .action(.managerDisable)
        case .restartManager: return .action(.managerRestart)
        case .setManagerSchedule: return .action(.managerSetSchedule)
        case .setManagerConcurrency: return .action(.managerSetConcurrency)
        case .setAutoscale: return .action(.workerAutoscale)
        case .setTaskRateLimit: return .action(.workerRateLimit)
        case .setTaskTimeLimit: return .action(.workerTimeLimit)
        case .lockConfig: return .action(.configLock)
        }
    }

    public var target: String {
        switch self {
        case .pauseWorker(let t), .resumeWorker(let t), .restartWorker(let t), .shutdownWorker(let t), .drainWorker(let t),
            .startWorker(let t), .scaleWorker(let t, _), .pauseQueue(let t), .resumeQueue(let t), .setQueueRateLimit(let t, _),
            .cancelJob(let t), .killJob(let t), .retryJob(let t, _), .startManager(let t), .stopManager(let t), .pauseManager(let t),
            .resumeManager(let t), .triggerManager(let t), .deleteJob(let t), .setJobPriority(let t, _), .moveJob(let t, _),
            .clearQueue(let t), .retryFailed(let t, _, _), .purgeFailed(let t), .forgetWorker(let t), .pingWorker(let t, _),
            .setAutoscale(let t, _, _), .enableManager(let t), .disableManager(let t), .restartManager(let t),
            .setManagerSchedule(let t, _), .setManagerConcurrency(let t, _), .setLogLevel(let t, _), .muteLogSource(let t),
            .unmuteLogSource(let t), .setTaskRateLimit(let t, _, _), .setTaskTimeLimit(let t, _, _, _):
            return t
        case .ackAlert(let id, _), .silenceAlert(let id, _), .removeLogAlertRule(let id), .bookmarkLog(let id, _, _): return String(id)
        case .addLogAlertRule(let rule): return String(rule.id)
        case .ackErrors(let source): return source ?? Self.allSources
        case .maintenance, .resetCounters: return "system"
        case .lockConfig(let key, _): return key ?? Self.allSources
        case .configChanged(let key), .reloadConfig(let key): return key
        case .setConfig(let entry): return entry.key
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(command.wire, forKey: .command)
        try c.encode(target, forKey: .target)
        switch self {
        case .scaleWorker(_, let n): try c.encode(n, forKey: .value)
        case .setQueueRateLimit(_, let n): try c.encodeIfPresent(n, forKey: .value)
        case .maintenance(let on, let message, let by):
            try c.encode(on ? 1 : 0, forKey: .value)
            try c.encodeIfPresent(message, forKey: .message)
            try c.encodeIfPresent(by, forKey: .by)
        case .setJobPriority(_, let n): try c.encode(n, forKey: .value)
        case .moveJob(_, let to): try c.encode(to, forKey: .queue)
        case .retryFailed(_, let errorClass, let by):
            try c.encodeIfPresent(errorClass, forKey: .errorClass)
            try c.encode(by, forKey: .by)
        case .ackAlert(_, let by), .retryJob(_, let by): try c.encode(by, forKey: .by)
        case .bookmarkLog(_, let note, let by):
            try c.encode(note, forKey: .note)
            try c.encode(by, forKey: .by)
        case .pingWorker(_, let reply): try c.encode(reply, forKey: .reply)
        case .setManagerSchedule(_, let schedule): try c.encode(schedule, forKey: .schedule)
        case .setLogLevel(_, let level): try c.encode(level.rawValue, forKey: .level)
        case .setConfig(let entry): try c.encode(entry.version, forKey: .version)
        case .addLogAlertRule(let rule):
            try c.encode(rule.pattern, forKey: .pattern)
            try c.encode(rule.level.rawValue, forKey: .level)
            try c.encode(rule.severity.rawValue, forKey: .severity)
        case .silenceAlert(_, let until): try c.encode(Int((until.timeIntervalSince1970 * 1_000).rounded()), forKey: .value)
        case .setManagerConcurrency(_, let n): try c.encode(n, forKey: .value)
        case .setAutoscale(_, let lo, let hi):
            try c.encode(lo, forKey: .min)
            try c.encode(hi, forKey: .max)
        case .setTaskRateLimit(_, let task, let rate):
            try c.encode(task, forKey: .task)
            try c.encode(rate, forKey: .rate)
        case .setTaskTimeLimit(_, let task, let soft, let hard):
            try c.encode(task, forKey: .task)
            try c.encode(soft, forKey: .soft)
            try c.encode(hard, forKey: .hard)
        case .lockConfig(_, let locked): try c.encode(locked, forKey: .locked)
        default: break
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .command)
        guard let command = ControlCommand(wire: name) else {
            throw DecodingError.dataCorruptedError(forKey: .command, in: c, debugDescription: "unknown fleet command '\(name.prefix(40))'")
        }
        let t = try c.decodeIfPresent(String.self, forKey: .target) ?? ""
        let value = try c.decodeIfPresent(Int.self, forKey: .value)
        switch command {
        case .action(.workerPause): self = .pauseWorker(t)
        case .action(.workerResume): self = .resumeWorker(t)
        case .action(.workerRestart): self = .restartWorker(t)
        case .action(.workerShutdown): self = .shutdownWorker(t)
        case .action(.workerDrain): self = .drainWorker(t)
        case .action(.workerStart): self = .startWorker(t)
        case .action(.workerScale):
            guard let value else {
                throw DecodingError.keyNotFound(CodingKeys.value, .init(codingPath: c.codingPath, debugDescription: "\(name) needs a value"))
            }
            self = .scaleWorker(t, value)
        case .action(.queuePause): self = .pauseQueue(t)
        case .action(.queueResume): self = .resumeQueue(t)
        case .action(.queueSetRateLimit): self = .setQueueRateLimit(t, value)
        case .action(.jobCancel): self = .cancelJob(t)
        case .action(.jobKill): self = .killJob(t)
        case .action(.jobRetry): self = .retryJob(t, by: try c.decodeIfPresent(String.self, forKey: .by) ?? "operator")
        case .action(.managerStart): self = .startManager(t)
        case .action(.managerStop): self = .stopManager(t)
        case .action(.managerPause): self = .pauseManager(t)
        case .action(.managerResume): self = .resumeManager(t)
        case .action(.managerTrigger): self = .triggerManager(t)
        case .maintenance:
            self = .maintenance(
                (value ?? 0) != 0, message: try c.decodeIfPresent(String.self, forKey: .message), by: try c.decodeIfPresent(String.self, forKey: .by))
        case .action(.jobDelete): self = .deleteJob(t)
        case .action(.jobSetPriority):
            guard let value else {
                throw DecodingError.keyNotFound(CodingKeys.value, .init(codingPath: c.codingPath, debugDescription: "\(name) needs a value"))
            }
            self = .setJobPriority(t, value)
        case .action(.jobMove): self = .moveJob(t, to: try c.decode(String.self, forKey: .queue))
        case .action(.queueClear): self = .clearQueue(t)
        case .action(.queueRetryFailed):
            self = .retryFailed(
                t, errorClass: try c.decodeIfPresent(String.self, forKey: .errorClass),
                by: try c.decodeIfPresent(String.self, forKey: .by) ?? "operator")
        case .action(.queuePurgeFailed): self = .purgeFailed(t)
        case .action(.workerForget): self = .forgetWorker(t)
        case .action(.systemAlertAck):
            guard let id = Int(t) else {
                throw DecodingError.dataCorruptedError(forKey: .target, in: c, debugDescription: "\(name) needs an alert id")
            }
            self = .ackAlert(id, by: try c.decodeIfPresent(String.self, forKey: .by) ?? "operator")
        case .action(.workerPing): self = .pingWorker(t, reply: try c.decode(String.self, forKey: .reply))
        case .configChanged: self = .configChanged(t)
        case .action(.configReload): self = .reloadConfig(t.isEmpty ? "all" : t)
        case .action(.analyticsResetCounters): self = .resetCounters
        case .action(.logsSetLevel): self = .setLogLevel(t, try c.decode(LogLevel.self, forKey: .level))
        case .action(.logsMuteSource): self = .muteLogSource(t)
        case .action(.logsUnmuteSource): self = .unmuteLogSource(t)
        case .action(.logsAckErrors): self = .ackErrors(source: t == Self.allSources || t.isEmpty ? nil : t)
        case .action(.logsAlertRuleAdd):
            let pattern = try c.decode(String.self, forKey: .pattern)
            guard let id = Int(t),
                let rule = LogAlertRule(
                    id: id, pattern: pattern, level: try c.decode(LogLevel.self, forKey: .level),
                    severity: try c.decode(AlertSeverity.self, forKey: .severity))
            else {
                throw DecodingError.dataCorruptedError(forKey: .pattern, in: c, debugDescription: "\(name) needs a rule id and a valid pattern")
            }
            self = .addLogAlertRule(rule)
        case .action(.logsBookmark):
            guard let line = Int(t) else {
                throw DecodingError.dataCorruptedError(forKey: .target, in: c, debugDescription: "\(name) needs a log line id")
            }
            self = .bookmarkLog(
                line, note: try c.decode(String.self, forKey: .note), by: try c.decodeIfPresent(String.self, forKey: .by) ?? "operator")
        case .action(.logsAlertRuleRemove), .action(.systemAlertSilence):
            guard let id = Int(t) else {
                throw DecodingError.dataCorruptedError(forKey: .target, in: c, debugDescription: "\(name) needs an id")
            }
            if command == .action(.logsAlertRuleRemove) {
                self = .removeLogAlertRule(id)
            } else {
                guard let value else {
                    throw DecodingError.keyNotFound(CodingKeys.value, .init(codingPath: c.codingPath, debugDescription: "\(name) needs a value"))
                }
                self = .silenceAlert(id, until: Date(timeIntervalSince1970: Double(value) / 1_000))
            }
        case .action(.managerEnable): self = .enableManager(t)
        case .action(.managerDisable): self = .disableManager(t)
        case .action(.managerRestart): self = .restartManager(t)
        case .action(.managerSetSchedule): self = .setManagerSchedule(t, try c.decode(String.self, forKey: .schedule))
        case .action(.managerSetConcurrency):
            guard let value else {
                throw DecodingError.keyNotFound(CodingKeys.value, .init(codingPath: c.codingPath, debugDescription: "\(name) needs a value"))
            }
            self = .setManagerConcurrency(t, value)
        case .action(.workerAutoscale): self = .setAutoscale(t, min: try c.decode(Int.self, forKey: .min), max: try c.decode(Int.self, forKey: .max))
        case .action(.workerRateLimit):
            self = .setTaskRateLimit(t, task: try c.decode(String.self, forKey: .task), rate: try c.decode(String.self, forKey: .rate))
        case .action(.workerTimeLimit):
            self = .setTaskTimeLimit(
                t, task: try c.decode(String.self, forKey: .task), soft: try c.decode(Int.self, forKey: .soft),
                hard: try c.decode(Int.self, forKey: .hard))
        case .action(.configLock): self = .lockConfig(t == Self.allSources || t.isEmpty ? nil : t, locked: try c.decode(Bool.self, forKey: .locked))
        default:
            throw DecodingError.dataCorruptedError(forKey: .command, in: c, debugDescription: "unknown fleet command '\(name.prefix(40))'")
        }
    }
}
