import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// The console live against redis-server and PostgreSQL with `agentos sim` playing the backend.
@Suite("agentos console live end to end in tmux", .serialized)
struct LiveConsoleE2ETests {
    @Test func liveConsoleFollowsTheDatabaseAndNeverEchoesEscapes() throws {
        guard let live = try LiveScratch.make("e2e") else { return }
        defer { live.database.drop() }
        let pgURL = live.postgresURL
        let ns = live.namespace
        let common = live.arguments
        let bin = TmuxSession.binary

        let sim = try TmuxSession(command: "\(bin) sim \(common) --history 120 --warm-interval 1000 --duration 120", width: 100, height: 10)
        try sim.waitFor("running")

        let ui = try TmuxSession(command: "\(bin) console \(common) --env staging", width: 140, height: 40)
        let rawPath = NSTemporaryDirectory() + "agentos-pty-\(ns).bin"
        defer { unlink(rawPath) }
        try TmuxSession.run(["-L", ui.socket, "pipe-pane", "-o", "-t", ui.name, "cat >> \(rawPath)"], captureOutput: false)
        try ui.waitFor("the live status line") { s in
            let status = s.split(separator: "\n").last { $0.contains("STAGING") }.map(String.init) ?? ""
            return s.contains("Health") && ["pg ●", " live ", "redis ●", "events ●"].allSatisfy(status.contains)
        }

        // A change made in the database appears on screen (warmer → cache → reload).
        let db = try PostgresConnection(pgURL)
        try db.query(
            "INSERT INTO alerts (severity, source, title, message) VALUES ('critical', 'e2e', $1, 'inserted by the test')",
            ["E2E canary alert"])
        try ui.waitFor("E2E canary alert")

        // A job named with escape sequences is shown as visible escapes; none reach the pty.
        let hostile = "clip\u{1b}]52;c;ZXZpbA==\u{07}\u{9b}2J\u{202E}gpj.exe"
        try db.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, owner, created_at, updated_at)
            VALUES (gen_random_uuid(), $1, 'video_downloader', 'video_downloader', 'queued', 'mallory', now(), now() + interval '1 hour')
            """, [hostile])
        // Filtered first: the simulated fleet keeps adding jobs, and unfiltered the hostile one can sit
        // below the screen's last row (a run under load had 117 jobs and showed 35).
        try ui.send("2")
        try ui.send("/")
        try ui.type("mallory")
        try ui.send("Enter")
        try ui.waitFor("mallory", "clip\\x1b]52;c;ZXZpbA==\\x07")
        try ui.send("Enter")
        try ui.waitFor("owner:        mallory", "name:         clip\\x1b]52;c;ZXZpbA==\\x07\\x9b2J<U+202E>gpj.exe")

        // q closes the detail (it does not quit from there): Escape, the list, then q.
        try ui.send("Escape")
        try ui.waitFor("the list again") { !$0.contains("Esc to close") && line($0, 1).contains("/mallory") }
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)
        try sim.send("C-c")
        #expect(try sim.waitForExit() == 0)
        let raw = try waitForFile(rawPath, "the console's last bytes") { $0.contains(bytes: leftAlternateScreen) }
        #expect(raw.count > 1_000, "the pty output was recorded")
        for (label, needle) in [
            ("OSC 52", Array("\u{1b}]52".utf8)), ("BEL", [0x07] as [UInt8]), ("C1 CSI U+009B", [0xc2, 0x9b]),
            ("U+202E", [0xe2, 0x80, 0xae])
        ] {
            #expect(!raw.contains(bytes: needle), "\(label) reached the terminal")
        }
    }
}

/// Issue 19: what the operator confirms is what runs, live. The clear dialog's count follows the
/// queue while the dialog is open, and the figure confirmed is the figure PostgreSQL deleted.
@Suite("confirmed figures end to end in tmux, live", .serialized)
struct ConfirmedClearE2ETests {
    static var account: String {
        guard let pw = getpwuid(getuid()), let name = pw.pointee.pw_name else { return "uid\(getuid())" }
        return String(cString: name)
    }

    static func addJobs(_ db: PostgresConnection, _ n: Int) throws {
        try db.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, owner)
            SELECT gen_random_uuid(), 'e2e-' || g, 'video_downloader', 'e2e_hold', 'queued', 'e2e' FROM generate_series(1, $1::int) g
            """, [n])
    }

    @Test func theClearDialogFollowsAGrowingQueueAndDeletesWhatWasConfirmed() throws {
        guard let live = try LiveScratch.make("e2econfirm") else { return }
        defer { live.database.drop() }
        let db = try PostgresConnection(live.postgresURL)
        try db.query("INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin')", [Self.account])
        try db.query("INSERT INTO queues (name, stage, paused) VALUES ('e2e_hold', 'video_downloader', true)")
        try Self.addJobs(db, 5)

        let ui = try TmuxSession(command: "\(TmuxSession.binary) console \(live.arguments)", width: 140, height: 40)
        try ui.waitFor("Health")
        try ui.send("2")
        try ui.waitFor("[jobs]")
        try ui.send("]")
        try ui.waitFor("[queues]", "e2e_hold")
        try ui.send("g")
        try ui.send("C")
        try ui.waitFor("Clear queue e2e_hold: 5 pending jobs will be deleted.", "type e2e_hold:")

        // The queue grows while the dialog is open: the figure follows, before anything is typed.
        try Self.addJobs(db, 4)
        try ui.waitFor("Clear queue e2e_hold: 9 pending jobs will be deleted.", "type e2e_hold:")
        try ui.type("e2e_hold")
        try ui.send("Enter")
        try ui.waitFor("reason:")
        try ui.type("INC-19 e2e")
        try ui.send("Enter")
        try ui.waitFor("cleared queue e2e_hold: 9 pending job(s) deleted")
        let left = try db.query("SELECT count(*) FROM jobs WHERE queue = 'e2e_hold'").rows[0].get(0, as: Int.self)
        #expect(left == 0)
        // The request carried the figure on screen; the executor deleted exactly that many.
        let row = try #require(
            try db.query(
                "SELECT payload->>'expect' AS expect, result->>'affected' AS affected FROM audit_logs WHERE action = 'queue.clear' AND phase = 'outcome'"
            ).rows.first)
        #expect(try row.get("expect", as: String.self) == "9" && row.get("affected", as: String.self) == "9")
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)
    }
}

/// Issue 18 item 5 (and issue 19 item 6, issue 24): every running console is a session in Redis
/// DB6. Two consoles list each other in System Controls' Sessions pane; one ends the other from that
/// pane; the ended console refuses every action, says who ended it and why, and quits (75) once its
/// operator acknowledges; the audit holds both sides under one request id; `agentos sessions` agrees.
@Suite("console sessions end to end in tmux, live", .serialized)
struct SessionE2ETests {
    /// The sessions pane's rows of this account (one line each, the own one marked with ←).
    static func rows(_ screen: String, _ account: String) -> [Substring] {
        screen.split(separator: "\n").filter { $0.contains(" \(account) ") && $0.contains("interactive") }
    }

    @Test func twoConsolesSeeEachOtherAndOneEndsTheOtherFromItsSessionsPane() throws {
        guard let live = try LiveScratch.make("e2esession") else { return }
        defer { live.database.drop() }
        let account = ConfirmedClearE2ETests.account
        let db = try PostgresConnection(live.postgresURL)
        try db.query("INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin')", [account])
        let store = ConsoleSessionStore(redis: RedisClient(try RedisConfiguration(url: live.redisURL)), namespace: Namespace(live.namespace))

        let first = try TmuxSession(command: "\(TmuxSession.binary) console \(live.arguments)", width: 140, height: 40)
        try first.waitFor("Health")
        try first.send("3", "]")
        try first.waitFor("its own row in the Sessions pane") { Self.rows($0, account).count == 1 }
        let firstID = try #require(try store.list().first?.id)

        let second = try TmuxSession(command: "\(TmuxSession.binary) console \(live.arguments)", width: 140, height: 40)
        try second.waitFor("Health")
        // The first lists the second from its session.started event, not at its next snapshot.
        let started = Date()
        try first.waitFor("the second console in the first one's list") { Self.rows($0, account).count == 2 }
        print("sessions: the first console listed the second \(Int(Date().timeIntervalSince(started) * 1000)) ms after it was up")
        try second.send("3", "]")
        try second.waitFor("both consoles in the second one's list") { Self.rows($0, account).count == 2 }

        // The second ends the first from its pane: the row, the action menu, the dialog.
        try second.send("/")
        try second.type(String(firstID.prefix(8)))
        try second.send("Enter")
        try second.waitFor("only the first console's row") { Self.rows($0, account).count == 1 && !$0.contains("interactive ←") }
        try second.send(".")
        try second.waitFor("End console session")
        try second.send("Enter")
        try second.waitFor("[y/N]")
        try second.send("y")
        try second.waitFor("console session \(firstID) ended")

        // The first stops accepting actions and says who and why; keys do nothing until acknowledged.
        try first.waitFor("Session ended", "ended by \(account)", "actions are no longer accepted")
        try first.send("2", ".")
        try first.waitFor("Session ended")
        #expect(try first.exitStatus() == nil, "it waits for its operator")
        // The ended console writes its side as it shows the dialog: wait for the whole trail.
        var rows: [PostgresRow] = []
        try waitUntil("the ended console's received row in the audit") {
            rows = try db.query(
                """
                SELECT phase, user_id, request_id::text AS request_id, session_id FROM audit_logs
                WHERE action = 'system.session_terminate' AND target = $1 ORDER BY seq
                """, [firstID]
            ).rows
            return rows.count >= 3
        }
        let phases = try rows.map { try $0.get("phase") as String }
        #expect(phases == ["intent", "outcome", "received"], "both sides in the audit: \(phases)")
        let requests = Set(try rows.map { try $0.get("request_id") as String })
        #expect(requests.count == 1, "one request id links the two sides")
        #expect(try rows.last?.get("session_id") as String? == firstID, "the received row is the ended console's own")

        try first.send("Enter")
        #expect(try first.waitForExit() == 75, "ended from outside: EX_TEMPFAIL")
        try waitUntil("the reason on the terminal") {
            try first.captureWithHistory().contains("this console session (\(firstID)) was ended by \(account)")
        }
        // The second carries on, alone in the list, and `agentos sessions --json` agrees.
        try second.send("Escape", "Escape")
        try second.waitFor("the second console alone in its list") { Self.rows($0, account).count == 1 && $0.contains("interactive ←") }
        let listed = try Spawned.run(
            [TmuxSession.binary, "sessions", "--json", "--redis", live.redisURL, "--namespace", live.namespace])
        #expect(listed.status == 0, "\(listed.stderr)")
        let sessions = try AgentJSON.decoder().decode([ConsoleSession].self, from: Data(listed.stdout.utf8))
        #expect(sessions.map(\.id) != [firstID] && sessions.count == 1 && sessions[0].mode == "interactive")
        try second.send("q")
        #expect(try second.waitForExit() == 0)
        #expect(try store.list().isEmpty, "a console that quits deletes its row")
    }
}

/// Issue 20 items 1 and 3, live: `:job` finds a job older than the recent window (PostgreSQL, by
/// the start of its id) and opens its record; links lead from it to its log lines, from a worker
/// to its jobs and on, and `Esc` goes back through the breadcrumbs.
@Suite("find anything end to end in tmux, live", .serialized)
struct FindJobE2ETests {
    @Test func jobOlderThanTheRecentWindowIsFoundAndLinksLeadToLogsAndBack() throws {
        guard let live = try LiveScratch.make("e2efind") else { return }
        defer { live.database.drop() }
        let db = try PostgresConnection(live.postgresURL)
        try db.query("INSERT INTO user_permissions (user_id, role) VALUES ($1, 'admin')", [ConfirmedClearE2ETests.account])
        // 600 newer jobs push one from last week out of the recent window.
        let old = UUID().uuidString.lowercased()
        try db.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, owner, created_at, updated_at, finished_at)
            VALUES ($1::uuid, 'last week upload', 'video_cutter', 'video_cutter', 'completed', 'erin',
                    now() - interval '7 days', now() - interval '7 days', now() - interval '7 days')
            """, [old])
        try db.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, owner)
            SELECT gen_random_uuid(), 'fresh-' || g, 'video_downloader', 'video_downloader', 'queued', 'e2e' FROM generate_series(1, 600) g
            """)
        // A worker with a job of its own, and log lines of both jobs.
        try db.query(
            "INSERT INTO workers (id, hostname, stage, queues, status, concurrency) VALUES ('cut-9@e2e', 'e2e', 'video_cutter', '{video_cutter}', 'online', 2)"
        )
        let worked = UUID().uuidString.lowercased()
        try db.query(
            """
            INSERT INTO jobs (id, name, stage, queue, status, owner, worker_id, started_at)
            VALUES ($1::uuid, 'fresh-worked', 'video_cutter', 'video_cutter', 'running', 'e2e', 'cut-9@e2e', now())
            """, [worked])
        try db.query(
            "INSERT INTO logs (level, source, message, job_id, worker_id) VALUES ('info', 'cut-9@e2e', 'cut the last scene', $1::uuid, 'cut-9@e2e'), ('info', 'cut-9@e2e', 'fresh cut', $2::uuid, 'cut-9@e2e')",
            [old, worked])

        let ui = try TmuxSession(command: "\(TmuxSession.binary) console \(live.arguments)", width: 140, height: 40)
        try ui.waitFor("Health")
        try ui.send("2")
        try ui.waitFor("the recent window without it") { line($0, 1).contains("Jobs & Queue") && !$0.contains("last week upload") }
        try ui.send(":")
        try ui.type("job \(old.prefix(8))")
        try ui.send("Enter")
        try ui.waitFor("Job \(old.prefix(8))", "looked up with :job", "last week upload", "erin")

        // `l`: its log lines, the breadcrumbs; Esc: the job again.
        try ui.send("l")
        try ui.waitFor("its log lines") { s in
            line(s, 1).hasPrefix(" System Logs") && line(s, 1).contains("Job \(old.prefix(8)) › Esc back") && s.contains("cut the last scene")
                && !s.contains("fresh cut")
        }
        try ui.send("Escape")
        try ui.waitFor("the job again") { s in line(s, 1).contains("Jobs & Queue") && s.contains("Job \(old.prefix(8))") && !line(s, 1).contains("›")
        }
        try ui.send("Escape")

        // Worker → its jobs → a job → its log lines, and back the same way.
        try ui.send(":")
        try ui.type("worker cut-9@e2e")
        try ui.send("Enter")
        try ui.waitFor("Worker", "cut-9@e2e", "J its jobs")
        try ui.send("J")
        try ui.waitFor("its jobs") { s in line(s, 1).contains("/cut-9@e2e") && s.contains("fresh-worked") }
        try ui.send("Enter")
        try ui.waitFor("fresh-worked", "l its log lines")
        try ui.send("l")
        try ui.waitFor("its line") { s in s.contains("fresh cut") && line(s, 1).contains("› Esc back") && line(s, 1).contains("cut-9@e2e") }
        try ui.send("Escape")
        try ui.waitFor("the job") { s in s.contains("fresh-worked") && s.contains("l its log lines") }
        try ui.send("Escape")
        try ui.send("Escape")
        try ui.waitFor("the worker") { s in s.contains("J its jobs") && !line(s, 1).contains("›") }
        try ui.send("Escape")
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)
    }
}
