import Foundation

/// Outermost: every request that stops before execution leaves exactly one `denied` row; a
/// replayed result leaves one `outcome` row marked `replayed`. (Intent and outcome rows of
/// executed actions are written by the execution stage.)
struct AuditStage: ActionMiddleware {
    let audit: AuditLog
    let clock: ActionClock
    let scrubber: PIIScrubber
    var name: String { "audit" }

    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult {
        do {
            let result = try next(call)
            if result.replayed {
                call.outcomeRecord = try? audit.append(call.outcomeDraft("replayed", result: result, at: date()))
            }
            return result
        } catch {
            if case .auditUnavailable = error { throw error }
            if call.intent == nil {
                do {
                    call.outcomeRecord = try audit.append(
                        call.draft(
                            .denied, outcome: error.outcome,
                            result: CanonicalJSON.object(["error": .string(scrubber.scrub(text: error.description))]), at: date()))
                } catch let auditError {
                    throw .auditUnavailable("\(error.description); and the denial could not be recorded: \(auditError)")
                }
            }
            throw error
        }
    }

    func date() -> Date { Date(timeIntervalSince1970: Double(clock.nowMillis()) / 1_000) }
}

/// The action exists, the payload has the right types and ranges, critical actions carry the
/// typed target name and a reason.
struct ValidationStage: ActionMiddleware {
    let scrubber: PIIScrubber
    var name: String { "validate" }

    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult {
        try call.time(name) { () throws(ActionFailure) in
            call.scrubber = scrubber
            call.auditReason = call.request.reason.map { scrubber.scrub(text: $0) }
            let spec = ActionCatalog.spec(try ActionName(wire: call.request.action))
            call.spec = spec
            let secretTarget = spec.targetField.map(PIIScrubber.isSecretName) ?? false
            do throws(ActionFailure) {
                call.payload = try spec.validate(call.request.payload)
            } catch {
                // The denial row shows the payload as it came.
                call.auditPayload = CanonicalJSON.object(scrubber.scrub(Payload(call.request.payload)))
                call.auditTarget = secretTarget ? scrubber.token(call.target) : scrubber.scrub(text: call.target)
                throw error
            }
            call.auditPayload = CanonicalJSON.object(scrubber.scrub(call.payload))
            call.auditTarget = secretTarget ? scrubber.token(call.target) : scrubber.scrub(text: call.target)
            if spec.confirmation == .typed, !call.previewing {
                guard let reason = call.request.reason?.trimmingCharacters(in: .whitespaces), !reason.isEmpty else {
                    throw .confirmationRequired("\(spec.name) is critical: give a reason (ticket)")
                }
                guard call.request.confirmation == call.target else {
                    throw .confirmationRequired("\(spec.name) is critical: type the target name '\(call.target)' to confirm")
                }
            }
            if let reason = call.request.reason, reason.count > 500 { throw .invalid(field: "reason", "longer than 500 characters") }
        }
        return try next(call)
    }
}

/// Default deny: the role of the Unix account (or of `--as`, for admins only) must allow the action.
struct AuthorizationStage: ActionMiddleware {
    let permissions: PermissionSource
    let executor: ActionExecutor
    var name: String { "rbac" }

    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult {
        try call.time(name) { () throws(ActionFailure) in
            let grant = try Policy.grant(for: call.actor, from: permissions)
            call.grant = grant
            switch Policy.decide(grant, call.spec) {
            case .allow: break
            case .deny(let why): throw .denied(why)
            case .allowOwn:
                guard let id = call.payload.string("id") else { throw .denied("role user acts on its own jobs only") }
                let owner = try executor.jobOwner(id)
                guard let owner else { throw .notFound("job \(id)") }
                guard owner == call.user else { throw .denied("role user acts on its own jobs only (job \(id) belongs to \(owner))") }
                call.ownerMustBe = call.user
            }
        }
        return try next(call)
    }
}

/// Per-user-and-action sliding window (burst ×2 for 10 s) and per-source-IP window. Fails
/// closed for mutating actions when the store is unreachable. With a gate, a mutating request's
/// claim and breaker are asked in the same call (D87); the next two stages read its answer.
struct RateLimitStage: ActionMiddleware {
    let store: RateLimitStore
    let gate: AdmissionGate?
    let clock: ActionClock
    let options: ActionDispatcher.Options
    var name: String { "ratelimit" }

    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult {
        guard let spec = call.spec else { return try next(call) }
        let member = call.request.requestID.lowercasedString
        let nowMillis = options.useInjectedClock ? clock.nowMillis() : nil
        if let gate, spec.mutating {
            // Rate limits off (benchmarks of the bare pipeline): the gate still claims and reads the breaker.
            let ask = AdmissionAsk(
                rules: options.rateLimits ? rules(call, spec) : [], member: member, nowMillis: nowMillis,
                claim: call.request.idempotencyKey.map { key in
                    (
                        IdempotencyScope(user: call.user, action: spec.name, key: key), call.fingerprint, call.request.requestID,
                        options.idempotencyLockMillis
                    )
                },
                service: spec.bypassesBreaker ? nil : spec.service.rawValue)
            try call.time(name) { () throws(ActionFailure) in
                do { call.admission = try gate.admit(ask) } catch {
                    throw .unavailable("rate limiter, idempotency and breaker store unreachable (mutating actions fail closed): \(error)")
                }
                if case .refused(let ms) = call.admission?.rate { throw .rateLimited(retryAfterMillis: ms) }
            }
        } else if options.rateLimits {
            try call.time(name) { () throws(ActionFailure) in
                let decision: RateDecision
                do {
                    decision = try store.admit(rules(call, spec), member: member, nowMillis: nowMillis)
                } catch {
                    if spec.mutating { throw .unavailable("rate limiter unreachable (mutating actions fail closed): \(error)") }
                    return
                }
                if case .refused(let ms) = decision { throw .rateLimited(retryAfterMillis: ms) }
            }
        }
        return try next(call)
    }

    /// The user's window for the action (with its burst) and, when the request names one, its source IP's.
    private func rules(_ call: ActionCall, _ spec: ActionSpec) -> [RateRule] {
        var rules = [RateRule(key: "rl:\(call.user):\(spec.name)", limit: spec.ratePerMinute, burstMultiplier: options.burstMultiplier)]
        if let ip = call.actor.ip { rules.append(RateRule(key: "rl:ip:\(ip)", limit: options.ipLimitPerMinute)) }
        return rules
    }
}

/// Stripe/IETF semantics: same key + same fingerprint → replay; another payload → refused;
/// still running → in progress. A failed action releases its key so a retry runs again.
struct IdempotencyStage: ActionMiddleware {
    let store: IdempotencyStore
    let options: ActionDispatcher.Options
    var name: String { "idempotency" }

    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult {
        guard let key = call.request.idempotencyKey, let spec = call.spec, spec.mutating else { return try next(call) }
        let gated = call.admission?.ask.claim
        let scope = gated?.scope ?? IdempotencyScope(user: call.user, action: spec.name, key: key)
        let fingerprint = gated?.fingerprint ?? call.fingerprint
        let claim = try call.time(name) { () throws(ActionFailure) -> IdempotencyClaim in
            do {
                // The gate claimed in Redis already: what is left is the durable copy's say.
                if let gatedClaim = call.admission?.claim {
                    guard gatedClaim == .claimed else { return gatedClaim }
                    return try store.confirm(scope, fingerprint: fingerprint, requestID: call.request.requestID)
                }
                return try store.claim(scope, fingerprint: fingerprint, requestID: call.request.requestID, lockMillis: options.idempotencyLockMillis)
            } catch {
                throw .unavailable("idempotency store unreachable: \(error)")
            }
        }
        switch claim {
        case .replay(let stored):
            var r = stored
            r.replayed = true
            return r
        case .inProgress: throw .inProgress
        case .mismatch: throw .idempotencyMismatch
        case .claimed: break
        }
        call.idempotency = IdempotencyHold(scope: scope, fingerprint: fingerprint, ttlSeconds: options.idempotencyTTLSeconds)
        do {
            let result = try next(call)
            call.followUps.idempotency = FollowUps.Completion(
                scope: scope, fingerprint: fingerprint, requestID: call.request.requestID, result: result,
                ttlSeconds: options.idempotencyTTLSeconds,
                durableStored: call.idempotency?.storedWithEffect ?? false)
            return result
        } catch {
            try? store.release(scope, requestID: call.request.requestID)
            throw error
        }
    }
}

/// The service's breaker must admit the call; backend faults count against it. If the breaker
/// state cannot be read, the backend is not called.
struct BreakerStage: ActionMiddleware {
    let store: BreakerStore
    let clock: ActionClock
    var name: String { "breaker" }

    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult {
        guard let spec = call.spec else { return try next(call) }
        let service = spec.service.rawValue
        if spec.bypassesBreaker { return try next(call) }
        let permit = try call.time(name) { () throws(ActionFailure) -> BreakerPermit in
            // A closed breaker, as the gate read it, admits as `acquire` would (and changes nothing).
            if let gated = call.admission?.permit { return gated }
            do { return try store.acquire(service, nowMillis: nil) } catch { throw .unavailable("\(service) breaker state unreadable: \(error)") }
        }
        guard case .allowed(let probe) = permit else {
            if case .rejected(let ms) = permit { throw .breakerOpen(service: service, retryAfterMillis: ms) }
            throw .unavailable(service)
        }
        do {
            let result = try next(call)
            call.followUps.breaker = (service, probe)
            return result
        } catch {
            // Only a call that reached the backend says anything about it (an unrecorded probe times out and reopens).
            if call.intent != nil { try? store.record(service, success: !error.isBackendFault, probe: probe, nowMillis: nil) }
            throw error
        }
    }
}

/// After a success: the SSOT cache is invalidated and the events go out on the bus (written with
/// the other follow-ups by the dispatcher, timed as this stage).
struct CascadeStage: ActionMiddleware {
    var name: String { "cascade" }

    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult {
        let result = try next(call)
        call.measure(name) {
            let invalidates = call.spec?.invalidatesCache ?? false
            let notice = ActionNotice(
                action: call.request.action, user: call.user, outcome: "success", target: call.auditTarget ?? call.target,
                requestID: call.request.requestID.lowercasedString, summary: result.message)
            call.followUps.invalidateCache = invalidates
            call.followUps.events = call.events + [.actionExecuted(notice)] + (invalidates ? [.cacheInvalidated] : [])
        }
        return result
    }
}

/// Intent row committed first (audit unavailable → nothing executed), then the effect, then the
/// outcome row (unless the executor wrote it inside the effect's transaction). An executor that
/// `carriesIntent` commits the intent itself, ahead of its effect in the same round trip.
struct ExecutionStage: ActionMiddleware {
    let audit: AuditLog
    let executor: ActionExecutor
    let clock: ActionClock
    var name: String { "execute" }

    func handle(_ call: ActionCall, next: (ActionCall) throws(ActionFailure) -> ActionResult) throws(ActionFailure) -> ActionResult {
        let intent = call.draft(.intent, outcome: nil, at: date())
        let carried = executor.carriesIntent(call)
        if carried {
            call.pendingIntent = intent
        } else {
            try call.time("audit_intent") { () throws(ActionFailure) in try append(intent, to: call) }
        }
        let outcome: Result<ActionResult, ActionFailure>
        do throws(ActionFailure) {
            outcome = .success(try call.time(name) { () throws(ActionFailure) in try executor.execute(call) })
        } catch {
            outcome = .failure(error)
        }
        if carried, call.intent == nil {
            call.pendingIntent = nil
            // The intent could not be written: the executor stopped there, nothing was executed.
            if case .failure(let f) = outcome, case .auditUnavailable = f { throw f }
            // The executor stopped before its effect (its intent goes with the effect's first round
            // trip): the attempt is recorded now, ahead of its outcome.
            try call.time("audit_intent") { () throws(ActionFailure) in try append(intent, to: call) }
            if case .success = outcome { call.warnings.append("the intent row was written after the action (its executor did not carry it)") }
        }
        if call.outcomeRecord == nil {
            call.measure("audit_outcome") {
                do {
                    switch outcome {
                    case .success(let r): call.outcomeRecord = try audit.append(call.outcomeDraft("success", result: r, at: date()))
                    case .failure(.outcomeUnknown):
                        // An outcome row now could contradict the one the lost COMMIT may have written.
                        call.warnings.append("no outcome row written: the intent row (seq \(call.intent?.seq ?? 0)) and the request id tell")
                    case .failure(let f):
                        call.outcomeRecord = try audit.append(call.outcomeDraft(f.outcome, result: nil, error: f.description, at: date()))
                    }
                } catch {
                    call.warnings.append("outcome not audited (intent row \(call.intent?.seq ?? 0) stands): \(error)")
                }
            }
        }
        return try outcome.get()
    }

    func append(_ intent: AuditDraft, to call: ActionCall) throws(ActionFailure) {
        do { call.intent = try audit.append(intent) } catch {
            throw .auditUnavailable(String(describing: error))
        }
    }

    func date() -> Date { Date(timeIntervalSince1970: Double(clock.nowMillis()) / 1_000) }
}
