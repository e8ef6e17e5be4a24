import AgentOSAdapters
import AgentOSCore
import AgentOSMetrics
import ArgumentParser
import Dispatch
import FlyingFox
import Foundation

/// The Prometheus exporter of an AgentOS deployment: one per deployment, reading the shared stores
/// (PostgreSQL and Redis) that every console's ActionDispatcher writes. Its own executable, so the
/// console binary carries no HTTP server (`agentos metrics …` runs this one).
@main
struct AgentOSMetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentos-metrics",
        abstract: "Prometheus metrics of an AgentOS deployment, read from its Redis and PostgreSQL.",
        version: AgentOSVersion.string,
        subcommands: [Serve.self, Print.self],
        defaultSubcommand: Serve.self
    )
}

struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("PostgreSQL URL (default: AGENTOS_POSTGRES_URL).", valueName: "url"))
    var postgres: String?

    @Option(name: .long, help: ArgumentHelp("Redis URL (default: AGENTOS_REDIS_URL).", valueName: "url"))
    var redis: String?

    @Option(help: "Key and channel namespace (default: AGENTOS_NAMESPACE, else agentos).")
    var namespace: String?

    @Option(name: .long, help: ArgumentHelp("kombu global_keyprefix of the broker lists in DB0.", valueName: "prefix"))
    var brokerPrefix: String = ""

    func collector() throws -> StoreCollector {
        let env = ProcessInfo.processInfo.environment
        // Any local user reads a command line (/proc/PID/cmdline): passwords come from the environment.
        for (flag, value, name) in [("--redis", redis, "AGENTOS_REDIS_PASSWORD"), ("--postgres", postgres, "AGENTOS_POSTGRES_PASSWORD")] {
            if let value, SecretRedactor.containsPassword(value) {
                throw ValidationError("\(flag) \(SecretRedactor.redact(value)) holds a password: give the URL without it and the password in \(name)")
            }
        }
        guard let pg = postgres ?? env["AGENTOS_POSTGRES_URL"], !pg.isEmpty else {
            throw ValidationError("--postgres URL (or AGENTOS_POSTGRES_URL) is required")
        }
        guard let rd = redis ?? env["AGENTOS_REDIS_URL"], !rd.isEmpty else { throw ValidationError("--redis URL (or AGENTOS_REDIS_URL) is required") }
        var config: RedisConfiguration
        do { config = try RedisConfiguration(url: rd) } catch { throw ValidationError("--redis: \(error)") }
        config.clientName = "agentos-metrics"
        // Passwords from the environment (as for the console), never on the command line.
        if let password = env["AGENTOS_REDIS_PASSWORD"], !password.isEmpty, config.password == nil { config.password = password }
        if let password = env["AGENTOS_POSTGRES_PASSWORD"], !password.isEmpty, env["PGPASSWORD"] == nil { setenv("PGPASSWORD", password, 1) }
        let ns = Namespace(namespace ?? env["AGENTOS_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? "agentos", brokerPrefix: brokerPrefix)
        return StoreCollector(postgres: PostgresClient(pg), redis: RedisClient(config), namespace: ns)
    }
}

/// Runs blocking store reads off the cooperative pool.
enum Blocking {
    static let queue = DispatchQueue(label: "agentos-metrics.collect")
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in queue.async { continuation.resume(returning: body()) } }
    }
}

func warn(_ text: String) {
    FileHandle.standardError.write(Data("agentos-metrics: \(text)\n".utf8))
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve /metrics over HTTP, or write node_exporter textfiles with --textfile.")

    @OptionGroup var stores: StoreOptions

    @Option(help: ArgumentHelp("Address to listen on: HOST:PORT (IPv4, [IPv6] or localhost).", valueName: "host:port"))
    var listen: String = "127.0.0.1:9464"

    @Option(help: ArgumentHelp("Write DIR/agentos.prom for node_exporter's textfile collector instead of serving HTTP.", valueName: "dir"))
    var textfile: String?

    @Option(help: "Seconds between textfile writes.")
    var interval: Double = 15

    @Flag(help: "With --textfile: write once and exit (for cron).")
    var once = false

    func validate() throws {
        guard interval >= 1 else { throw ValidationError("--interval must be at least 1 second") }
        if once && textfile == nil { throw ValidationError("--once needs --textfile") }
        if textfile == nil { _ = try Self.address(listen) }
    }

    func run() async throws {
        let collector = try stores.collector()
        if let textfile {
            try await writeTextfiles(collector, URL(fileURLWithPath: textfile))
        } else {
            try await serve(collector)
        }
    }

    func writeTextfiles(_ collector: StoreCollector, _ dir: URL) async throws {
        while true {
            let report = await Blocking.run { collector.collect() }
            for e in report.errors { warn(e) }
            do {
                try Textfile.write(collector.exposition(), to: dir)
            } catch {
                warn("\(error)")
                if once { throw ExitCode(74) }
            }
            if once { return }
            try await Task.sleep(for: .seconds(interval))
        }
    }

    func serve(_ collector: StoreCollector) async throws {
        let address = try Self.address(listen)
        let server: HTTPServer
        switch address {
        case .v4(let ip, let port): server = HTTPServer(address: try .inet(ip4: ip, port: port), logger: .disabled)
        case .v6(let ip, let port): server = HTTPServer(address: try .inet6(ip6: ip, port: port), logger: .disabled)
        }
        await server.appendRoute("GET /metrics") { _ in
            let (report, text) = await Blocking.run { (collector.collect(), collector.exposition()) }
            for e in report.errors { warn(e) }
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: Data(text.utf8))
        }
        await server.appendRoute("GET /healthz") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain"], body: Data("ok\n".utf8))
        }
        await server.appendRoute("GET /") { _ in
            HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: Data("<html><body><h1>agentos-metrics</h1><p><a href=\"/metrics\">/metrics</a></p></body></html>\n".utf8))
        }
        let listening = Task {
            try await server.waitUntilListening(timeout: 10)
            // The address the socket has, not the one asked for: `--listen 127.0.0.1:0` takes a free port.
            let shown: String
            switch await server.listeningAddress {
            case .ip4(let ip, let port): shown = "\(ip):\(port)"
            case .ip6(let ip, let port): shown = "[\(ip)]:\(port)"
            default: shown = listen
            }
            warn("listening on http://\(shown)/metrics")
        }
        do {
            try await server.run()
        } catch {
            listening.cancel()
            warn("cannot serve on \(listen): \(error)")
            throw ExitCode(69)
        }
    }

    enum Address: Equatable {
        case v4(String, UInt16)
        case v6(String, UInt16)
    }

    /// `127.0.0.1:9464`, `localhost:9464`, `[::1]:9464`, `:9464` (all IPv4 interfaces).
    static func address(_ text: String) throws -> Address {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw ValidationError("--listen \(text): expected HOST:PORT")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { return .v6(String(host.dropFirst().dropLast()), port) }
        if host.isEmpty { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        guard host.split(separator: ".").count == 4, host.split(separator: ".").allSatisfy({ UInt8($0) != nil }) else {
            throw ValidationError("--listen \(text): HOST must be an IPv4 address, [IPv6] or localhost")
        }
        return .v4(host, port)
    }
}

struct Print: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Collect once and print the exposition to standard output.")

    @OptionGroup var stores: StoreOptions

    func run() async throws {
        let collector = try stores.collector()
        let report = await Blocking.run { collector.collect() }
        for e in report.errors { warn(e) }
        print(collector.exposition(), terminator: "")
        if !report.errors.isEmpty { throw ExitCode(69) }
    }
}
