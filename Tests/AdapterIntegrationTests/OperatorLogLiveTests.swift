import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Live, the server writes the operator's lines: migration 8's trigger on `audit_logs`, in the
/// format `OperatorLogLine` gives the embedded mode.
@Suite("Live: the operator's actions are lines in System Logs", .serialized)
struct OperatorLogLiveTests {
    @Test func everyAuditedOutcomeAndDenialHasItsLineInTheEmbeddedFormat() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("queue.pause", ["queue": .string("video_cutter")]))
        #expect(!fx.run("job.retry", ["id": .string("00000000-0000-4000-8000-000000000001")]).succeeded)
        #expect(!fx.run("queue.pause", ["queue": .string("video_cutter")], actor: Actor(user: "nobody", host: "test", sessionID: "s")).succeeded)
        // Previews (migration 9): one shown, one refused.
        let clear = ["queue": PayloadValue.string("video_cutter")]
        #expect(fx.actions.dispatcher.preview(ActionRequest(action: "queue.clear", payload: clear, actor: fx.actor)).exitStatus == 0)
        let nobody = Actor(user: "nobody", host: "test", sessionID: "s")
        #expect(fx.actions.dispatcher.preview(ActionRequest(action: "queue.clear", payload: clear, actor: nobody)).exitStatus == 3)

        let rows = try fx.db.query(
            """
            SELECT timestamp, user_id, action, phase, outcome, target, result::text AS result
            FROM audit_logs WHERE phase <> 'intent' ORDER BY seq
            """
        ).rows
        try #require(rows.count == 5, "an outcome, a failure, a denial and two previews")
        let expected = try rows.map { row in
            let draft = AuditDraft(
                timestamp: try row.get("timestamp"), user: try row.get("user_id"), role: "", action: try row.get("action"),
                phase: AuditDraft.Phase(rawValue: try row.get("phase")) ?? .outcome, outcome: try row.get("outcome"), requestID: UUID(),
                target: try row.get("target"), result: try row.get("result"))
            return try #require(OperatorLogLine.of(draft))
        }
        let lines = try fx.db.query("SELECT level, message FROM logs WHERE source = 'audit' ORDER BY id").rows
        #expect(try lines.map { try $0.get("level", as: String.self) } == expected.map(\.level.rawValue))
        #expect(try lines.map { try $0.get("message", as: String.self) } == expected.map(\.message))
        #expect(expected[0].message.hasPrefix("tester: queue.pause video_cutter success — "), "\(expected[0].message)")
        #expect(expected[2].message.hasPrefix("nobody: queue.pause video_cutter denied"), "\(expected[2].message)")
        #expect(expected[3].level == .info && expected[3].message.hasPrefix("tester: queue.clear video_cutter preview — "), "\(expected[3].message)")
        #expect(expected[4].level == .warning && expected[4].message.hasPrefix("nobody: queue.clear video_cutter preview denied — "))
        // The console's snapshot carries them to System Logs.
        let snapshot = try fx.dataManager.rebuild()
        #expect(snapshot.logs.recent.filter { $0.source == OperatorLogLine.source }.count == 5)
    }
}
