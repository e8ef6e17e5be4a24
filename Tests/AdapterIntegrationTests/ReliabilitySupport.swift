import AgentOSAdapters
import AgentOSCore
import AgentOSTestSupport
import Foundation
import Synchronization
import Testing

/// The reliability checks of docs/RELIABILITY.md: a fast subset runs in every `scripts/test.sh`;
/// `scripts/reliability.sh` sets AGENTOS_RELIABILITY_FULL=1 for the full sizes and collects the
/// figures each check writes (one JSON line) into AGENTOS_RELIABILITY_FIGURES.
enum Reliability {
    static var full: Bool { ProcessInfo.processInfo.environment["AGENTOS_RELIABILITY_FULL"] == "1" }

    /// `fast` in the normal suite, `full` under scripts/reliability.sh.
    static func size(fast: Int, full: Int) -> Int { Self.full ? full : fast }

    /// What one check did and saw.
    struct Figures: Encodable {
        var check: Int
        var test: String
        var attempted = 0
        var executed = 0
        var refused = 0
        var auditRows = 0
        var replays = 0
        var escapes = 0
        var crashes = 0
        /// The headline invariants of docs/RELIABILITY.md, each 0 when the check holds.
        var unaudited = 0
        var doubleExecutions = 0
        var lostAuditRows = 0
        var notes = ""
        /// Set by `record`: every `expect` held (or, for a check without any, what it set itself).
        var ok = false
        var seconds = 0.0
        var full = Reliability.full
        private var expectations = 0, failures = 0

        private enum CodingKeys: String, CodingKey {
            case check, test, attempted, executed, refused, auditRows, replays, escapes, crashes, unaudited
            case doubleExecutions, lostAuditRows, notes, ok, seconds, full
        }

        init(check: Int, test: String) {
            self.check = check
            self.test = test
        }

        /// `#expect` that also counts in the figures' verdict, so the recorded `ok` is the test's own.
        mutating func expect(_ condition: Bool, _ comment: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
            expectations += 1
            guard !condition else { return }
            failures += 1
            Issue.record(Comment(rawValue: comment()), sourceLocation: sourceLocation)
        }

        var verdict: Bool { expectations > 0 ? failures == 0 : ok }
    }

    /// Appends the figures to AGENTOS_RELIABILITY_FIGURES (when set).
    static func record(_ figures: Figures, started: Date) {
        var f = figures
        f.ok = f.verdict
        f.seconds = (Date().timeIntervalSince(started) * 10).rounded() / 10
        guard ReliabilityFiguresFile.isEnabled else { return }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(f) else { return }
        ReliabilityFiguresFile.append(line: data)
    }

    /// The `agentos` built beside this test bundle, else AGENTOS_BINARY, else .build/debug/agentos.
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["AGENTOS_BINARY"], !b.isEmpty { return b }
        let beside = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("agentos").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/agentos").path
    }

    static var tmp: String { ProcessInfo.processInfo.environment["AGENTOS_TEST_TMPDIR"] ?? NSTemporaryDirectory() }
}

/// Wraps the live executor and counts what reaches it, per request.
final class CountingExecutor: ActionExecutor, @unchecked Sendable {
    let inner: ActionExecutor
    private let seen = Mutex<[UUID]>([])
    init(_ inner: ActionExecutor) { self.inner = inner }

    func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        seen.withLock { $0.append(call.request.requestID) }
        return try inner.execute(call)
    }
    func jobOwner(_ id: String) throws(ActionFailure) -> String? { try inner.jobOwner(id) }
    func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? { try inner.impact(spec, payload) }

    var executed: [UUID] { seen.withLock { $0 } }
    var count: Int { seen.withLock { $0.count } }
}

extension ActionDispatcher {
    /// The same dispatcher with its executor wrapped to count executions.
    func counting(options: ActionDispatcher.Options = .init()) -> (ActionDispatcher, CountingExecutor) {
        var ports = self.ports
        let counter = CountingExecutor(ports.executor)
        ports.executor = counter
        return (ActionDispatcher(ports, options: options), counter)
    }
}

/// Child processes through posix_spawn (Foundation.Process hangs in some cases here).
enum Child {
    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts `argv`; stdout and stderr go to the given files.
    static func spawn(
        _ argv: [String], environment: [String: String] = [:], replacing: Bool = false,
        stdout: String = "/dev/null", stderr: String = "/dev/null"
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        return try PosixSpawn.spawn(argv, environment: environment, replacingEnvironment: replacing, actions: &actions)
    }

    /// The exit status (-1 when killed by a signal).
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }

    /// Runs `argv` to its end: status, stdout, stderr.
    static func run(_ argv: [String], environment: [String: String] = [:], replacing: Bool = false) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let out = (Reliability.tmp as NSString).appendingPathComponent("child-\(UUID().uuidString).out")
        let err = out + ".err"
        defer {
            unlink(out)
            unlink(err)
        }
        let pid = try spawn(argv, environment: environment, replacing: replacing, stdout: out, stderr: err)
        let status = wait(pid)
        func read(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return (status, read(out), read(err))
    }

    /// Runs a shell command line; throws with its output when it fails.
    @discardableResult
    static func sh(_ command: String) throws -> String {
        let r = try run(["/bin/sh", "-c", command])
        guard r.status == 0 else { throw Failed(description: "`\(command)` exited \(r.status): \(r.stderr)\(r.stdout)") }
        return r.stdout
    }
}

/// A PostgreSQL cluster of the test's own (initdb into the test temp dir), for checks that stop
/// or kill it; never the shared server of scripts/test.sh.
final class PrivatePostgres: @unchecked Sendable {
    let port: Int
    let dir: String
    let bin: String
    let osUser: String

    init() throws {
        bin = try TestServers.env("AGENTOS_TEST_PG_BIN")
        osUser = ProcessInfo.processInfo.environment["AGENTOS_TEST_PG_OS_USER"] ?? "postgres"
        port = freeLoopbackPort()
        dir = (Reliability.tmp as NSString).appendingPathComponent(TestServers.unique("pg"))
        try Self.makeDirectories(dir, owner: osUser)
        try asOwner("'\(bin)/initdb' -D '\(dir)/data' -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >'\(dir)/initdb.log' 2>&1")
        try start()
        try asOwner("'\(bin)/createdb' -h 127.0.0.1 -p \(port) -U postgres agentos")
    }

    /// A streaming standby of `primary` (pg_basebackup -R: it follows the primary until promoted).
    init(standbyOf primary: PrivatePostgres) throws {
        bin = primary.bin
        osUser = primary.osUser
        port = freeLoopbackPort()
        dir = (Reliability.tmp as NSString).appendingPathComponent(TestServers.unique("standby"))
        try Self.makeDirectories(dir, owner: osUser)
        try asOwner(
            "rmdir '\(dir)/data' && '\(bin)/pg_basebackup' -h 127.0.0.1 -p \(primary.port) -U postgres -D '\(dir)/data' -R -X stream --checkpoint=fast"
        )
        try start()
    }

    private static func makeDirectories(_ dir: String, owner: String) throws {
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/sock", withIntermediateDirectories: true)
        chmod(dir + "/data", 0o700)
        if getuid() == 0 { try Child.sh("chown -R \(owner) '\(dir)'") }
    }

    /// `pg_ctl promote`: the standby becomes a primary (waits until it accepts writes).
    func promote() throws { try asOwner("'\(bin)/pg_ctl' -D '\(dir)/data' -w -t 60 promote >/dev/null") }

    deinit { _ = try? asOwner("'\(bin)/pg_ctl' -D '\(dir)/data' -m immediate -w -t 10 stop >/dev/null 2>&1") }

    var url: String { "postgresql://postgres@127.0.0.1:\(port)/agentos?connect_timeout=2" }

    /// Runs a shell command as the cluster's OS user, from the cluster's directory.
    @discardableResult
    func asOwner(_ command: String) throws -> String {
        if getuid() == 0 {
            return try Child.sh("cd '\(dir)' && runuser -u \(osUser) -- /bin/sh -c \"\(command.replacingOccurrences(of: "\"", with: "\\\""))\"")
        }
        return try Child.sh("cd '\(dir)' && \(command)")
    }

    func start() throws {
        let opts = "-p \(port) -k \(dir)/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        try asOwner("'\(bin)/pg_ctl' -D '\(dir)/data' -o '\(opts)' -l '\(dir)/pg.log' -w -t 60 start >/dev/null")
    }

    /// `pg_ctl stop -m immediate`: every backend is killed, no checkpoint (a crash, recovered on start).
    func kill() throws { try asOwner("'\(bin)/pg_ctl' -D '\(dir)/data' -m immediate -w -t 30 stop >/dev/null") }

    func restart() throws {
        try start()
    }
}

extension PostgresClient {
    /// Migrates a fresh database.
    static func migrated(_ url: String) throws -> PostgresClient {
        let postgres = PostgresClient(url)
        _ = try postgres.withConnection { try Migrator().migrate($0) }
        return postgres
    }
}

/// The live dispatcher over given servers, in a namespace and data directory of its own.
final class ReliabilityStack: @unchecked Sendable {
    let postgres: PostgresClient
    let redis: RedisClient
    let ns: Namespace
    let dataDir: URL
    let cache: RedisSnapshotCache
    let bus: RedisEventBus
    let dataManager: AdminDataManager
    let actions: LiveActions

    init(
        postgres: PostgresClient, postgresURL: String, redis: RedisClient,
        permissions: PermissionSource = StaticPermissions(fallback: Grant(role: .admin)),
        options: ActionDispatcher.Options = .init(), lostCommitWaitSeconds: Double = 15
    ) throws {
        self.postgres = postgres
        self.redis = redis
        let n = TestServers.unique("rel")
        ns = Namespace(n, brokerPrefix: n + ":")
        dataDir = URL(fileURLWithPath: Reliability.tmp).appendingPathComponent(TestServers.unique("reldata"))
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        cache = RedisSnapshotCache(redis: redis, namespace: ns)
        bus = RedisEventBus(redis: redis, namespace: ns, source: "reliability")
        dataManager = AdminDataManager(cache: cache, source: PostgresSnapshotSource(postgres: postgres, redis: redis, namespace: ns), bus: bus)
        actions = try LiveActions(
            redis: redis, postgres: postgres, namespace: ns, dataDirectory: dataDir, postgresURL: postgresURL,
            dataManager: dataManager, cache: cache, bus: bus, options: options, permissions: permissions,
            lostCommitWaitSeconds: lostCommitWaitSeconds)
    }

    func close() {
        actions.history.drain()
        try? FileManager.default.removeItem(at: dataDir)
    }

    /// (phase, outcome) of every audit row, by request id.
    func auditRows() throws -> [UUID: [(phase: String, outcome: String?)]] {
        var rows: [UUID: [(phase: String, outcome: String?)]] = [:]
        for row in try postgres.query("SELECT request_id, phase, outcome FROM audit_logs ORDER BY seq").rows {
            rows[try row.get("request_id", as: UUID.self), default: []].append(
                (try row.get("phase", as: String.self), try row.get("outcome", as: String?.self)))
        }
        return rows
    }
}
