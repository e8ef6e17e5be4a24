import AgentOSAdapters
import AgentOSCore
import Foundation
import Synchronization
import Testing

/// Control in one round trip against a real Celery 5.7 worker (D61): with a 10 s reply timeout,
/// actions end because the expected replies arrived; a headless `agentos action` with the view a
/// console shared in Redis sends exactly its own request (counted on the pidbox channel);
/// without it, one discovery broadcast; `agentos snapshot --celery` lists the worker and its task.
@Suite("Celery: one round trip", .serialized)
struct CeleryRoundTripTests {
    /// The pidbox requests on the wire, by method, in order. A barrier on the same connection
    /// proves every request published before it was seen.
    final class PidboxTap: @unchecked Sendable {
        final class Seen: Sendable {
            let methods = Mutex<[String]>([])
            let barriers = Mutex<Set<String>>([])
        }
        let seen = Seen()
        let subscriber: RedisSubscriber
        let redis: RedisClient
        let barrier = TestServers.unique("pidbox-barrier")

        init(_ c: CeleryCluster) throws {
            redis = c.redis
            let channel = c.transport.pidboxChannel
            let (seen, barrier) = (seen, barrier)
            subscriber = RedisSubscriber(c.redis.configuration, channels: [channel, barrier]) { event in
                guard case .message(let on, let payload, _) = event else { return }
                if on == barrier {
                    seen.barriers.withLock { _ = $0.insert(String(decoding: payload, as: UTF8.self)) }
                } else {
                    let method = (try? CeleryEnvelope.decode(payload, place: "pidbox"))?.body["method"]?.string ?? "?"
                    seen.methods.withLock { $0.append(method) }
                }
            }
            subscriber.start()
            let subscribed = TestServers.eventually(30) {
                ((try? c.redis.send("PUBSUB", "NUMSUB", barrier))?.array?.dropFirst().first?.int ?? 0) == 1
            }
            if !subscribed { Issue.record("the pidbox tap did not subscribe") }
        }

        /// Every request published so far, then forgotten.
        func take() throws -> [String] {
            let token = UUID().uuidString
            try redis.send("PUBLISH", barrier, token)
            try #require(TestServers.eventually(60) { seen.barriers.withLock { $0.contains(token) } }, "barrier not seen")
            return seen.methods.withLock { m in
                defer { m = [] }
                return m
            }
        }

        func stop() { subscriber.stop() }
    }

    /// `agentos action … --json --celery` against the fixture's servers: its JSON report.
    func headless(_ fx: ActionFixture, _ c: CeleryCluster, _ args: [String], replyTimeout: Double) throws -> [String: Any] {
        let options = "{\"broker_db\": \(CeleryCluster.brokerDatabase), \"global_keyprefix\": \"\(c.prefix)\", \"reply_timeout\": \(replyTimeout)}"
        let r = try Child.run(ReliabilityIdempotencyTests.cli(fx, args) + ["--celery", options])
        let report = ReliabilityIdempotencyTests.json(r.stdout)
        #expect(r.status == 0, "\(args): \(r.stdout) \(r.stderr)")
        return report
    }

    @Test func actionsEndWhenTheExpectedRepliesArrive() async throws {
        // A 10 s reply timeout: success that waited it out would show as ended "timeout".
        let c = try CeleryCluster(queues: ["q1"], replyTimeout: 10)
        c.monitor.start(pollSeconds: 2)
        let fx = try ActionFixture(user: unixAccount(), seed: false, celery: c.monitor)
        defer {
            c.close()
            fx.close()
        }
        try fx.db.query(
            "INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin') ON CONFLICT (user_id) DO UPDATE SET role = 'admin'", [unixAccount()])
        let host = try c.startWorker("w1", queues: ["q1"], concurrency: 1)
        #expect(await c.waitOnline(host))
        func details(_ report: ActionReport) -> [String: PayloadValue] {
            if case .success(let r) = report.outcome { return r.details }
            return [:]
        }
        // In the console: a request to one worker and a revoke to every worker, each ended by its replies.
        for (action, payload) in [("worker.ping", ["id": PayloadValue.string(host)]), ("job.cancel", ["id": .string(UUID().uuidString.lowercased())])]
        {
            let report = fx.run(action, payload)
            try fx.expectSuccess(report)
            let d = details(report)
            #expect(d["ended"] == .string("all replied") && d["expected"] == .int(1) && d["replies"] == .int(1), "\(action): \(d)")
            // No wait of this monitor's control, polls included, ran out its 10 s (D77).
            #expect(d["timed_out_waits"] == .int(0), "\(action): \(d)")
        }

        // Headless, with the view the console's monitor shares: exactly the action's own request on the wire.
        c.monitor.stop() // its polls would be counted too
        let tap = try PidboxTap(c)
        defer { tap.stop() }
        _ = try tap.take()
        // pool_grow: its own request between the pool size before and the stats that confirm it (D67).
        for (args, methods) in [
            (["worker.ping", "id=\(host)"], ["ping"]), (["worker.pool_grow", "id=\(host)", "n=1"], ["stats", "pool_grow", "stats"])
        ] {
            c.monitor.shareView() // as the console's poller does every poll
            let report = try headless(fx, c, args, replyTimeout: 10)
            #expect(report["ok"] as? Bool == true && report["detail.ended"] as? String == "all replied", "\(report)")
            #expect(report["detail.timed_out_waits"] as? Int == 0, "\(report)")
            // One `stats` confirms the grow: its prefetch count moves in the pool_grow call, while the
            // process is forked at the pool's next maintenance, up to 5 s later (D79).
            #expect(try tap.take() == methods)
        }

        // Without a shared view: ONE discovery broadcast (active_queues), then the action (D77).
        try c.broker.send("DEL", c.transport.sharedViewKey)
        // The tap is a pidbox subscriber too, so the discovery waits for a second reply: a short timeout here.
        let discovered = try headless(fx, c, ["worker.ping", "id=\(host)"], replyTimeout: 1)
        #expect(discovered["ok"] as? Bool == true, "\(discovered)")
        #expect(try tap.take() == ["active_queues", "ping"])
        // What it discovered is shared (until a console's monitor writes its own view).
        let shared = try #require(try c.broker.send("GET", c.transport.sharedViewKey).bytes, "no shared view after the discovery")
        #expect(String(decoding: shared, as: UTF8.self).contains(host))
        tap.stop()
        // Gone from the channel for certain: PUBLISH counts subscribers, and the tap's unsubscribe is
        // asynchronous (a fresh run saw the broadcast below wait for 2 replies).
        let pidbox = c.transport.pidboxChannel
        // A discovery with no other subscriber ends when the one worker answered, long before 10 s.
        // The whole condition is waited for: the worker alone on the channel *when the broadcast was
        // published*, which PUBLISH's own count of receivers says. (PUBSUB NUMSUB cannot: kombu's
        // worker listens with PSUBSCRIBE, which NUMSUB does not count, so an earlier wait on
        // NUMSUB == 1 was waiting for the tap, not the worker.)
        let headlessMonitor = CeleryMonitor(redis: c.redis, transport: c.transport)
        var published: CeleryBroadcast?
        let alone = TestServers.eventually(60) {
            published = try? headlessMonitor.control.broadcast("active_queues", timeout: 5)
            return published?.listeners == 1
        }
        // What held the channel, should it happen again.
        func subscribers() -> String {
            let exact = (try? c.broker.send("PUBSUB", "NUMSUB", pidbox))?.array?.last?.int ?? -1
            let patterns = (try? c.broker.send("PUBSUB", "NUMPAT"))?.int ?? -1
            let clients = ((try? c.broker.send("CLIENT", "LIST"))?.string ?? "").split(separator: "\n")
            return "NUMSUB \(pidbox) = \(exact), NUMPAT = \(patterns); subscribed clients:\n"
                + clients.filter { !$0.contains("sub=0 psub=0") }.joined(separator: "\n")
        }
        #expect(alone, "the last broadcast reached \(published?.listeners ?? -1) listeners, not 1; \(alone ? "" : subscribers())")
        let b = try #require(published)
        #expect(b.allReplied && b.expected == 1 && b.replies.map(\.hostname) == [host], "\(b)")
        // The whole headless run, discovery and action, with a 10 s timeout: no wait ran it out (D77).
        try c.broker.send("DEL", c.transport.sharedViewKey)
        let alone10 = try headless(fx, c, ["worker.ping", "id=\(host)"], replyTimeout: 10)
        #expect(alone10["ok"] as? Bool == true && alone10["detail.timed_out_waits"] as? Int == 0, "\(alone10)")
    }

    @Test func snapshotWithCeleryListsTheWorkersAndTasks() async throws {
        let c = try CeleryCluster(queues: ["qs1"])
        c.monitor.start(pollSeconds: 2)
        let fx = try ActionFixture(seed: false, celery: c.monitor)
        defer {
            c.close()
            fx.close()
        }
        let host = try c.startWorker("w1", queues: ["qs1"], concurrency: 2)
        #expect(await c.waitOnline(host))
        let id = try c.send("fixture.add", [.int(2), .int(5)], queue: "qs1")
        #expect(await TestServers.eventuallyAsync { c.monitor.current.tasks[id]?.state == "SUCCESS" })
        c.monitor.shareView()
        let options = "{\"broker_db\": \(CeleryCluster.brokerDatabase), \"global_keyprefix\": \"\(c.prefix)\", \"queues\": [\"qs1\"]}"
        let common = ["--json", "--postgres", fx.backend.url, "--redis", try TestServers.redisURL(), "--namespace", fx.ns.prefix]
        let r = try Child.run([Reliability.binary, "snapshot"] + common + ["--celery", options])
        #expect(r.status == 0, "\(r.stderr)")
        let snapshot = ReliabilityIdempotencyTests.json(r.stdout)
        let workers = snapshot["workers"] as? [[String: Any]] ?? []
        let worker = workers.first { $0["id"] as? String == host }
        #expect(worker?["status"] as? String == "online" && worker?["concurrency"] as? Int == 2, "\(workers)")
        let recent = (snapshot["jobs"] as? [String: Any])?["recent"] as? [[String: Any]] ?? []
        let job = recent.first { $0["id"] as? String == id }
        #expect(job?["status"] as? String == "completed" && job?["worker"] as? String == host, "\(String(describing: job))")
        #expect((snapshot["queues"] as? [[String: Any]])?.first { $0["name"] as? String == "qs1" }?["consumers"] as? Int == 1)

        // `agentos check --celery`: one ping, the worker named.
        let check = try Child.run([Reliability.binary, "check", "--redis", try TestServers.redisURL(), "--celery", options])
        #expect(check.status == 0 && check.stdout.contains("celery    ok   1 of 1 worker(s)") && check.stdout.contains(host), "\(check.stdout)")

        // Without --celery the same snapshot has neither.
        let plain = ReliabilityIdempotencyTests.json(try Child.run([Reliability.binary, "snapshot"] + common).stdout)
        #expect((plain["workers"] as? [[String: Any]])?.contains { $0["id"] as? String == host } == false)
    }
}
