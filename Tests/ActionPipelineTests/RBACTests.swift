import AgentOSCore
import AgentOSTestSupport
import Testing

/// Default deny; role × action decided by the policy, and the dispatcher follows it (RELIABILITY check 13).
@Suite struct RBACTests {
    enum Expect: Equatable { case allow, own, deny }

    /// ACTIONS.md: operator = job, queue (not clear), worker, manager, log export, analytics.
    static let operatorPermissions: Set<String> = [
        "JOB_CANCEL", "JOB_MANAGE", "QUEUE_MANAGE", "WORKER_RESTART", "WORKER_MANAGE", "MANAGER_CONTROL", "LOG_EXPORT", "ANALYTICS_VIEW"
    ]

    /// The expectation table, written from ACTIONS.md (not from `Policy`).
    static func expected(_ role: Role, _ action: String) -> Expect {
        guard let permission = CatalogTests.documented[action] else { return .deny }
        switch role {
        case .admin: return .allow
        case .operator: return operatorPermissions.contains(permission) ? .allow : .deny
        case .supervisor: return ["job.cancel", "job.retry"].contains(action) ? .allow : .deny
        case .user: return ["job.cancel", "job.retry"].contains(action) ? .own : .deny
        case .readonly: return .deny
        }
    }

    static func expect(_ decision: PolicyDecision) -> Expect {
        switch decision {
        case .allow: return .allow
        case .allowOwn: return .own
        case .deny: return .deny
        }
    }

    @Test func expectationTableShape() {
        let names = ActionCatalog.all.map(\.name)
        #expect(names.filter { Self.expected(.operator, $0) == .allow }.count == 40)
        #expect(Self.expected(.operator, "queue.clear") == .deny)
        #expect(Self.expected(.operator, "analytics.reset_counters") == .deny)
        #expect(names.allSatisfy { Self.expected(.readonly, $0) == .deny })
    }

    @Test(arguments: Role.allCases)
    func everyActionThroughTheDispatcher(role: Role) {
        let h = Harness()
        let user = Harness.userOf[role]!
        h.executor.setOwner(job: ValidPayload.jobID, owner: user)
        for spec in ActionCatalog.all {
            let want = Self.expected(role, spec.name)
            #expect(Self.expect(Policy.decide(Grant(role: role), spec)) == want, "\(role) \(spec.name)")
            #expect(Self.expect(Policy.decide(role: role.rawValue, action: spec.name)) == want, "\(role) \(spec.name)")
            #expect(Self.expect(h.dispatcher.canI(spec.name, actor: Actor(user: user))) == want, "\(role) \(spec.name)")

            let request = h.valid(spec.name, user: user)
            let report = h.dispatch(request)
            let rows = h.rows(request.requestID)
            if want == .deny {
                #expect(report.isDenied, "\(role) \(spec.name): \(report.message)")
                #expect(h.executor.count(spec.name) == 0, "\(role) \(spec.name)")
                #expect(rows.map(\.draft.phase) == [.denied], "\(role) \(spec.name)")
                #expect(rows.first?.draft.outcome == "denied")
                #expect(rows.first?.draft.role == role.rawValue)
            } else {
                #expect(report.succeeded, "\(role) \(spec.name): \(report.message)")
                #expect(h.executor.count(spec.name) == 1, "\(role) \(spec.name)")
                #expect(rows.map(\.draft.phase) == [.intent, .outcome], "\(role) \(spec.name)")
                #expect(rows.last?.draft.outcome == "success")
                #expect(rows.allSatisfy { $0.draft.role == role.rawValue && $0.draft.user == user })
            }
        }
        let allowed = ActionCatalog.all.filter { Self.expected(role, $0.name) != .deny }.count
        #expect(h.executor.total == allowed)
        #expect(h.audit.records.count == allowed * 2 + (83 - allowed))
    }

    @Test func unknownRoleOrActionIsDenied() {
        for role in ["root", "Admin", "", "superuser", "admin "] {
            #expect(!Policy.decide(role: role, action: "job.cancel").allowed, "\(role)")
            #expect(!Policy.decide(role: role, extra: ["ADMIN"], action: "job.cancel").allowed, "\(role)")
        }
        for action in ["job.nuke", "", "JOB.CANCEL", "job.cancel ", "queue"] {
            for role in Role.allCases {
                #expect(!Policy.decide(role: role.rawValue, action: action).allowed, "\(role) \(action)")
            }
            #expect(Policy.decide(Grant(role: .admin), ActionCatalog.spec(action)) == .deny("unknown action"))
        }
    }

    @Test func unknownActionThroughTheDispatcher() {
        let h = Harness()
        let request = ActionRequest(action: "job.nuke", actor: Actor(user: "alice"))
        let report = h.dispatch(request)
        #expect(report.failure == .unknownAction("job.nuke"))
        #expect(h.executor.total == 0)
        let rows = h.rows(request.requestID)
        #expect(rows.map(\.draft.phase) == [.denied])
        #expect(rows.first?.draft.outcome == "invalid")
    }

    @Test func unknownUserIsReadonly() {
        let h = Harness()
        for action in ["job.cancel", "queue.pause", "worker.ping", "logs.export", "system.health_check"] {
            let request = h.valid(action, user: "mallory")
            let report = h.dispatch(request)
            #expect(report.isDenied, "\(action)")
            let rows = h.rows(request.requestID)
            #expect(rows.map(\.draft.phase) == [.denied])
            #expect(rows.first?.draft.role == "readonly")
            #expect(h.dispatcher.canI(action, actor: Actor(user: "mallory")).allowed == false)
        }
        #expect(h.executor.total == 0)
    }

    @Test func actingAsWorksForAdminsAndIsRecorded() {
        let h = Harness()
        let request = h.valid("queue.pause", user: "alice", actingAs: "olga")
        let report = h.dispatch(request)
        #expect(report.succeeded, "\(report.message)")
        #expect(h.executor.executions.map(\.user) == ["olga"])
        let rows = h.rows(request.requestID)
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { $0.draft.user == "alice" && $0.draft.actingAs == "olga" && $0.draft.role == "operator" })

        // The admin acting as an operator has the operator's permissions, not their own.
        let reset = h.valid("system.reset", user: "alice", actingAs: "olga")
        #expect(h.dispatch(reset).isDenied)
        #expect(h.executor.count("system.reset") == 0)
        #expect(h.rows(reset.requestID).first?.draft.actingAs == "olga")
    }

    @Test(arguments: ["olga", "sam", "ursula", "rita", "mallory"])
    func actingAsIsRefusedForNonAdmins(user: String) {
        let h = Harness()
        let request = h.valid("queue.pause", user: user, actingAs: "alice")
        let report = h.dispatch(request)
        #expect(report.isDenied)
        #expect(report.message.contains("admins only"))
        #expect(h.executor.total == 0)
        let rows = h.rows(request.requestID)
        #expect(rows.map(\.draft.phase) == [.denied])
        #expect(rows.first?.draft.actingAs == "alice")
        #expect(rows.first?.draft.user == user)
        #expect(!h.dispatcher.canI("queue.pause", actor: Actor(user: user, actingAs: "alice")).allowed)
    }

    @Test func extraPermissionsGrantTheirActions() {
        #expect(Policy.decide(role: "readonly", extra: ["QUEUE_CLEAR", "BOGUS"], action: "queue.clear") == .allow)
        #expect(!Policy.decide(role: "readonly", extra: ["QUEUE_CLEAR"], action: "queue.pause").allowed)
        #expect(Policy.decide(role: "operator", extra: ["QUEUE_CLEAR"], action: "queue.clear") == .allow)
        #expect(!Policy.decide(role: "operator", extra: ["SYSTEM_OPERATE"], action: "system.reset").allowed)
        #expect(Policy.decide(role: "user", extra: ["JOB_CANCEL"], action: "job.cancel") == .allow)
        for spec in ActionCatalog.all {
            #expect(Policy.decide(Grant(role: .readonly, extra: [.admin]), spec) == .allow, "\(spec.name)")
            let own = Policy.decide(Grant(role: .readonly, extra: [spec.permission]), spec)
            #expect(own == .allow, "\(spec.name)")
        }

        var grants = Harness.users
        grants["quinn"] = Grant(role: .readonly, extra: [.queueClear])
        let h = Harness(grants: grants)
        let clear = h.valid("queue.clear", user: "quinn")
        #expect(h.dispatch(clear).succeeded)
        #expect(h.executor.count("queue.clear") == 1)
        #expect(h.rows(clear.requestID).allSatisfy { $0.draft.role == "readonly" })
        #expect(h.dispatch(h.valid("queue.pause", user: "quinn")).isDenied)
        #expect(h.executor.count("queue.pause") == 0)
    }

    @Test func userRoleActsOnOwnJobsOnly() {
        let h = Harness()
        let mine = "11111111-1111-4111-8111-111111111111"
        let theirs = "22222222-2222-4222-8222-222222222222"
        let missing = "33333333-3333-4333-8333-333333333333"
        h.executor.setOwner(job: mine, owner: "ursula")
        h.executor.setOwner(job: theirs, owner: "olga")
        for action in ["job.cancel", "job.retry"] {
            #expect(h.dispatch(h.valid(action, user: "ursula", overriding: ["id": .string(mine)])).succeeded)
            let other = h.valid(action, user: "ursula", overriding: ["id": .string(theirs)])
            #expect(h.dispatch(other).isDenied)
            #expect(h.rows(other.requestID).map(\.draft.phase) == [.denied])
            let gone = h.valid(action, user: "ursula", overriding: ["id": .string(missing)])
            #expect(h.dispatch(gone).failure == .notFound("job \(missing)"))
            // A supervisor may act on anyone's job.
            #expect(h.dispatch(h.valid(action, user: "sam", overriding: ["id": .string(theirs)])).succeeded)
        }
        #expect(h.executor.executions.map(\.user) == ["ursula", "sam", "ursula", "sam"])
        #expect(h.dispatch(h.valid("job.delete", user: "ursula", overriding: ["id": .string(mine)])).isDenied)
        #expect(h.dispatch(h.valid("job.kill", user: "ursula", overriding: ["id": .string(mine)])).isDenied)
        #expect(h.executor.total == 4)
    }
}
