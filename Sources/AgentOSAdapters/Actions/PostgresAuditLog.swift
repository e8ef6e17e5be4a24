import AgentOSCore
import AgentOSCrypto
import Foundation

/// The audit trail in `audit_logs`: rows are linked under a transaction-scoped advisory lock, so
/// the chain stays one line across every console. `append(_:in:)` joins the transaction of an
/// action whose effect is in PostgreSQL (effect and outcome row commit together).
public final class PostgresAuditLog: AuditLog {
    private let db: PostgresClient
    static let lockKey = 0x4147_454e_5441_5544 // "AGENTAUD"

    public init(postgres: PostgresClient) { db = postgres }

    public func append(_ draft: AuditDraft) throws -> AuditRecord {
        try db.withConnection { c in
            let pending = Self.appending(draft)
            let rows = try c.pipeline([PostgresConnection.Statement("BEGIN")] + pending.statements + [PostgresConnection.Statement("COMMIT")])
            return try pending.record(rows[pending.statements.count]) // after BEGIN, the INSERT's rows
        }
    }

    public func append(_ draft: AuditDraft, in tx: PostgresConnection) throws -> AuditRecord {
        let pending = Self.appending(draft)
        let rows = try tx.pipeline(pending.statements)
        return try pending.record(rows[pending.statements.count - 1])
    }

    /// A row on its way into the chain: the statements (the chain lock, then one INSERT that reads
    /// the head and computes seq, prev_hash and hash in SQL, so an append needs no read round trip),
    /// and how to read the record back from the INSERT's rows. The hash is the one
    /// `AuditChain.hash` defines: SHA-256 over prev + "\n" + the canonical form, seq spliced in.
    public struct Pending {
        public let statements: [PostgresConnection.Statement]
        let draft: AuditDraft
        /// The canonical form around the seq value.
        let prefix: String
        let suffix: String

        /// The record the INSERT wrote (its RETURNING row), checked against the hash computed here.
        public func record(_ rows: PostgresRows) throws -> AuditRecord {
            guard let row = rows.rows.first else { throw PostgresError(kind: .client, message: "audit row not written") }
            let seq: Int = try row.get("seq")
            let prev: String = try row.get("prev_hash")
            let hash: String = try row.get("hash")
            // AuditChain.hash, from the canonical form already built.
            let expected = Hex.encode(Digest.sha256(prev + "\n" + prefix + String(seq) + suffix))
            guard expected == hash else {
                throw PostgresError(
                    kind: .client, message: "audit row \(seq): the database computed hash \(hash.prefix(12)), the console \(expected.prefix(12))")
            }
            return AuditRecord(seq: seq, draft: draft, prevHash: prev, hash: hash)
        }
    }

    /// No value of the canonical form can contain this key-value text: inside a JSON string every
    /// quote is escaped, so `"seq":` appears once, as the top-level key.
    static let seqSentinel = 9_007_199_254_740_991

    public static func appending(_ draft: AuditDraft) -> Pending {
        var d = draft
        d.timestamp = AuditChain.storable(d.timestamp)
        let canonical = Array(AuditChain.canonical(seq: seqSentinel, d).utf8)
        let marker = Array("\"seq\":\(seqSentinel)".utf8)
        var at = 0
        while !canonical[at..<(at + marker.count)].elementsEqual(marker) { at += 1 }
        let prefix = String(decoding: canonical[..<(at + 6)], as: UTF8.self)
        let suffix = String(decoding: canonical[(at + marker.count)...], as: UTF8.self)
        let insert = PostgresConnection.Statement(
            """
            INSERT INTO audit_logs (seq, id, timestamp, user_id, acting_as, role, action, phase, outcome, request_id, idempotency_key,
                                    session_id, target, reason, payload, result, ip_address, user_agent, duration_ms, prev_hash, hash)
            SELECT h.seq, $1::uuid, $2::timestamptz, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::uuid, $10::text,
                   $11::text, $12::text, $13::text, $14::jsonb, $15::jsonb, $16::inet, $17::text, $18::int, h.prev,
                   encode(sha256(convert_to(h.prev || E'\\n' || $19::text || h.seq::text || $20::text, 'UTF8')), 'hex')
            FROM (SELECT coalesce(max(seq), 0) + 1 AS seq,
                         coalesce((SELECT hash FROM audit_logs ORDER BY seq DESC LIMIT 1), '\(AuditChain.genesis)') AS prev
                  FROM audit_logs) AS h
            RETURNING seq, prev_hash, hash
            """,
            [
                d.id, d.timestamp, d.user, d.actingAs, d.role, d.action, d.phase.rawValue, d.outcome, d.requestID,
                d.idempotencyKey, d.sessionID, d.target, d.reason, d.payload.map(PostgresValue.json), d.result.map(PostgresValue.json),
                d.ip, d.userAgent, d.durationMs, prefix, suffix
            ])
        return Pending(
            statements: [PostgresConnection.Statement("SELECT pg_advisory_xact_lock($1)", [lockKey]), insert],
            draft: d, prefix: prefix, suffix: suffix)
    }

    static let columns = """
        seq, id, timestamp, user_id, acting_as, role, action, phase, outcome, request_id, idempotency_key, session_id, target, reason,
        payload::text AS payload, result::text AS result, host(ip_address) AS ip, user_agent, duration_ms, prev_hash, hash
        """

    public func tail(_ limit: Int) throws -> [AuditRecord] {
        try db.query("SELECT * FROM (SELECT \(Self.columns) FROM audit_logs ORDER BY seq DESC LIMIT $1) t ORDER BY seq", [limit])
            .rows.map(Self.record)
    }

    /// Every row of one request, in order (what became of an action whose answer was lost).
    public func records(requestID: UUID) throws -> [AuditRecord] {
        try db.query("SELECT \(Self.columns) FROM audit_logs WHERE request_id = $1 ORDER BY seq", [requestID]).rows.map(Self.record)
    }

    public func scan(from seq: Int, pageSize: Int, _ body: ([AuditRecord]) throws -> Void) throws {
        var next = seq
        while true {
            let page = try db.query("SELECT \(Self.columns) FROM audit_logs WHERE seq >= $1 ORDER BY seq LIMIT $2", [next, pageSize]).rows.map(
                Self.record)
            if page.isEmpty { return }
            try body(page)
            next = page.last!.seq + 1
        }
    }

    /// A row back as a record: jsonb columns are re-canonicalised (jsonb reorders keys).
    static func record(_ row: PostgresRow) throws -> AuditRecord {
        func canon(_ text: String?) -> String? {
            guard let text else { return nil }
            // The console only writes objects: anything else was put there by hand. Kept as stored,
            // so the row's hash no longer matches and the verifier names the row instead of failing.
            guard let values = try? JSONDecoder().decode([String: PayloadValue].self, from: Data(text.utf8)) else { return text }
            return CanonicalJSON.object(values)
        }
        let draft = AuditDraft(
            id: try row.get("id"), timestamp: try row.get("timestamp"), user: try row.get("user_id"), actingAs: try row.get("acting_as"),
            role: try row.get("role"), action: try row.get("action"),
            phase: AuditDraft.Phase(rawValue: try row.get("phase")) ?? .denied, outcome: try row.get("outcome"),
            requestID: try row.get("request_id"), idempotencyKey: try row.get("idempotency_key"), sessionID: try row.get("session_id"),
            target: try row.get("target"), reason: try row.get("reason"), payload: canon(try row.get("payload")),
            result: canon(try row.get("result")), ip: try row.get("ip"), userAgent: try row.get("user_agent"),
            durationMs: try row.get("duration_ms"))
        return AuditRecord(seq: try row.get("seq"), draft: draft, prevHash: try row.get("prev_hash"), hash: try row.get("hash"))
    }
}

/// Roles from `user_permissions`; an operator not listed there is readonly.
public struct PostgresPermissionSource: PermissionSource {
    let db: PostgresClient
    public init(postgres: PostgresClient) { db = postgres }

    public func grant(for user: String) throws -> Grant? {
        guard
            let row = try db.query("SELECT role, array_to_json(extra_permissions)::text AS extra FROM user_permissions WHERE user_id = $1", [user])
                .rows.first
        else { return nil }
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
        let all = try {
            lock.lock()
            defer { lock.unlock() }
            return try readAll()
        }().filter { $0.seq >= seq }
        for start in stride(from: 0, to: all.count, by: max(1, pageSize)) { try body(Array(all[start..<min(start + pageSize, all.count)])) }
    }
}
