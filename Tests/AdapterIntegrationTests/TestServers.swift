import AgentOSAdapters
import AgentOSTestSupport
import Foundation
import Testing

/// The servers started by scripts/test.sh. Integration tests never skip: without them they fail
/// and say how to run them.
enum TestServers {
    static func env(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            Issue.record("\(name) is not set: run the integration tests through scripts/test.sh, which starts redis-server and PostgreSQL")
            throw MissingServer(name: name)
        }
        return value
    }

    struct MissingServer: Error { let name: String }

    static func redisURL() throws -> String { try env("AGENTOS_TEST_REDIS_URL") }
    static func postgresURL() throws -> String { try env("AGENTOS_TEST_POSTGRES_URL") }
    /// True when the test command points the tests' PostgreSQL URL at PgBouncer in transaction mode
    /// (`scripts/test.sh`'s pooler pass, or `AGENTOS_TEST_PGBOUNCER=1`).
    static var viaTransactionPooler: Bool {
        ProcessInfo.processInfo.environment["AGENTOS_TEST_POSTGRES_URL"]?.contains("pooler=transaction") ?? false
    }

    static func redis(database: Int = 9) throws -> RedisClient {
        try RedisClient(url: redisURL(), database: database)
    }

    /// A unique name for keys, channels and tables, so tests can run in parallel.
    static func unique(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Polls `condition` until it holds or `seconds` pass. `seconds` is a hang guard, never a
    /// figure: durations belong in scripts/bench.sh.
    static func eventually(_ seconds: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    /// The same for async tests: sleeps without holding a thread of the cooperative pool.
    static func eventuallyAsync(_ seconds: Double = 60, _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try condition()
    }

}

/// A private redis-server for tests that kill and restart it.
final class PrivateRedisServer {
    let port: Int
    let socketPath: String
    let dir: String
    private var process: Process?

    init() throws {
        port = freeLoopbackPort()
        let base = ProcessInfo.processInfo.environment["AGENTOS_TEST_TMPDIR"] ?? NSTemporaryDirectory()
        dir = (base as NSString).appendingPathComponent(TestServers.unique("redis"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        socketPath = (dir as NSString).appendingPathComponent("redis.sock")
        try start()
    }

    deinit { stop() }

    var url: String { "redis://127.0.0.1:\(port)" }

    func start() throws {
        let binary = try TestServers.env("AGENTOS_TEST_REDIS_SERVER")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", dir, "--unixsocket", socketPath, "--unixsocketperm", "700", "--logfile", "redis.log"
        ]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let client = RedisClient(RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: port)))
        let up = TestServers.eventually(60) { (try? client.send("PING"))?.string == "PONG" }
        client.shutdown()
        guard up else { throw RedisError.connectionRefused(endpoint: "private redis-server on \(port) did not start") }
    }

    /// kill -9: no goodbye to the clients.
    func kill() {
        guard let p = process else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    func stop() {
        kill()
    }
}
