import AgentOSCore
import Foundation
import Testing

/// Personal data in payloads never reaches audit rows or events (RELIABILITY check 15).
@Suite struct PIITests {
    static let email = "canary.person@example.com"
    static let ipv4 = "203.0.113.77"
    static let ipv6 = "2001:db8:85a3::8a2e:370:7334"
    static let secret = "hunter2canary"
    static let canaries = [email, ipv4, secret, "8a2e:370:7334"]

    /// Every audited text field of every row, and every published event.
    static func leaks(_ h: Harness) -> [String] {
        var texts: [String] = []
        for r in h.audit.records {
            texts += [r.draft.payload, r.draft.reason, r.draft.result].compactMap { $0 }
        }
        texts += h.cascade.events.map { String(describing: $0) }
        return canaries.filter { canary in texts.contains { $0.contains(canary) } }
    }

    @Test func configSetWithASecretAndPersonalData() throws {
        let h = Harness()
        let payload: [String: PayloadValue] = [
            "key": .string("smtp.password"), "value": .string(Self.secret),
            "reason": .string("rotated for \(Self.email) after a login from \(Self.ipv4) and \(Self.ipv6)")
        ]
        let request = ActionRequest(action: "config.set", payload: payload, actor: Actor(user: "alice"))
        let report = h.dispatch(request)
        #expect(report.succeeded, "\(report.message)")
        #expect(h.leaks().isEmpty, "leaked: \(h.leaks())")

        // The effect gets the real value; the audit keeps searchable tokens.
        #expect(h.executor.executions.first?.payload.string("value") == Self.secret)
        let rows = h.rows(request.requestID)
        #expect(rows.count == 2)
        let audited = try #require(rows.first?.draft.payload)
        for value in [Self.secret, Self.email, Self.ipv4] {
            #expect(audited.contains(h.scrubber.token(value)), "token of \(value)")
        }
        #expect(audited.contains("smtp.password"), "the key itself is not secret")
        #expect(!h.cascade.events.isEmpty)
    }

    @Test func broadcastTextIsScrubbed() {
        let h = Harness()
        let message = "contact \(Self.email) or ssh \(Self.ipv4)"
        #expect(h.dispatch(h.valid("system.broadcast", overriding: ["message": .string(message)])).succeeded)
        #expect(h.leaks().isEmpty, "leaked: \(h.leaks())")
        #expect(h.audit.records.first?.draft.payload?.contains(h.scrubber.scrub(text: message)) == true)
    }

    @Test func deniedAndInvalidRequestsAreScrubbedToo() {
        let h = Harness()
        let secretPayload: [String: PayloadValue] = ["key": .string("api.token"), "value": .string(Self.secret)]
        // Denied by RBAC.
        #expect(h.dispatch(ActionRequest(action: "config.set", payload: secretPayload, actor: Actor(user: "rita"))).isDenied)
        // An unknown field named like a secret.
        let unknown = h.dispatch(
            ActionRequest(
                action: "queue.pause", payload: ["queue": .string("q"), "api_key": .string(Self.secret)],
                actor: Actor(user: "alice")))
        #expect(unknown.invalidField == "api_key")
        // A critical action refused for its confirmation.
        let broadcast = h.dispatch(
            ActionRequest(
                action: "system.maintenance_on", payload: ["message": .string("mail \(Self.email)")],
                actor: Actor(user: "alice")))
        #expect(broadcast.isConfirmationRequired)
        #expect(h.audit.records.count == 3)
        #expect(h.leaks().isEmpty, "leaked: \(h.leaks())")
        #expect(h.executor.total == 0)
    }

    @Test func secretNamedFieldsAreReplacedWhole() {
        let s = PIIScrubber(key: Harness.scrubberKey)
        let out = s.scrub(
            Payload([
                "password": .string("x"), "API_KEY": .int(42), "user_email": .string("plain"), "queue": .string("video"),
                "Authorization": .string("Bearer abc")
            ]))
        #expect(out["password"] == .string(s.token("x")))
        #expect(out["API_KEY"] == .string(s.token("42")))
        #expect(out["user_email"] == .string(s.token("plain")))
        #expect(out["Authorization"] == .string(s.token("Bearer abc")))
        #expect(out["queue"] == .string("video"))
        for name in ["password", "smtp.password", "DB_PASSWD", "client_secret", "api-key", "session_token", "phone_number", "cookie"] {
            #expect(PIIScrubber.isSecretName(name), "\(name)")
        }
        for name in ["queue", "key", "value", "id", "message", "stage"] {
            #expect(!PIIScrubber.isSecretName(name), "\(name)")
        }
        // config.set: the value of a secret key is a token, the value of a plain key is kept.
        #expect(s.scrub(Payload(["key": .string("smtp.password"), "value": .string("v")]))["value"] == .string(s.token("v")))
        #expect(s.scrub(Payload(["key": .string("workers.max"), "value": .string("v")]))["value"] == .string("v"))
    }

    @Test func tokensAreStableAndKeyed() {
        let a = PIIScrubber(key: Harness.scrubberKey)
        let b = PIIScrubber(key: Harness.scrubberKey)
        let other = PIIScrubber(key: Array("another key".utf8))
        for value in [Self.email, Self.ipv4, Self.secret, ""] {
            let token = a.token(value)
            #expect(token == a.token(value))
            #expect(token == b.token(value))
            #expect(token != other.token(value))
            #expect(token.hasPrefix("hmac:") && token.count == 5 + 16)
            #expect(token.dropFirst(5).allSatisfy { $0.isHexDigit })
        }
        #expect(a.token(Self.email) != a.token(Self.ipv4))
        let text = "from \(Self.email) at \(Self.ipv4)"
        #expect(a.scrub(text: text) == b.scrub(text: text))
        #expect(a.scrub(text: text) == "from \(a.token(Self.email)) at \(a.token(Self.ipv4))")
        #expect(a.scrub(text: "no personal data here") == "no personal data here")
    }

    @Test func theSameSecretGivesTheSameAuditedToken() {
        let h = Harness()
        for _ in 0..<2 {
            h.dispatch(
                ActionRequest(
                    action: "config.set", payload: ["key": .string("smtp.password"), "value": .string(Self.secret)],
                    actor: Actor(user: "alice")))
        }
        let payloads = Set(h.audit.records.compactMap(\.draft.payload))
        #expect(payloads.count == 1)
        #expect(payloads.first?.contains(h.scrubber.token(Self.secret)) == true)
    }

    /// Regression (RELIABILITY check 15): a failure message quoting the payload ("not found: queue
    /// <e-mail>") went into the outcome row unscrubbed.
    @Test(arguments: [ActionFailure.notFound("queue \(email)"), .failed("smtp to \(email) via \(ipv4) refused"), .conflict("\(ipv6) is busy")])
    func failureTextsInOutcomeRowsAreScrubbed(failure: ActionFailure) {
        let h = Harness()
        h.executor.failAlways(failure)
        let request = h.valid("queue.pause")
        #expect(h.dispatch(request).failure == failure)
        let outcome = h.rows(request.requestID).last
        #expect(outcome?.draft.phase == .outcome && outcome?.draft.outcome == failure.outcome)
        #expect(outcome?.draft.result?.contains("hmac:") == true, "\(outcome?.draft.result ?? "no row")")
        #expect(h.leaks().isEmpty, "leaked: \(h.leaks())")
    }
}

extension Harness {
    func leaks() -> [String] { PIITests.leaks(self) }
}
