import AgentOSCore
import Foundation

/// The embedded audit trail that also writes each outcome into the fleet's log (source `audit`),
/// as migration 8's trigger does live: the operator's actions show in System Logs.
public struct OperatorActionLog: AuditLog {
    public let base: any AuditLog
    public let world: EmbeddedWorld

    public init(_ base: any AuditLog, world: EmbeddedWorld) {
        self.base = base
        self.world = world
    }

    @discardableResult
    public func append(_ draft: AuditDraft) throws -> AuditRecord {
        let record = try base.append(draft)
        if let line = OperatorLogLine.of(draft) { world.log(line.level, source: OperatorLogLine.source, line.message) }
        return record
    }

    public func tail(_ limit: Int) throws -> [AuditRecord] { try base.tail(limit) }

    public func scan(from seq: Int, pageSize: Int, _ body: ([AuditRecord]) throws -> Void) throws {
        try base.scan(from: seq, pageSize: pageSize, body)
    }
}
