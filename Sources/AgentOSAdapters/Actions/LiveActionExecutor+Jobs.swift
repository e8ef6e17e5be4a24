import AgentOSCore
import Foundation

/// Jobs & Queue: job.* and queue.* (12).
extension LiveActionExecutor {
    /// Removes a job's message from its queue's lists (DB0); returns how many were removed.
    /// KEYS[1] is the copy AgentOS's producers keep: with it, one LREM of the exact bytes per list.
    /// Without it (another producer, e.g. Celery's own `apply_async`), the lists are scanned.
    package static let unqueueScript = RedisScript(
        """
        local m = redis.call('GET', KEYS[1])
        local removed = 0
        if m then
            for i = 2, #KEYS do removed = removed + redis.call('LREM', KEYS[i], 0, m) end
            redis.call('DEL', KEYS[1])
            return removed
        end
        for i = 2, #KEYS do
            local items = redis.call('LRANGE', KEYS[i], 0, -1)
            for _, item in ipairs(items) do
                if string.find(item, ARGV[1], 1, true) then removed = removed + redis.call('LREM', KEYS[i], 1, item) end
            end
        end
        return removed
        """)

    static let jobColumns = "id::text AS id, name, stage, queue, status, priority, attempts, owner, created_at"

    /// job.cancel's effect: $1 the job, $2 the owner it must have (nil: any).
    package static let cancelSQL = """
        UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now()
        WHERE id = $1::uuid AND status IN ('pending','queued','retrying') AND ($2::text IS NULL OR owner = $2)
        RETURNING \(jobColumns)
        """

    /// A job's timeline row, written with the effect's COMMIT.
    package static let jobEventSQL = "INSERT INTO job_events (job_id, type, status, message) VALUES ($1::uuid, $2, $3, $4)"

    static func job(_ row: PostgresRow) throws -> Job {
        Job(
            id: try row.get("id"), name: try row.get("name"), stage: try row.get("stage"), queue: try row.get("queue"),
            status: JobStatus(rawValue: try row.get("status")) ?? .queued, priority: try row.get("priority"), attempts: try row.get("attempts"),
            owner: try row.get("owner"), createdAt: try row.get("created_at"))
    }

    static let jobHandlers: [ActionName: Handler] = [
        .jobCancel: { c in
            let id = try c.string("id")
            var job: Job?
            let r = try c.commit { tx in
                guard let row = try tx.query(cancelSQL, [id, c.call.ownerMustBe]).rows.first
                else {
                    try c.whyNot(
                        tx, table: "jobs", key: "id", id: id, what: "job", hint: "only pending or queued jobs can be cancelled (running: job.kill)")
                }
                job = try LiveActionExecutor.job(row)
                try c.jobEvent(tx, id, type: "cancelled", status: "cancelled")
                return ActionResult("cancelled job \(id)")
            }
            c.unqueue(job!, thenControl: .jobCancel)
            c.publish(.jobCancelled(JobPatch(id: id, status: .cancelled, updatedAt: Date(), finishedAt: Date())))
            return r
        },
        .jobKill: { c in
            let id = try c.string("id")
            let r = try c.commit { tx in
                guard
                    try tx.query(
                        """
                        UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now(), error = 'killed by ' || $2, error_class = 'Terminated'
                        WHERE id = $1::uuid AND status = 'running' AND ($3::text IS NULL OR owner = $3) RETURNING id
                        """, [id, c.user, c.call.ownerMustBe]
                    ).rows.first != nil
                else {
                    try c.whyNot(tx, table: "jobs", key: "id", id: id, what: "job", hint: "only running jobs can be killed")
                }
                try c.jobEvent(tx, id, type: "killed", status: "cancelled")
                return ActionResult("killed job \(id) (revoke + SIGTERM sent)")
            }
            try c.control(.action(.jobKill), id, extra: ["signal": .string("SIGTERM")])
            c.publish(.jobCancelled(JobPatch(id: id, status: .cancelled, updatedAt: Date(), finishedAt: Date())))
            return r
        },
        .jobRetry: { c in
            let id = try c.string("id")
            var job: Job?
            let r = try c.commit { tx in
                guard
                    let row = try tx.query(
                        """
                        UPDATE jobs SET status = 'queued', progress = 0, error = NULL, error_class = NULL, traceback = NULL,
                            attempts = attempts + CASE WHEN status IN ('retrying','pending') THEN 0 ELSE 1 END, -- counted already / not run yet (D76, D80)
                            worker_id = NULL, started_at = NULL, finished_at = NULL, eta = NULL, updated_at = now()
                        WHERE id = $1::uuid AND status IN ('failed','cancelled','retrying','pending') AND ($2::text IS NULL OR owner = $2) RETURNING \(jobColumns)
                        """, [id, c.call.ownerMustBe]
                    ).rows.first
                else {
                    try c.whyNot(
                        tx, table: "jobs", key: "id", id: id, what: "job", hint: "only failed, cancelled, retrying or scheduled jobs can be retried")
                }
                job = try LiveActionExecutor.job(row)
                try c.jobEvent(tx, id, type: "retried", status: "queued")
                return ActionResult("re-enqueued job \(id) (attempt \(job!.attempts))")
            }
            try c.enqueue(job!)
            try c.control(.action(.jobRetry), id)
            c.publish(.jobRetried(JobPatch(id: id, status: .queued, attempts: job!.attempts, updatedAt: Date())))
            return r
        },
        .jobDelete: { c in
            let id = try c.string("id")
            var job: Job?
            let r = try c.commit { tx in
                // A running job is ended first (job.kill): deleting its row would leave it running, unseen.
                guard let row = try tx.query("DELETE FROM jobs WHERE id = $1::uuid AND status <> 'running' RETURNING \(jobColumns)", [id]).rows.first
                else {
                    try c.whyNot(tx, table: "jobs", key: "id", id: id, what: "job", hint: "kill it first (job.kill), then delete it")
                }
                job = try LiveActionExecutor.job(row)
                return ActionResult("deleted job \(id) with its events")
            }
            c.unqueue(job!, thenControl: .jobDelete)
            try c.removeArtifacts(of: id)
            c.publish(.jobDeleted(id: id))
            return r
        },
        .jobSetPriority: { c in
            let id = try c.string("id")
            let priority = try c.int("priority")
            var job: Job?
            let r = try c.commit { tx in
                guard
                    let row = try tx.query(
                        """
                        UPDATE jobs SET priority = $2, updated_at = now() WHERE id = $1::uuid AND status NOT IN ('completed','failed','cancelled')
                        RETURNING \(jobColumns)
                        """, [id, priority]
                    ).rows.first
                else {
                    try c.whyNot(tx, table: "jobs", key: "id", id: id, what: "job", hint: "finished jobs keep their priority")
                }
                job = try LiveActionExecutor.job(row)
                try c.jobEvent(tx, id, type: "priority", status: nil, message: "priority \(priority)")
                return ActionResult("job \(id) priority → \(priority)")
            }
            if let job, job.status == .queued || job.status == .pending, try c.unqueue(job) > 0 { try c.enqueue(job) }
            try c.control(.action(.jobSetPriority), id, value: priority)
            c.publish(.jobUpdated(JobPatch(id: id, priority: priority, updatedAt: Date())))
            return r
        },
        .jobMove: { c in
            let id = try c.string("id")
            let to = try c.string("to")
            var old: Job?
            var moved: Job?
            let r = try c.commit { tx in
                guard try tx.query("SELECT 1 FROM queues WHERE name = $1", [to]).rows.first != nil else {
                    throw ActionFailure.notFound("queue \(to)")
                }
                guard let before = try tx.query("SELECT \(jobColumns) FROM jobs WHERE id = $1::uuid FOR UPDATE", [id]).rows.first else {
                    throw ActionFailure.notFound("job \(id)")
                }
                old = try LiveActionExecutor.job(before)
                guard old!.status == .pending || old!.status == .queued else {
                    throw ActionFailure.conflict("job \(id) is \(old!.status.rawValue): only waiting jobs move")
                }
                guard old!.queue != to else { throw ActionFailure.conflict("job \(id) is already in queue \(to)") }
                let row = try tx.query("UPDATE jobs SET queue = $2, updated_at = now() WHERE id = $1::uuid RETURNING \(jobColumns)", [id, to]).rows[0]
                moved = try LiveActionExecutor.job(row)
                try c.jobEvent(tx, id, type: "moved", status: nil, message: "\(old!.queue) → \(to)")
                return ActionResult("moved job \(id) from \(old!.queue) to \(to)")
            }
            try c.unqueue(old!)
            // A scheduled job stays out of the broker until its ETA (D80): it only changes queue.
            if moved!.status != .pending { try c.enqueue(moved!) }
            try c.control(.action(.jobMove), id, extra: ["queue": .string(to)])
            c.publish(.jobUpdated(JobPatch(id: id, queue: to, updatedAt: Date())))
            return r
        },
        .queueClear: { c in
            let q = try c.string("queue")
            var ids: [String] = []
            let r = try c.commit { tx in
                guard try tx.query("SELECT 1 FROM queues WHERE name = $1 FOR UPDATE", [q]).rows.first != nil else {
                    throw ActionFailure.notFound("queue \(q)")
                }
                // The rows its preview lists and its dialog counts.
                let scope = try LiveActionExecutor.scope(.queueClear, c.p)
                ids = try tx.query("DELETE \(scope.from) RETURNING id::text AS id", scope.params).rows.map { try $0.get("id") }
                // More than the operator confirmed: the throw rolls the DELETE back.
                try c.p.withinConfirmed(ids.count)
                try tx.query("UPDATE queues SET updated_at = now() WHERE name = $1", [q])
                return ActionResult("cleared queue \(q): \(ids.count) pending job(s) deleted", affected: ids.count)
            }
            let keys = c.ns.brokerListKeys(queue: q)
            let broker = c.redis(Namespace.DB.queues)
            let removed = try broker.send(["DEL"] + keys).int ?? 0
            for chunk in stride(from: 0, to: ids.count, by: 1_000) {
                try broker.send(["DEL"] + ids[chunk..<min(chunk + 1_000, ids.count)].map { c.ns.brokerMessageKey(job: $0) })
            }
            try c.control(.action(.queueClear), q)
            c.publish(.queueUpdated(QueuePatch(name: q, pending: 0, removed: r.affected), cause: "queue.cleared"))
            var out = r
            out.details["broker_lists_deleted"] = .int(Int(removed))
            return out
        },
        .queuePause: { c in try c.setQueuePaused(true) },
        .queueResume: { c in try c.setQueuePaused(false) },
        .queueRetryFailed: { c in
            let q = try c.string("queue")
            var jobs: [Job] = []
            let scope = try LiveActionExecutor.scope(.queueRetryFailed, c.p)
            let r = try c.commit { tx in
                jobs = try tx.query(
                    """
                    UPDATE jobs SET status = 'queued', attempts = attempts + 1, progress = 0, error = NULL, error_class = NULL, traceback = NULL,
                        worker_id = NULL, started_at = NULL, finished_at = NULL, updated_at = now()
                    WHERE \(scope.filter) RETURNING \(jobColumns)
                    """, scope.params
                ).rows.map(LiveActionExecutor.job)
                try c.p.withinConfirmed(jobs.count)
                try tx.query(
                    """
                    INSERT INTO job_events (job_id, type, status, message)
                    SELECT u, 'retried', 'queued', 'bulk retry by ' || $2 FROM unnest($1::uuid[]) AS u
                    """, [PostgresValue.textArray(jobs.map(\.id)), c.user])
                return ActionResult("re-enqueued \(jobs.count) failed job(s) of queue \(q)", affected: jobs.count)
            }
            try c.enqueue(jobs)
            try c.control(.action(.queueRetryFailed), q, extra: c.p.string("error_class").map { ["error_class": .string($0)] } ?? [:])
            return r
        },
        .queuePurgeFailed: { c in
            let q = try c.string("queue")
            let r = try c.commit { tx in
                let scope = try LiveActionExecutor.scope(.queuePurgeFailed, c.p)
                let n = try tx.query("DELETE \(scope.from) RETURNING id", scope.params).rows.count
                try c.p.withinConfirmed(n)
                return ActionResult("purged \(n) failed job(s) of queue \(q)", affected: n)
            }
            try c.control(.action(.queuePurgeFailed), q)
            return r
        },
        .queueSetRateLimit: { c in
            let q = try c.string("queue")
            let limit = try c.int("limit")
            let r = try c.commit { tx in
                guard
                    try tx.query(
                        "UPDATE queues SET rate_limit = $2, updated_at = now() WHERE name = $1 RETURNING name",
                        [q, limit == 0 ? nil : limit]
                    ).rows.first != nil
                else { throw ActionFailure.notFound("queue \(q)") }
                return ActionResult(limit == 0 ? "queue \(q): rate limit removed" : "queue \(q): rate limit \(limit)/min")
            }
            try c.control(.action(.queueSetRateLimit), q, value: limit == 0 ? nil : limit)
            c.publish(.queueUpdated(QueuePatch(name: q, rateLimit: limit), cause: "queue.updated"))
            return r
        }
    ]
}

extension LiveActionContext {
    /// The job's history row, written with the transaction's COMMIT.
    func jobEvent(_ tx: PostgresConnection, _ id: String, type: String, status: String?, message: String? = nil) throws {
        tx.deferUntilCommit(LiveActionExecutor.jobEventSQL, [id, type, status, message ?? "\(type) by \(user)"])
    }

    @discardableResult
    func unqueue(_ job: Job) throws -> Int {
        Int(try redis(Namespace.DB.queues).evaluate(LiveActionExecutor.unqueueScript, keys: unqueueKeys(job), args: [job.id]).int ?? 0)
    }

    /// The unqueue script's keys: the producer's copy of the message, then the queue's lists.
    private func unqueueKeys(_ job: Job) -> [any RedisArgument] { [ns.brokerMessageKey(job: job.id)] + ns.brokerListKeys(queue: job.queue) }

    /// `unqueue`, then the control command for the job, left to the follow-ups' round trip: they
    /// run once the effect has committed, and a failure there is a warning on the committed
    /// success, not an error that says the job was not cancelled (D87). The script goes as EVAL
    /// with its source, so the pipeline needs no loaded script.
    func unqueue(_ job: Job, thenControl command: ActionName) {
        let keys = unqueueKeys(job)
        call.deferWrite(
            RedisDeferredWrite(
                redis: ex.databases[Namespace.DB.queues], database: Namespace.DB.queues,
                commands: [
                    ["EVAL", LiveActionExecutor.unqueueScript.source, keys.count] + keys + [job.id],
                    controlCommand(.action(command), target: job.id, extra: [:])
                ],
                what: "job \(job.id)'s message removed from queue \(job.queue) and its \(command.rawValue) control command sent"))
    }

    func enqueue(_ job: Job) throws { try enqueue([job]) }

    /// Pushes the jobs' kombu messages (and their copies) in pipelines of 500 jobs, not one round trip each.
    func enqueue(_ jobs: [Job]) throws {
        let broker = redis(Namespace.DB.queues)
        for chunk in stride(from: 0, to: jobs.count, by: 500) {
            let commands = jobs[chunk..<min(chunk + 500, jobs.count)].flatMap { job in
                ns.brokerPush(
                    queue: job.queue, priority: job.priority, job: job.id,
                    message: KombuMessage.task(job: job, taskName: "agentos.\(job.stage)", deliveryTag: "tag-" + job.id, origin: "agentos-console"))
            }
            for reply in try broker.pipeline(commands) {
                if case .error(let e) = reply { throw RedisError.server(e) }
            }
        }
    }

    /// A deleted job's files under `io/output/<id>` go with it.
    func removeArtifacts(of id: String) throws {
        let dir = ex.settings.dataDirectory.appendingPathComponent("io/output/\(id)")
        if FileManager.default.fileExists(atPath: dir.path) { try FileManager.default.removeItem(at: dir) }
    }

    func setQueuePaused(_ paused: Bool) throws -> ActionResult {
        let q = try string("queue")
        let r = try commit { tx in
            guard
                let row = try tx.query(
                    """
                    UPDATE queues q SET paused = $2, updated_at = now() FROM (SELECT paused AS was FROM queues WHERE name = $1 FOR UPDATE) old
                    WHERE q.name = $1 RETURNING old.was
                    """, [q, paused]
                ).rows.first
            else { throw ActionFailure.notFound("queue \(q)") }
            let was: Bool = try row.get("was")
            guard was != paused else { throw ActionFailure.conflict("queue \(q) is already \(paused ? "paused" : "running")") }
            return ActionResult(paused ? "queue \(q) paused: consumers stop taking from it" : "queue \(q) resumed")
        }
        try control(.action(paused ? .queuePause : .queueResume), q)
        publish(.queueUpdated(QueuePatch(name: q, paused: paused), cause: paused ? "queue.paused" : "queue.resumed"))
        return r
    }
}
