import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// The embedded audit is a JSONL hash chain: a `preview` row (D62) joins it like any other, reads
/// back as a preview after a reopen, and the verifier accepts the chain; a changed row still breaks it.
@Suite("file audit chain with preview rows")
struct FileAuditPreviewTests {
    @Test func previewRowsJoinTheChainAndVerify() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-preview-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = try FileAuditLog(directory: dir)
        let request = UUID()
        for phase in [AuditDraft.Phase.preview, .intent, .outcome] {
            _ = try log.append(
                AuditDraft(
                    timestamp: Date(), user: "alice", role: "admin", action: "queue.clear", phase: phase,
                    outcome: phase == .intent ? nil : phase == .preview ? "preview" : "success", requestID: request, target: "q",
                    result: phase == .preview ? #"{"count":2,"message":"queue.clear would touch 2 rows","more":false,"rows":"a,b"}"# : nil))
        }
        let reopened = try FileAuditLog(directory: dir)
        #expect(try reopened.tail(10).map(\.draft.phase) == [.preview, .intent, .outcome])
        let finding = try AuditVerifier.verify(reopened)
        #expect(finding.ok && finding.rows == 3, "\(finding)")

        // The chain still catches a change: the preview row's count edited in the file.
        let file = try #require(try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).first)
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains(#"\"count\":2"#) || text.contains(#""count":2"#), "the row as written")
        try text.replacingOccurrences(of: "count", with: "cnt", options: [], range: text.range(of: "count")).write(
            to: file, atomically: true, encoding: .utf8)
        #expect(try !AuditVerifier.verify(FileAuditLog(directory: dir)).ok)
    }
}
