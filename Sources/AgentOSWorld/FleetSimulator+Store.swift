import AgentOSCore
import Foundation

/// Embedded, the simulator is the store the live mode keeps in PostgreSQL and Redis: its log
/// lines (logs.purge and logs.archive take them out), the broadcast banner, the health checks.
extension FleetSimulator {
    /// Log lines written before `cutoff`, oldest first.
    public func logs(before cutoff: Date) -> [LogLine] { logs.filter { $0.ts < cutoff } }

    /// Takes the lines written before `cutoff` out of the store and out of the level and source
    /// counts (an error line already acknowledged left the counts then); their bookmarks go with them.
    mutating func removeLogs(before cutoff: Date) -> [LogLine] {
        let removed = logs(before: cutoff)
        guard !removed.isEmpty else { return [] }
        logs.removeAll { $0.ts < cutoff }
        for line in removed {
            if line.level >= .error {
                if isAcked(line) { continue }
                unackedErrors[line.source]?[line.level]? -= 1
            }
            logCountsByLevel[line.level.rawValue, default: 0] -= 1
            logCountsBySource[line.source, default: 0] -= 1
        }
        let ids = Set(removed.map(\.id))
        logBookmarks.removeAll { ids.contains($0.logID) }
        return removed
    }

    /// system.broadcast: the banner every console shows until `ttl` seconds of the fleet's clock pass.
    mutating func setBroadcast(_ message: String, level: AlertSeverity, ttl: Int, by user: String) -> Broadcast {
        let b = Broadcast(message: message, level: level, expiresAt: now.addingTimeInterval(Double(ttl)), by: user)
        broadcast = b
        return b
    }

    /// The banner while it has not expired.
    public var currentBroadcast: Broadcast? {
        guard let b = broadcast, (b.expiresAt ?? .distantFuture) > now else { return nil }
        return b
    }

    /// system.health_check's result, written to the log like the services' own lines.
    mutating func noteHealthCheck(_ summary: String, ok: Bool) -> LogLine? {
        log(ok ? .info : .warning, "health", "health check: \(summary)")
    }
}
