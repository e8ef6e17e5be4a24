import AgentOSCore
import AgentOSTestSupport
import Foundation
import Testing

/// Audit fails closed; intent before the effect, outcome after; denials leave one row each.
@Suite struct AuditPipelineTests {
    @Test func auditUnavailableRefusesTwoHundredMutatingActions() {
        // Unknown users fall back to admin, so each request has its own rate-limit window.
        let h = Harness(fallback: Grant(role: .admin))
        h.audit.failing = true
        let mutating = ActionCatalog.all.filter(\.mutating)
        #expect(mutating.count == 74)
        for i in 0..<200 {
            let spec = mutating[i % mutating.count]
            let report = h.dispatch(ValidPayload.request(spec, user: "op\(i)"))
            #expect(report.isAuditUnavailable, "\(spec.name): \(report.message)")
            #expect(report.exitStatus == 7)
            #expect(report.auditSeqs.isEmpty)
        }
        #expect(h.executor.total == 0)
        #expect(h.cascade.invalidations == 0)
        #expect(h.cascade.events.isEmpty)
        h.audit.failing = false
        #expect(h.audit.records.isEmpty)
    }

    @Test func aDenialThatCannotBeRecordedIsAuditUnavailable() {
        let h = Harness()
        h.audit.failing = true
        let report = h.dispatch(h.valid("queue.pause", user: "rita"))
        #expect(report.isAuditUnavailable)
        #expect(report.message.contains("denied"))
        let invalid = h.dispatch(ActionRequest(action: "queue.pause", payload: ["queue": .string("a b")], actor: Actor(user: "alice")))
        #expect(invalid.isAuditUnavailable)
        #expect(h.executor.total == 0)
    }

    @Test func intentIsWrittenBeforeTheEffectAndOutcomeAfter() throws {
        let h = Harness()
        let seen = Recorder<[AuditDraft.Phase]>()
        let audit = h.audit
        h.executor.onExecute { call in
            seen.append(audit.records.filter { $0.draft.requestID == call.request.requestID }.map(\.draft.phase))
        }
        let request = h.valid("queue.clear")
        let report = h.dispatch(request)
        #expect(report.succeeded)
        #expect(seen.values == [[.intent]], "the executor saw exactly its intent row")

        let rows = h.rows(request.requestID)
        #expect(rows.map(\.draft.phase) == [.intent, .outcome])
        let intent = try #require(rows.first)
        let outcome = try #require(rows.last)
        #expect(report.auditSeqs == [intent.seq, outcome.seq])
        #expect(intent.seq < outcome.seq)
        #expect(intent.draft.outcome == nil)
        #expect(intent.draft.durationMs == nil)
        #expect(intent.draft.target == "video_cutter")
        #expect(intent.draft.reason == "TICKET-1234")
        #expect(intent.draft.payload == #"{"queue":"video_cutter"}"#)
        #expect(outcome.draft.outcome == "success")
        #expect(outcome.draft.result?.contains("queue.clear done") == true)
        #expect(outcome.draft.timestamp == Date(timeIntervalSince1970: Double(ManualClock.start) / 1_000))
    }

    @Test func aFailedEffectHasIntentAndFailureRows() {
        let h = Harness()
        h.executor.failNext(.failed("disk full"))
        let request = h.valid("system.backup")
        #expect(h.dispatch(request).failure == .failed("disk full"))
        let rows = h.rows(request.requestID)
        #expect(rows.map(\.draft.phase) == [.intent, .outcome])
        #expect(rows.last?.draft.outcome == "failure")
        #expect(rows.last?.draft.result?.contains("disk full") == true)
    }

    @Test func anOutcomeWrittenByTheExecutorIsNotWrittenTwice() {
        let h = Harness()
        let audit = h.audit
        h.executor.onExecute { call in
            call.outcomeRecord = try? audit.append(call.outcomeDraft("success", result: ActionResult("in-transaction")))
        }
        let request = h.valid("job.delete")
        let report = h.dispatch(request)
        #expect(report.succeeded)
        let rows = h.rows(request.requestID)
        #expect(rows.map(\.draft.phase) == [.intent, .outcome])
        #expect(rows.last?.draft.result?.contains("in-transaction") == true)
        #expect(report.auditSeqs == rows.map(\.seq))
    }

    /// RELIABILITY check 14: each kind of denial leaves exactly one row per attempt.
    @Test func everyDeniedAttemptLeavesExactlyOneRow() throws {
        let n = 100
        // Rate limits off except for the rate-limit kind (they come before idempotency and breakers).
        let h = Harness { $0.rateLimits = false }
        let limited = Harness { $0.burstMultiplier = 1 }
        // The workers service's breaker is open; an idempotency key is taken by another payload.
        try? h.breakers.force("workers", open: true, nowMillis: nil)
        #expect(h.dispatch(h.valid("queue.resume", key: "taken")).succeeded)
        for _ in 0..<50 { #expect(limited.dispatch(limited.valid("job.move")).succeeded) }

        let kinds: [(kind: String, harness: Harness, make: () -> ActionRequest, outcome: String)] = [
            ("rbac", h, { h.valid("queue.pause", user: "rita") }, "denied"),
            ("as", h, { h.valid("queue.pause", user: "olga", actingAs: "alice") }, "denied"),
            ("unknown", h, { ActionRequest(action: "queue.explode", actor: Actor(user: "alice")) }, "invalid"),
            ("invalid", h, { h.valid("job.set_priority", overriding: ["priority": .int(99)]) }, "invalid"),
            ("confirmation", h, { ActionRequest(action: "queue.clear", payload: ["queue": .string("q")], actor: Actor(user: "alice")) }, "denied"),
            ("breaker", h, { h.valid("worker.start") }, "breaker_open"),
            ("idempotency", h, { h.valid("queue.resume", key: "taken", overriding: ["queue": .string("other")]) }, "idempotency_conflict"),
            ("rate", limited, { limited.valid("job.move") }, "rate_limited")
        ]
        for (kind, harness, make, outcome) in kinds {
            let before = harness.audit.records.count
            for _ in 0..<n {
                let request = make()
                let report = harness.dispatch(request)
                #expect(!report.succeeded, "\(kind)")
                let rows = harness.rows(request.requestID)
                #expect(rows.count == 1, "\(kind)")
                #expect(rows.first?.draft.phase == .denied, "\(kind)")
                #expect(rows.first?.draft.outcome == outcome, "\(kind)")
                #expect(report.auditSeqs == rows.map(\.seq), "\(kind)")
            }
            #expect(harness.audit.records.count == before + n, "\(kind)")
        }
        #expect(h.executor.total == 1)
        #expect(limited.executor.total == 50)
        #expect(try AuditVerifier.verify(h.audit).ok)
        #expect(try AuditVerifier.verify(limited.audit).ok)
    }
}

/// The hash chain and its verifier (RELIABILITY check 17).
@Suite struct AuditVerifierTests {
    /// A chain of 40 rows from real dispatches: successes, failures, denials, replays, with every optional field used.
    static func chain() -> InMemoryAuditLog {
        let h = Harness { $0.rateLimits = false }
        h.dispatch(h.valid("queue.resume", key: "r"))
        h.dispatch(h.valid("queue.resume", key: "r"))
        h.executor.failNext(.failed("boom"))
        for i in 0..<10 {
            let actor = Actor(
                user: i % 3 == 0 ? "rita" : "alice", actingAs: i == 4 ? "olga" : nil, ip: "10.0.0.\(i)",
                sessionID: "s-\(i)", userAgent: "agentos-test")
            h.dispatch(
                ActionRequest(
                    action: "queue.clear", payload: ["queue": .string("q\(i)")], actor: actor,
                    idempotencyKey: "k\(i % 4)", reason: "TICKET-\(i)", confirmation: "q\(i)"))
            h.dispatch(ActionRequest(action: "queue.pause", payload: ["queue": .string("q\(i)")], actor: actor, idempotencyKey: "p"))
            h.clock.advance(1_234)
        }
        while h.audit.records.count < 40 { h.dispatch(h.valid("system.cache_refresh")) }
        h.audit.records = Array(h.audit.records.prefix(40))
        return h.audit
    }

    static func flip(_ s: String?) -> String {
        guard let s, !s.isEmpty else { return "x" }
        var bytes = Array(s.utf8)
        bytes[bytes.count / 2] ^= 0x01
        return String(decoding: bytes, as: UTF8.self)
    }

    static func verify(_ rows: [AuditRecord], pageSize: Int = 5_000) throws -> AuditVerification {
        let log = InMemoryAuditLog()
        log.records = rows
        return try AuditVerifier.verify(log, pageSize: pageSize)
    }

    @Test(arguments: [1, 3, 7, 5_000])
    func aValidChainPasses(pageSize: Int) throws {
        let log = Self.chain()
        let rows = log.records
        #expect(rows.count == 40)
        #expect(Set(rows.map(\.draft.phase)) == [.intent, .outcome, .denied])
        #expect(rows.contains { $0.draft.outcome == "replayed" })
        let result = try Self.verify(rows, pageSize: pageSize)
        #expect(result.ok)
        #expect(result.rows == 40)
        #expect(result.summary.contains("intact"))
    }

    enum Tamper: String, CaseIterable {
        case user, actingAs, role, action, phase, outcome, requestID, id, idempotencyKey, sessionID, target, reason, payload
        case result, ip, userAgent, durationMs, timestamp, hash

        func apply(_ r: inout AuditRecord) {
            switch self {
            case .user: r.draft.user = AuditVerifierTests.flip(r.draft.user)
            case .actingAs: r.draft.actingAs = AuditVerifierTests.flip(r.draft.actingAs)
            case .role: r.draft.role = AuditVerifierTests.flip(r.draft.role)
            case .action: r.draft.action = AuditVerifierTests.flip(r.draft.action)
            case .phase: r.draft.phase = r.draft.phase == .denied ? .outcome : .denied
            case .outcome: r.draft.outcome = AuditVerifierTests.flip(r.draft.outcome)
            case .requestID: r.draft.requestID = UUID()
            case .id: r.draft.id = UUID()
            case .idempotencyKey: r.draft.idempotencyKey = AuditVerifierTests.flip(r.draft.idempotencyKey)
            case .sessionID: r.draft.sessionID = AuditVerifierTests.flip(r.draft.sessionID)
            case .target: r.draft.target = AuditVerifierTests.flip(r.draft.target)
            case .reason: r.draft.reason = AuditVerifierTests.flip(r.draft.reason)
            case .payload: r.draft.payload = AuditVerifierTests.flip(r.draft.payload)
            case .result: r.draft.result = AuditVerifierTests.flip(r.draft.result)
            case .ip: r.draft.ip = AuditVerifierTests.flip(r.draft.ip)
            case .userAgent: r.draft.userAgent = AuditVerifierTests.flip(r.draft.userAgent)
            case .durationMs: r.draft.durationMs = (r.draft.durationMs ?? 0) + 1
            case .timestamp: r.draft.timestamp = r.draft.timestamp.addingTimeInterval(0.001)
            case .hash: r.hash = AuditVerifierTests.flip(r.hash)
            }
        }
    }

    @Test(arguments: Tamper.allCases, [0, 6, 17, 39])
    func aFlippedFieldIsFoundAtItsRow(tamper: Tamper, index: Int) throws {
        var rows = Self.chain().records
        let before = rows[index]
        tamper.apply(&rows[index])
        try #require(rows[index] != before, "the tamper changed the row")
        let result = try Self.verify(rows)
        let broken = try #require(result.broken)
        #expect(broken.seq == index + 1)
        #expect(broken.problem.contains("altered"))
        #expect(result.summary.contains("seq \(index + 1)"))
    }

    @Test(arguments: [1, 12, 30])
    func aRehashedAlterationBreaksTheNextLink(seq: Int) throws {
        var rows = Self.chain().records
        let i = seq - 1
        rows[i].draft.target = "forged"
        rows[i].hash = AuditChain.hash(prev: rows[i].prevHash, seq: rows[i].seq, rows[i].draft)
        let broken = try #require(Self.verify(rows).broken)
        #expect(broken.seq == seq + 1)
        #expect(broken.problem.contains("previous-hash"))
    }

    @Test func aFlippedPreviousHashIsFound() throws {
        var rows = Self.chain().records
        rows[20].prevHash = Self.flip(rows[20].prevHash)
        let broken = try #require(Self.verify(rows).broken)
        #expect(broken.seq == 21)
        #expect(broken.problem.contains("previous-hash"))
    }

    @Test(arguments: [1, 2, 15, 39])
    func aDeletedRowIsFound(seq: Int) throws {
        var rows = Self.chain().records
        rows.remove(at: seq - 1)
        let broken = try #require(Self.verify(rows).broken)
        #expect(broken.seq == seq + 1)
        #expect(broken.problem.contains("\(seq)"))
        #expect(broken.problem.contains("missing"))
    }

    @Test func aDeletedRowRenumberedIsFound() throws {
        var rows = Self.chain().records
        rows.remove(at: 9)
        for i in 9..<rows.count { rows[i].seq -= 1 }
        let broken = try #require(Self.verify(rows).broken)
        #expect(broken.seq == 10)
    }

    @Test(arguments: [1, 10, 38])
    func aSwappedPairIsFound(seq: Int) throws {
        var rows = Self.chain().records
        rows.swapAt(seq - 1, seq)
        let broken = try #require(Self.verify(rows).broken)
        #expect(broken.seq == seq + 1, "the later row, found where row \(seq) belongs")

        // Swapped and renumbered: the link names the first moved row.
        var renumbered = Self.chain().records
        renumbered.swapAt(seq - 1, seq)
        renumbered[seq - 1].seq = seq
        renumbered[seq].seq = seq + 1
        let link = try #require(Self.verify(renumbered).broken)
        #expect(link.seq == seq)
    }

    @Test(arguments: [1, 10, 40])
    func anInsertedRowIsFound(after seq: Int) throws {
        let original = Self.chain().records
        let forged = AuditDraft(
            timestamp: Date(), user: "mallory", role: "admin", action: "system.reset", phase: .outcome,
            outcome: "success", requestID: UUID())
        // A well-linked forged row inserted after `seq`: the original next row no longer fits.
        var rows = original
        rows.insert(AuditChain.link(forged, after: rows[seq - 1]), at: seq)
        let result = try Self.verify(rows)
        if seq == original.count {
            // Appending a well-linked row at the end is not tampering the verifier can see.
            #expect(result.ok)
        } else {
            let broken = try #require(result.broken)
            #expect(broken.seq == seq + 1)
            #expect(broken.problem.contains("out of order"))
        }

        // Inserted and every later row renumbered: the link after the forged row breaks.
        guard seq < original.count else { return }
        var renumbered = original
        renumbered.insert(AuditChain.link(forged, after: renumbered[seq - 1]), at: seq)
        for i in (seq + 1)..<renumbered.count { renumbered[i].seq += 1 }
        let link = try #require(Self.verify(renumbered).broken)
        #expect(link.seq == seq + 2)
        #expect(link.problem.contains("previous-hash"))
    }

    @Test func aLongChainIsVerifiedInPages() throws {
        let log = InMemoryAuditLog()
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        for i in 0..<5_000 {
            _ = try log.append(
                AuditDraft(
                    timestamp: t.addingTimeInterval(Double(i) / 7), user: "u\(i % 13)", role: "admin",
                    action: "job.cancel", phase: i % 2 == 0 ? .intent : .outcome, requestID: UUID(),
                    payload: #"{"id":"\#(i)"}"#))
        }
        let ok = try AuditVerifier.verify(log, pageSize: 333)
        #expect(ok.ok && ok.rows == 5_000)
        var rows = log.records
        rows[3_776].draft.payload = #"{"id":"0"}"#
        let broken = try #require(Self.verify(rows, pageSize: 333).broken)
        #expect(broken.seq == 3_777)
    }
}
