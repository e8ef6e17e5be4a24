import AgentOSAdapters
import AgentOSTestSupport
import Foundation
import Testing

/// Runs a program with posix_spawn (not Foundation.Process, see Tmux.swift): the exit status and
/// what it wrote to stdout and stderr, or keeps it running for `kill`.
struct Spawned {
    let pid: pid_t

    /// Starts `argv` in the background, output discarded.
    static func start(_ argv: [String], environment: [String: String] = [:]) throws -> Spawned {
        Spawned(pid: try spawn(argv, environment: environment, stdout: "/dev/null", stderr: "/dev/null"))
    }

    /// Runs `argv` to its end.
    static func run(_ argv: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let out = NSTemporaryDirectory() + "spawn-out-\(UUID().uuidString)"
        let err = out + ".err"
        defer {
            unlink(out)
            unlink(err)
        }
        let pid = try spawn(argv, environment: environment, stdout: out, stderr: err)
        let status = wait(pid)
        func read(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return (status, read(out), read(err))
    }

    /// SIGKILL and reap.
    func kill() {
        Foundation.kill(pid, SIGKILL)
        _ = Self.wait(pid)
    }

    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }

    static func spawn(_ argv: [String], environment: [String: String], stdout: String, stderr: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        return try PosixSpawn.spawn(argv, environment: environment, actions: &actions)
    }
}

/// A redis-server of the test's own (it is stopped and restarted, or its clients killed), with a password or none.
final class TestRedis {
    let port: Int
    let password: String?
    let dir: String
    private var server: Spawned?

    init(password: String?) throws {
        self.password = password
        port = freeLoopbackPort()
        let base = ProcessInfo.processInfo.environment["AGENTOS_TEST_TMPDIR"] ?? NSTemporaryDirectory()
        dir = (base as NSString).appendingPathComponent("e2e-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try start()
    }

    deinit { stop() }

    /// The URL to it, the password left out (given to the program elsewhere).
    var url: String { "redis://127.0.0.1:\(port)/0" }

    var binary: String { ProcessInfo.processInfo.environment["AGENTOS_TEST_REDIS_SERVER"] ?? "redis-server" }

    func start() throws {
        let auth = password.map { ["--requirepass", $0] } ?? []
        server = try Spawned.start(
            [
                binary, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", dir, "--logfile", "redis.log"
            ] + auth)
        let cliAuth = password.map { ["--no-auth-warning", "-a", $0] } ?? []
        try waitUntil("redis-server on \(port) answering PING") {
            try Spawned.run(["redis-cli", "-p", String(port)] + cliAuth + ["ping"]).stdout.contains("PONG")
        }
    }

    func stop() {
        server?.kill()
        server = nil
    }
}
