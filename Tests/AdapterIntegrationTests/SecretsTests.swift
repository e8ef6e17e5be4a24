import AgentOSAdapters
import AgentOSCore
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Passwords stay off command lines (issue 18, item 1): pg_dump's argv, the flags of `agentos`,
/// and the headless commands read the same settings as the console (the configuration file).
@Suite struct SecretsTests {
    /// Reads every /proc/*/cmdline in a tight loop until stopped: how often it saw the secret, and
    /// each pg_dump it saw with the passfile its environment named.
    final class ProcWatcher: Sendable {
        struct Seen {
            var leaks: [String] = []
            var pgDumps: [Int32: String] = [:]
            var environLeaks = 0
            var scans = 0
        }
        let secret: String
        let seen = Mutex(Seen())
        let stopped = Atomic(false)
        let finished = DispatchSemaphore(value: 0)

        init(secret: String) { self.secret = secret }

        func start() {
            Thread.detachNewThread { [self] in
                while !stopped.load(ordering: .relaxed) { scan() }
                finished.signal()
            }
        }

        func stop() -> Seen {
            stopped.store(true, ordering: .relaxed)
            finished.wait()
            return seen.withLock { $0 }
        }

        private func scan() {
            let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
            for pid in pids {
                guard let cmdline = Self.read("/proc/\(pid)/cmdline"), !cmdline.isEmpty else { continue }
                let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                let text = args.joined(separator: " ")
                if text.contains(secret) { seen.withLock { $0.leaks.append(text) } }
                guard args.first.map({ ($0 as NSString).lastPathComponent }) == "pg_dump" else { continue }
                // Its environment (ours to read: same user): the passfile, and no PGPASSWORD with the secret.
                let environ = (Self.read("/proc/\(pid)/environ") ?? []).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                let passfile = environ.first { $0.hasPrefix("PGPASSFILE=") }.map { String($0.dropFirst(11)) } ?? ""
                let leaked = environ.contains { $0.contains(secret) }
                seen.withLock {
                    if $0.pgDumps[pid] == nil { $0.pgDumps[pid] = passfile }
                    if leaked { $0.environLeaks += 1 }
                }
            }
            seen.withLock { $0.scans += 1 }
        }

        /// /proc files say size 0: read to the end.
        static func read(_ path: String) -> [UInt8]? {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                out += buffer[0..<n]
            }
            return out
        }
    }

    /// database.backup with a password in the console's connection string: pg_dump is held on a lock
    /// while the watcher reads every command line; the password is on none of them (nor in pg_dump's
    /// environment), its passfile is 0600 while pg_dump runs and gone afterwards, and the dump is good.
    @Test func aBackupNeverPutsThePasswordOnACommandLine() throws {
        // The server's real password (it authenticates with scram-sha-256): pg_dump must get it to work.
        let secret = try String(contentsOfFile: try TestServers.env("AGENTOS_TEST_PG_PASSWORD_FILE"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let fx = try ActionFixture(seed: false, postgresPassword: secret)
        defer { fx.close() }
        // pg_dump waits for this lock, so it stays in the process list until the watcher has seen it.
        let holder = try PostgresConnection(fx.backend.url)
        try holder.execute("BEGIN")
        try holder.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        let watcher = ProcWatcher(secret: secret)
        watcher.start()
        let report = Mutex<ActionReport?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let r = fx.run("database.backup")
            report.withLock { $0 = r }
            done.signal()
        }
        let sawPgDump = TestServers.eventually(60) { !watcher.seen.withLock { $0.pgDumps.isEmpty } }
        // Scans made while pg_dump waits: every one of them read its command line.
        let scansBefore = watcher.seen.withLock { $0.scans }
        let scannedWhileRunning = TestServers.eventually(60) { watcher.seen.withLock { $0.scans } >= scansBefore + 20 }
        let passfile = watcher.seen.withLock { $0.pgDumps.values.first } ?? ""
        let mode = (try? FileManager.default.attributesOfItem(atPath: passfile))?[.posixPermissions] as? Int
        try holder.execute("ROLLBACK")
        done.wait()
        let seen = watcher.stop()
        #expect(sawPgDump && scannedWhileRunning, "the watcher never saw pg_dump running (\(seen.scans) scans)")
        #expect(seen.leaks.isEmpty, "the password on a command line: \(seen.leaks.prefix(3).map { SecretRedactor.redact($0) })")
        #expect(seen.environLeaks == 0, "the password in pg_dump's environment")
        #expect(!passfile.isEmpty && mode == 0o600, "pg_dump's PGPASSFILE '\(passfile)', mode \(mode.map { String($0, radix: 8) } ?? "-")")
        #expect(!FileManager.default.fileExists(atPath: (passfile as NSString).deletingLastPathComponent), "the passfile's directory is left")
        let r = try #require(report.withLock { $0 })
        try fx.expectSuccess(r)
        #expect(try Data(contentsOf: URL(fileURLWithPath: try fx.file(r))).prefix(5) == Data("PGDMP".utf8))
    }

    /// An environment of the test's own: no operator's configuration file gets in.
    static func isolated() -> [String: String] {
        ["XDG_CONFIG_HOME": NSTemporaryDirectory() + "agentos-secrets-\(UUID().uuidString.prefix(8))", "AGENTOS_CONFIG": ""]
    }

    /// A password on `--redis`/`--postgres` is refused (exit 64) before anything is contacted, the
    /// message naming where to put it instead and never showing it.
    @Test func aPasswordOnAFlagIsRefused() throws {
        let secret = "flag-secret-\(UUID().uuidString.prefix(6))"
        for (argv, variable) in [
            (["console", "--postgres", "postgres://u:\(secret)@127.0.0.1:1/db", "--redis", "redis://127.0.0.1:1"], "AGENTOS_POSTGRES_PASSWORD"),
            (["console", "--redis", "redis://:\(secret)@127.0.0.1:1/0", "--postgres", "postgresql://u@127.0.0.1:1/db"], "AGENTOS_REDIS_PASSWORD"),
            (
                ["snapshot", "--postgres", "host=127.0.0.1 port=1 password='\(secret) x'", "--redis", "redis://127.0.0.1:1"],
                "AGENTOS_POSTGRES_PASSWORD"
            ),
            (["check", "--postgres", "postgresql://u@127.0.0.1:1/db?sslmode=disable&password=\(secret)"], "AGENTOS_POSTGRES_PASSWORD"),
            (["can-i", "job.cancel", "--redis", "redis://\(secret)@127.0.0.1:1"], "AGENTOS_REDIS_PASSWORD"),
            (["migrate", "--postgres", "postgresql://u@127.0.0.1:1/db?password=\(secret)"], "AGENTOS_POSTGRES_PASSWORD")
        ] {
            let r = try Child.run([Reliability.binary] + argv, environment: Self.isolated())
            #expect(r.status == 64, "\(argv[0]) \(argv[1]): exit \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(variable) && r.stderr.contains("configuration file") && r.stderr.contains("holds a password"), "\(r.stderr)")
            #expect(!r.stderr.contains(secret) && !r.stdout.contains(secret), "\(r.stderr)")
        }
        // The exporter, which has no configuration file, likewise.
        let metrics = try Child.run(
            [Binaries.built("agentos-metrics"), "print", "--postgres", "postgres://u:\(secret)@127.0.0.1:1/db", "--redis", "redis://127.0.0.1:1"])
        #expect(metrics.status == 64 && metrics.stderr.contains("AGENTOS_POSTGRES_PASSWORD") && !metrics.stderr.contains(secret), "\(metrics)")
    }

    /// The headless commands read the configuration file as the console does: with only `--config`,
    /// `snapshot`, `can-i` and `check` reach the live backend the file names. Readable by others while
    /// it holds a password, the file is refused (exit 78) naming it, its mode and the fix.
    @Test func theHeadlessCommandsReadTheConfigurationFile() throws {
        let fx = try ActionFixture(seed: false)
        defer { fx.close() }
        let me = String(cString: getpwuid(geteuid())!.pointee.pw_name)
        try fx.db.query("INSERT INTO user_permissions (user_id, role) VALUES ($1, 'readonly')", [me])
        let dir = NSTemporaryDirectory() + "agentos-secrets-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/config.yaml"
        // The server's real password (scram-sha-256): the file's password is what lets the commands in.
        let password = try String(contentsOfFile: try TestServers.env("AGENTOS_TEST_PG_PASSWORD_FILE"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try """
        redis: \(try TestServers.redisURL())
        postgres:
          url: \(fx.backend.url)
          password: "\(password)"
        namespace: \(fx.backend.namespace.prefix)
        broker_prefix: "\(fx.backend.namespace.brokerPrefix)"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config)

        let snapshot = try Child.run([Reliability.binary, "snapshot", "--json", "--config", config], environment: Self.isolated())
        let json = try JSONSerialization.jsonObject(with: Data(snapshot.stdout.utf8)) as? [String: Any]
        #expect(snapshot.status == 0 && json?["source"] as? String == "live", "\(snapshot.status) \(snapshot.stderr)")
        // Live: the readonly row decides (embedded, the operator would be an admin and may).
        let canI = try Child.run([Reliability.binary, "can-i", "job.cancel", "--config", config], environment: Self.isolated())
        #expect(canI.status == 3 && canI.stdout.hasPrefix("no"), "\(canI)")
        let check = try Child.run([Reliability.binary, "check", "--config", config], environment: Self.isolated())
        #expect(check.status == 0 && check.stdout.contains("redis     ok") && check.stdout.contains("postgres  ok"), "\(check)")
        // Through AGENTOS_CONFIG as well.
        var viaEnv = Self.isolated()
        viaEnv["AGENTOS_CONFIG"] = config
        #expect(try Child.run([Reliability.binary, "can-i", "job.cancel"], environment: viaEnv).status == 3)

        // Readable by others while it holds a password: refused before any connection.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: config)
        for command in [["snapshot", "--json"], ["can-i", "job.cancel"], ["check"], ["console"]] {
            let r = try Child.run([Reliability.binary] + command + ["--config", config], environment: Self.isolated())
            #expect(r.status == 78, "\(command[0]): exit \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(config) && r.stderr.contains("0644") && r.stderr.contains("chmod 600 \(config)"), "\(r.stderr)")
            #expect(!r.stderr.contains(password))
        }
    }
}
