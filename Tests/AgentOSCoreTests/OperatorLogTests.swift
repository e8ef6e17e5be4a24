import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

/// The operator's actions in System Logs (issue 19 item 5): each audited outcome or denial is a
/// line of source `audit` in the fleet's log, so it reads in order with what the fleet did.
@Suite("Embedded: the operator's actions are lines in System Logs")
struct OperatorLogTests {
    func auditLines(_ h: WorldHarness) -> [LogLine] { h.read { $0.logs.filter { $0.source == OperatorLogLine.source } } }

    @Test func successesFailuresAndDenialsLeaveALineEachIntentsNone() throws {
        let h = WorldHarness(auditOver: { world, trail in OperatorActionLog(trail, world: world) })
        #expect(auditLines(h).isEmpty)
        h.expect("queue.pause", ["queue": .string("video_cutter")])
        let missing = "00000000-0000-4000-8000-000000000001"
        #expect(!h.run("job.retry", ["id": .string(missing)]).succeeded)
        #expect(!h.run("worker.scale", ["id": .string(h.firstStageWorker()), "concurrency": .int(99)]).succeeded)
        let lines = auditLines(h)
        try #require(lines.count == 3, "\(lines.map(\.message))")
        #expect(lines[0].level == .info)
        #expect(lines[0].message == "alice: queue.pause video_cutter success — queue video_cutter paused: consumers stop taking from it")
        #expect(lines[1].level == .warning && lines[1].message.hasPrefix("alice: job.retry \(missing) not_found — "), "\(lines[1].message)")
        #expect(lines[2].level == .warning && lines[2].message.contains(" worker.scale ") && lines[2].message.contains("64"), "\(lines[2].message)")
        #expect(lines.allSatisfy { $0.ts == h.read(\.now) }, "at the fleet's time, in order with its own lines")
        // What every console shows: the lines are in the snapshot the views render.
        let snapshot = try h.world.dataManager.rebuild()
        #expect(lines.allSatisfy { line in snapshot.logs.recent.contains { $0.id == line.id && $0.message == line.message } })
    }

    @Test func theLineIsBuiltFromTheAuditRowAlone() {
        let request = UUID()
        func draft(_ phase: AuditDraft.Phase, _ outcome: String?, result: String?) -> AuditDraft {
            AuditDraft(
                timestamp: Date(timeIntervalSince1970: 0), user: "bob", role: "operator", action: "queue.clear", phase: phase, outcome: outcome,
                requestID: request, target: "video_cutter", result: result)
        }
        #expect(OperatorLogLine.of(draft(.intent, nil, result: nil)) == nil, "an intent's outcome follows: no line")
        let ok = OperatorLogLine.of(
            draft(.outcome, "success", result: #"{"affected":3,"message":"cleared queue video_cutter: 3 pending job(s) deleted"}"#))
        #expect(ok?.level == .info && ok?.message == "bob: queue.clear video_cutter success — cleared queue video_cutter: 3 pending job(s) deleted")
        let refused = OperatorLogLine.of(draft(.denied, "conflict", result: #"{"error":"14 would be affected, 13 confirmed"}"#))
        #expect(refused?.level == .warning && refused?.message == "bob: queue.clear video_cutter conflict — 14 would be affected, 13 confirmed")
        let bare = OperatorLogLine.of(draft(.outcome, "failed", result: nil))
        #expect(bare?.message == "bob: queue.clear video_cutter failed")
    }
}
