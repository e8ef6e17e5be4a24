import AgentOSAdapters
import Foundation
import Testing

/// `--wallboard` and the configuration file, the real binary in tmux.
@Suite("agentos wallboard and configuration end to end in tmux", .serialized)
struct WallboardE2ETests {
    @Test func wallboardCyclesTheViewsOnTheEmbeddedDefault() throws {
        #expect(FileManager.default.isExecutableFile(atPath: TmuxSession.binary), "build the binary first (swift build --build-tests)")
        let state = NSTemporaryDirectory() + "agentos-wb-\(UUID().uuidString.prefix(8))"
        let t = try TmuxSession(
            command: "XDG_STATE_HOME=\(state) \(TmuxSession.binary) --seed 5 --wallboard --wallboard-interval 2 "
                + "--wallboard-views dashboard,workers,analytics", width: 100, height: 30)
        try t.waitFor("Dashboard  1/3", "WORKERS UP", "QUEUED", "READ-ONLY", "███")
        try t.waitFor("Agents & Workers  2/3", "workers up")
        try t.waitFor("Analytics  3/3", "Throughput /min")
        // Action keys and overlays do nothing on a wallboard: the space after them pauses the cycling,
        // and the frame that shows it paused shows no overlay.
        try t.send(".")
        try t.send("?")
        try t.send("Space")
        let paused = try t.waitFor("/3 paused")
        #expect(!paused.contains("Help") && !paused.contains("Actions —"), "\(paused)")
        // Legible at 80x24 too.
        try t.resize(width: 80, height: 24)
        try t.waitFor("an 80x24 wallboard") { s in lines(s).count == 24 && lines(s).allSatisfy { $0.count <= 80 } && s.contains("/3 paused") }
        try t.send("q")
        #expect(try t.waitForExit() == 0)
        let log = try String(contentsOfFile: state + "/agentos/agentos.log", encoding: .utf8)
        #expect(log.contains("console starting") && log.contains("wallboard=true"), "the log file: \(log)")
    }

    /// Live: a redis-server with a password, the password given only in the configuration file.
    /// Stopping redis-server shows the staleness banner; restarting it takes the banner away. The
    /// password never reaches the screen, the log or `config show --json`.
    @Test func liveWallboardShowsStalenessThroughARedisRestartAndNeverEchoesThePassword() throws {
        guard let baseURL = ProcessInfo.processInfo.environment["AGENTOS_TEST_POSTGRES_URL"] else {
            Issue.record("AGENTOS_TEST_POSTGRES_URL is not set: run through scripts/test.sh")
            return
        }
        let password = "wallboard-pw-\(UUID().uuidString.prefix(6))"
        let redis = try TestRedis(password: password)
        let database = try ScratchDatabase(baseURL: baseURL, prefix: "e2e_wb")
        defer { database.drop() }
        let pgURL = database.url
        let bin = TmuxSession.binary
        try database.migrate()

        let home = NSTemporaryDirectory() + "agentos-wb-live-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: home + "/config/agentos", withIntermediateDirectories: true)
        let config = home + "/config/agentos/config.yaml"
        try """
        redis:
          url: redis://127.0.0.1:\(redis.port)/0
          password: "\(password)"
        postgres: \(pgURL)
        namespace: wb\(UUID().uuidString.prefix(6).lowercased())
        environment: production
        refresh_interval: 1
        wallboard: { views: [dashboard], interval: 30 }
        log: { level: debug }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        // It holds a password: only its owner may read it (else exit 78).
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config)
        let env = "XDG_CONFIG_HOME=\(home)/config XDG_STATE_HOME=\(home)/state"

        // The file's settings with their origins; the password only as where it comes from.
        let show = try Spawned.run([bin, "config", "show", "--json"], environment: ["XDG_CONFIG_HOME": home + "/config"])
        #expect(show.status == 0 && show.stdout.contains("\"theme\" : \"default\"") && show.stdout.contains("<secret from \(config):3>"), "\(show)")
        #expect(!show.stdout.contains(password) && !show.stderr.contains(password))
        let check = try Spawned.run([bin, "config", "check", config, "--json"])
        #expect(check.status == 0 && !check.stdout.contains(password), "\(check)")

        let ui = try TmuxSession(command: "\(env) \(bin) --wallboard", width: 120, height: 36)
        let rawPath = home + "/pty.bin"
        try TmuxSession.run(["-L", ui.socket, "pipe-pane", "-o", "-t", ui.name, "cat >> \(rawPath)"], captureOutput: false)
        try ui.waitFor("events ●", "PRODUCTION", "redis ●", "QUEUED", absent: ["STALE"])

        redis.stop()
        let stale = try ui.waitFor("STALE", "redis ✗", "QUEUED")
        let firstDown = try #require(Self.downSeconds(stale), "\(stale)")
        // Still running through the outage: the banner counts on, the last figures stay up.
        try ui.waitFor("the outage counted past \(firstDown) s") { s in
            s.contains("STALE") && s.contains("redis ✗") && s.contains("QUEUED") && (Self.downSeconds(s) ?? 0) > firstDown
        }

        try redis.start()
        try ui.waitFor("events ●", "redis ●", "QUEUED", absent: ["STALE"], seconds: 60)
        try ui.send("q")
        #expect(try ui.waitForExit() == 0)

        let log = try String(contentsOfFile: home + "/state/agentos/agentos.log", encoding: .utf8)
        #expect(log.contains("console starting") && log.contains("mode=live"), "\(log)")
        #expect(log.contains("<secret from \(config):3>"), "the debug record of the settings names the password's source")
        #expect(!log.contains(password), "the password is in the log")
        let raw = try waitForFile(rawPath, "the console's last bytes") { $0.contains(bytes: leftAlternateScreen) }
        #expect(raw.count > 1_000, "the pty output was recorded")
        #expect(!raw.contains(bytes: Array(password.utf8)), "the password reached the terminal")
    }

    /// The seconds of "event stream down Ns" in the staleness banner.
    static func downSeconds(_ screen: String) -> Int? {
        guard let r = screen.range(of: "event stream down ") else { return nil }
        let rest = screen[r.upperBound...]
        let digits = rest.prefix { $0.isNumber }
        return rest.dropFirst(digits.count).first == "s" ? Int(digits) : nil
    }

    /// `--mouse`: xterm's SGR mouse reports (what tmux forwards from a real mouse) reach the console.
    @Test func mouseClicksSwitchTabsAndOpenRows() throws {
        // Quiet (--rate 0.05, the simulator's floor): rows that move between the two clicks make the second
        // one select another row instead of opening (seen under load in CI).
        let t = try TmuxSession(command: "\(TmuxSession.binary) --seed 5 --rate 0.05 --mouse", width: 120, height: 30)
        let screen = try t.waitFor("events ●", "2 Jobs")
        func click(_ x: Int, _ y: Int) throws { try t.type("\u{1b}[<0;\(x + 1);\(y + 1)M\u{1b}[<0;\(x + 1);\(y + 1)m") }
        let tabs = line(screen, 0)
        let x = try #require(tabs.range(of: "2 Jobs").map { tabs.distance(from: tabs.startIndex, to: $0.lowerBound) })
        try click(x + 2, 0)
        try t.waitFor("the jobs view") { line($0, 1).hasPrefix(" Jobs & Queue  [jobs]") && $0.contains("PROG TRY WORKER") }
        // The third job row (the header is row 2), twice: selected, then opened.
        try click(10, 5)
        try t.waitFor("the third row selected") { line($0, 1).contains("  3/") }
        try click(10, 5)
        try t.waitFor("Esc to close", "status:")
        try t.send("Escape")
        try t.waitFor("the detail closed") { !$0.contains("Esc to close") && line($0, 1).hasPrefix(" Jobs & Queue  [jobs]") }

        // Without --mouse the console asks the terminal for no mouse reports (tmux's own reading of what it
        // wrote), so a click sends nothing; with it, SGR reports of presses.
        let plain = try TmuxSession(command: "\(TmuxSession.binary) --seed 5", width: 120, height: 30)
        try plain.waitFor("events ●", "Health")
        #expect(try plain.format("#{mouse_any_flag}") == "0")
        #expect(try t.format("#{mouse_standard_flag}:#{mouse_sgr_flag}") == "1:1")
        try t.send("q")
        #expect(try t.waitForExit() == 0)
        try plain.send("q")
        #expect(try plain.waitForExit() == 0)
    }

    @Test func configCheckNamesFileLineAndKey() throws {
        let dir = NSTemporaryDirectory() + "agentos-check-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let good = dir + "/good.yaml"
        let bad = dir + "/bad.yaml"
        try "theme: light\nkeymap: vim\nreadonly: true\n".write(toFile: good, atomically: true, encoding: .utf8)
        try "theme: light\nwallboard:\n  interval: soon\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let ok = try Spawned.run([TmuxSession.binary, "config", "check", good])
        #expect(ok.status == 0 && ok.stdout == "\(good): ok (theme light, keymap vim)\n", "\(ok)")
        let failed = try Spawned.run([TmuxSession.binary, "config", "check", bad])
        #expect(failed.status == 78 && failed.stderr == "agentos: \(bad):3: wallboard.interval: expected a number, not 'soon'\n", "\(failed)")
        // A theme that does not load is a problem of the file too.
        try "theme: \(dir)/nope.yaml\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let theme = try Spawned.run([TmuxSession.binary, "config", "check", bad])
        #expect(theme.status == 78 && theme.stderr.contains("nope.yaml: cannot read"), "\(theme)")
    }
}
