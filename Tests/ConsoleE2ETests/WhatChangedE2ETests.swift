import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Issue 20, Done when (D76): two consoles on one live backend; an action taken in the second
/// shows in the first's What changed pane within 2 s (the deadline of the whole wait, counted
/// from the action's audited outcome in PostgreSQL).
@Suite("what changed across two consoles end to end in tmux, live", .serialized)
struct WhatChangedE2ETests {
    @Test func anActionFromASecondConsoleShowsInTheFirstsWhatChangedPaneWithin2s() throws {
        guard let live = try LiveScratch.make("e2echg") else { return }
        defer { live.database.drop() }
        let db = try PostgresConnection(live.postgresURL)
        try db.query("INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin')", [ConfirmedClearE2ETests.account])
        let job = UUID().uuidString.lowercased()
        try db.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, owner, attempts, max_attempts, error, error_class, updated_at, finished_at, payload)
            VALUES ($1::uuid, 'to-retry-elsewhere', 'video_cutter', 'video_cutter', 'failed', 'e2e', 3, 3, 'codec', 'CodecError', now(), now(),
                    '{"args": ["s3://e2e/in.mp4"], "kwargs": {"notify_email": "ops@example.com", "renditions": [720]}}')
            """, [job])

        // The first console watches What changed (the Dashboard's second pane).
        let watcher = try TmuxSession(command: "\(TmuxSession.binary) console \(live.arguments)", width: 140, height: 40)
        try watcher.waitFor("Health")
        try watcher.send("]")
        try watcher.waitFor("[changes]")
        #expect(!(try watcher.capture().contains("job.retry")), "nothing retried yet")

        // The second console retries the job from its drill-down.
        let actor = try TmuxSession(command: "\(TmuxSession.binary) console \(live.arguments)", width: 140, height: 40)
        try actor.waitFor("Health")
        try actor.send(":")
        try actor.type("job \(job.prefix(8))")
        try actor.send("Enter")
        try actor.waitFor("Job \(job.prefix(8))", "to-retry-elsewhere")
        // Its complete record (D76), read from the row and scrubbed: the address is a token.
        try actor.waitFor("Keyword arguments", "s3://e2e/in.mp4", "notify_email: \"hmac:", absent: ["ops@example.com"])
        try actor.send("y")
        try actor.waitFor("raw record (y: back)", "\"payload\" : {", "\"error_class\" : \"CodecError\"", absent: ["ops@example.com"])
        try actor.send("y")
        try actor.waitFor("Keyword arguments")
        try actor.send("r")
        try waitUntil("job.retry of \(job) audited as a success") {
            if try actor.capture().contains("[y/N]") { try actor.send("y") }
            return try db.query(
                "SELECT count(*) FROM audit_logs WHERE action = 'job.retry' AND target = $1 AND phase = 'outcome' AND outcome = 'success'", [job]
            ).rows[0].get(0, as: Int.self) == 1
        }
        // From the audited outcome on, 2 s for the first console's pane to list it.
        try watcher.waitFor("job.retry in What changed", seconds: 2) { s in
            s.contains("[changes]")
                // A row of the pane: below the tab and context lines (where a notice of the action may say the same).
                && s.split(separator: "\n").dropFirst(2).contains { $0.contains("job.retry") && $0.contains(job.prefix(8)) && $0.contains("success") }
        }
        // The drill-down closes first (q in an overlay closes it), then q quits.
        try actor.send("Escape")
        try actor.waitFor("the job's drill-down closed") { !$0.contains("Esc to close") }
        try actor.send("q")
        try watcher.send("q")
        #expect(try actor.waitForExit() == 0)
        #expect(try watcher.waitForExit() == 0)
    }
}
