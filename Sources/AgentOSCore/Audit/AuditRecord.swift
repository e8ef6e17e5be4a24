import AgentOSCrypto
import Foundation

/// An audit row before it joins the chain.
public struct AuditDraft: Sendable, Equatable, Codable {
    /// `preview`: what an action would touch, shown to the operator; nothing ran (D62).
    /// `received`: the console an action ended (`system.session_terminate`) says it stopped, under
    /// that request's id.
    public enum Phase: String, Sendable, Codable { case intent, outcome, denied, preview, received }

    public var id: UUID
    public var timestamp: Date
    public var user: String
    public var actingAs: String?
    public var role: String
    public var action: String
    public var phase: Phase
    public var outcome: String?
    public var requestID: UUID
    public var idempotencyKey: String?
    public var sessionID: String?
    public var target: String?
    public var reason: String?
    /// Canonical JSON, personal data replaced by HMACs.
    public var payload: String?
    public var result: String?
    public var ip: String?
    public var userAgent: String?
    public var durationMs: Int?

    public init(
        id: UUID = .random(), timestamp: Date, user: String, actingAs: String? = nil, role: String, action: String, phase: Phase,
        outcome: String? = nil, requestID: UUID, idempotencyKey: String? = nil, sessionID: String? = nil, target: String? = nil,
        reason: String? = nil, payload: String? = nil, result: String? = nil, ip: String? = nil, userAgent: String? = nil,
        durationMs: Int? = nil
    ) {
        self.id = id
        self.timestamp = timestamp
        self.user = user
        self.actingAs = actingAs
        self.role = role
        self.action = action
        self.phase = phase
        self.outcome = outcome
        self.requestID = requestID
        self.idempotencyKey = idempotencyKey
        self.sessionID = sessionID
        self.target = target
        self.reason = reason
        self.payload = payload
        self.result = result
        self.ip = ip
        self.userAgent = userAgent
        self.durationMs = durationMs
    }
}

/// A row of the chain: the draft, its place and the two hashes.
public struct AuditRecord: Sendable, Equatable, Codable {
    public var seq: Int
    public var draft: AuditDraft
    public var prevHash: String
    public var hash: String
    /// True for a row of PostgreSQL's keyed chain (D75): its hash is a MAC under a key only the
    /// server holds, so only the server can recompute it (`audit_verify`). nil: an unkeyed row.
    public var keyed: Bool?

    public init(seq: Int, draft: AuditDraft, prevHash: String, hash: String, keyed: Bool? = nil) {
        self.seq = seq
        self.draft = draft
        self.prevHash = prevHash
        self.hash = hash
        self.keyed = keyed
    }
}

/// The hash chain: each row's hash is SHA-256 over the previous hash and the row's canonical
/// content, so a flipped byte, a deleted, inserted or swapped row breaks a link.
public enum AuditChain {
    public static let genesis = String(repeating: "0", count: 64)

    /// Millisecond timestamps, sorted keys, no whitespace: what PostgreSQL and JSONL both keep exactly.
    public static func canonical(seq: Int, _ d: AuditDraft) -> String {
        var f: [String: PayloadValue] = [
            "seq": .int(seq), "id": .string(d.id.lowercasedString), "ts": .int(millis(d.timestamp)), "user": .string(d.user),
            "role": .string(d.role), "action": .string(d.action), "phase": .string(d.phase.rawValue),
            "request_id": .string(d.requestID.lowercasedString)
        ]
        let optional: [(String, String?)] = [
            ("acting_as", d.actingAs), ("outcome", d.outcome), ("idempotency_key", d.idempotencyKey), ("session_id", d.sessionID),
            ("target", d.target), ("reason", d.reason), ("payload", d.payload), ("result", d.result), ("ip", d.ip), ("user_agent", d.userAgent)
        ]
        for (k, v) in optional { if let v { f[k] = .string(v) } }
        if let ms = d.durationMs { f["duration_ms"] = .int(ms) }
        return CanonicalJSON.object(f)
    }

    public static func millis(_ date: Date) -> Int { Int((date.timeIntervalSince1970 * 1_000).rounded()) }

    /// Rounds a timestamp to what the stores keep (milliseconds).
    public static func storable(_ date: Date) -> Date { Date(timeIntervalSince1970: Double(millis(date)) / 1_000) }

    public static func hash(prev: String, seq: Int, _ draft: AuditDraft) -> String {
        Hex.encode(Digest.sha256(prev + "\n" + canonical(seq: seq, draft)))
    }

    /// Links a draft after `last` (nil: the first row).
    public static func link(_ draft: AuditDraft, after last: AuditRecord?) -> AuditRecord {
        link(draft, seq: (last?.seq ?? 0) + 1, prev: last?.hash ?? genesis)
    }

    public static func link(_ draft: AuditDraft, seq: Int, prev: String) -> AuditRecord {
        var d = draft
        d.timestamp = storable(d.timestamp)
        return AuditRecord(seq: seq, draft: d, prevHash: prev, hash: hash(prev: prev, seq: seq, d))
    }
}

/// The verifier's finding.
public struct AuditVerification: Sendable, Equatable {
    public var rows: Int
    /// The first bad row and what is wrong with it; nil when the chain holds.
    public var broken: (seq: Int, problem: String)?

    public var ok: Bool { broken == nil }

    public init(rows: Int, broken: (seq: Int, problem: String)?) {
        self.rows = rows
        self.broken = broken
    }

    public static func == (a: AuditVerification, b: AuditVerification) -> Bool {
        a.rows == b.rows && a.broken?.seq == b.broken?.seq && a.broken?.problem == b.broken?.problem
    }

    public var summary: String {
        if let broken { return "audit chain BROKEN at row seq \(broken.seq): \(broken.problem) (\(rows) rows checked)" }
        return "audit chain intact: \(rows) rows verified"
    }

    /// `system.audit_verify`'s result, live and embedded alike.
    public var actionResult: ActionResult {
        var details: [String: PayloadValue] = ["rows": .int(rows), "ok": .bool(ok)]
        if let broken {
            details["broken_seq"] = .int(broken.seq)
            details["problem"] = .string(broken.problem)
        }
        return ActionResult(summary, affected: rows, details: details)
    }
}

/// An audit log that verifies its own chain: PostgreSQL's keyed MAC can be recomputed only by the
/// server, which holds the key (D75).
public protocol SelfVerifyingAuditLog: AuditLog {
    func verifyChain() throws -> AuditVerification
}

/// Recomputes every link, page by page. A keyed row's content is the server's to check: here only
/// its place and its link to the row before it.
public struct AuditVerifier {
    private var expectedSeq = 1
    private var prevHash = AuditChain.genesis
    private(set) var rows = 0
    private(set) var broken: (seq: Int, problem: String)?

    public init() {}

    public mutating func feed(_ records: [AuditRecord]) {
        for r in records where broken == nil {
            rows += 1
            if r.seq != expectedSeq {
                broken = (
                    r.seq, r.seq > expectedSeq ? "row(s) \(expectedSeq)…\(r.seq - 1) missing before it" : "out of order (expected seq \(expectedSeq))"
                )
            } else if r.prevHash != prevHash {
                broken = (r.seq, "previous-hash link does not match row \(r.seq - 1) (row deleted, inserted or swapped)")
            } else if r.keyed != true && AuditChain.hash(prev: r.prevHash, seq: r.seq, r.draft) != r.hash {
                broken = (r.seq, "content does not match its hash (row altered)")
            }
            expectedSeq = r.seq + 1
            prevHash = r.hash
        }
    }

    public var result: AuditVerification { AuditVerification(rows: rows, broken: broken) }
    /// The seq the next row must have, and the hash it must link to.
    public var next: (seq: Int, prevHash: String) { (expectedSeq, prevHash) }

    public static func verify(_ log: AuditLog, pageSize: Int = 5_000) throws -> AuditVerification {
        if let log = log as? SelfVerifyingAuditLog { return try log.verifyChain() }
        var v = AuditVerifier()
        try log.scan(from: 1, pageSize: pageSize) { v.feed($0) }
        return v.result
    }
}
