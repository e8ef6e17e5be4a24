import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Jobs & Queue actions against real Redis and PostgreSQL with the simulator as the fleet's owner:
/// the effect in the data and the broker lists, then what the owner does over the ticks after the
/// action (its job history in SQL, its state), and the audit rows.
@Suite("Actions: Jobs & Queue", .serialized)
struct JobActionTests {
    /// The simulator's waiting jobs of `queue`, in the order it will take them.
    func waiting(_ fx: ActionFixture, _ queue: String) -> [String] { fx.sim?.read { $0.waiting[queue]?.flatMap { $0 } } ?? [] }

    func simStatus(_ fx: ActionFixture, _ id: String) -> JobStatus? { fx.sim?.read { $0.jobs[id]?.status } }

    /// Jobs of a stage the owner started since `mark`.
    func stageStarts(_ fx: ActionFixture, _ stage: String, since mark: Int) throws -> Int {
        try fx.count("SELECT count(*) FROM job_events WHERE id > $1 AND type = 'started' AND stage = $2", [mark, stage])
    }

    @Test func cancelledJobIsNeverRunByTheOwner() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        // The next job the owner takes from its backed-up queue.
        let id = try #require(waiting(fx, "audio_transcriber").first)
        #expect(try fx.brokerMessages("audio_transcriber").contains { $0.contains(id) })
        let report = fx.run("job.cancel", ["id": .string(id)])
        try fx.expectSuccess(report)
        #expect(try fx.jobStatus(id) == "cancelled")
        #expect(try fx.count("SELECT count(*) FROM job_events WHERE job_id = $1::uuid AND type = 'cancelled'", [id]) >= 1)
        #expect(try !fx.brokerMessages("audio_transcriber").contains { $0.contains(id) })
        let mark = try fx.eventMark()
        try fx.tick(until: { try stageStarts(fx, "audio_transcriber", since: mark) >= 2 }, "the owner took the jobs behind it")
        #expect(try fx.started(since: mark, job: id) == 0, "the owner never ran the cancelled job")
        #expect(simStatus(fx, id) == .cancelled)
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

    @Test func killedJobNeverFinishesItsStage() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        // A running job of the owner's, with the work it has left (seconds at rate 1).
        let (id, left) = try #require(
            fx.sim?.read { sim in
                sim.workers.values.flatMap { $0.running.map { ($0.key, $0.value) } }.max { $0.1 < $1.1 }
            })
        try fx.expectSuccess(fx.run("job.kill", ["id": .string(id)]))
        #expect(try fx.jobStatus(id) == "cancelled")
        // (The executor's error_class 'Terminated' is not asserted: the owner's row for the job, written when it applies the kill, clears it.)
        let mark = try fx.eventMark()
        // Long enough for the job to have finished its stage (rate 3, half a second a tick), and two more.
        try fx.tick(Int((left / 3 / 0.5).rounded(.up)) + 2)
        #expect(
            try fx.count(
                "SELECT count(*) FROM job_events WHERE id > $1 AND job_id = $2::uuid AND type IN ('stage_completed','completed','failed','retrying')",
                [mark, id]) == 0)
        #expect(simStatus(fx, id) == .cancelled)
        #expect(fx.sim?.read { sim in sim.workers.values.contains { $0.running[id] != nil } } == false, "its worker slot is free")
    }

    @Test func runningJobIsNotDeletedUntilKilled() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try #require(fx.sim?.read { sim in sim.workers.values.flatMap { $0.running.map { ($0.key, $0.value) } }.max { $0.1 < $1.1 }?.0 })
        let refused = fx.run("job.delete", ["id": .string(id)])
        #expect(refused.outcome == .failure(.conflict("job \(id) is running: kill it first (job.kill), then delete it")))
        #expect(try fx.jobStatus(id) == "running", "the row stays with the running job")
        try fx.expectSuccess(fx.run("job.kill", ["id": .string(id)]))
        try fx.expectSuccess(fx.run("job.delete", ["id": .string(id)]))
        try fx.tick()
        #expect(try fx.jobStatus(id) == nil)
        #expect(simStatus(fx, id) == nil, "the owner forgot it")
        #expect(fx.sim?.read { sim in sim.workers.values.contains { $0.running[id] != nil } } == false, "its worker slot is free")
    }

    @Test func retriedJobIsRunAgainByTheOwner() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try #require(
            fx.sim?.read { sim in sim.jobs.values.filter { $0.status == .failed && $0.queue == "video_downloader" }.map(\.id).min() })
        try fx.expectSuccess(fx.run("job.retry", ["id": .string(id)]))
        #expect(try fx.brokerMessages("video_downloader").contains { $0.contains(id) })
        let mark = try fx.eventMark()
        try fx.tick(until: { try fx.started(since: mark, job: id) > 0 }, "the owner started the retried job")
    }

    @Test func retryReEnqueuesAFailedJob() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try fx.insertJob(status: .failed, errorClass: "Timeout")
        try fx.expectSuccess(fx.run("job.retry", ["id": .string(id)]))
        #expect(try fx.jobStatus(id) == "queued")
        #expect(try fx.count("SELECT attempts FROM jobs WHERE id = $1::uuid", [id]) == 1)
        #expect(try fx.brokerMessages("video_downloader").contains { $0.contains(id) })
    }

    /// The retry set's retry now (D76): a job waiting for its next attempt is queued at once, its
    /// failed attempt counted once (no +1), its message on the broker list once.
    @Test func retryNowQueuesAJobWaitingToRetry() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        // As the writer stores a job between attempts: status retrying, one attempt used, no message yet.
        let id = try fx.insertJob(status: .failed, errorClass: "Timeout")
        try fx.db.query("UPDATE jobs SET status = 'retrying', attempts = 1, finished_at = NULL WHERE id = $1::uuid", [id])
        #expect(try !fx.brokerMessages("video_downloader").contains { $0.contains(id) })
        try fx.expectSuccess(fx.run("job.retry", ["id": .string(id)]))
        #expect(try fx.jobStatus(id) == "queued")
        #expect(try fx.count("SELECT attempts FROM jobs WHERE id = $1::uuid", [id]) == 1, "the waiting attempt is not counted twice")
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE id = $1::uuid AND error IS NULL AND error_class IS NULL", [id]) == 1)
        #expect(try fx.brokerMessages("video_downloader").filter { $0.contains(id) }.count == 1)
        // A queued job is not retried again.
        #expect(fx.run("job.retry", ["id": .string(id)]).result == nil)
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

    @Test func priorityZeroOvertakesTheJobsAheadOfIt() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let queue = waiting(fx, "audio_transcriber")
        try #require(queue.count >= 4, "a backlog to overtake: \(queue.count)")
        let id = queue.last!
        let ahead = Array(queue.dropLast())
        try fx.expectSuccess(fx.run("job.set_priority", ["id": .string(id), "priority": .int(0)]))
        let mark = try fx.eventMark()
        try fx.tick(until: { try fx.started(since: mark, job: id) > 0 }, "the owner started the job with priority 0")
        let overtaken = try ahead.filter { try fx.started(since: mark, job: $0) == 0 }.count
        #expect(overtaken > 0, "it started before jobs that were ahead of it")
    }

    @Test func movedJobIsTakenByTheOtherQueuesWorkers() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try #require(waiting(fx, "audio_transcriber").last)
        try fx.expectSuccess(fx.run("job.move", ["id": .string(id), "to": .string("video_cutter")]))
        #expect(try fx.brokerMessages("video_cutter").contains { $0.contains(id) })
        let mark = try fx.eventMark()
        try fx.tick(until: { try fx.started(since: mark, job: id) > 0 }, "the owner started the moved job")
        let worker = try fx.scalar(
            "SELECT worker_id FROM job_events WHERE id > $1 AND job_id = $2::uuid AND type = 'started'", [mark, id], as: String.self)
        #expect(try fx.scalar("SELECT stage FROM workers WHERE id = $1", [worker], as: String.self) == "video_cutter")
    }

    @Test func clearedJobsLeaveTheOwnersQueue() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let cleared = waiting(fx, "audio_transcriber")
        try #require(!cleared.isEmpty)
        let running = try fx.anyID("SELECT id::text FROM jobs WHERE queue = 'audio_transcriber' AND status = 'running' LIMIT 1")
        let pending = try fx.count("SELECT count(*) FROM jobs WHERE queue = 'audio_transcriber' AND status IN ('pending','queued')")
        #expect(try fx.actions.executor.impact(ActionCatalog.spec("queue.clear")!, Payload(["queue": .string("audio_transcriber")])) == pending)
        let report = fx.run("queue.clear", ["queue": .string("audio_transcriber")])
        try fx.expectSuccess(report)
        #expect(report.result?.affected == pending)
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE queue = 'audio_transcriber' AND status IN ('pending','queued')") == 0)
        try fx.tick()
        // The owner forgot them (it would run them otherwise; their rows are gone, so SQL cannot tell).
        #expect(fx.sim?.read { sim in cleared.filter { sim.jobs[$0] != nil }.count } == 0)
        #expect(simStatus(fx, running) != nil, "a running job is not cleared")
    }

    @Test func pausedQueueStartsNothingUntilResumed() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        // video_downloader: ingest and the scheduler keep adding to it.
        try fx.expectSuccess(fx.run("queue.pause", ["queue": .string("video_downloader")]))
        #expect(
            fx.run("queue.pause", ["queue": .string("video_downloader")]).outcome == .failure(.conflict("queue video_downloader is already paused")))
        let mark = try fx.eventMark()
        try fx.tick(
            until: {
                try fx.count("SELECT count(*) FROM jobs WHERE id IN (SELECT job_id FROM job_events WHERE id > $1 AND type = 'created')", [mark]) >= 3
            },
            "new jobs arrived in the paused queue")
        #expect(try stageStarts(fx, "video_downloader", since: mark) == 0, "a paused queue starts nothing")
        #expect(fx.sim?.read { $0.queues["video_downloader"]?.paused } == true)
        try fx.expectSuccess(fx.run("queue.resume", ["queue": .string("video_downloader")]))
        let resumed = try fx.eventMark()
        try fx.tick(until: { try stageStarts(fx, "video_downloader", since: resumed) > 0 }, "the resumed queue's jobs started")
        #expect(try !fx.scalar("SELECT paused FROM queues WHERE name = 'video_downloader'", as: Bool.self))
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

    @Test func rateLimitCapsTheStartsPerMinute() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("queue.set_rate_limit", ["queue": .string("video_downloader"), "limit": .int(1)]))
        let mark = try fx.eventMark()
        // 16 ticks are 8 s of the owner's time (at most one minute boundary): about 16 jobs arrive.
        try fx.tick(16)
        #expect(try fx.count("SELECT rate_limit FROM queues WHERE name = 'video_downloader'") == 1)
        #expect(fx.sim?.read { $0.queues["video_downloader"]?.rateLimit } == 1)
        #expect(try fx.count("SELECT count(*) FROM job_events WHERE id > $1 AND type = 'created'", [mark]) >= 4, "work arrived")
        #expect(try stageStarts(fx, "video_downloader", since: mark) <= 2, "one start a minute")
        try fx.expectSuccess(fx.run("queue.set_rate_limit", ["queue": .string("video_downloader"), "limit": .int(0)]))
        let lifted = try fx.eventMark()
        try fx.tick(until: { try stageStarts(fx, "video_downloader", since: lifted) > 2 }, "starts resumed without the limit")
        #expect(try fx.scalar("SELECT rate_limit FROM queues WHERE name = 'video_downloader'", as: Int?.self) == nil)
    }

    /// Each queue's broker lists hold one message per waiting job: as many as PostgreSQL has pending or queued rows.
    func expectBrokerMatchesRows(_ fx: ActionFixture, _ when: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for queue in Pipeline.stages.map(Pipeline.queue(for:)) {
            let messages = try fx.ns.brokerListKeys(queue: queue).reduce(0) { $0 + (try fx.redis(0).send("LLEN", $1).int ?? 0) }
            let rows = try fx.count("SELECT count(*) FROM jobs WHERE queue = $1 AND status IN ('pending','queued')", [queue])
            #expect(messages == rows, "\(when): queue \(queue) holds \(messages) messages for \(rows) waiting jobs", sourceLocation: sourceLocation)
        }
    }

    @Test func queueLengthsEqualWaitingJobsAfterAHundredRetriesMovesAndPriorityChanges() throws {
        // Four operators from no address: 100 actions stay inside the per-user and per-address rate limits.
        let operators = (0..<4).map { Actor(user: "op\($0)", host: "test", sessionID: "test-session") }
        let fx = try ActionFixture(extraGrants: Dictionary(uniqueKeysWithValues: operators.map { ($0.user, Grant(role: .admin)) }))
        defer { fx.close() }
        try fx.tick()
        try expectBrokerMatchesRows(fx, "before any action")
        let queues = Pipeline.stages.map(Pipeline.queue(for:))
        var done: [String: Int] = [:]
        for round in 0..<20 {
            let actor = operators[round % operators.count]
            func run(_ action: String, _ payload: [String: PayloadValue]) throws {
                try fx.expectSuccess(fx.run(action, payload, actor: actor))
                done[action, default: 0] += 1
            }
            // Five distinct jobs the owner has waiting, the newest of each queue in turn.
            let picks = try #require(
                fx.sim?.read { sim in
                    let newest = queues.map { q in (sim.waiting[q] ?? []).flatMap { $0 }.reversed().compactMap { sim.jobs[$0] } }
                    return (0..<(newest.map(\.count).max() ?? 0)).flatMap { n in newest.compactMap { n < $0.count ? $0[n] : nil } }
                })
            try #require(picks.count >= 5, "round \(round): five waiting jobs, have \(picks.count)")
            let kinds = picks.prefix(5).enumerated().map { i, job in (job, (round + i) % 3) }
            // Retried jobs are cancelled first (only failed or cancelled jobs are retried); the owner takes the cancels before the retries.
            for (job, kind) in kinds where kind == 0 { try fx.expectSuccess(fx.run("job.cancel", ["id": .string(job.id)], actor: actor)) }
            try fx.tick(0)
            for (job, kind) in kinds {
                switch kind {
                case 0: try run("job.retry", ["id": .string(job.id)])
                case 1: try run("job.move", ["id": .string(job.id), "to": .string(queues[(queues.firstIndex(of: job.queue)! + 1) % queues.count])])
                default: try run("job.set_priority", ["id": .string(job.id), "priority": .int((job.priority + 5) % 10)])
                }
            }
            try fx.tick(1)
        }
        #expect(done.values.reduce(0, +) == 100, "\(done)")
        try fx.tick()
        try expectBrokerMatchesRows(fx, "after the actions")
        // The owner takes jobs from its queues: a message the actions left behind would now be a phantom.
        try fx.tick(6)
        try expectBrokerMatchesRows(fx, "after the owner took jobs")
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
