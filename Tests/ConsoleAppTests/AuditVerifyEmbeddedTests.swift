import AgentOSCore
import ConsoleApp
import Foundation
import Testing

/// The audit trail is checked from the console on the embedded default too (issue 19, item 12):
/// `V` on System Controls verifies the chain the embedded pipeline writes, as live verifies PostgreSQL's.
@Suite struct AuditVerifyEmbeddedTests {
    @Test func verifyingTheEmbeddedChainCountsTheOperatorsOwnActions() throws {
        let h = ActionHarness(view: .jobs)
        let id = try #require(ActionTests.queuedJob(h))
        h.press(.char("c"), .char("y"))
        #expect(h.job(id)?.status == .cancelled)
        let rows = h.audit.records.count
        #expect(rows >= 2, "the cancel's intent and outcome")
        h.press(.char("3"))
        #expect(!h.screen.contains("needs the live backend"))
        h.press(.char("V"))
        if case .confirm = h.state.overlay { h.press(.char("y")) }
        #expect(h.dispatched.last?.action == "system.audit_verify")
        // The cancel's rows and the verify's own intent, written before it runs.
        let verified = "system.audit_verify: audit chain intact: \(rows + 1) rows verified"
        #expect(h.state.notices.contains { $0.text == verified }, "\(h.state.notices.map(\.text))")
    }

    /// The operator's own actions stay in "What changed" after a reload: the embedded snapshot
    /// carries the pipeline's newest audit rows, as the live one carries PostgreSQL's.
    @Test func theOperatorsActionsSurviveAReloadInWhatChanged() throws {
        let h = ActionHarness(view: .jobs)
        h.world.attachAudit(h.audit)
        let id = try #require(ActionTests.queuedJob(h))
        h.press(.char("c"), .char("y"))
        h.reload()
        let audit = h.state.snapshot?.audit ?? []
        #expect(audit.contains { $0.action == "job.cancel" && $0.phase == "outcome" && $0.target == id && $0.user == "alice" }, "\(audit)")
        h.press(.char("1"), .char("]"))
        #expect(h.state.screen.id == .changes && h.screen.contains("job.cancel"), "\(h.screen)")
    }
}
