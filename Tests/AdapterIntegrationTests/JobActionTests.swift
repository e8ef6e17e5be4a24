import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Jobs & Queue actions against real Redis and PostgreSQL: the effect in the data, the broker
/// lists, the control command, and the audit rows.
@Suite("Actions: Jobs & Queue", .serialized)
struct JobActionTests {
    @Test func cancelRemovesTheWaitingJobFromItsQueue() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .queued)
        #expect(try fx.brokerMessages("video_downloader").contains { $0.contains(id) })
        let report = fx.run("job.cancel", ["id": .string(id)])
        try fx.expectSuccess(report)
        #expect(try fx.jobStatus(id) == "cancelled")
        #expect(try fx.count("SELECT count(*) FROM job_events WHERE job_id = $1::uuid AND type = 'cancelled'", [id]) == 1)
        #expect(try !fx.brokerMessages("video_downloader").contains { $0.contains(id) })
        #expect(await fx.sawControl("job.cancel", target: id))
        let again = fx.run("job.cancel", ["id": .string(id)])
        #expect(again.outcome == .failure(.conflict("job \(id) is cancelled: only pending or queued jobs can be cancelled (running: job.kill)")))
    }

    @Test func cancelRemovesTheExactMessageByItsProducerCopy() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let other = try fx.insertJob(status: .queued)
        let id = try fx.insertJob(status: .queued, producerCopy: true)
        #expect(try fx.redis(0).send("EXISTS", fx.ns.brokerMessageKey(job: id)).int == 1)
        try fx.expectSuccess(fx.run("job.cancel", ["id": .string(id)]))
        let left = try fx.brokerMessages("video_downloader")
        #expect(!left.contains { $0.contains(id) } && left.contains { $0.contains(other) }, "only that job's message left the queue")
        #expect(try fx.redis(0).send("EXISTS", fx.ns.brokerMessageKey(job: id)).int == 0, "the copy goes with it")
        // job.retry re-enqueues with a copy again, so the next removal is exact too.
        try fx.expectSuccess(fx.run("job.retry", ["id": .string(id)]))
        #expect(try fx.redis(0).send("EXISTS", fx.ns.brokerMessageKey(job: id)).int == 1)
        #expect(try fx.brokerMessages("video_downloader").filter { $0.contains(id) }.count == 1)
    }

    @Test func killTerminatesARunningJob() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .running)
        try fx.expectSuccess(fx.run("job.kill", ["id": .string(id)]))
        #expect(try fx.jobStatus(id) == "cancelled")
        #expect(try fx.scalar("SELECT error_class FROM jobs WHERE id = $1::uuid", [id], as: String.self) == "Terminated")
        #expect(await fx.sawControl("job.kill", target: id))
    }

    @Test func retryReEnqueuesAFailedJob() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .failed, errorClass: "Timeout")
        try fx.expectSuccess(fx.run("job.retry", ["id": .string(id)]))
        #expect(try fx.jobStatus(id) == "queued")
        #expect(try fx.count("SELECT attempts FROM jobs WHERE id = $1::uuid", [id]) == 1)
        #expect(try fx.brokerMessages("video_downloader").contains { $0.contains(id) })
    }

    @Test func deleteRemovesJobEventsAndArtifacts() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .queued)
        try fx.db.query("INSERT INTO job_events (job_id, type) VALUES ($1::uuid, 'created')", [id])
        let artifacts = fx.dataDir.appendingPathComponent("io/output/\(id)")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: artifacts.appendingPathComponent("clip.mp4"))
        try fx.expectSuccess(fx.run("job.delete", ["id": .string(id)]))
        #expect(try fx.jobStatus(id) == nil)
        #expect(try fx.count("SELECT count(*) FROM job_events WHERE job_id = $1::uuid", [id]) == 0)
        #expect(!FileManager.default.fileExists(atPath: artifacts.path))
        #expect(try !fx.brokerMessages("video_downloader").contains { $0.contains(id) })
    }

    @Test func setPriorityMovesTheMessageToItsPriorityList() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .queued, priority: 5)
        try fx.expectSuccess(fx.run("job.set_priority", ["id": .string(id), "priority": .int(0)]))
        #expect(try fx.count("SELECT priority FROM jobs WHERE id = $1::uuid", [id]) == 0)
        let top = try fx.redis(0).send("LRANGE", fx.ns.brokerListKey(queue: "video_downloader", priority: 0), 0, -1).array ?? []
        #expect(top.contains { $0.string?.contains(id) == true })
        let old = try fx.redis(0).send("LRANGE", fx.ns.brokerListKey(queue: "video_downloader", priority: 5), 0, -1).array ?? []
        #expect(!old.contains { $0.string?.contains(id) == true })
    }

    @Test func moveChangesQueueRowAndBroker() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .queued, queue: "video_downloader")
        try fx.expectSuccess(fx.run("job.move", ["id": .string(id), "to": .string("face_detector")]))
        #expect(try fx.scalar("SELECT queue FROM jobs WHERE id = $1::uuid", [id], as: String.self) == "face_detector")
        #expect(try fx.brokerMessages("face_detector").contains { $0.contains(id) })
        #expect(try !fx.brokerMessages("video_downloader").contains { $0.contains(id) })
        #expect(fx.run("job.move", ["id": .string(id), "to": .string("nope")]).outcome == .failure(.notFound("queue nope")))
    }

    @Test func clearDeletesEveryPendingJobOfTheQueue() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        for _ in 0..<5 { try fx.insertJob(status: .queued, queue: "audio_transcriber") }
        let running = try fx.insertJob(status: .running, queue: "audio_transcriber")
        let pending = try fx.count("SELECT count(*) FROM jobs WHERE queue = 'audio_transcriber' AND status IN ('pending','queued')")
        #expect(try fx.actions.executor.impact(ActionCatalog.spec("queue.clear")!, Payload(["queue": .string("audio_transcriber")])) == pending)
        let report = fx.run("queue.clear", ["queue": .string("audio_transcriber")])
        try fx.expectSuccess(report)
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE queue = 'audio_transcriber' AND status IN ('pending','queued')") == 0)
        #expect(try fx.jobStatus(running) == "running")
        #expect(try fx.brokerMessages("audio_transcriber").isEmpty)
        if case let .success(r) = report.outcome { #expect(r.affected == pending) }
        #expect(await fx.sawControl("queue.clear", target: "audio_transcriber"))
    }

    @Test func pauseAndResumeFlipTheQueue() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("queue.pause", ["queue": .string("moment_detector")]))
        #expect(try fx.scalar("SELECT paused FROM queues WHERE name = 'moment_detector'", as: Bool.self))
        #expect(fx.run("queue.pause", ["queue": .string("moment_detector")]).outcome == .failure(.conflict("queue moment_detector is already paused")))
        try fx.expectSuccess(fx.run("queue.resume", ["queue": .string("moment_detector")]))
        #expect(try !fx.scalar("SELECT paused FROM queues WHERE name = 'moment_detector'", as: Bool.self))
        #expect(await fx.sawControl("queue.resume", target: "moment_detector"))
    }

    @Test func retryFailedReEnqueuesEveryFailedJobOfTheQueue() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let a = try fx.insertJob(status: .failed, queue: "video_cutter", errorClass: "Timeout")
        let b = try fx.insertJob(status: .failed, queue: "video_cutter", errorClass: "OOM")
        try fx.expectSuccess(fx.run("queue.retry_failed", ["queue": .string("video_cutter"), "error_class": .string("Timeout")]))
        #expect(try fx.jobStatus(a) == "queued")
        #expect(try fx.jobStatus(b) == "failed")
        #expect(try fx.brokerMessages("video_cutter").contains { $0.contains(a) })
        try fx.expectSuccess(fx.run("queue.retry_failed", ["queue": .string("video_cutter")]))
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE queue = 'video_cutter' AND status = 'failed'") == 0)
    }

    @Test func purgeFailedDeletesOnlyFailedJobs() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.insertJob(status: .failed, queue: "face_detector")
        let keep = try fx.insertJob(status: .queued, queue: "face_detector")
        try fx.expectSuccess(fx.run("queue.purge_failed", ["queue": .string("face_detector")]))
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE queue = 'face_detector' AND status = 'failed'") == 0)
        #expect(try fx.jobStatus(keep) == "queued")
    }

    @Test func setRateLimitStoresTheLimit() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("queue.set_rate_limit", ["queue": .string("video_cutter"), "limit": .int(120)]))
        #expect(try fx.count("SELECT rate_limit FROM queues WHERE name = 'video_cutter'") == 120)
        #expect(await fx.sawControl("queue.set_rate_limit", target: "video_cutter"))
        try fx.expectSuccess(fx.run("queue.set_rate_limit", ["queue": .string("video_cutter"), "limit": .int(0)]))
        #expect(try fx.scalar("SELECT rate_limit FROM queues WHERE name = 'video_cutter'", as: Int?.self) == nil)
    }

    @Test func userRoleActsOnOwnJobsOnly() throws {
        let fx = try ActionFixture(user: "alice", role: .user)
        defer { fx.close() }
        let mine = try fx.insertJob(status: .queued, owner: "alice")
        let theirs = try fx.insertJob(status: .queued, owner: "bob")
        try fx.expectSuccess(fx.run("job.cancel", ["id": .string(mine)]))
        let denied = fx.run("job.cancel", ["id": .string(theirs)])
        #expect(denied.outcome == .failure(.denied("role user acts on its own jobs only (job \(theirs) belongs to bob)")))
        #expect(try fx.jobStatus(theirs) == "queued")
        #expect(try fx.auditRows(denied.requestID).map(\.0) == ["denied"])
    }
}
