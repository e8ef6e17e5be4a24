import Foundation

/// What an action would touch, seen before it runs: how many rows, the first of them (ids or
/// short descriptions) and a sentence. Nothing is changed to find out.
public struct ActionPreview: Sendable, Equatable, Codable {
    /// How many rows the action would touch (0 for an action without rows: see `summary`).
    public var count: Int
    /// The first rows, in a stable order: ids, or a single target's current state.
    public var rows: [String]
    /// More rows than `rows` would be touched.
    public var more: Bool
    /// One sentence: what would change.
    public var summary: String

    /// Rows listed when the caller does not say.
    public static let defaultLimit = 50

    public init(count: Int, rows: [String], more: Bool, summary: String) {
        self.count = count
        self.rows = rows
        self.more = more
        self.summary = summary
    }

    /// Counted rows: `rows` are the first of `count`.
    public static func counted(_ spec: ActionSpec, _ payload: Payload, count: Int, rows: [String]) -> ActionPreview {
        ActionPreview(
            count: count, rows: rows, more: count > rows.count,
            summary: "\(spec.name) would touch \(count) row\(count == 1 ? "" : "s")\(targetSuffix(spec, payload))")
    }

    /// A single-target action: the target as it is now.
    public static func target(_ spec: ActionSpec, _ payload: Payload, state: String) -> ActionPreview {
        ActionPreview(count: 1, rows: [state], more: false, summary: "\(spec.name) would act on \(state)")
    }

    /// An action without rows to list (a system toggle, a file written): what would change.
    public static func unlisted(_ spec: ActionSpec, _ payload: Payload, note: String? = nil) -> ActionPreview {
        let values = spec.fields.compactMap { f in payload[f.name].map { "\(f.name)=\($0.description)" } }
        let with = values.isEmpty ? "" : " (\(values.joined(separator: ", ")))"
        return ActionPreview(
            count: 0, rows: [], more: false, summary: "\(spec.title)\(with): no rows to list\(note.map { "; \($0)" } ?? "")")
    }

    static func targetSuffix(_ spec: ActionSpec, _ payload: Payload) -> String {
        guard let field = spec.targetField, let value = payload[field] else { return "" }
        return " (\(field) \(value.description))"
    }

    /// The audit row's `result`: the sentence as its message, the count, the ids and whether more follow.
    var auditResult: [String: PayloadValue] {
        ["message": .string(summary), "count": .int(count), "rows": .string(rows.joined(separator: ",")), "more": .bool(more)]
    }
}

/// What `ActionDispatcher.preview` hands back.
public struct PreviewReport: Sendable {
    public var requestID: UUID
    public var action: String
    public var target: String
    public var outcome: Result<ActionPreview, ActionFailure>
    /// The `preview` audit row written (nil: none could be).
    public var auditSeq: Int?

    public var exitStatus: Int32 {
        switch outcome {
        case .success: return 0
        case .failure(let f): return f.exitStatus
        }
    }
}

extension ActionExecutor {
    /// For an executor that lists no rows: the measured count without ids, or what would change.
    public func preview(_ spec: ActionSpec, _ payload: Payload, limit: Int) throws(ActionFailure) -> ActionPreview {
        if let n = try impact(spec, payload) {
            var p = ActionPreview.counted(spec, payload, count: n, rows: [])
            p.summary += "; this backend does not list them"
            return p
        }
        return .unlisted(spec, payload)
    }
}

extension ActionDispatcher {
    /// Shows what `request` would touch, changing nothing: validation (a critical action's typed
    /// name and reason are not asked yet) and RBAC as for running it, then the executor's
    /// preview. No rate limit, idempotency key or breaker is consumed: like the dialog's impact
    /// count, it only reads. One audit row of phase `preview`, whatever the answer; a preview
    /// that cannot be audited is not shown.
    public func preview(_ request: ActionRequest, limit: Int = ActionPreview.defaultLimit) -> PreviewReport {
        let call = ActionCall(request: request, clock: ports.clock)
        call.previewing = true
        let validation = ValidationStage(scrubber: ports.scrubber)
        let rbac = AuthorizationStage(permissions: ports.permissions, executor: ports.executor)
        var outcome: Result<ActionPreview, ActionFailure>
        do throws(ActionFailure) {
            var shown: ActionPreview?
            _ = try validation.handle(call) { (c: ActionCall) throws(ActionFailure) -> ActionResult in
                try rbac.handle(c) { (c: ActionCall) throws(ActionFailure) -> ActionResult in
                    guard let spec = c.spec else { throw .failed("no action") }
                    shown = try c.time("preview") { () throws(ActionFailure) in try ports.executor.preview(spec, c.payload, limit: max(0, limit)) }
                    return ActionResult("")
                }
            }
            guard let shown else { throw .failed("no preview") }
            outcome = .success(shown)
        } catch {
            outcome = .failure(error)
        }
        let now = Date(timeIntervalSince1970: Double(ports.clock.nowMillis()) / 1_000)
        let result: [String: PayloadValue]
        switch outcome {
        case .success(let p): result = p.auditResult
        case .failure(let f): result = ["error": .string(ports.scrubber.scrub(text: f.description))]
        }
        let outcomeWord: String
        switch outcome {
        case .success: outcomeWord = "preview"
        case .failure(let f): outcomeWord = f.outcome
        }
        var seq: Int?
        do {
            seq = try ports.audit.append(
                call.draft(.preview, outcome: outcomeWord, result: CanonicalJSON.object(ports.scrubber.scrub(Payload(result))), at: now)
            ).seq
        } catch let auditError {
            let first: String
            if case .failure(let f) = outcome { first = "\(f.description); and " } else { first = "" }
            outcome = .failure(.auditUnavailable("\(first)the preview could not be recorded: \(auditError)"))
        }
        return PreviewReport(
            requestID: request.requestID, action: request.action, target: call.spec == nil ? "" : (call.auditTarget ?? call.target),
            outcome: outcome, auditSeq: seq)
    }
}
