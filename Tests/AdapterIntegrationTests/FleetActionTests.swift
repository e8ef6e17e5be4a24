import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

@Suite("Actions: Agents & Workers, Managers", .serialized)
struct FleetActionTests {
    func worker(_ fx: ActionFixture, status: String = "online") throws -> String {
        try fx.db.query("UPDATE workers SET status = $1 WHERE id = (SELECT id FROM workers ORDER BY id LIMIT 1)", [status])
        return try fx.anyID("SELECT id FROM workers ORDER BY id LIMIT 1")
    }

    func workerField(_ fx: ActionFixture, _ id: String, _ column: String) throws -> String {
        try fx.scalar("SELECT \(column)::text FROM workers WHERE id = $1", [id], as: String.self)
    }

    @Test(arguments: [
        ("worker.restart", "online", "restarting", "running"),
        ("worker.shutdown", "online", "stopped", "stopped"),
        ("worker.start", "stopped", "starting", "running"),
        ("worker.pause", "online", "paused", "paused"),
        ("worker.resume", "paused", "online", "running"),
        ("worker.drain", "online", "draining", "drained"),
    ])
    func lifecycle(_ action: String, _ from: String, _ status: String, _ desired: String) async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx, status: from)
        try fx.db.query("UPDATE workers SET active = 0 WHERE id = $1", [id])
        try fx.expectSuccess(fx.run(action, ["id": .string(id)]))
        #expect(try workerField(fx, id, "status") == status)
        #expect(try workerField(fx, id, "desired_state") == desired)
        #expect(await fx.sawControl(action, target: id))
        // The same transition again does not apply.
        if action != "worker.restart" {
            let again = fx.run(action, ["id": .string(id)])
            guard case .failure(.conflict) = again.outcome else { Issue.record("\(action) twice: \(again.message)"); return }
        }
    }

    @Test func scaleGrowShrink() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try fx.expectSuccess(fx.run("worker.scale", ["id": .string(id), "concurrency": .int(6)]))
        #expect(try workerField(fx, id, "concurrency") == "6")
        try fx.expectSuccess(fx.run("worker.pool_grow", ["id": .string(id), "n": .int(3)]))
        #expect(try workerField(fx, id, "concurrency") == "9")
        try fx.expectSuccess(fx.run("worker.pool_shrink", ["id": .string(id)]))
        #expect(try workerField(fx, id, "concurrency") == "8")
        #expect(await fx.sawControl("worker.scale", target: id))
        #expect(fx.controlMessages.contains { $0["command"] == .string("worker.scale") && $0["value"] == .int(8) })
    }

    @Test func autoscaleSetsBoundsAndRefusesInvertedOnes() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try fx.expectSuccess(fx.run("worker.autoscale", ["id": .string(id), "min": .int(2), "max": .int(10)]))
        #expect(try workerField(fx, id, "autoscale_min") == "2")
        #expect(try workerField(fx, id, "autoscale_max") == "10")
        #expect(fx.run("worker.autoscale", ["id": .string(id), "min": .int(9), "max": .int(3)]).outcome == .failure(.invalid(field: "min", "9 is above max 3")))
    }

    @Test func restartAllRestartsEveryLiveWorkerOfTheStage() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.db.query("UPDATE workers SET status = 'online'")
        let stage = "face_detector"
        let n = try fx.count("SELECT count(*) FROM workers WHERE stage = $1", [stage])
        #expect(n > 0)
        let report = fx.run("worker.restart_all", ["stage": .string(stage)])
        try fx.expectSuccess(report)
        #expect(try fx.count("SELECT count(*) FROM workers WHERE stage = $1 AND status = 'restarting'", [stage]) == n)
        #expect(try fx.count("SELECT count(*) FROM workers WHERE stage <> $1 AND status = 'restarting'", [stage]) == 0)
        #expect(await TestServers.eventuallyAsync(5) { fx.controlMessages.filter { $0["command"] == .string("worker.restart") }.count == n })
    }

    @Test func rateAndTimeLimitsArePerTask() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        try fx.expectSuccess(fx.run("worker.rate_limit", ["id": .string(id), "task": .string("agentos.face_detector"), "rate": .string("10/m")]))
        #expect(try fx.scalar("SELECT rate_limits->>'agentos.face_detector' FROM workers WHERE id = $1", [id], as: String.self) == "10/m")
        #expect(fx.run("worker.rate_limit", ["id": .string(id), "task": .string("t"), "rate": .string("fast")]).outcome
                == .failure(.invalid(field: "rate", "'fast' is not a rate like 10/m, 2/s or 0")))
        try fx.expectSuccess(fx.run("worker.time_limit", ["id": .string(id), "task": .string("agentos.face_detector"), "soft": .int(60), "hard": .int(90)]))
        #expect(try fx.scalar("SELECT time_limits->'agentos.face_detector'->>'hard' FROM workers WHERE id = $1", [id], as: String.self) == "90")
    }

    @Test func pingReportsHeartbeatAndRoundTrip() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx)
        let report = fx.run("worker.ping", ["id": .string(id)])
        try fx.expectSuccess(report)
        guard case let .success(r) = report.outcome else { return }
        #expect(r.message.hasPrefix("pong from \(id)"))
        #expect(r.details["status"] == .string("online"))
    }

    @Test func forgetRemovesOnlyOfflineWorkers() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try worker(fx, status: "online")
        guard case .failure(.conflict) = fx.run("worker.forget", ["id": .string(id)]).outcome else { Issue.record("online worker forgotten"); return }
        try fx.db.query("UPDATE workers SET status = 'offline' WHERE id = $1", [id])
        try fx.expectSuccess(fx.run("worker.forget", ["id": .string(id)]))
        #expect(try fx.count("SELECT count(*) FROM workers WHERE id = $1", [id]) == 0)
    }

    func manager(_ fx: ActionFixture, status: String, enabled: Bool = true) throws -> String {
        let id = try fx.anyID("SELECT id FROM managers ORDER BY id LIMIT 1")
        try fx.db.query("UPDATE managers SET status = $2, enabled = $3 WHERE id = $1", [id, status, enabled])
        return id
    }

    func managerField(_ fx: ActionFixture, _ id: String, _ column: String) throws -> String? {
        try fx.scalar("SELECT \(column)::text FROM managers WHERE id = $1", [id], as: String?.self)
    }

    @Test(arguments: [
        ("manager.start", "stopped", "running"), ("manager.stop", "running", "stopped"), ("manager.pause", "running", "paused"),
        ("manager.resume", "paused", "running"), ("manager.restart", "failed", "starting"),
    ])
    func managerLifecycle(_ action: String, _ from: String, _ to: String) async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try manager(fx, status: from)
        try fx.expectSuccess(fx.run(action, ["id": .string(id)]))
        #expect(try managerField(fx, id, "status") == to)
        #expect(try managerField(fx, id, "updated_by") == "tester")
        #expect(await fx.sawControl(action, target: id))
    }

    @Test func triggerScheduleConcurrencyEnableDisable() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let id = try manager(fx, status: "running")
        try fx.db.query("UPDATE managers SET next_run_at = now() + interval '1 hour' WHERE id = $1", [id])
        try fx.expectSuccess(fx.run("manager.trigger", ["id": .string(id)]))
        #expect(try fx.count("SELECT count(*) FROM managers WHERE id = $1 AND next_run_at <= now()", [id]) == 1)
        #expect(await fx.sawControl("manager.trigger", target: id))

        try fx.expectSuccess(fx.run("manager.set_schedule", ["id": .string(id), "schedule": .string("*/5 * * * *")]))
        #expect(try managerField(fx, id, "schedule") == "*/5 * * * *")
        guard case .failure(.invalid(field: "schedule", _)) = fx.run("manager.set_schedule", ["id": .string(id), "schedule": .string("61 * * * *")]).outcome else {
            Issue.record("a bad cron expression was accepted"); return
        }
        try fx.expectSuccess(fx.run("manager.set_schedule", ["id": .string(id), "schedule": .string("10m")]))
        #expect(try fx.count("SELECT count(*) FROM managers WHERE id = $1 AND next_run_at > now() + interval '9 minutes'", [id]) == 1)

        try fx.expectSuccess(fx.run("manager.set_concurrency", ["id": .string(id), "concurrency": .int(4)]))
        #expect(try managerField(fx, id, "concurrency") == "4")

        try fx.expectSuccess(fx.run("manager.disable", ["id": .string(id)]))
        #expect(try managerField(fx, id, "enabled") == "false")
        guard case .failure(.conflict) = fx.run("manager.trigger", ["id": .string(id)]).outcome else { Issue.record("a disabled manager was triggered"); return }
        try fx.expectSuccess(fx.run("manager.enable", ["id": .string(id)]))
        #expect(try managerField(fx, id, "enabled") == "true")
    }
}
