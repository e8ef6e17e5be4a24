import AgentOSCore
import Foundation

/// logs.alert_rule_add: lines of `level` or above whose message matches `pattern` raise an alert
/// of `severity`; it resolves once no line has matched for `FleetSimulator.ruleQuietSeconds`.
public struct LogAlertRule: Sendable, Equatable {
    public var id: Int
    public var pattern: String
    public var level: LogLevel
    public var severity: AlertSeverity
    let regex: CompiledPattern

    public init?(id: Int, pattern: String, level: LogLevel, severity: AlertSeverity) {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return nil }
        self.id = id
        self.pattern = pattern
        self.level = level
        self.severity = severity
        self.regex = CompiledPattern(regex)
    }

    public static func == (a: LogAlertRule, b: LogAlertRule) -> Bool {
        (a.id, a.pattern, a.level, a.severity) == (b.id, b.pattern, b.level, b.severity)
    }

    func matches(_ line: LogLine) -> Bool {
        line.level >= level && regex.matches(line.message)
    }
}

/// A compiled regular expression: immutable once made, and matching is thread-safe.
final class CompiledPattern: @unchecked Sendable {
    let regex: NSRegularExpression
    init(_ regex: NSRegularExpression) { self.regex = regex }
    func matches(_ s: String) -> Bool { regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil }
}

extension [LogLine] {
    /// Appends a line unless its service dropped it (level or mute).
    mutating func append(_ line: LogLine?) { if let line { append(line) } }
}

extension FleetSimulator {
    /// A log rule's alert resolves after this long without a matching line (at the fleet's pace).
    static let ruleQuietSeconds: Double = 30

    /// Whether a line of `level` from `source` is written: not muted, and at or above the level
    /// set for its service (the source itself, a worker's stage, or `worker` for every worker).
    func emits(_ level: LogLevel, from source: String) -> Bool {
        if mutedSources.contains(source) { return false }
        guard !logLevels.isEmpty else { return true }
        var services = [source]
        if let at = source.firstIndex(of: "@") {
            let short = source[..<at].split(separator: "-").first.map(String.init) ?? ""
            if let stage = Pipeline.stages.first(where: { Pipeline.shortName($0) == short }) { services.append(stage) }
            services.append("worker")
        }
        guard let threshold = services.lazy.compactMap({ logLevels[$0] }).first else { return true }
        return level >= threshold
    }

    /// Error and critical lines not acknowledged yet (of one source, or all).
    public func unackedErrorCount(source: String?) -> Int {
        unackedErrors.filter { source == nil || $0.key == source }.values.reduce(0) { $0 + $1.values.reduce(0, +) }
    }

    /// Whether `line` is an error line logs.ack_errors acknowledged.
    public func isAcked(_ line: LogLine) -> Bool {
        line.level >= .error && line.id <= max(errorsAckedThrough[line.source] ?? 0, errorsAckedThrough["*"] ?? 0)
    }

    /// Books a written line: error counts awaiting acknowledgement, and the rules it matches.
    mutating func noteLogged(_ line: LogLine) {
        if line.level >= .error { unackedErrors[line.source, default: [:]][line.level, default: 0] += 1 }
        for rule in logAlertRules.values where rule.matches(line) { ruleMatches[rule.id] = (now, line.message) }
    }

    /// Raises an alert for a rule that matched and has none open; resolves one whose rule went quiet.
    mutating func watchLogRules(_ events: inout [AgentEvent]) {
        for id in ruleMatches.keys.sorted() {
            guard let rule = logAlertRules[id], let match = ruleMatches[id] else { continue }
            if let alertID = ruleAlerts[id] {
                guard now.timeIntervalSince(match.at) >= Self.ruleQuietSeconds / speed else { continue }
                ruleAlerts[id] = nil
                ruleMatches[id] = nil
                resolve(alertID, &events)
            } else {
                ruleAlerts[id] = raise(
                    rule.severity, kind: Alert.Kind.logRule, source: "log rule #\(id)", title: "Log lines match /\(rule.pattern)/ (rule #\(id))",
                    message: String(match.line.prefix(200)), &events)
            }
        }
    }

    private mutating func resolve(_ alertID: Int, _ events: inout [AgentEvent]) {
        guard let i = alerts.firstIndex(where: { $0.id == alertID }), alerts[i].status != .resolved else { return }
        alerts[i].status = .resolved
        events.append(.alertUpdated(AlertPatch(id: alertID, status: .resolved)))
    }

    /// Silenced alerts whose silence has run out are back (acknowledged ones stay acknowledged).
    mutating func expireSilences(_ events: inout [AgentEvent]) {
        for i in alerts.indices where alerts[i].status == .silenced && (alerts[i].silencedUntil ?? .distantFuture) <= now {
            alerts[i].status = alerts[i].ackedBy == nil ? .active : .acked
            alerts[i].silencedUntil = nil
            events.append(.alertUpdated(AlertPatch(id: alerts[i].id, status: alerts[i].status)))
        }
    }

    /// logs.set_level, mute/unmute, ack_errors and the alert rules.
    mutating func changeLogging(_ command: FleetCommand, _ events: inout [AgentEvent]) throws(FleetCommandError) {
        switch command {
        case .setLogLevel(let service, let level):
            logLevels[service] = level
        case .muteLogSource(let source):
            guard mutedSources.insert(source).inserted else { throw .invalid("log source \(source) is already muted") }
        case .unmuteLogSource(let source):
            guard mutedSources.remove(source) != nil else { throw .invalid("log source \(source) is not muted") }
        case .ackErrors(let source):
            errorsAckedThrough[source ?? "*"] = logs.last?.id ?? 0
            for (src, counts) in unackedErrors.sorted(by: { $0.key < $1.key }) where source == nil || src == source {
                for (level, n) in counts {
                    logCountsByLevel[level.rawValue, default: 0] -= n
                    logCountsBySource[src, default: 0] -= n
                }
                unackedErrors[src] = nil
            }
        case .addLogAlertRule(let rule):
            guard logAlertRules[rule.id] == nil else { throw .invalid("alert rule #\(rule.id) exists") }
            logAlertRules[rule.id] = rule
        case .removeLogAlertRule(let id):
            guard logAlertRules.removeValue(forKey: id) != nil else { throw .notFound("alert rule \(id)") }
            ruleMatches[id] = nil
            if let alertID = ruleAlerts.removeValue(forKey: id) { resolve(alertID, &events) }
        default:
            throw .invalid("\(command.command.wire) is no logging change")
        }
    }
}

extension FleetSimulator {
    /// logs.bookmark: a note on a line the log store still holds.
    mutating func bookmark(_ line: Int, note: String, by: String) throws(FleetCommandError) {
        guard logs.contains(where: { $0.id == line }) else { throw .notFound("log line \(line)") }
        logBookmarks.append(LogBookmark(id: (logBookmarks.last?.id ?? 0) + 1, logID: line, note: note, by: by, ts: now))
        if logBookmarks.count > 500 { logBookmarks.removeFirst(logBookmarks.count - 500) }
    }
}
