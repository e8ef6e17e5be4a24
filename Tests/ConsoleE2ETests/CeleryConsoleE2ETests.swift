import AgentOSAdapters
import Foundation
import Testing

/// The live console with `--celery` against a real Celery 5.7 worker (the integration tests'
/// fixture app): the worker appears in the Workers view and its task in Jobs & Queue.
@Suite("agentos console with real Celery in tmux", .serialized)
struct CeleryConsoleE2ETests {
    @Test func workersViewShowsTheCeleryWorkerAndJobsItsTasks() throws {
        let env = ProcessInfo.processInfo.environment
        guard let redisURL = env["AGENTOS_TEST_REDIS_URL"], let baseURL = env["AGENTOS_TEST_POSTGRES_URL"],
            let python = env["AGENTOS_TEST_CELERY_PYTHON"]
        else {
            Issue.record("AGENTOS_TEST_REDIS_URL / AGENTOS_TEST_POSTGRES_URL / AGENTOS_TEST_CELERY_PYTHON are not set: run through scripts/test.sh")
            return
        }
        let database = try ScratchDatabase(baseURL: baseURL, prefix: "e2ecel")
        defer { database.drop() }
        let pgURL = database.url
        let tag = UUID().uuidString.prefix(6).lowercased()
        let prefix = "e2ecel\(tag):"
        let queue = "qe2e"
        let host = "e2e-\(tag)@celery-host"
        let bin = TmuxSession.binary
        try database.migrate()

        // The worker (its own session, so its pool dies with it).
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AdapterIntegrationTests/celery_fixture").path
        let worker = try Spawned.start(
            [
                "setsid", python, "-m", "celery", "--workdir", fixture, "-A", "app", "worker", "-E", "-P", "prefork", "-c", "1",
                "-n", host, "-Q", queue, "--without-mingle", "--without-gossip"
            ],
            environment: [
                "CELERY_FIXTURE_BROKER": redisURL + "/12", "CELERY_FIXTURE_KEYPREFIX": prefix,
                "CELERY_FIXTURE_MARKS": NSTemporaryDirectory(), "PYTHONDONTWRITEBYTECODE": "1"
            ])
        defer {
            kill(-worker.pid, SIGKILL)
            worker.kill()
        }
        let options = "{\"broker_db\": 12, \"global_keyprefix\": \"\(prefix)\", \"queues\": [\"\(queue)\"]}"
        let ui = try TmuxSession(
            command: "\(bin) console --redis \(redisURL) --postgres \(pgURL) --namespace e2ecel\(tag) --celery '\(options)'",
            width: 160, height: 40)
        try ui.waitFor("Health")
        try ui.send("4")
        try ui.waitFor("\(host) online", seconds: 60) { screen in
            screen.split(separator: "\n").contains { $0.contains(host) && $0.contains("online") }
        }

        // A task sent to the worker's queue shows up in Jobs & Queue as completed.
        let redis = try RedisClient(url: redisURL, database: 12)
        let id = UUID().uuidString.lowercased()
        let body = Data("[[20, 22], {}, {\"callbacks\": null, \"errbacks\": null, \"chain\": null, \"chord\": null}]".utf8).base64EncodedString()
        let message = """
            {"body": "\(body)", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "fixture.add", \
            "id": "\(id)", "retries": 0, "timelimit": [null, null], "root_id": "\(id)", "parent_id": null, "argsrepr": "(20, 22)", "kwargsrepr": "{}"}, \
            "properties": {"correlation_id": "\(id)", "reply_to": "", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "\(queue)"}, \
            "priority": 0, "body_encoding": "base64", "delivery_tag": "\(UUID().uuidString.lowercased())"}}
            """
        try redis.send("LPUSH", prefix + queue, message)
        try ui.send("2")
        let short = String(id.prefix(8))
        try ui.waitFor("task \(short) completed", seconds: 60) { screen in
            screen.split(separator: "\n").contains { $0.contains(short) && $0.contains("fixture.add") && $0.contains("completed") }
        }
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)
        if let keys = try? redis.send("KEYS", prefix + "*").array, !keys.isEmpty { _ = try? redis.send(["DEL"] + keys.compactMap(\.bytes)) }
    }
}
