import AgentOSCore
import AgentOSTestSupport
import Foundation
import Testing

/// Check 13 of docs/RELIABILITY.md: every role × every action through the whole dispatcher (the
/// expectation table is written from ACTIONS.md, not from `Policy`), and unknown roles, actions
/// and users denied. Writes its figures like the other reliability checks.
@Suite struct ReliabilityPolicyTests {
    @Test func check13EveryRoleTimesEveryActionFollowsThePolicy() {
        let started = Date()
        var attempted = 0
        var executed = 0
        var refused = 0
        var mismatches: [String] = []
        let h = Harness()
        for role in Role.allCases {
            let user = Harness.userOf[role]!
            h.executor.setOwner(job: ValidPayload.jobID, owner: user)
            for spec in ActionCatalog.all {
                let want = RBACTests.expected(role, spec.name)
                let decided = RBACTests.expect(Policy.decide(Grant(role: role), spec))
                let asked = RBACTests.expect(h.dispatcher.canI(spec.name, actor: Actor(user: user)))
                let request = h.valid(spec.name, user: user)
                let before = h.executor.count(spec.name)
                let report = h.dispatch(request)
                let ran = h.executor.count(spec.name) - before
                let rows = h.rows(request.requestID)
                attempted += 1
                executed += ran
                if !report.succeeded { refused += 1 }
                let rowsRight =
                    want == .deny
                    ? rows.map(\.draft.phase) == [.denied] && rows.first?.draft.outcome == "denied"
                    : rows.map(\.draft.phase) == [.intent, .outcome] && rows.last?.draft.outcome == "success"
                if decided != want || asked != want || (want == .deny) == report.succeeded || ran != (want == .deny ? 0 : 1) || !rowsRight
                    || !rows.allSatisfy({ $0.draft.role == role.rawValue && $0.draft.user == user })
                {
                    mismatches.append(
                        "\(role) \(spec.name): want \(want), policy \(decided), can-i \(asked), \(report.message), rows \(rows.map(\.draft.phase))")
                }
            }
        }
        // Unknown roles, unknown actions and unknown users: deny, and nothing runs.
        for role in ["root", "Admin", "", "superuser", "admin "] {
            for spec in ActionCatalog.all {
                attempted += 1
                if Policy.decide(role: role, action: spec.name).allowed {
                    mismatches.append("unknown role '\(role)' allowed \(spec.name)")
                } else {
                    refused += 1
                }
            }
        }
        for action in ["job.nuke", "", "JOB.CANCEL", "job.cancel ", "queue", "job.cancel\u{1B}[2J"] {
            for role in Role.allCases {
                attempted += 1
                if Policy.decide(role: role.rawValue, action: action).allowed {
                    mismatches.append("\(role) allowed unknown action '\(action)'")
                } else {
                    refused += 1
                }
            }
            let before = h.executor.total
            let report = h.dispatch(ActionRequest(action: action, actor: Actor(user: "alice")))
            attempted += 1
            if report.succeeded || h.executor.total != before { mismatches.append("dispatcher ran unknown action '\(action)'") } else { refused += 1 }
        }
        for spec in ActionCatalog.all where spec.mutating {
            let before = h.executor.total
            let report = h.dispatch(h.valid(spec.name, user: "nobody-\(spec.name)"))
            attempted += 1
            if report.succeeded || h.executor.total != before { mismatches.append("unknown user ran \(spec.name)") } else { refused += 1 }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) decisions differ from the policy, e.g. \(mismatches.prefix(5))")
        let allowed = Role.allCases.map { role in ActionCatalog.all.filter { RBACTests.expected(role, $0.name) != .deny }.count }.reduce(0, +)
        #expect(executed == allowed)
        ReliabilityFigures.record(
            check: 13, test: "ReliabilityPolicyTests/check13EveryRoleTimesEveryActionFollowsThePolicy", attempted: attempted,
            executed: executed, refused: refused, auditRows: h.audit.records.count,
            notes:
                "\(Role.allCases.count) roles × \(ActionCatalog.all.count) actions through the dispatcher (policy, can-i, outcome, audit row); 5 unknown roles, 6 unknown actions, unknown users: \(mismatches.count) differences",
            ok: mismatches.isEmpty && executed == allowed, started: started)
    }
}

/// One JSON line of figures into AGENTOS_RELIABILITY_FIGURES (scripts/reliability.sh collects them).
enum ReliabilityFigures {
    static func record(check: Int, test: String, attempted: Int, executed: Int, refused: Int, auditRows: Int, notes: String, ok: Bool, started: Date)
    {
        ReliabilityFiguresFile.append([
            "check": check, "test": test, "attempted": attempted, "executed": executed, "refused": refused,
            "audit_rows": auditRows, "replays": 0, "escapes": 0, "crashes": 0, "notes": notes, "ok": ok,
            "full": ProcessInfo.processInfo.environment["AGENTOS_RELIABILITY_FULL"] == "1",
            "seconds": (Date().timeIntervalSince(started) * 10).rounded() / 10
        ])
    }
}
