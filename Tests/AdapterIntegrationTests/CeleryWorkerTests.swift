import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// The console against real Celery 5.7 workers (celery_fixture/app.py, prefork, `-E`): what it
/// reads (workers, queues, task events) and what each mapped action does in the workers, with
/// its audit rows.
@Suite("Celery: real workers", .serialized)
struct CeleryWorkerTests {
    /// A cluster with the monitor started and an action fixture whose dispatcher routes to it.
    func setUp(queues: [String]) throws -> (CeleryCluster, ActionFixture) {
        let cluster = try CeleryCluster(queues: queues)
        cluster.monitor.start(pollSeconds: 2)
        let fx = try ActionFixture(seed: false, celery: cluster.monitor)
        return (cluster, fx)
    }

    func failure(_ report: ActionReport) -> String? {
        if case .failure(let f) = report.outcome { return f.description }
        return nil
    }

    @Test func snapshotShowsWorkersQueuesAndLiveTaskEvents() async throws {
        let (c, fx) = try setUp(queues: ["qa"])
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qa"], concurrency: 2)
        #expect(await c.waitOnline(host))
        let base = try fx.dataManager.rebuild()
        var merged = c.monitor.merge(into: base)
        let w = try #require(merged.workers.first { $0.id == host })
        #expect(w.status == .online && w.concurrency == 2 && w.queues == ["qa"] && w.version.hasPrefix("5.7"))
        #expect(merged.queues.first { $0.name == "qa" }?.consumers == 1)

        // A task: its events reach the state every snapshot merges (how fast is scripts/bench.sh's business).
        let id = try c.send("fixture.add", [.int(2), .int(3), .string("add1")], queue: "qa")
        #expect(
            await TestServers.eventuallyAsync {
                let m = c.monitor.merge(into: base)
                return m.jobs.recent.first(where: { $0.id == id })?.status == .completed && m.jobs.byStatus["completed", default: 0] >= 1
            })
        let task = try #require(c.monitor.current.tasks[id])
        #expect(task.name == "fixture.add" && task.hostname == host && task.result == "5" && task.received != nil)
        let applied = try #require(task.appliedAt)
        let finished = try #require(task.finished)
        #expect(applied >= finished, "task-succeeded at \(finished), applied at \(applied)")
        merged = c.monitor.merge(into: base)
        #expect(merged.jobs.recent.first { $0.id == id }?.workerID == host)
        #expect(c.done("add1"))

        // A task with an ETA leaves the list and waits in `unacked`: reserved, by routing key.
        let due = Date().addingTimeInterval(120)
        let later = try c.send("fixture.add", [.int(1), .int(1), .string("eta")], queue: "qa", eta: due)
        #expect(await TestServers.eventuallyAsync { (try? c.monitor.queues())?.first { $0.name == "qa" }?.reserved == 1 })
        #expect(try c.depth("qa") == 0)
        // On screen it is a scheduled job until it starts (D80): pending, with the ETA it was sent with.
        #expect(
            await TestServers.eventuallyAsync {
                guard let job = c.monitor.merge(into: base).jobs.recent.first(where: { $0.id == later }) else { return false }
                return job.status == .pending && job.eta.map { abs($0.timeIntervalSince(due)) < 1 } == true
            })
        // Queue depth counts every priority bucket.
        try fx.expectSuccess(fx.run("queue.pause", ["queue": .string("qa")]))
        for p in [0, 4, 7, 9] { try c.send("fixture.add", [.int(1), .int(p)], queue: "qa", priority: p) }
        // The pause returns as soon as the worker replied (D61): a BRPOP it issued before the cancel may
        // still pop a message, which kombu requeues (no consumer for the queue), so wait for all four.
        #expect(
            await TestServers.eventuallyAsync {
                let qa = try? c.monitor.queues().first { $0.name == "qa" }
                return qa?.pending == 4 && qa?.paused == true
            }, "\(String(describing: try? c.monitor.queues().first { $0.name == "qa" }))")
        // The consumer count is the monitor's last poll of the workers: wait for the poll after the pause.
        #expect(await TestServers.eventuallyAsync { c.monitor.merge(into: base).queues.first { $0.name == "qa" }?.consumers == 0 })
    }

    @Test func revokedTaskNeverRunsAndKilledTaskStops() async throws {
        let (c, fx) = try setUp(queues: ["qr"])
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qr"], concurrency: 1)
        #expect(await c.waitOnline(host))
        // A busy worker (one process), then a task behind it that is revoked before it can start.
        let busy = try c.send("fixture.sleep", [.double(2.5), .string("busy")], queue: "qr")
        #expect(await TestServers.eventuallyAsync { c.started("busy") })
        let victim = UUID().uuidString.lowercased()
        let cancel = fx.run("job.cancel", ["id": .string(victim)])
        try fx.expectSuccess(cancel)
        #expect(cancel.message.contains("revoked"), "\(cancel.message)")
        try c.send("fixture.add", [.int(1), .int(1), .string("victim")], queue: "qr", id: victim)
        // A task behind the victim on the one pool process: once it is done, the victim's turn has passed.
        try c.send("fixture.add", [.int(1), .int(1), .string("behind")], queue: "qr")
        #expect(
            await TestServers.eventuallyAsync {
                c.done("busy") && c.done("behind") && c.monitor.current.tasks[victim]?.state == "REVOKED"
                    && c.monitor.current.tasks[busy]?.state == "SUCCESS"
            },
            "busy \(String(describing: c.monitor.current.tasks[busy]?.state)), victim \(String(describing: c.monitor.current.tasks[victim]?.state))")
        #expect(!c.started("victim"), "a revoked task ran")

        // A running task terminated: it started and never finishes.
        let long = try c.send("fixture.sleep", [.int(30), .string("long")], queue: "qr")
        #expect(await TestServers.eventuallyAsync { c.started("long") && c.monitor.current.tasks[long] != nil })
        let kill = fx.run("job.kill", ["id": .string(long)])
        try fx.expectSuccess(kill)
        #expect(
            await TestServers.eventuallyAsync {
                let t = c.monitor.current.tasks[long]
                return t?.state == "REVOKED" && t?.terminated == true
            })
        let pid = try #require(
            Int32(
                String(decoding: FileManager.default.contents(atPath: c.marks.appendingPathComponent("long.started").path) ?? Data(), as: UTF8.self)))
        // The pool process got SIGTERM: gone or a zombie waiting to be reaped, and no longer running the task.
        #expect(
            await TestServers.eventuallyAsync {
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
                return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
            }, "the terminated pool process \(pid) still runs")
        let active = try #require(try c.monitor.control.broadcast("active", destination: [host]).replies.first?.value.array, "no reply to active")
        #expect(!active.contains { $0["id"]?.string == long })
        #expect(!c.done("long"))
        #expect(fx.run("job.cancel", ["id": .string("not-a-task")]).succeeded == false)
    }

    @Test func poolGrowShrinkScaleAndRestartShowInStats() async throws {
        let (c, fx) = try setUp(queues: ["qp"])
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qp"], concurrency: 1)
        #expect(await c.waitOnline(host))
        func processes() throws -> Int? {
            let b = try c.monitor.control.broadcast("stats", destination: [host])
            return b.replies.first?.value["pool"]?["processes"]?.array?.count
        }
        #expect(try processes() == 1)
        try fx.expectSuccess(fx.run("worker.pool_grow", ["id": .string(host), "n": .int(2)]))
        #expect(await TestServers.eventuallyAsync { (try? processes()) == 3 })
        try fx.expectSuccess(fx.run("worker.pool_shrink", ["id": .string(host), "n": .int(1)]))
        #expect(await TestServers.eventuallyAsync { (try? processes()) == 2 }, "processes \(String(describing: try? processes()))")
        let scale = fx.run("worker.scale", ["id": .string(host), "concurrency": .int(4)])
        try fx.expectSuccess(scale)
        #expect(await TestServers.eventuallyAsync { (try? processes()) == 4 }, "\(scale.message); processes \(String(describing: try? processes()))")
        // pool_restart (worker_pool_restarts=True): new pool processes.
        let before = try #require(try c.monitor.control.broadcast("stats", destination: [host]).replies.first?.value["pool"]?["processes"])
        let restart = fx.run("worker.restart", ["id": .string(host)])
        try fx.expectSuccess(restart)
        #expect(restart.message.contains("reload started"), "\(restart.message)")
        #expect(
            await TestServers.eventuallyAsync {
                let now = try? c.monitor.control.broadcast("stats", destination: [host]).replies.first?.value["pool"]?["processes"]
                return now != nil && now != before
            })
        // autoscale without --autoscale: the worker's refusal reaches the operator and the audit row.
        let auto = fx.run("worker.autoscale", ["id": .string(host), "min": .int(1), "max": .int(3)])
        #expect(!auto.succeeded)
        #expect(failure(auto)?.contains("refused") == true, "\(auto.message)")
        let autoRows = try fx.auditRows(auto.requestID)
        #expect(autoRows.map(\.0) == ["intent", "outcome"] && autoRows.last?.1 != "success", "\(autoRows)")
    }

    @Test func autoscaleTakesEffectAndAKilledWorkerGoesOffline() async throws {
        let (c, fx) = try setUp(queues: ["qs"])
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qs"], concurrency: 1, extra: ["--autoscale=2,1"])
        #expect(await c.waitOnline(host))
        let report = fx.run("worker.autoscale", ["id": .string(host), "min": .int(1), "max": .int(4)])
        try fx.expectSuccess(report)
        #expect(report.message.contains("autoscale now max=4 min=1"), "\(report.message)")
        let autoscaler = try c.monitor.control.broadcast("stats", destination: [host]).replies.first?.value["autoscaler"]
        #expect(autoscaler?["max"]?.int == 4 && autoscaler?["min"]?.int == 1, "\(String(describing: autoscaler))")

        // Killed without a word (no worker-offline event): offline once 2 × freq passed without a heartbeat.
        c.killHard(host)
        let base = try fx.dataManager.rebuild()
        func status(at now: Double) -> WorkerStatus? { c.monitor.merge(into: base, now: now).workers.first { $0.id == host }?.status }
        // Real time first (a hang guard, not a figure): offline, so no heartbeat is still on its way.
        #expect(await TestServers.eventuallyAsync { status(at: Date().timeIntervalSince1970) == .offline })
        // Then the rule on an injected clock: online up to 2 × freq after the last heartbeat, offline just after.
        let w = try #require(c.monitor.current.workers[host])
        #expect(w.online && w.freq > 0, "no worker-offline event was sent, yet \(w)")
        let deadline = w.lastHeartbeat + 2 * w.freq
        #expect(
            status(at: deadline) == .online && status(at: deadline + 0.01) == .offline,
            "at the deadline \(String(describing: status(at: deadline))), 10 ms later \(String(describing: status(at: deadline + 0.01)))")
    }

    @Test func cancelledConsumerStopsTakingFromTheQueueUntilResumed() async throws {
        let (c, fx) = try setUp(queues: ["qc1", "qc2"])
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qc1", "qc2"], concurrency: 2)
        #expect(await c.waitOnline(host))
        func consumed() throws -> [String]? {
            try c.monitor.control.broadcast("active_queues", destination: [host]).replies.first?.value.array?.compactMap { $0["name"]?.string }
                .sorted()
        }
        #expect(try consumed() == ["qc1", "qc2"])
        // queue.pause: cancel_consumer on every worker (the worker's own word); the other queue still runs.
        try fx.expectSuccess(fx.run("queue.pause", ["queue": .string("qc1")]))
        #expect(try consumed() == ["qc2"])
        try c.send("fixture.add", [.int(1), .int(1), .string("held")], queue: "qc1")
        // Sent after "held" to a queue the worker reads: done means the worker's turn at "held" has come and gone.
        try c.send("fixture.add", [.int(1), .int(1), .string("flows")], queue: "qc2")
        #expect(await TestServers.eventuallyAsync { c.done("flows") })
        #expect(!c.started("held"))
        // A BRPOP from before the cancel may have popped it; kombu requeues it (see worker.pause below).
        #expect(await TestServers.eventuallyAsync { (try? c.depth("qc1")) == 1 }, "the message waits in the broker")
        try fx.expectSuccess(fx.run("queue.resume", ["queue": .string("qc1")]))
        #expect(await TestServers.eventuallyAsync { c.done("held") })

        // worker.pause: the worker cancels all its consumers; resume adds them back.
        let pause = fx.run("worker.pause", ["id": .string(host)])
        try fx.expectSuccess(pause)
        #expect(try consumed() == [])
        try c.send("fixture.add", [.int(1), .int(1), .string("paused")], queue: "qc2")
        // A control round trip after the send: the worker's loop has run with the message there.
        #expect(try consumed() == [])
        // A BRPOP the worker issued before the cancel may still pop the message; with no consumer
        // for the queue, kombu rejects it with requeue (virtual/base.py, _deliver): back in the
        // list, never run. So the depth comes back to 1 rather than holding 1 at every instant.
        #expect(await TestServers.eventuallyAsync { (try? c.depth("qc2")) == 1 }, "the message waits in the broker")
        #expect(!c.started("paused"))
        let base = try fx.dataManager.rebuild()
        #expect(await TestServers.eventuallyAsync { c.monitor.merge(into: base).workers.first { $0.id == host }?.status == .paused })
        try fx.expectSuccess(fx.run("worker.resume", ["id": .string(host)]))
        #expect(await TestServers.eventuallyAsync { c.done("paused") })
    }

    @Test func purgeEmptiesEveryPriorityBucketAndReportsTheCount() async throws {
        let (c, fx) = try setUp(queues: ["qz"])
        defer {
            c.close()
            fx.close()
        }
        for p in [0, 1, 4, 7, 9] { try c.send("fixture.add", [.int(p), .int(p)], queue: "qz", priority: p) }
        for key in c.transport.queueKeys("qz") { #expect(try c.broker.send("LLEN", key).int ?? 0 > 0) }
        let spec = try #require(ActionCatalog.spec("queue.clear"))
        #expect(try fx.actions.routedExecutor.impact(spec, Payload(["queue": .string("qz")])) == 5)
        // Confirmed at 4: the script counts and refuses in one step, and nothing is purged.
        let refused = fx.run("queue.clear", ["queue": .string("qz"), "expect": .int(4)])
        #expect(refused.failure == .impactExceeded(confirmed: 4, actual: 5), "\(refused.message)")
        #expect(try c.depth("qz") == 5)
        let report = fx.run("queue.clear", ["queue": .string("qz"), "expect": .int(5)])
        try fx.expectSuccess(report)
        #expect(report.message.contains("purged 5 message(s)"), "\(report.message)")
        #expect(try c.depth("qz") == 0)
        let row = try fx.db.query("SELECT result FROM audit_logs WHERE request_id = $1 AND phase = 'outcome'", [report.requestID]).rows.first
        #expect(try row?.get("result", as: String?.self)?.contains("purged 5") == true)
    }

    @Test func limitsPingShutdownAndNoReply() async throws {
        let (c, fx) = try setUp(queues: ["ql"])
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["ql"], concurrency: 1)
        #expect(await c.waitOnline(host))
        let rate = fx.run("worker.rate_limit", ["id": .string(host), "task": .string("fixture.add"), "rate": .string("10/m")])
        try fx.expectSuccess(rate)
        #expect(rate.message.contains("new rate limit set successfully"), "\(rate.message)")
        let bad = fx.run("worker.rate_limit", ["id": .string(host), "task": .string("nope"), "rate": .string("1/s")])
        #expect(failure(bad)?.contains("unknown task") == true, "\(bad.message)")
        #expect(try fx.auditRows(bad.requestID).map(\.0) == ["intent", "outcome"])
        let time = fx.run("worker.time_limit", ["id": .string(host), "task": .string("fixture.sleep"), "soft": .int(1), "hard": .int(2)])
        try fx.expectSuccess(time)
        #expect(time.message.contains("pool restart"), "\(time.message)")
        // Celery 5.7 reads a task's limits when it builds its request class (consumer start, pool
        // restart): after worker.restart (new pool processes) a 5 s sleep is stopped by the 1 s soft limit.
        func pool() throws -> JSONTree? { try c.monitor.control.broadcast("stats", destination: [host]).replies.first?.value["pool"]?["processes"] }
        let before = try #require(try pool())
        try fx.expectSuccess(fx.run("worker.restart", ["id": .string(host)]))
        #expect(
            await TestServers.eventuallyAsync {
                let now = try? pool()
                return now != nil && now != before
            })
        let limited = try c.send("fixture.sleep", [.int(5), .string("limited")], queue: "ql")
        #expect(
            await TestServers.eventuallyAsync { c.started("limited") && c.monitor.current.tasks[limited]?.state == "FAILURE" },
            "\(String(describing: c.monitor.current.tasks[limited]))")
        #expect(!c.done("limited"))
        let ping = fx.run("worker.ping", ["id": .string(host)])
        try fx.expectSuccess(ping)
        #expect(ping.message.contains("pong from \(host)"), "\(ping.message)")
        // Shutdown: no reply by design; the worker exits and goes offline in the monitor.
        try fx.expectSuccess(fx.run("worker.shutdown", ["id": .string(host)]))
        #expect(await c.exited(host, seconds: 60), "\(c.workerLog(host).suffix(800))")
        #expect(await TestServers.eventuallyAsync { c.monitor.current.workers[host]?.isOnline(now: Date().timeIntervalSince1970) == false })
        // Nobody answers now (no worker subscribed, so no wait): "no reply" reaches the operator and the audit row.
        c.monitor.stop() // waits for a poll under way: its reply queue is cleaned up too
        let dead = fx.run("worker.ping", ["id": .string(host)])
        #expect(failure(dead)?.contains("no reply from \(host): no worker is subscribed") == true, "\(dead.message)")
        let rows = try fx.auditRows(dead.requestID)
        #expect(rows.map(\.0) == ["intent", "outcome"] && rows.last?.1 != "success")
        #expect(try c.broker.send("KEYS", c.prefix + "*reply.celery.pidbox*").array?.isEmpty == true, "reply keys left behind")
        #expect(try c.broker.send("SCARD", c.transport.replyBindingKey).int == 0, "reply bindings left behind")
    }

    /// D67: a reply on the request's own ticket from a hostname that was not asked is refused,
    /// counted and logged once; the action's result and the audit's `affected` hold the real replies only.
    @Test func forgedRepliesFromHostnamesNotAskedAreRefused() async throws {
        let (c, fx) = try setUp(queues: ["qf"])
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qf"], concurrency: 1)
        #expect(await c.waitOnline(host))
        // A known worker that never answers: the revoke to every worker then waits out the reply
        // timeout, so the forged reply is always read (not left unread behind the real one).
        let ghost = "ghost-\(c.prefix.dropLast())@nowhere"
        try c.forgeEvent("worker-heartbeat", hostname: ghost, fields: ["freq": .double(60)])
        #expect(await TestServers.eventuallyAsync { c.monitor.current.workers[ghost] != nil })
        let evil = "evil@forged"
        let forger = try CeleryCluster.Forger(c, as: evil) { method, destination in
            method == "revoke" || (method == "ping" && destination != nil) ? .object(["ok": .string("pong")]) : nil
        }
        defer { forger.stop() }
        let refusedBefore = c.monitor.control.refusedReplies
        for _ in 0..<2 {
            let cancel = fx.run("job.cancel", ["id": .string(UUID().uuidString.lowercased())])
            try fx.expectSuccess(cancel)
            guard case .success(let r) = cancel.outcome else { continue }
            #expect(r.affected == 1 && r.details["replies"] == .int(1) && r.details["refused"] == .int(1), "\(r)")
            #expect(!cancel.message.contains(evil) && cancel.message.contains(host), "\(cancel.message)")
            let audit = try fx.db.query("SELECT result::text AS r FROM audit_logs WHERE request_id = $1 AND phase = 'outcome'", [cancel.requestID])
            let row = try audit.rows.first?.get("r", as: String?.self) ?? ""
            let result = try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any]
            #expect(result?["affected"] as? Int == 1 && !row.contains(evil), "\(row)")
        }
        #expect(forger.forged >= 2)
        #expect(c.monitor.control.refusedReplies - refusedBefore >= 2)
        // Logged once for the source, however often it answers.
        #expect(c.logs.all.filter { $0.contains("refused a") && $0.contains(evil) }.count == 1, "\(c.logs.all.suffix(5))")
        // A request to one worker: only that worker's reply is its answer.
        let ping = fx.run("worker.ping", ["id": .string(host)])
        try fx.expectSuccess(ping)
        #expect(ping.message.contains("pong from \(host)") && !ping.message.contains(evil), "\(ping.message)")
        #expect(c.monitor.current.workers[evil] == nil, "a refused reply put its hostname in the worker map")
    }

    /// D67: success is reported once the workers' own state shows it (the task in `dump_revoked`,
    /// the pool size in `stats`); a worker that says "ok" but whose state never shows it (a forged
    /// worker that does not exist) makes the action fail "not confirmed", in the audit too.
    @Test func successIsConfirmedFromTheWorkersState() async throws {
        let c = try CeleryCluster(queues: ["qn"], confirmTimeout: 8) // a forked pool process can take seconds on a busy machine
        c.monitor.start(pollSeconds: 2)
        let fx = try ActionFixture(seed: false, celery: c.monitor)
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qn"], concurrency: 1)
        #expect(await c.waitOnline(host))
        func details(_ report: ActionReport) -> [String: PayloadValue] {
            if case .success(let r) = report.outcome { return r.details }
            return [:]
        }
        // Real workers: confirmed.
        let victim = UUID().uuidString.lowercased()
        let cancel = fx.run("job.cancel", ["id": .string(victim)])
        try fx.expectSuccess(cancel)
        #expect(details(cancel)["confirmed"] == .string("dump_revoked"), "\(details(cancel))")
        let revoked = try c.monitor.control.broadcast("dump_revoked", destination: [host]).replies.first?.value.array ?? []
        #expect(revoked.contains { $0.string == victim })
        let grow = fx.run("worker.pool_grow", ["id": .string(host), "n": .int(1)])
        try fx.expectSuccess(grow)
        #expect([.string("stats"), .string("stats prefetch_count")].contains(details(grow)["confirmed"]), "\(details(grow))")
        // The process itself follows at the pool's next maintenance (D79).
        #expect(
            await TestServers.eventuallyAsync {
                (try? c.monitor.control.broadcast("stats", destination: [host]).replies.first?.value["pool"]?["processes"]?.array?.count) == 2
            })

        // A worker that does not exist, made known by a forged heartbeat, answering "ok" to what it is asked.
        let ghost = "ghost-\(c.prefix.dropLast())@nowhere"
        try c.forgeEvent("worker-heartbeat", hostname: ghost, fields: ["freq": .double(60)])
        #expect(await TestServers.eventuallyAsync { c.monitor.current.workers[ghost] != nil })
        let forger = try CeleryCluster.Forger(c, as: ghost) { method, destination in
            switch method {
            case "revoke": return .object(["ok": .string("tasks flagged as revoked")])
            case "pool_grow" where destination == [ghost]: return .object(["ok": .string("pool will grow")])
            case "stats" where destination == [ghost]: return .object(["pool": .object(["processes": .array([.int(1)])])])
            default: return nil
            }
        }
        defer { forger.stop() }
        let ghostCancel = fx.run("job.cancel", ["id": .string(UUID().uuidString.lowercased())])
        #expect(!ghostCancel.succeeded)
        #expect(failure(ghostCancel)?.contains("not confirmed: \(ghost) did not list the task in dump_revoked") == true, "\(ghostCancel.message)")
        let ghostGrow = fx.run("worker.pool_grow", ["id": .string(ghost), "n": .int(1)])
        #expect(!ghostGrow.succeeded)
        #expect(
            failure(ghostGrow)?.contains("not confirmed") == true && failure(ghostGrow)?.contains("stats shows 1 pool process") == true,
            "\(ghostGrow.message)")
        for report in [ghostCancel, ghostGrow] {
            let rows = try fx.auditRows(report.requestID)
            #expect(rows.map(\.0) == ["intent", "outcome"] && rows.last?.1 != "success", "\(rows)")
        }
        #expect(forger.forged >= 3)
    }

    /// D67: job.cancel goes to Celery only for an id with no AgentOS job row; a forged
    /// task-received naming a job's id does not steer its cancel to a revoke.
    @Test func aForgedTaskEventDoesNotSteerAJobsCancelToCelery() async throws {
        let (c, fx) = try setUp(queues: ["qj"])
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qj"], concurrency: 1)
        #expect(await c.waitOnline(host))
        let job = try fx.insertJob(status: .pending, queue: "qj")
        try c.forgeEvent("task-received", hostname: host, fields: ["uuid": .string(job), "name": .string("forged.task")])
        #expect(await TestServers.eventuallyAsync { c.monitor.current.tasks[job] != nil })
        #expect(try fx.actions.routedExecutor.jobOwner(job) == "tester")
        let cancel = fx.run("job.cancel", ["id": .string(job)])
        try fx.expectSuccess(cancel)
        #expect(!cancel.message.contains("revoke"), "\(cancel.message)")
        #expect(try fx.jobStatus(job) == "cancelled", "the job row was not cancelled: \(cancel.message)")
        let revoked = try c.monitor.control.broadcast("dump_revoked", destination: [host]).replies.first?.value.array ?? []
        #expect(!revoked.contains { $0.string == job }, "the worker was asked to revoke an AgentOS job")
        // An id with no job row still goes to Celery.
        let task = UUID().uuidString.lowercased()
        let revoke = fx.run("job.cancel", ["id": .string(task)])
        try fx.expectSuccess(revoke)
        #expect(revoke.message.contains("revoke \(task)"), "\(revoke.message)")
    }

    @Test func malformedAndForeignFramesAreCountedAndSkipped() async throws {
        let (c, fx) = try setUp(queues: ["qm"])
        defer {
            c.close()
            fx.close()
        }
        #expect(await TestServers.eventuallyAsync { c.monitor.subscribed })
        let channel = c.transport.fanoutChannel(exchange: "celeryev", routingKey: "task.multi")
        let good = JSONTree.object([
            "type": .string("worker-heartbeat"), "hostname": .string("x@y"), "timestamp": .double(Date().timeIntervalSince1970), "freq": .double(2)
        ])
        func frame(_ body: String, contentType: String = "application/json", encoding: String = "base64") -> String {
            "{\"body\": \"\(body)\", \"content-encoding\": \"utf-8\", \"content-type\": \"\(contentType)\", \"headers\": {}, \"properties\": {\"body_encoding\": \"\(encoding)\"}}"
        }
        let b64 = Data(good.json.utf8).base64EncodedString()
        let bad = [
            frame("gASVAAAAAAAAAAB9lC4=", contentType: "application/x-python-serialize"), frame(String(b64.dropLast(5))),
            frame(b64, contentType: "application/x-yaml"), "not json at all", frame(Data("[1, 2]".utf8).base64EncodedString())
        ]
        for f in bad { try c.redis.send("PUBLISH", channel, f) }
        try c.redis.send("PUBLISH", channel, frame(b64))
        #expect(await TestServers.eventuallyAsync { c.monitor.current.workers["x@y"] != nil })
        #expect(c.monitor.current.malformed == bad.count)
        let lines = c.logs.all.filter { $0.contains("skipped malformed frame") }
        #expect(lines.count == bad.count)
        #expect(lines.contains { $0.contains("pickle is never loaded") } && lines.contains { $0.contains("not valid base64") }, "\(lines)")
    }
}
