import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

/// Issue 20 item 7, embedded: a preview lists what the action would touch and changes nothing;
/// a following `queue.clear` deletes exactly the previewed jobs. One audit row of phase
/// `preview`, which the file chain's verifier accepts.
@Suite("action preview in the embedded world")
struct WorldPreviewTests {
    /// The busiest queue's waiting jobs, and every job id of that queue.
    static func busiest(_ h: WorldHarness) -> String? {
        h.world.read { sim in sim.queues.keys.sorted().max { sim.pendingCount($0) < sim.pendingCount($1) } }
    }

    static func jobs(_ h: WorldHarness, _ queue: String) -> [String: JobStatus] {
        h.world.read { sim in Dictionary(uniqueKeysWithValues: sim.jobs.values.filter { $0.queue == queue }.map { ($0.id, $0.status) }) }
    }

    @Test func previewOfClearListsWhatTheClearDeletesAndChangesNothing() throws {
        let h = WorldHarness(jobsPerMinute: 400)
        let queue = try #require(Self.busiest(h))
        let waitingBefore = h.world.read { $0.waiting[queue] ?? [] }
        let jobsBefore = Self.jobs(h, queue)
        let pending = h.world.read { $0.pendingCount(queue) }
        #expect(pending >= 2, "the harness's busiest queue has waiting jobs")
        let auditBefore = try h.audit.tail(1_000).count

        let request = ActionRequest(action: "queue.clear", payload: ["queue": .string(queue)], actor: h.actor)
        let report = h.dispatcher.preview(request, limit: 10_000)
        let preview = try report.outcome.get()
        #expect(preview.count == pending && preview.rows.count == pending && !preview.more, "\(preview)")
        // Nothing changed in the world; one audit row, phase preview, carrying the count.
        #expect(h.world.read { $0.waiting[queue] ?? [] } == waitingBefore)
        #expect(Self.jobs(h, queue) == jobsBefore)
        let rows = try h.audit.tail(1_000)
        #expect(rows.count == auditBefore + 1)
        let row = try #require(rows.last?.draft)
        #expect(row.phase == .preview && row.outcome == "preview" && row.requestID == request.requestID)
        #expect(row.result?.contains("\"count\":\(pending)") == true, "\(row.result ?? "")")
        #expect(OperatorLogLine.of(row)?.message.hasPrefix("alice: queue.clear \(queue) preview — ") == true)

        // A limit lists the first rows and says more follow; the count stays whole.
        let two = try h.dispatcher.preview(request, limit: 2).outcome.get()
        #expect(two.count == pending && two.rows == Array(preview.rows.prefix(2)) && two.more)

        let clear = h.run("queue.clear", ["queue": .string(queue)])
        #expect(clear.succeeded, "\(clear.message)")
        let deleted = Set(jobsBefore.keys).subtracting(Self.jobs(h, queue).keys)
        #expect(deleted == Set(preview.rows))
    }

    @Test func aCriticalActionPreviewsWithoutItsTypedNameAndAReadonlyUserIsRefused() throws {
        let h = WorldHarness()
        let queue = try #require(Self.busiest(h))
        // No reason, no typed confirmation: a preview runs nothing, so it does not ask for them.
        let ok = h.dispatcher.preview(ActionRequest(action: "queue.clear", payload: ["queue": .string(queue)], actor: h.actor))
        #expect(ok.exitStatus == 0, "\(ok.outcome)")
        let stranger = Actor(user: "mallory", host: "test")
        let refused = h.dispatcher.preview(ActionRequest(action: "queue.clear", payload: ["queue": .string(queue)], actor: stranger))
        #expect(refused.exitStatus == 3)
        let row = try #require(try h.audit.tail(1).last?.draft)
        #expect(row.phase == .preview && row.outcome == "denied")
        #expect(OperatorLogLine.of(row)?.message.hasPrefix("mallory: queue.clear \(queue) preview denied") == true)
        // A toggle without rows says what would change.
        let toggle = try h.dispatcher.preview(ActionRequest(action: "system.maintenance_on", actor: h.actor)).outcome.get()
        #expect(toggle.count == 0 && toggle.rows.isEmpty && toggle.summary.contains("no rows to list"))
    }
}
