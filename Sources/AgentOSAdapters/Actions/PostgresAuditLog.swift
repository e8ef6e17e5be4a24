import AgentOSCore
import Foundation

/// The audit trail in `audit_logs`: rows are linked under a transaction-scoped advisory lock, so
/// the chain stays one line across every console. `append(_:in:)` joins the transaction of an
/// action whose effect is in PostgreSQL (effect and outcome row commit together).
public final class PostgresAuditLog: AuditLog {
    private let db: PostgresClient
    static let lockKey = 0x4147_454e_5441_5544 // "AGENTAUD"

    public init(postgres: PostgresClient) { db = postgres }

    public func append(_ draft: AuditDraft) throws -> AuditRecord {
        try db.transaction { tx in try append(draft, in: tx) }
    }

    public func append(_ draft: AuditDraft, in tx: PostgresConnection) throws -> AuditRecord {
        try tx.query("SELECT pg_advisory_xact_lock($1)", [Self.lockKey])
        let last = try tx.query("SELECT seq, hash FROM audit_logs ORDER BY seq DESC LIMIT 1").rows.first
        let seq = try last.map { try $0.get("seq", as: Int.self) } ?? 0
        let prev = try last.map { try $0.get("hash", as: String.self) } ?? AuditChain.genesis
        let record = AuditChain.link(draft, seq: seq + 1, prev: prev)
        let d = record.draft
        try tx.query("""
            INSERT INTO audit_logs (seq, id, timestamp, user_id, acting_as, role, action, phase, outcome, request_id, idempotency_key,
                                    session_id, target, reason, payload, result, ip_address, user_agent, duration_ms, prev_hash, hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::inet, $18, $19, $20, $21)
            """, [record.seq, d.id, d.timestamp, d.user, d.actingAs, d.role, d.action, d.phase.rawValue, d.outcome, d.requestID,
                  d.idempotencyKey, d.sessionID, d.target, d.reason, d.payload.map(PostgresValue.json), d.result.map(PostgresValue.json),
                  d.ip, d.userAgent, d.durationMs, record.prevHash, record.hash])
        return record
    }

    static let columns = """
        seq, id, timestamp, user_id, acting_as, role, action, phase, outcome, request_id, idempotency_key, session_id, target, reason,
        payload::text AS payload, result::text AS result, host(ip_address) AS ip, user_agent, duration_ms, prev_hash, hash
        """

    public func tail(_ limit: Int) throws -> [AuditRecord] {
        try db.query("SELECT * FROM (SELECT \(Self.columns) FROM audit_logs ORDER BY seq DESC LIMIT $1) t ORDER BY seq", [limit])
            .rows.map(Self.record)
    }

    public func scan(from seq: Int, pageSize: Int, _ body: ([AuditRecord]) throws -> Void) throws {
        var next = seq
        while true {
            let page = try db.query("SELECT \(Self.columns) FROM audit_logs WHERE seq >= $1 ORDER BY seq LIMIT $2", [next, pageSize]).rows.map(Self.record)
            if page.isEmpty { return }
            try body(page)
            next = page.last!.seq + 1
        }
    }

    /// A row back as a record: jsonb columns are re-canonicalised (jsonb reorders keys).
    static func record(_ row: PostgresRow) throws -> AuditRecord {
        func canon(_ text: String?) throws -> String? {
            guard let text else { return nil }
            let values = try JSONDecoder().decode([String: PayloadValue].self, from: Data(text.utf8))
            return CanonicalJSON.object(values)
        }
        let draft = AuditDraft(
            id: try row.get("id"), timestamp: try row.get("timestamp"), user: try row.get("user_id"), actingAs: try row.get("acting_as"),
            role: try row.get("role"), action: try row.get("action"),
            phase: AuditDraft.Phase(rawValue: try row.get("phase")) ?? .denied, outcome: try row.get("outcome"),
            requestID: try row.get("request_id"), idempotencyKey: try row.get("idempotency_key"), sessionID: try row.get("session_id"),
            target: try row.get("target"), reason: try row.get("reason"), payload: try canon(try row.get("payload")),
            result: try canon(try row.get("result")), ip: try row.get("ip"), userAgent: try row.get("user_agent"),
            durationMs: try row.get("duration_ms"))
        return AuditRecord(seq: try row.get("seq"), draft: draft, prevHash: try row.get("prev_hash"), hash: try row.get("hash"))
    }
}

/// Roles from `user_permissions`; an operator not listed there is readonly.
public struct PostgresPermissionSource: PermissionSource {
    let db: PostgresClient
    public init(postgres: PostgresClient) { db = postgres }

    public func grant(for user: String) throws -> Grant? {
        guard let row = try db.query("SELECT role, array_to_json(extra_permissions)::text AS extra FROM user_permissions WHERE user_id = $1", [user]).rows.first else { return nil }
        guard let role = Role(rawValue: try row.get("role")) else { return nil }
        let extra = try JSONDecoder().decode([String].self, from: Data((try row.get("extra", as: String.self)).utf8))
        return Grant(role: role, extra: Set(extra.compactMap(Permission.init(rawValue:))))
    }
}

/// The embedded mode's audit trail: the same chain as an append-only JSONL file
/// (`<data>/logs/audit/audit.jsonl`), one record per line, fsync'd before the action goes on.
public final class FileAuditLog: AuditLog, @unchecked Sendable {
    private let url: URL
    private let lock = NSLock()
    private var last: AuditRecord?

    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        url = directory.appendingPathComponent("audit.jsonl")
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        last = try readAll().last
    }

    public var path: String { url.path }

    private func readAll() throws -> [AuditRecord] {
        let text = try String(contentsOf: url, encoding: .utf8)
        let decoder = AgentJSON.decoder()
        return try text.split(separator: "\n").enumerated().map { i, line in
            do { return try decoder.decode(AuditRecord.self, from: Data(line.utf8)) } catch {
                throw DecodeFailure.from(error, what: "\(url.path) line \(i + 1)")
            }
        }
    }

    public func append(_ draft: AuditDraft) throws -> AuditRecord {
        lock.lock()
        defer { lock.unlock() }
        let record = AuditChain.link(draft, after: last)
        var line = try AgentJSON.encoder().encode(record)
        line.append(0x0A)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
        try handle.synchronize()
        last = record
        return record
    }

    public func tail(_ limit: Int) throws -> [AuditRecord] {
        lock.lock()
        defer { lock.unlock() }
        return Array(try readAll().suffix(limit))
    }

    public func scan(from seq: Int, pageSize: Int, _ body: ([AuditRecord]) throws -> Void) throws {
        let all = try { lock.lock(); defer { lock.unlock() }; return try readAll() }().filter { $0.seq >= seq }
        for start in stride(from: 0, to: all.count, by: max(1, pageSize)) { try body(Array(all[start..<min(start + pageSize, all.count)])) }
    }
}
