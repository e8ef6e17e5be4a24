import AgentOSCore

/// A valid payload for any action (its required fields only), and the request that carries it: what the
/// pipeline tests and the reliability tests send when the payload is not what they are about.
public enum ValidPayload {
    public static let jobID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"

    public static func value(_ f: FieldSpec) -> PayloadValue {
        switch f.kind {
        case .uuid: return .string(jobID)
        case .name: return .string("video_cutter")
        case .text: return .string("hello world")
        case .int(let lo, let hi): return .int(min(max(lo, 1), hi))
        case .bool: return .bool(true)
        case .choice(let values): return .string(values[0])
        case .schedule: return .string("*/5 * * * *")
        case .path: return .string("configs/console.json")
        }
    }

    /// The required fields, each with a valid value.
    public static func payload(_ spec: ActionSpec) -> [String: PayloadValue] {
        Dictionary(uniqueKeysWithValues: spec.fields.filter(\.required).map { ($0.name, value($0)) })
    }

    /// What the pipeline takes as the target of a valid payload.
    public static func target(_ spec: ActionSpec, _ raw: [String: PayloadValue]) -> String {
        guard let field = spec.targetField, let payload = try? spec.validate(raw), let v = payload[field] else { return "system" }
        return v.description
    }

    /// The request a console would send: a reason and the typed target for the critical actions.
    public static func request(
        _ spec: ActionSpec, actor: Actor, key: String? = nil, overriding extra: [String: PayloadValue] = [:]
    ) -> ActionRequest {
        let raw = payload(spec).merging(extra) { _, new in new }
        let critical = spec.confirmation == .typed
        return ActionRequest(
            action: spec.name, payload: raw, actor: actor, idempotencyKey: key,
            reason: critical ? "TICKET-1234" : nil, confirmation: critical ? target(spec, raw) : nil)
    }

    public static func request(
        _ spec: ActionSpec, user: String, actingAs: String? = nil, ip: String? = nil, key: String? = nil,
        overriding extra: [String: PayloadValue] = [:]
    ) -> ActionRequest {
        request(spec, actor: Actor(user: user, actingAs: actingAs, ip: ip), key: key, overriding: extra)
    }
}

/// The outcome of a report, as the tests ask about it.
extension ActionReport {
    public var failure: ActionFailure? { if case .failure(let f) = outcome { return f } else { return nil } }
    public var result: ActionResult? { if case .success(let r) = outcome { return r } else { return nil } }
    public var invalidField: String? { if case .invalid(let field, _)? = failure { return field } else { return nil } }
    public var isDenied: Bool { if case .denied? = failure { return true } else { return false } }
    public var isRateLimited: Bool { if case .rateLimited? = failure { return true } else { return false } }
    public var isAuditUnavailable: Bool { if case .auditUnavailable? = failure { return true } else { return false } }
    public var isConfirmationRequired: Bool { if case .confirmationRequired? = failure { return true } else { return false } }
    public var isInProgress: Bool { failure == .inProgress }
    public var isReplay: Bool { result?.replayed == true }
}
