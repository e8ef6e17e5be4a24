import AgentOSCore
import AgentOSTestSupport
import Testing

/// Bad payloads are refused naming the field; critical actions need a reason and the typed target.
@Suite struct ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var action: String
        var payload: [String: PayloadValue]
        var field: String
        var testDescription: String { "\(action) \(field)" }
    }

    static let job = PayloadValue.string(ValidPayload.jobID)

    static let invalid: [Case] = [
        // Unknown field.
        Case(action: "queue.pause", payload: ["queue": .string("video"), "force": .bool(true)], field: "force"),
        Case(action: "job.cancel", payload: ["id": job, "Id": job], field: "Id"),
        // Missing required field.
        Case(action: "job.set_priority", payload: ["id": job], field: "priority"),
        Case(action: "job.cancel", payload: [:], field: "id"),
        Case(action: "system.broadcast", payload: [:], field: "message"),
        // Out of range.
        Case(action: "job.set_priority", payload: ["id": job, "priority": .int(10)], field: "priority"),
        Case(action: "job.set_priority", payload: ["id": job, "priority": .int(-1)], field: "priority"),
        Case(action: "worker.scale", payload: ["id": .string("w1"), "concurrency": .int(65)], field: "concurrency"),
        Case(action: "system.broadcast", payload: ["message": .string(String(repeating: "x", count: 201))], field: "message"),
        Case(action: "system.io_cleanup", payload: ["days": .int(0)], field: "days"),
        // Wrong type.
        Case(action: "job.set_priority", payload: ["id": job, "priority": .bool(true)], field: "priority"),
        Case(action: "job.set_priority", payload: ["id": job, "priority": .string("high")], field: "priority"),
        Case(action: "config.lock", payload: ["locked": .string("maybe")], field: "locked"),
        Case(action: "job.cancel", payload: ["id": .string("not-a-uuid")], field: "id"),
        Case(action: "queue.pause", payload: ["queue": .string("video; DROP TABLE jobs")], field: "queue"),
        Case(action: "logs.set_level", payload: ["service": .string("api"), "level": .string("loud")], field: "level"),
        Case(action: "config.import", payload: ["file": .string("../../etc/passwd")], field: "file"),
        // Bad schedules.
        Case(action: "manager.set_schedule", payload: ["id": .string("cleanup"), "schedule": .string("61 * * * *")], field: "schedule"),
        Case(action: "manager.set_schedule", payload: ["id": .string("cleanup"), "schedule": .string("* * *")], field: "schedule"),
        Case(action: "manager.set_schedule", payload: ["id": .string("cleanup"), "schedule": .string("*/0 * * * *")], field: "schedule"),
        Case(action: "manager.set_schedule", payload: ["id": .string("cleanup"), "schedule": .string("5-1 * * * *")], field: "schedule"),
        Case(action: "manager.set_schedule", payload: ["id": .string("cleanup"), "schedule": .string("0 0 32 * *")], field: "schedule"),
        Case(action: "manager.set_schedule", payload: ["id": .string("cleanup"), "schedule": .string("0s")], field: "schedule"),
        Case(action: "manager.set_schedule", payload: ["id": .string("cleanup"), "schedule": .string("31d")], field: "schedule"),
        Case(action: "manager.set_schedule", payload: ["id": .string("cleanup"), "schedule": .string("every day")], field: "schedule")
    ]

    /// Regression (RELIABILITY check 18, fuzzed payloads): an unknown field with an empty name was
    /// reported as "invalid payload: : unknown field"; a huge or escape-laden name went out as is.
    @Test(arguments: [
        ("", "(empty name)"), (String(repeating: "k", count: 300), String(repeating: "k", count: 60) + "…"),
        ("\u{1B}[31mx", "\\x1b[31mx")
    ])
    func anUnknownFieldIsNamedReadably(name: String, shown: String) {
        let h = Harness()
        let report = h.dispatch(
            ActionRequest(action: "queue.pause", payload: ["queue": .string("video_cutter"), name: .int(1)], actor: Actor(user: "alice")))
        #expect(report.invalidField == shown, "\(report.message)")
        #expect(report.message.hasPrefix("invalid payload: \(shown): unknown field for queue.pause"))
        #expect(h.executor.total == 0)
    }

    @Test(arguments: invalid)
    func invalidPayloadNamesTheField(c: Case) throws {
        let h = Harness()
        let request = ActionRequest(action: c.action, payload: c.payload, actor: Actor(user: "alice"))
        let report = h.dispatch(request)
        #expect(report.invalidField == c.field, "\(report.message)")
        #expect(report.exitStatus == 65)
        #expect(report.message.contains(c.field))
        #expect(h.executor.total == 0)
        #expect(h.cascade.events.isEmpty)
        let rows = h.rows(request.requestID)
        #expect(rows.count == 1)
        #expect(rows.first?.draft.phase == .denied)
        #expect(rows.first?.draft.outcome == "invalid")
        #expect(h.audit.records.count == 1)
    }

    @Test(arguments: ["*/5 * * * *", "0 3 * * 1-5", "0,30 8-18 * * *", "30s", "5m", "1h", "1d", "30d", "0 0 1 1 7"])
    func validSchedulesAreAccepted(schedule: String) {
        let h = Harness()
        let report = h.dispatch(h.valid("manager.set_schedule", overriding: ["schedule": .string(schedule)]))
        #expect(report.succeeded, "\(report.message)")
        #expect(h.executor.executions.first?.payload.string("schedule") == schedule)
    }

    @Test func valuesAreTypedAndDefaultsFilled() {
        let h = Harness()
        #expect(
            h.dispatch(
                ActionRequest(
                    action: "job.set_priority", payload: ["id": .string(ValidPayload.jobID.uppercased()), "priority": .string(" 7 ")],
                    actor: Actor(user: "alice"))
            ).succeeded)
        #expect(h.dispatch(ActionRequest(action: "config.lock", payload: ["locked": .string("on")], actor: Actor(user: "alice"))).succeeded)
        #expect(h.dispatch(ActionRequest(action: "system.broadcast", payload: ["message": .string("hi")], actor: Actor(user: "alice"))).succeeded)
        let p = h.executor.executions.map(\.payload)
        #expect(p[0] == Payload(["id": .string(ValidPayload.jobID), "priority": .int(7)]))
        #expect(p[1] == Payload(["locked": .bool(true)]))
        #expect(p[2] == Payload(["message": .string("hi"), "level": .string("info"), "ttl": .int(600)]))
    }

    @Test func aTooLongReasonIsInvalid() {
        let h = Harness()
        var request = h.valid("queue.pause")
        request.reason = String(repeating: "r", count: 501)
        #expect(h.dispatch(request).invalidField == "reason")
        #expect(h.executor.total == 0)
    }

    // MARK: Critical actions

    @Test func criticalActionsNeedAReasonAndTheTypedTarget() {
        let h = Harness()
        let payload: [String: PayloadValue] = ["queue": .string("video")]
        let refused: [(reason: String?, confirmation: String?)] = [
            (nil, "video"), ("", "video"), ("   ", "video"),
            ("TICKET-1", nil), ("TICKET-1", ""), ("TICKET-1", "Video"), ("TICKET-1", "video "), ("TICKET-1", "system"), ("TICKET-1", "audio")
        ]
        for (reason, confirmation) in refused {
            let request = ActionRequest(
                action: "queue.clear", payload: payload, actor: Actor(user: "alice"), reason: reason, confirmation: confirmation)
            let report = h.dispatch(request)
            #expect(report.isConfirmationRequired, "reason \(reason ?? "nil") confirmation \(confirmation ?? "nil")")
            #expect(report.exitStatus == 3)
            let rows = h.rows(request.requestID)
            #expect(rows.map(\.draft.phase) == [.denied])
            #expect(rows.first?.draft.outcome == "denied")
        }
        #expect(h.executor.total == 0)
        let ok = ActionRequest(action: "queue.clear", payload: payload, actor: Actor(user: "alice"), reason: "TICKET-1", confirmation: "video")
        #expect(h.dispatch(ok).succeeded)
        #expect(h.rows(ok.requestID).allSatisfy { $0.draft.reason == "TICKET-1" })
        #expect(h.executor.count("queue.clear") == 1)
    }

    @Test func everyCriticalActionAsksForConfirmation() {
        let h = Harness { $0.rateLimits = false }
        let critical = ActionCatalog.all.filter { $0.risk == .critical }
        #expect(
            critical.map(\.name).sorted() == [
                "database.backup", "database.migrate", "database.purge_history", "database.terminate_backend", "queue.clear",
                "system.backup", "system.maintenance_on", "system.reset", "worker.restart_all"
            ])
        for spec in critical {
            var request = ValidPayload.request(spec, user: "alice")
            request.confirmation = "wrong"
            #expect(h.dispatch(request).isConfirmationRequired, "\(spec.name)")
            request.confirmation = ValidPayload.target(spec, request.payload)
            request.reason = nil
            #expect(h.dispatch(request).isConfirmationRequired, "\(spec.name)")
            request.reason = "OPS-1"
            #expect(h.dispatch(request).succeeded, "\(spec.name)")
        }
        #expect(h.executor.total == critical.count)
        // Non-critical actions need neither.
        #expect(h.dispatch(ActionRequest(action: "queue.pause", payload: ["queue": .string("video")], actor: Actor(user: "alice"))).succeeded)
    }

    @Test func validationComesBeforeRBAC() {
        let h = Harness()
        let report = h.dispatch(ActionRequest(action: "queue.pause", payload: ["queue": .string("a b")], actor: Actor(user: "rita")))
        #expect(report.invalidField == "queue")
        #expect(h.audit.records.count == 1)
    }
}
