import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Issue 20 item 4 (D69), live: a job that used every attempt is in the Jobs tab's dead set; retry
/// now from that pane re-enqueues it: queued in PostgreSQL, its message in the broker's list.
@Suite("retry and dead sets end to end in tmux, live", .serialized)
struct JobSetsE2ETests {
    @Test func aDeadJobIsListedAndRetryNowReenqueuesIt() throws {
        guard let live = try LiveScratch.make("e2esets") else { return }
        defer { live.database.drop() }
        let db = try PostgresConnection(live.postgresURL)
        try db.query("INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin')", [ConfirmedClearE2ETests.account])
        let dead = UUID().uuidString.lowercased()
        let retrying = UUID().uuidString.lowercased()
        try db.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, owner, attempts, max_attempts, error, error_class, updated_at, finished_at)
            VALUES ($1::uuid, 'used-every-try', 'video_cutter', 'video_cutter', 'failed', 'e2e', 3, 3, 'codec gave up', 'CodecError', now(), now()),
                   ($2::uuid, 'waits-to-retry', 'video_cutter', 'video_cutter', 'retrying', 'e2e', 1, 3, 'disk', 'IOError', now(), NULL)
            """, [dead, retrying])

        let ui = try TmuxSession(command: "\(TmuxSession.binary) console \(live.arguments)", width: 140, height: 40)
        try ui.waitFor("Health")
        try ui.send("2")
        try ui.waitFor("[jobs]")
        for _ in 0..<4 { try ui.send("]") } // queues, scheduled, retries, dead
        // The job that used every attempt, with its attempts and error class; not the one to be retried.
        try ui.waitFor("the dead set") { s in
            let row = s.split(separator: "\n").first { $0.contains(dead.prefix(8)) }.map(String.init) ?? ""
            return s.contains("[dead]") && row.contains("used-every-try") && row.contains("3/3") && row.contains("CodecError")
                && !s.contains("waits-to-retry")
        }
        try ui.send("r")
        // A standard action runs at once (a confirmation, if the settings ask for one, is answered).
        // PostgreSQL: queued again; the broker: its message in one of the queue's lists.
        try waitUntil("job \(dead) queued in PostgreSQL") {
            if try ui.capture().contains("[y/N]") { try ui.send("y") }
            return try db.query("SELECT status FROM jobs WHERE id = $1::uuid", [dead]).rows[0].get(0, as: String.self) == "queued"
        }
        let broker = RedisClient(try RedisConfiguration(url: live.redisURL)).selecting(database: Namespace.DB.queues)
        let ns = Namespace(live.namespace, brokerPrefix: "\(live.namespace):")
        let messages = try ns.brokerListKeys(queue: "video_cutter").flatMap { key in
            (try broker.send("LRANGE", key, 0, -1).array ?? []).compactMap(\.string)
        }
        #expect(messages.count == 1 && messages.allSatisfy { $0.contains(dead) }, "broker lists of video_cutter: \(messages)")
        // And it leaves the dead set.
        try ui.waitFor("the dead set without it") { s in s.contains("[dead]") && !s.contains("used-every-try") }
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)
    }
}
