import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Issue 20 item 7 against real PostgreSQL and Redis: a preview of `queue.clear` lists exactly the
/// jobs a following clear deletes, and changes nothing (the job rows, the broker's lists and
/// message copies in DB0); it leaves one audit row of phase `preview` and its System Logs line.
@Suite("action preview against real PostgreSQL and Redis", .serialized)
struct LivePreviewTests {
    /// Everything a clear of `queue` could touch: every job row of the queue (any status), the
    /// messages of its broker lists and the message copies of its jobs.
    static func state(_ fx: ActionFixture, _ queue: String) throws -> (jobs: [String], lists: [String], copies: [String]) {
        let jobs = try fx.db.query(
            "SELECT id::text || ' ' || status || ' ' || updated_at::text AS row FROM jobs WHERE queue = $1 ORDER BY id", [queue]
        ).rows.map { try $0.get("row", as: String.self) }
        let ids = try fx.db.query("SELECT id::text AS id FROM jobs WHERE queue = $1", [queue]).rows.map { try $0.get("id", as: String.self) }
        let copies = try ids.sorted().compactMap { id in try fx.redis(0).send("GET", fx.ns.brokerMessageKey(job: id)).string.map { "\(id) \($0)" } }
        return (jobs, try fx.brokerMessages(queue).sorted(), copies)
    }

    static func ids(_ fx: ActionFixture, _ queue: String) throws -> Set<String> {
        Set(try fx.db.query("SELECT id::text AS id FROM jobs WHERE queue = $1", [queue]).rows.map { try $0.get("id", as: String.self) })
    }

    @Test func previewOfClearListsWhatTheClearDeletesAndChangesNothing() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let queue = "video_downloader"
        var waiting: Set<String> = []
        for i in 0..<4 { waiting.insert(try fx.insertJob(status: i % 2 == 0 ? .queued : .pending, queue: queue, producerCopy: true)) }
        // Jobs of the queue a clear leaves alone.
        let failed = try fx.insertJob(status: .failed, queue: queue)
        let running = try fx.insertJob(status: .running, queue: queue)
        let before = try Self.state(fx, queue)
        #expect(before.lists.count >= 4 && before.copies.count >= 4, "the fixture's broker messages")

        let request = ActionRequest(action: "queue.clear", payload: ["queue": .string(queue)], actor: fx.actor)
        let report = fx.actions.dispatcher.preview(request, limit: 10_000)
        let preview = try report.outcome.get()
        // Nothing changed: the rows, the broker's lists and copies are as they were.
        let after = try Self.state(fx, queue)
        #expect(after.jobs == before.jobs)
        #expect(after.lists == before.lists)
        #expect(after.copies == before.copies)
        #expect(preview.count == preview.rows.count && !preview.more, "\(preview)")
        #expect(waiting.isSubset(of: Set(preview.rows)) && !preview.rows.contains(failed) && !preview.rows.contains(running), "\(preview.rows)")

        // One audit row, phase preview, with the count and the listed ids; its System Logs line.
        let rows = try fx.db.query("SELECT phase, outcome, result::text AS result FROM audit_logs WHERE request_id = $1", [request.requestID]).rows
        #expect(rows.count == 1)
        #expect(try rows.first?.get("phase", as: String.self) == "preview" && rows.first?.get("outcome", as: String?.self) == "preview")
        let row = try #require(rows.first)
        let json = try row.get("result", as: String.self)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(result["count"] as? Int == preview.count)
        #expect(Set((result["rows"] as? String ?? "").split(separator: ",").map(String.init)) == Set(preview.rows))
        #expect(report.auditSeq != nil)
        let line = try fx.count(
            "SELECT count(*) FROM logs WHERE source = 'audit' AND level = 'info' AND message LIKE $1",
            ["\(fx.actor.user): queue.clear \(queue) preview — %"])
        #expect(line == 1)

        // The clear deletes exactly the previewed jobs.
        let present = try Self.ids(fx, queue)
        try fx.expectSuccess(fx.run("queue.clear", ["queue": .string(queue)]))
        let deleted = present.subtracting(try Self.ids(fx, queue))
        #expect(deleted == Set(preview.rows))
        #expect(try fx.jobStatus(failed) == "failed" && fx.jobStatus(running) == "running")
    }

    @Test func aPreviewIsRefusedToWhoMayNotRunTheActionAndAuditedAsSuch() throws {
        let fx = try ActionFixture(seed: false)
        defer { fx.close() }
        let stranger = Actor(user: "preview-stranger", host: "test")
        let request = ActionRequest(action: "queue.clear", payload: ["queue": .string("video_cutter")], actor: stranger)
        let report = fx.actions.dispatcher.preview(request)
        #expect(report.exitStatus == 3, "\(report.outcome)")
        #expect(try fx.auditRows(request.requestID).map { "\($0.0) \($0.1 ?? "-")" } == ["preview denied"])
        // A single-target action shows its target as it is now; a job that is not there is not found.
        let missing = ActionRequest(action: "job.cancel", payload: ["id": .string(UUID().uuidString.lowercased())], actor: fx.actor)
        #expect(fx.actions.dispatcher.preview(missing).exitStatus == 6)
        let id = try fx.insertJob(status: .running, queue: "video_cutter")
        let cancel = fx.actions.dispatcher.preview(ActionRequest(action: "job.cancel", payload: ["id": .string(id)], actor: fx.actor))
        #expect(try cancel.outcome.get().rows == ["job \(id): running"])
        #expect(try fx.jobStatus(id) == "running")
    }

    /// `agentos action … --dry-run` with a backend prints the preview (text and JSON), audited, nothing changed.
    @Test func headlessDryRunWithABackendPrintsThePreview() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.db.query(
            "INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin') ON CONFLICT (user_id) DO UPDATE SET role = 'admin'",
            [unixAccount()])
        let queue = "video_cutter"
        for _ in 0..<3 { try fx.insertJob(status: .queued, queue: queue, producerCopy: true) }
        let waiting = Set(
            try fx.db.query("SELECT id::text AS id FROM jobs WHERE queue = $1 AND status IN ('pending','queued')", [queue]).rows.map {
                try $0.get("id", as: String.self)
            })
        let before = try Self.state(fx, queue)
        let seq = try fx.count("SELECT coalesce(max(seq), 0)::bigint FROM audit_logs")

        let out = try Child.run(try ReliabilityIdempotencyTests.cli(fx, ["queue.clear", "queue=\(queue)", "--dry-run"]))
        #expect(out.status == 0, "exit \(out.status): \(out.stdout) \(out.stderr)")
        let answer = ReliabilityIdempotencyTests.json(out.stdout)
        let preview = try #require(answer["preview"] as? [String: Any], "\(out.stdout)")
        #expect(preview["count"] as? Int == waiting.count && Set(preview["rows"] as? [String] ?? []) == waiting, "\(out.stdout)")
        #expect(answer["valid"] as? Bool == true && answer["needs"] as? String == "--yes --reason")
        let auditSeq = try #require(answer["audit_seq"] as? Int)
        #expect(auditSeq > seq)
        #expect(try fx.scalar("SELECT phase || ' ' || outcome FROM audit_logs WHERE seq = $1", [auditSeq], as: String.self) == "preview preview")
        #expect(try Self.state(fx, queue) == before)

        // Text, two rows listed: the rest counted.
        let argv = try ReliabilityIdempotencyTests.cli(fx, ["queue.clear", "queue=\(queue)", "--dry-run", "--limit", "2"]).filter { $0 != "--json" }
        let text = try Child.run(argv)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("preview: queue.clear would touch \(waiting.count) rows (queue \(queue))"), "\(text.stdout)")
        let listed = text.stdout.split(separator: "\n").filter { line in waiting.contains(line.trimmingCharacters(in: .whitespaces)) }
        #expect(listed.count == 2 && text.stdout.contains("  +\(waiting.count - 2) more"), "\(text.stdout)")
        #expect(text.stdout.contains("dry run: nothing was changed (audited as a preview, seq "))
        #expect(try Self.state(fx, queue) == before)
    }
}
