import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// `expect` against real PostgreSQL and Redis (issue 19): the live executor counts the rows in the
/// transaction that would change them and refuses, changing nothing, when more than the confirmed
/// figure would be affected; headless through `agentos action --expect N` too.
@Suite("confirmed impact against real PostgreSQL", .serialized)
struct ConfirmedImpactTests {
    static func pending(_ fx: ActionFixture, _ queue: String) throws -> Int {
        try fx.count("SELECT count(*) FROM jobs WHERE queue = $1 AND status IN ('pending','queued')", [queue])
    }

    @Test func headlessClearWithAnExpectBelowTheQueueIsRefusedAndDeletesNothing() throws {
        let fx = try ActionFixture(user: unixAccount())
        defer { fx.close() }
        try fx.db.query(
            "INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin') ON CONFLICT (user_id) DO UPDATE SET role = 'admin'",
            [unixAccount()])
        let queue = "video_downloader"
        // The operator saw the queue at `confirmed`; three more jobs arrive before the clear runs.
        let confirmed = try Self.pending(fx, queue)
        for _ in 0..<3 { try fx.insertJob(status: .queued, queue: queue, producerCopy: true) }
        let actual = try Self.pending(fx, queue)
        #expect(actual == confirmed + 3)
        let messages = try fx.brokerMessages(queue).count
        #expect(messages >= 3)

        let argv = try ReliabilityIdempotencyTests.cli(
            fx, ["queue.clear", "queue=\(queue)", "--yes", "--reason", "INC-19", "--expect", String(confirmed)])
        let refused = try Child.run(argv)
        #expect(refused.status == 5, "exit \(refused.status): \(refused.stdout) \(refused.stderr)")
        let report = ReliabilityIdempotencyTests.json(refused.stdout)
        #expect(report["ok"] as? Bool == false && report["error"] as? String == "conflict", "\(refused.stdout)")
        #expect((report["message"] as? String)?.contains("\(actual) would be affected, \(confirmed) confirmed: nothing was changed") == true)
        // Nothing deleted: the rows and the broker's messages are all there; the refusal is audited.
        #expect(try Self.pending(fx, queue) == actual)
        #expect(try fx.brokerMessages(queue).count == messages)
        let outcome = try fx.scalar(
            "SELECT outcome FROM audit_logs WHERE action = 'queue.clear' AND phase = 'outcome' ORDER BY seq DESC LIMIT 1", as: String.self)
        #expect(outcome == "conflict")

        // The figure that holds runs, and deletes exactly that many.
        let ok = try Child.run(
            try ReliabilityIdempotencyTests.cli(fx, ["queue.clear", "queue=\(queue)", "--yes", "--reason", "INC-19", "--expect", String(actual)]))
        #expect(ok.status == 0, "exit \(ok.status): \(ok.stdout) \(ok.stderr)")
        #expect(ReliabilityIdempotencyTests.json(ok.stdout)["affected"] as? Int == actual, "\(ok.stdout)")
        #expect(try Self.pending(fx, queue) == 0)

        // --expect on an action without a counted impact is a usage error.
        let usage = try Child.run(try ReliabilityIdempotencyTests.cli(fx, ["queue.pause", "queue=\(queue)", "--expect", "1"]))
        #expect(usage.status == 64 && usage.stderr.contains("--expect: queue.pause has no counted impact"), "\(usage.status) \(usage.stderr)")
    }

    @Test func failedJobBulkActionsRefuseMoreThanConfirmed() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let queue = "video_cutter"
        for _ in 0..<4 { try fx.insertJob(status: .failed, queue: queue, errorClass: "Boom") }
        let failed = try fx.count("SELECT count(*) FROM jobs WHERE queue = $1 AND status = 'failed'", [queue])
        #expect(failed >= 4)
        for action in ["queue.retry_failed", "queue.purge_failed"] {
            let report = fx.run(action, ["queue": .string(queue), "expect": .int(failed - 1)])
            #expect(report.failure == .impactExceeded(confirmed: failed - 1, actual: failed), "\(action): \(report.message)")
            #expect(try fx.count("SELECT count(*) FROM jobs WHERE queue = $1 AND status = 'failed'", [queue]) == failed, "\(action) changed rows")
        }
        let purge = fx.run("queue.purge_failed", ["queue": .string(queue), "expect": .int(failed)])
        try fx.expectSuccess(purge)
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE queue = $1 AND status = 'failed'", [queue]) == 0)
    }
}
