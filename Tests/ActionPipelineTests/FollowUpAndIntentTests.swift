import AgentOSCore
import AgentOSTestSupport
import Foundation
import Synchronization
import Testing

/// Records what the dispatcher hands it and answers with the warnings it is told to; with
/// `forward`, also writes it there.
final class RecordingFollowUps: FollowUpWriter {
    private let state = Mutex<(written: [FollowUps], warnings: [String], forward: FollowUpWriter?)>(([], [], nil))
    var written: [FollowUps] { state.withLock { $0.written } }
    func answer(_ warnings: [String]) { state.withLock { $0.warnings = warnings } }
    func forward(to writer: FollowUpWriter) { state.withLock { $0.forward = writer } }
    func write(_ followUps: FollowUps) -> [String] {
        let (warnings, forward) = state.withLock { s in
            s.written.append(followUps)
            return (s.warnings, s.forward)
        }
        return warnings + (forward?.write(followUps) ?? [])
    }
}

/// An executor that carries the intent row: it writes `pendingIntent` itself, as the live one does
/// ahead of its effect, unless told to stop before that.
final class CarryingExecutor: ActionExecutor {
    enum Mode {
        case writesIntent
        case failsBeforeIntent(ActionFailure)
        case forgetsIntent
    }
    let audit: AuditLog
    let mode: Mode
    private let effects = Mutex(0)
    var effectCount: Int { effects.withLock { $0 } }

    init(audit: AuditLog, mode: Mode) {
        self.audit = audit
        self.mode = mode
    }

    func carriesIntent(_ call: ActionCall) -> Bool { true }

    func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        switch mode {
        case .failsBeforeIntent(let failure): throw failure
        case .forgetsIntent: break
        case .writesIntent:
            guard let draft = call.pendingIntent else { throw .failed("no pending intent") }
            do { call.intent = try audit.append(draft) } catch { throw .auditUnavailable("\(error)") }
        }
        effects.withLock { $0 += 1 }
        return ActionResult("done on \(call.target)")
    }

    func jobOwner(_ id: String) throws(ActionFailure) -> String? { nil }
    func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? { nil }
}

@Suite struct FollowUpAndIntentTests {
    struct Stack {
        let clock = ManualClock()
        let audit = InMemoryAuditLog()
        let cascade = FakeCascade()
        let followUps = RecordingFollowUps()
        let breakers: InMemoryBreakerStore
        let dispatcher: ActionDispatcher

        init(executor: (AuditLog) -> ActionExecutor = { _ in FakeExecutor() }, recordFollowUps: Bool = true) {
            breakers = InMemoryBreakerStore(clock: clock)
            let idempotency = InMemoryIdempotencyStore(clock: clock)
            var options = ActionDispatcher.Options()
            options.useInjectedClock = true
            dispatcher = ActionDispatcher(
                .init(
                    audit: audit, permissions: StaticPermissions(Harness.users), rateLimits: InMemoryRateLimitStore(clock: clock),
                    idempotency: idempotency, breakers: breakers, executor: executor(audit), cascade: cascade,
                    scrubber: PIIScrubber(key: Harness.scrubberKey), clock: clock, followUps: recordFollowUps ? followUps : nil),
                options: options)
            self.idempotency = idempotency
        }

        let idempotency: InMemoryIdempotencyStore

        /// The recorder also writes through the stores (a replay needs the stored result).
        func writingThrough() -> Stack {
            followUps.forward(to: SequentialFollowUps(idempotency: idempotency, breakers: breakers, cascade: cascade))
            return self
        }

        func cancel(key: String? = "k-1") -> ActionReport {
            dispatcher.dispatch(ValidPayload.request(ActionCatalog.spec("job.cancel")!, user: "alice", key: key))
        }
    }

    @Test func aSuccessHandsEveryFollowUpToTheWriterAtOnce() throws {
        let s = Stack()
        let report = s.cancel()
        #expect(report.succeeded)
        let written = try #require(s.followUps.written.first)
        #expect(s.followUps.written.count == 1)
        let completion = try #require(written.idempotency)
        #expect(completion.scope == IdempotencyScope(user: "alice", action: "job.cancel", key: "k-1"))
        #expect(completion.result == report.result)
        #expect(completion.requestID == report.requestID)
        #expect(written.breaker?.service == ActionCatalog.spec("job.cancel")!.service.rawValue)
        #expect(written.invalidateCache)
        #expect(written.events.map(\.type) == ["action.executed", "cache.invalidated"])
        // Nothing went around the writer.
        #expect(s.cascade.events.isEmpty && s.cascade.invalidations == 0)
    }

    @Test func theWritersWarningsReachTheReport() {
        let s = Stack()
        s.followUps.answer(["event not published: redis down"])
        let report = s.cancel()
        #expect(report.succeeded, "a follow-up never fails the action: its effect happened")
        #expect(report.warnings.contains("event not published: redis down"))
    }

    @Test func aFailureOrARefusalWritesNoFollowUps() {
        let failing = Stack(executor: { _ in
            let e = FakeExecutor()
            e.failAlways(.conflict("job is running"))
            return e
        })
        #expect(!failing.cancel().succeeded)
        #expect(failing.followUps.written.isEmpty)
        let s = Stack()
        let denied = s.dispatcher.dispatch(ValidPayload.request(ActionCatalog.spec("job.cancel")!, user: "rita", key: "k-2"))
        #expect(denied.failure.map { if case .denied = $0 { true } else { false } } == true)
        #expect(s.followUps.written.isEmpty)
    }

    @Test func aReplayWritesNoFollowUps() {
        let s = Stack().writingThrough()
        #expect(s.cancel(key: "same").succeeded)
        let replay = s.cancel(key: "same")
        #expect(replay.result?.replayed == true)
        #expect(s.followUps.written.count == 1)
    }

    /// Without a writer the stores and the cascade are called one after another, as before.
    @Test func theDefaultWriterCallsEachStore() throws {
        let s = Stack(recordFollowUps: false)
        #expect(s.cancel(key: "k-9").succeeded)
        #expect(s.cascade.invalidations == 1)
        #expect(s.cascade.events.map(\.type) == ["action.executed", "cache.invalidated"])
        #expect(s.cancel(key: "k-9").result?.replayed == true, "the idempotency result was stored")
    }

    @Test func aCarriedIntentIsWrittenByTheExecutorAheadOfTheOutcome() throws {
        var executor: CarryingExecutor?
        let s = Stack(executor: { audit in
            let e = CarryingExecutor(audit: audit, mode: .writesIntent)
            executor = e
            return e
        })
        let report = s.cancel()
        #expect(report.succeeded)
        #expect(executor?.effectCount == 1)
        let rows = s.audit.records.filter { $0.draft.requestID == report.requestID }
        #expect(rows.map(\.draft.phase) == [.intent, .outcome])
        #expect(report.auditSeqs == rows.map(\.seq))
        #expect(report.warnings.isEmpty)
    }

    /// An executor that stops before its effect (the intent goes with the effect) leaves the same rows
    /// as one whose intent was written first: the intent, then the failure.
    @Test func aCarriedIntentIsWrittenLateWhenTheExecutorStoppedBeforeItsEffect() {
        let s = Stack(executor: { CarryingExecutor(audit: $0, mode: .failsBeforeIntent(.conflict("job is running"))) })
        let report = s.cancel()
        #expect(report.failure == .conflict("job is running"))
        let rows = s.audit.records.filter { $0.draft.requestID == report.requestID }
        #expect(rows.map(\.draft.phase) == [.intent, .outcome])
        #expect(rows.last?.draft.outcome == "conflict")
    }

    @Test func aCarriedIntentThatCouldNotBeWrittenStopsEverything() {
        let s = Stack(executor: { CarryingExecutor(audit: $0, mode: .failsBeforeIntent(.auditUnavailable("audit_logs refused the row"))) })
        let report = s.cancel()
        #expect(report.failure == .auditUnavailable("audit_logs refused the row"))
        #expect(s.audit.records.isEmpty)
        #expect(s.followUps.written.isEmpty)
    }

    @Test func anExecutorThatForgetsItsCarriedIntentStillLeavesOne() {
        let s = Stack(executor: { CarryingExecutor(audit: $0, mode: .forgetsIntent) })
        let report = s.cancel()
        #expect(report.succeeded)
        #expect(s.audit.records.filter { $0.draft.requestID == report.requestID }.map(\.draft.phase) == [.intent, .outcome])
        #expect(report.warnings.contains { $0.contains("intent row was written after the action") })
    }
}

/// The byte-level canonical form is the one the audit chain was hashed with before (hashes of
/// existing rows must still verify).
@Suite struct CanonicalFormTests {
    /// The scalar-by-scalar writer every string went through before the byte-level fast path.
    static func reference(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if TextSanitizer.isUnsafe(scalar.value) { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    static let samples = [
        "", "plain", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", #"{"id":"x","n":1}"#, #"back\slash "quoted""#,
        "tab\there", "line\nbreak\r", "bell\u{07}", "del\u{7F}", "c1\u{85}", "bidi\u{202E}txt", "zero\u{200B}width",
        "ünïcødé ✓", "emoji 🎬", "mixed \"ü\" \\ \u{1F}"
    ]

    @Test(arguments: samples)
    func stringsAreWrittenAsBefore(text: String) {
        #expect(CanonicalJSON.string(text) == Self.reference(text))
    }

    @Test func objectsSortTheirKeysAsBefore() {
        let values: [String: PayloadValue] = ["b": .int(-3), "a": .string("x\"y"), "Z": .bool(true), "é": .string("ü"), "a_b": .bool(false)]
        let expected = "{" + values.keys.sorted().map { Self.reference($0) + ":" + CanonicalJSON.value(values[$0]!) }.joined(separator: ",") + "}"
        #expect(CanonicalJSON.object(values) == expected)
        #expect(CanonicalJSON.object([:]) == "{}")
    }

    /// The secret-name test is byte by byte now; it answers as the lower-cased substring search did.
    @Test func secretNamesAreFoundAsBefore() {
        let names = [
            "password", "smtp.PASSWORD", "db_passwd", "clientSecret", "api_key", "X-Api-Key", "APIKEY", "private_key", "credentials",
            "Authorization", "cookie_jar", "email", "E-Mail", "phone_number", "ssn", "id", "queue", "name", "tok", "toke",
            "tokens", "emai", "ßtoken", "ÉMAIL", "pässword", ""
        ]
        for name in names {
            let n = name.lowercased()
            let before = PIIScrubber.secretWords.contains { n.contains($0) }
            #expect(PIIScrubber.isSecretName(name) == before, "\(name)")
        }
    }

    /// Results are stored as this JSON (the idempotency entry, the durable copy) and read back by JSONDecoder.
    @Test func resultsReadBackAsTheyWere() throws {
        let results = [
            ActionResult("cancelled job 3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
            ActionResult(
                "quote \" back\\slash\ttab\u{1}\u{202E} ü ✓ 🎬", affected: -3,
                details: ["path": .string("/io/exports/a b.jsonl"), "n": .int(42), "ok": .bool(false), "é": .string("\u{85}")],
                replayed: true),
            ActionResult("", affected: 0)
        ]
        for r in results {
            #expect(try JSONDecoder().decode(ActionResult.self, from: Data(r.json.utf8)) == r, "\(r.json)")
        }
    }

    @Test func randomUUIDsAreVersion4AndDistinct() {
        let ids = (0..<2_000).map { _ in UUID.random() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(200) {
            let text = id.uuidString.lowercased()
            let chars = Array(text)
            #expect(chars[14] == "4", "version 4: \(text)")
            #expect("89ab".contains(chars[19]), "RFC 4122 variant: \(text)")
            #expect(UUID(uuidString: text) == id)
        }
    }
}
