import Foundation

extension ActionDispatcher {
    /// The ended side of a `system.session_terminate`: the console whose session it was writes its
    /// own row (phase `received`, outcome `ended`) under the terminating request's id, so the trail
    /// shows both who ended a session and that the console stopped. Returns the row's seq (nil: the
    /// audit could not be written; the console stops all the same).
    @discardableResult
    public func recordSessionEnded(_ kick: SessionKick, actor: Actor) -> Int? {
        let request = ActionRequest(
            action: ActionName.systemSessionTerminate.rawValue, payload: ["session": .string(kick.sessionID)], actor: actor,
            requestID: kick.requestID ?? .random(), reason: kick.reason)
        let call = ActionCall(request: request, clock: ports.clock)
        call.spec = ActionCatalog.spec(request.action)
        call.payload = Payload(request.payload)
        call.auditTarget = kick.sessionID
        call.auditReason = kick.reason.map { ports.scrubber.scrub(text: $0) }
        call.grant = try? Policy.grant(for: actor, from: ports.permissions)
        let now = Date(timeIntervalSince1970: Double(ports.clock.nowMillis()) / 1_000)
        let message = "this console stopped accepting actions: session ended by \(kick.by ?? "an administrator")"
        let result = CanonicalJSON.object(ports.scrubber.scrub(Payload(["message": .string(message)])))
        return try? ports.audit.append(call.draft(.received, outcome: "ended", result: result, at: now)).seq
    }
}
