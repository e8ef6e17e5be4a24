import AgentOSCore
import AgentOSCrypto
import Foundation

/// The audit trail in `audit_logs`. The server seals each row (D75): `audit_append` is the only
/// way a login adds one, and the seal trigger gives it its seq, its link and a keyed MAC under the
/// chain's advisory lock, so the chain stays one line across every console. `append(_:in:)` joins
/// the transaction of an action whose effect is in PostgreSQL (effect and outcome row commit together).
public final class PostgresAuditLog: SelfVerifyingAuditLog {
    private let db: PostgresClient

    public init(postgres: PostgresClient) { db = postgres }

    @discardableResult
    public func append(_ draft: AuditDraft) throws -> AuditRecord {
        try db.withConnection { c in
            let pending = Self.appending(draft)
            let rows = try c.pipeline([PostgresConnection.Statement("BEGIN")] + pending.statements + [PostgresConnection.Statement("COMMIT")])
            return try pending.record(rows[pending.statements.count]) // after BEGIN, the append's rows
        }
    }

    @discardableResult
    public func append(_ draft: AuditDraft, in tx: PostgresConnection) throws -> AuditRecord {
        let pending = Self.appending(draft)
        let rows = try tx.pipeline(pending.statements)
        return try pending.record(rows[pending.statements.count - 1])
    }

    /// A row on its way into the chain: one statement (`audit_append`, which needs no read round
    /// trip: the server computes seq, link and MAC), and how to read the record back from its rows.
    public struct Pending {
        public let statements: [PostgresConnection.Statement]
        let draft: AuditDraft

        /// The record the server wrote (the append's row).
        public func record(_ rows: PostgresRows) throws -> AuditRecord {
            guard let row = rows.rows.first else { throw PostgresError(kind: .client, message: "audit row not written") }
            return AuditRecord(seq: try row.get("seq"), draft: draft, prevHash: try row.get("prev_hash"), hash: try row.get("hash"), keyed: true)
        }
    }

    public static func appending(_ draft: AuditDraft) -> Pending {
        var d = draft
        d.timestamp = AuditChain.storable(d.timestamp)
        let append = PostgresConnection.Statement(
            """
            SELECT seq, prev_hash, hash FROM audit_append($1::uuid, $2::timestamptz, $3::text, $4::text, $5::text, $6::text, $7::text,
                $8::text, $9::uuid, $10::text, $11::text, $12::text, $13::text, $14::jsonb, $15::jsonb, $16::inet, $17::text, $18::int)
            """,
            [
                d.id, d.timestamp, d.user, d.actingAs, d.role, d.action, d.phase.rawValue, d.outcome, d.requestID,
                d.idempotencyKey, d.sessionID, d.target, d.reason, d.payload.map(PostgresValue.json), d.result.map(PostgresValue.json),
                d.ip, d.userAgent, d.durationMs
            ])
        return Pending(statements: [append], draft: d)
    }

    /// The whole chain checked: the unkeyed rows of before migration 13 here, link by link, up to
    /// the head the keyed chain starts from; the keyed rows by the server (`audit_verify`), which
    /// alone holds the key.
    public func verifyChain() throws -> AuditVerification {
        let row = try db.query("SELECT first_seq, legacy_head, keyed_rows, bad_seq, problem FROM audit_verify()").rows[0]
        let firstKeyed: Int = try row.get("first_seq")
        let legacyHead: String = try row.get("legacy_head")
        let keyedRows: Int = try row.get("keyed_rows")
        var legacy = AuditVerifier()
        if firstKeyed > 1 {
            var next = 1
            while next < firstKeyed {
                let page = try db.query(
                    "SELECT \(Self.columns) FROM audit_logs WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT 5000", [next, firstKeyed]
                ).rows.map(Self.record)
                if page.isEmpty { break }
                legacy.feed(page)
                next = page.last!.seq + 1
            }
            let unkeyed = legacy.result
            if !unkeyed.ok { return AuditVerification(rows: unkeyed.rows + keyedRows, broken: unkeyed.broken) }
            if legacy.next.seq != firstKeyed || legacy.next.prevHash != legacyHead {
                return AuditVerification(
                    rows: unkeyed.rows + keyedRows,
                    broken: (
                        legacy.next.seq,
                        "the unkeyed chain (rows before \(firstKeyed), written before migration 13) ends at row \(legacy.next.seq - 1) "
                            + "with hash \(legacy.next.prevHash.prefix(12)), not at the head the keyed chain starts from (\(legacyHead.prefix(12)))"
                    ))
            }
        }
        let rows = legacy.result.rows + keyedRows
        if let bad: Int = try row.get("bad_seq") { return AuditVerification(rows: rows, broken: (bad, try row.get("problem"))) }
        return AuditVerification(rows: rows, broken: nil)
    }

    /// The newest row (nil: no rows) and the row count, as a checkpoint signs them.
    public func head() throws -> (seq: Int, hash: String, rows: Int)? {
        guard let row = try db.query("SELECT seq, hash, row_count FROM audit_head()").rows.first else { return nil }
        return (try row.get("seq"), try row.get("hash"), try row.get("row_count"))
    }

    /// What a signed checkpoint finds in the table now: nil when the row it signed is still the
    /// row at its seq with every row up to it, else the row and the problem.
    public func check(_ checkpoint: AuditCheckpoint) throws -> (seq: Int, problem: String)? {
        let row = try db.query(
            """
            SELECT (SELECT max(seq) FROM audit_logs) AS newest, (SELECT hash FROM audit_logs WHERE seq = $1) AS hash,
                   (SELECT count(*) FROM audit_logs WHERE seq <= $1) AS n
            """, [checkpoint.seq]
        ).rows[0]
        let newest: Int = try row.get("newest") ?? 0
        let when = "the checkpoint of \(ISOTime.format(checkpoint.time))"
        if newest < checkpoint.seq {
            return (
                checkpoint.seq,
                "head below the checkpoint: the newest row is \(newest), \(when) was at row \(checkpoint.seq) "
                    + "(rows \(newest + 1)…\(checkpoint.seq) deleted from the end)"
            )
        }
        let hash: String? = try row.get("hash")
        guard let hash else { return (checkpoint.seq, "row \(checkpoint.seq) is missing: \(when) signed it") }
        if hash != checkpoint.head {
            return (checkpoint.seq, "row \(checkpoint.seq) is not the row \(when) signed: its MAC differs (the chain was rewritten up to it)")
        }
        let n: Int = try row.get("n")
        if n != checkpoint.rows { return (checkpoint.seq, "\(n) rows up to row \(checkpoint.seq), \(when) counted \(checkpoint.rows)") }
        return nil
    }

    static let columns = """
        seq, id, timestamp, user_id, acting_as, role, action, phase, outcome, request_id, idempotency_key, session_id, target, reason,
        payload::text AS payload, result::text AS result, host(ip_address) AS ip, user_agent, duration_ms, prev_hash, hash,
        seq >= (SELECT first_seq FROM audit_chain_start()) AS keyed
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
        return AuditRecord(
            seq: try row.get("seq"), draft: draft, prevHash: try row.get("prev_hash"), hash: try row.get("hash"),
            keyed: try row.get("keyed", as: Bool.self) ? true : nil)
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

    @discardableResult
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
