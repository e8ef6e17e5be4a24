import AgentOSCrypto
import Foundation

/// One action going through the pipeline. Confined to the thread running `dispatch`; stages
/// fill it in (the validated payload, the grant, timings) as it passes.
public final class ActionCall: @unchecked Sendable {
    public let request: ActionRequest
    public let startedMillis: Int64
    let clock: ActionClock
    /// The reason and target as audited and published (personal data scrubbed).
    public internal(set) var auditReason: String?
    public internal(set) var auditTarget: String?
    public internal(set) var spec: ActionSpec?
    public internal(set) var payload = Payload()
    public internal(set) var grant: Grant?
    /// Set for the `user` role: the job must belong to this user.
    public internal(set) var ownerMustBe: String?
    /// Scrubs the texts of outcome rows (failure messages and result details quote payload values).
    public internal(set) var scrubber: PIIScrubber?
    /// The audited payload (personal data scrubbed), canonical JSON.
    public internal(set) var auditPayload: String?
    /// The intent row, once written.
    public var intent: AuditRecord?
    /// The intent row an executor that `carriesIntent` must commit before its effect (it sets
    /// `intent` once it is written).
    public var pendingIntent: AuditDraft?
    /// Set by an executor that wrote the outcome row inside its own transaction.
    public var outcomeRecord: AuditRecord?
    /// The idempotency key this call holds (set by the idempotency stage). An executor whose effect
    /// commits in PostgreSQL stores the durable result in that transaction and sets `storedWithEffect`.
    public var idempotency: IdempotencyHold?
    /// What the admission gate answered (nil: each admission stage asks its own store).
    public internal(set) var admission: Admission?
    /// Events the executor wants published after a success (besides `action.executed`).
    public var events: [AgentEvent] = []
    /// What the stages leave to write after a success (one round trip live).
    public internal(set) var followUps = FollowUps()
    /// Leaves `write` to the follow-ups of a success (see `FollowUps.writes`).
    public func deferWrite(_ write: any DeferredWrite) { followUps.writes.append(write) }
    /// Per-stage durations in milliseconds.
    public internal(set) var timings: [(stage: String, millis: Double)] = []
    /// Notes for the operator (a cascade that could not publish, …).
    public var warnings: [String] = []
    /// A preview (`ActionDispatcher.preview`): nothing runs, so a critical action's typed name and reason are not asked.
    var previewing = false

    init(request: ActionRequest, clock: ActionClock) {
        self.request = request
        self.clock = clock
        startedMillis = clock.nowMillis()
    }

    /// The action being run: decoded from the request's name by the validation stage, before any executor.
    public var action: ActionName {
        get throws(ActionFailure) {
            if let spec { return spec.id }
            return try ActionName(wire: request.action)
        }
    }

    public var actor: Actor { request.actor }
    public var user: String { request.actor.effectiveUser }

    /// The `session.kick` this call sends when it ends console session `id`: who, why, and the request
    /// the ended console's own audit row names.
    public func sessionKick(_ id: String) -> SessionKick {
        SessionKick(sessionID: id, by: user, reason: request.reason, requestID: request.requestID)
    }

    /// What the action is aimed at: the target field's value, or `system`.
    public var target: String {
        guard let field = spec?.targetField, let value = payload[field] ?? request.payload[field] else { return "system" }
        return value.description
    }

    /// SHA-256 over the canonical (user, action, target, payload).
    public var fingerprint: String {
        Hex.encode(Digest.sha256("\(user)\n\(request.action)\n\(target)\n\(payload.canonicalJSON)"))
    }

    /// The row an executor writes inside its own transaction (then sets `outcomeRecord`).
    public func outcomeDraft(_ outcome: String, result: ActionResult?, error: String? = nil, at date: Date = Date()) -> AuditDraft {
        var resultJSON: String?
        if let result {
            var details = result.details
            details["message"] = .string(result.message)
            details["affected"] = .int(result.affected)
            resultJSON = CanonicalJSON.object(scrubber.map { $0.scrub(Payload(details)) } ?? details)
        } else if let error {
            resultJSON = CanonicalJSON.object(["error": .string(scrubber?.scrub(text: error) ?? error)])
        }
        return draft(.outcome, outcome: outcome, result: resultJSON, at: date)
    }

    func draft(_ phase: AuditDraft.Phase, outcome: String?, result: String? = nil, at date: Date) -> AuditDraft {
        AuditDraft(
            timestamp: date, user: request.actor.user, actingAs: request.actor.actingAs, role: grant?.role.rawValue ?? "unknown",
            action: request.action, phase: phase, outcome: outcome, requestID: request.requestID,
            idempotencyKey: request.idempotencyKey, sessionID: request.actor.sessionID.isEmpty ? nil : request.actor.sessionID,
            target: spec == nil ? nil : (auditTarget ?? target), reason: auditReason, payload: auditPayload, result: result,
            ip: request.actor.ip, userAgent: request.actor.userAgent,
            durationMs: phase == .intent ? nil : Int(clock.nowMillis() - startedMillis))
    }

    func measure(_ stage: String, _ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        timings.append((stage, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6))
    }

    func time<T>(_ stage: String, _ body: () throws(ActionFailure) -> T) throws(ActionFailure) -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { timings.append((stage, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)) }
        return try body()
    }
}

/// An idempotency key held by a running call.
public struct IdempotencyHold: Sendable {
    public let scope: IdempotencyScope
    public let fingerprint: String
    public let ttlSeconds: Int
    public var storedWithEffect = false
}

/// What `dispatch` hands back: the result or the failure, and the audit rows written.
public struct ActionReport: Sendable {
    public var requestID: UUID
    public var action: String
    public var target: String
    public var outcome: Result<ActionResult, ActionFailure>
    public var auditSeqs: [Int]
    public var timings: [String: Double]
    public var totalMillis: Double
    public var warnings: [String]

    public var succeeded: Bool { if case .success = outcome { return true } else { return false } }
    public var exitStatus: Int32 {
        switch outcome {
        case .success: return 0
        case .failure(let f): return f.exitStatus
        }
    }
    public var message: String {
        switch outcome {
        case .success(let r): return r.replayed ? "\(r.message) (replayed)" : r.message
        case .failure(let f): return f.description
        }
    }
}
