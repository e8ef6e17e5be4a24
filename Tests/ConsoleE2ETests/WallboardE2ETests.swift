import AgentOSAdapters
import Foundation
import Testing

/// `--wallboard` and the configuration file, the real binary in tmux.
@Suite("agentos wallboard and configuration end to end in tmux", .serialized)
struct WallboardE2ETests {
    @Test func wallboardCyclesTheViewsOnTheEmbeddedDefault() throws {
        #expect(FileManager.default.isExecutableFile(atPath: TmuxSession.binary), "build the binary first (swift build --build-tests)")
        let state = NSTemporaryDirectory() + "agentos-wb-\(UUID().uuidString.prefix(8))"
        let t = try TmuxSession(command: "XDG_STATE_HOME=\(state) \(TmuxSession.binary) --seed 5 --wallboard --wallboard-interval 2 "
                                + "--wallboard-views dashboard,workers,analytics", width: 100, height: 30)
        var screen = t.waitFor(10, "the dashboard's figures") { $0.contains("Dashboard  1/3") && $0.contains("WORKERS UP") }
        #expect(screen.contains("QUEUED") && screen.contains("WORKERS UP") && screen.contains("READ-ONLY"), "\(screen)")
        #expect(screen.contains("███"), "large figures")
        screen = t.waitFor("Agents & Workers  2/3", seconds: 6)
        #expect(screen.contains("workers up"))
        screen = t.waitFor("Analytics  3/3", seconds: 6)
        #expect(screen.contains("Throughput /min"))
        _ = t.waitFor("Dashboard  1/3", seconds: 6)
        // Action keys and overlays do nothing on a wallboard.
        try t.send(".")
        try t.send("?")
        usleep(500_000)
        screen = t.capture()
        #expect(!screen.contains("Help") && !screen.contains("Actions —"), "\(screen)")
        // Legible at 80x24 too.
        try t.resize(width: 80, height: 24)
        screen = t.waitFor(5, "an 80x24 wallboard") { $0.contains("1/3") || $0.contains("2/3") || $0.contains("3/3") }
        #expect(screen.split(separator: "\n").count <= 24)
        try t.send("q")
        _ = t.waitFor(5, "the console to exit") { _ in !t.isAlive }
        let log = (try? String(contentsOfFile: state + "/agentos/agentos.log", encoding: .utf8)) ?? ""
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
        let migrate = try Spawned.run([bin, "migrate", "--postgres", pgURL])
        #expect(migrate.status == 0, "migrate: \(migrate.stderr)")

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
        var screen = ui.waitFor("events ●", seconds: 30)
        #expect(screen.contains("PRODUCTION") && screen.contains("redis ●") && screen.contains("QUEUED") && !screen.contains("STALE"), "\(screen)")

        redis.stop()
        screen = ui.waitFor("STALE", seconds: 20)
        #expect(screen.contains("QUEUED"), "the last figures stay up: \(screen)")
        // Still running through the outage: the banner counts on.
        screen = ui.waitFor(10, "the outage to be counted") { $0.contains("STALE") && $0.contains("redis ✗") && ($0.contains("down 3s") || $0.contains("down 4s") || $0.contains("down 5s")) }

        try redis.start()
        screen = ui.waitFor(30, "the banner to go") { !$0.contains("STALE") && $0.contains("events ●") }
        try ui.send("q")
        _ = ui.waitFor(10, "the console to exit") { _ in !ui.isAlive }

        let log = (try? String(contentsOfFile: home + "/state/agentos/agentos.log", encoding: .utf8)) ?? ""
        #expect(log.contains("console starting") && log.contains("mode=live"), "\(log)")
        #expect(log.contains("<secret from \(config):3>"), "the debug record of the settings names the password's source")
        #expect(!log.contains(password), "the password is in the log")
        let raw = String(decoding: FileManager.default.contents(atPath: rawPath) ?? Data(), as: UTF8.self)
        #expect(raw.count > 1_000 && !raw.contains(password), "the password reached the terminal")
    }

    /// `--mouse`: xterm's SGR mouse reports (what tmux forwards from a real mouse) reach the console.
    @Test func mouseClicksSwitchTabsAndOpenRows() throws {
        // A quiet fleet (--rate 0.05): rows that move between the two clicks would make the second one select
        // another row instead of opening (seen under load in CI).
        let t = try TmuxSession(command: "\(TmuxSession.binary) --seed 5 --rate 0.05 --mouse", width: 120, height: 30)
        var screen = t.waitFor("events ●")
        func click(_ x: Int, _ y: Int) throws { try t.type("\u{1b}[<0;\(x + 1);\(y + 1)M\u{1b}[<0;\(x + 1);\(y + 1)m") }
        let tabs = String(screen.split(separator: "\n").first ?? "")
        let x = try #require(tabs.range(of: "2 Jobs").map { tabs.distance(from: tabs.startIndex, to: $0.lowerBound) })
        try click(x + 2, 0)
        screen = t.waitFor("[jobs]")
        // The third job row (the header is row 2), twice: selected, then opened.
        try click(10, 5)
        screen = t.waitFor("3/")
        try click(10, 5)
        screen = t.waitFor("Esc to close")
        #expect(screen.contains("status:"), "\(screen)")
        try t.send("Escape")
        // Without --mouse the same bytes are no clicks: the console stays where it is.
        let plain = try TmuxSession(command: "\(TmuxSession.binary) --seed 5", width: 120, height: 30)
        _ = plain.waitFor("events ●")
        try plain.type("\u{1b}[<0;\(x + 3);1M\u{1b}[<0;\(x + 3);1m")
        usleep(500_000)
        #expect(!plain.capture().contains("[jobs]"))
        try plain.send("q")
        try t.send("q")
    }

    @Test func configCheckNamesFileLineAndKey() throws {
        let dir = NSTemporaryDirectory() + "agentos-check-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let good = dir + "/good.yaml", bad = dir + "/bad.yaml"
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
