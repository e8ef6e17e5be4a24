import AgentOSAdapters
import AgentOSCore
import AgentOSMetrics
import AgentOSTestSupport
import Foundation
import Testing

/// The scraped text format: sample → value (`name{a="b",c="d"}` as written by the exporter).
struct Exposition {
    let text: String
    let samples: [String: Double]

    init(_ text: String) {
        self.text = text
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        self.samples = samples
    }

    /// The value of `name` with exactly these labels (nil: absent).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { key, _ in Self.parse(key) == (name, labels) }?.value
    }

    /// The sum over every label set of `name` (0: absent).
    func sum(_ name: String, where match: [String: String] = [:]) -> Double {
        samples.filter { key, _ in
            let (n, labels) = Self.parse(key)
            return n == name && match.allSatisfy { labels[$0.key] == $0.value }
        }.values.reduce(0, +)
    }

    var names: Set<String> { Set(samples.keys.map { Self.parse($0).0 }) }

    static func parse(_ key: String) -> (String, [String: String]) {
        guard let brace = key.firstIndex(of: "{") else { return (key, [:]) }
        var labels: [String: String] = [:]
        let body = key[key.index(after: brace)..<key.index(before: key.endIndex)]
        let regex = try! NSRegularExpression(pattern: #"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)""#)
        let s = String(body) as NSString
        for m in regex.matches(in: String(body), range: NSRange(location: 0, length: s.length)) {
            labels[s.substring(with: m.range(at: 1))] = s.substring(with: m.range(at: 2))
        }
        return (String(key[..<brace]), labels)
    }
}

/// A child process of the test, stopped (TERM, then KILL) when the test ends.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let log: URL

    init(_ path: String, _ arguments: [String], log: URL) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

enum Binaries {
    /// A program built beside this test bundle (any --scratch-path).
    static func built(_ name: String) -> String {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for dir in [runner.deletingLastPathComponent(), runner.deletingLastPathComponent().deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/\(name)").path
    }

    /// A system program (promtool, prometheus): the tests fail, never skip, without it.
    static func system(_ name: String) throws -> String {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        Issue.record("\(name) is not installed: scripts/test.sh installs Debian's prometheus package")
        throw TestServers.MissingServer(name: name)
    }

    static func run(_ path: String, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// HTTP/1.0 GETs over a plain socket with a real deadline, on a thread of their own (not
/// URLSession: under the full suite on two cores its requests to a listening exporter sometimes
/// never completed, and a blocking wait must not hold one of the cooperative pool's two threads).
enum HTTP {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func get(_ url: String, timeout: Double = 10) async throws -> (Int, String) {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<(Int, String), any Error>) in
            Thread.detachNewThread { done.resume(with: Result { try blockingGet(url, timeout: timeout) }) }
        }
    }

    /// Polls `url` until it answers 200 (or `seconds` pass): its body, else nil and the last failure.
    static func waitFor(_ url: String, seconds: Double = 20) async -> (body: String?, last: String) {
        let deadline = Date().addingTimeInterval(seconds)
        var last = "no attempt"
        while Date() < deadline {
            do {
                let (status, body) = try await get(url, timeout: max(1, deadline.timeIntervalSinceNow))
                if status == 200 { return (body, "") }
                last = "status \(status)"
            } catch {
                last = "\(error)"
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return (nil, last)
    }

    static func blockingGet(_ url: String, timeout: Double) throws -> (Int, String) {
        guard let u = URL(string: url), let host = u.host, let port = u.port else { throw Failure(description: "bad URL \(url)") }
        let deadline = Date().addingTimeInterval(timeout)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw Failure(description: "not an IPv4 address: \(host)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect \(host):\(port): errno \(errno)") }
        let target = u.path.isEmpty ? "/" : u.path + (u.query.map { "?" + $0 } ?? "")
        let request = Array("GET \(target) HTTP/1.0\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw Failure(description: "send: errno \(errno)")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw Failure(description: "no complete answer from \(url) within \(timeout) s (\(response.count) bytes)") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(min(left, 1) * 1000)) >= 0 else { throw Failure(description: "poll: errno \(errno)") }
            guard pfd.revents != 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n >= 0 else { throw Failure(description: "recv: errno \(errno)") }
            if n == 0 { break }
            response += chunk[0..<n]
            if let (status, body) = complete(response) { return (status, body) }
        }
        guard let (status, body) = complete(response, closed: true) else {
            throw Failure(description: "\(url) closed the connection after \(response.count) bytes")
        }
        return (status, body)
    }

    /// The status and body once the whole answer is in: its Content-Length, or the connection closed.
    static func complete(_ bytes: [UInt8], closed: Bool = false) -> (Int, String)? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<split.lowerBound]
        let parts = head.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        let bodyBytes = bytes.count - text[..<split.upperBound].utf8.count
        let length = head.split(separator: "\r\n").lazy.compactMap { line -> Int? in
            let kv = line.split(separator: ":", maxSplits: 1)
            guard kv.count == 2, kv[0].lowercased() == "content-length" else { return nil }
            return Int(kv[1].trimmingCharacters(in: .whitespaces))
        }.first
        if let length, bodyBytes >= length || closed { return (status, String(text[split.upperBound...])) }
        return closed ? (status, String(text[split.upperBound...])) : nil
    }
}

@Suite(.serialized) struct MetricsExporterTests {
    /// Some actions of every kind: successes, a conflict, an RBAC denial, an invalid payload, a critical action.
    func runActions(_ fx: ActionFixture, viewer: Actor) throws {
        try fx.expectSuccess(fx.run("logs.set_level", ["service": .string("api"), "level": .string("debug")]))
        try fx.expectSuccess(fx.run("logs.mute_source", ["source": .string("metrics-\(UUID().uuidString.prefix(6))")]))
        let muted = "twice-\(UUID().uuidString.prefix(6))"
        try fx.expectSuccess(fx.run("logs.mute_source", ["source": .string(muted)]))
        #expect(!fx.run("logs.mute_source", ["source": .string(muted)]).succeeded)
        #expect(!fx.run("logs.set_level", ["service": .string("api"), "level": .string("info")], actor: viewer).succeeded)
        #expect(!fx.run("logs.set_level", ["service": .string("api"), "level": .string("loud")]).succeeded)
        #expect(fx.run("queue.clear", ["queue": .string("video_cutter")]).succeeded)
    }

    /// The exporter's figures against the stores, read with SQL and Redis commands of our own.
    func expectMatchesStores(_ m: Exposition, _ fx: ActionFixture) throws {
        // Outcomes per action and outcome: every outcome and denied row.
        var finished = 0
        for row in try fx.db.query(
            """
            SELECT action, coalesce(outcome, 'unknown') AS outcome, count(*)::bigint AS n FROM audit_logs WHERE phase <> 'intent' GROUP BY 1, 2
            """)
        {
            let action: String = try row.get("action")
            let outcome: String = try row.get("outcome")
            let n: Int = try row.get("n")
            #expect(m.value("agentos_actions_total", ["action": action, "outcome": outcome]) == Double(n), "\(action) \(outcome)")
            finished += n
        }
        #expect(finished > 0)
        #expect(m.sum("agentos_actions_total") == Double(finished))
        #expect(m.sum("agentos_action_duration_seconds_count") == Double(finished))
        let millis = try fx.scalar("SELECT coalesce(sum(duration_ms), 0)::bigint FROM audit_logs WHERE phase <> 'intent'", as: Int.self)
        #expect(abs(m.sum("agentos_action_duration_seconds_sum") - Double(millis) / 1_000) < 1e-6)
        for row in try fx.db.query("SELECT phase, count(*)::bigint AS n FROM audit_logs GROUP BY phase") {
            #expect(m.value("agentos_audit_rows_total", ["phase": try row.get("phase")]) == Double(try row.get("n", as: Int.self)))
        }
        for row in try fx.db.query(
            "SELECT coalesce(outcome, 'unknown') AS reason, count(*)::bigint AS n FROM audit_logs WHERE phase = 'denied' GROUP BY 1")
        {
            #expect(m.sum("agentos_action_denials_total", where: ["reason": try row.get("reason")]) == Double(try row.get("n", as: Int.self)))
        }
        let refused = try fx.count("SELECT count(*) FROM audit_logs WHERE phase = 'denied' AND outcome = 'denied' AND user_id = 'viewer'")
        #expect(refused > 0)
        #expect(m.value("agentos_auth_failures_total", ["user": "viewer"]) == Double(refused))
        let critical = try fx.count("SELECT count(*) FROM audit_logs WHERE phase = 'intent' AND action = 'queue.clear'")
        #expect(m.value("agentos_audit_critical_actions_total", ["action": "queue.clear"]) == Double(critical))
        #expect(m.value("agentos_audit_last_seq") == Double(try fx.count("SELECT max(seq) FROM audit_logs")))
        #expect(m.value("agentos_audit_chain_valid") == 1)
        // Stage timings: one observation per action_history row that reached the stage.
        let historyRows = try fx.count("SELECT count(*) FROM action_history")
        #expect(historyRows == finished)
        for stage in ActionHistoryEntry.stages {
            let n = try fx.count("SELECT count(*) FROM action_history WHERE timings ? $1", [stage])
            #expect(m.value("agentos_action_stage_duration_seconds_count", ["stage": stage]) == Double(n), "stage \(stage)")
        }
        #expect(try fx.count("SELECT count(*) FROM action_history WHERE timings ? 'execute'") > 0)
        // The platform.
        for row in try fx.db.query("SELECT status, count(*)::bigint AS n FROM workers GROUP BY status") {
            #expect(m.value("agentos_workers", ["status": try row.get("status")]) == Double(try row.get("n", as: Int.self)))
        }
        #expect(m.sum("agentos_workers") == Double(try fx.count("SELECT count(*) FROM workers")))
        #expect(m.sum("agentos_jobs") == Double(try fx.count("SELECT count(*) FROM jobs")))
        for queue in try fx.db.query("SELECT name FROM queues").rows.map({ try $0.get("name", as: String.self) }) {
            let depth = try fx.ns.brokerListKeys(queue: queue).reduce(0) { $0 + Int(try fx.redis(0).send("LLEN", $1).int ?? 0) }
            #expect(m.value("agentos_queue_depth", ["queue": queue]) == Double(depth), "queue \(queue)")
        }
        // Redis.
        let stats = try fx.redis(1).send("HMGET", fx.ns.snapshotStatsKey, "hits", "misses").array ?? []
        #expect(m.value("agentos_ssot_cache_hits_total") == Double(stats[0].string ?? "0"))
        #expect(m.value("agentos_ssot_cache_misses_total") == Double(stats[1].string ?? "0"))
        #expect(m.value("agentos_ssot_generation") == Double(try fx.redis(1).send("GET", fx.ns.snapshotGenerationKey).string ?? "0"))
        #expect(m.value("agentos_events_published_total") == Double(try fx.redis(5).send("GET", fx.ns.eventsSeqKey).string ?? "0"))
        for info in try fx.actions.breakers.states(nowMillis: nil) {
            #expect(m.value("agentos_breaker_state", ["service": info.service, "state": info.state.rawValue]) == 1, "breaker \(info.service)")
        }
        #expect(m.value("agentos_exporter_up", ["store": "postgres"]) == 1)
        #expect(m.value("agentos_exporter_up", ["store": "redis"]) == 1)
    }

    @Test func theExporterServesTheStoresFiguresAndPrometheusScrapesIt() async throws {
        let fx = try ActionFixture(extraGrants: ["viewer": Grant(role: .readonly)])
        defer { fx.close() }
        let viewer = Actor(user: "viewer", ip: "127.0.0.2", host: "test", sessionID: "viewer-session")
        // Cache lookups: a miss (rebuild) and a hit.
        _ = try fx.dataManager.snapshot()
        _ = try fx.dataManager.snapshot()
        try runActions(fx, viewer: viewer)
        let redisURL = try TestServers.redisURL()
        // Port 0: the exporter takes a free port itself and says which (a port picked here and bound
        // later by the child could be taken in between by the suite's other servers).
        let exporter = try ChildProcess(
            Binaries.built("agentos-metrics"),
            [
                "serve", "--listen", "127.0.0.1:0", "--redis", redisURL, "--postgres", fx.backend.url,
                "--namespace", fx.ns.prefix, "--broker-prefix", fx.ns.brokerPrefix
            ], log: fx.dataDir.appendingPathComponent("exporter.log"))
        defer { exporter.stop() }
        let announced = "listening on http://127.0.0.1:"
        #expect(await TestServers.eventuallyAsync(90) { exporter.output.contains(announced) }, "exporter: \(exporter.output)")
        let port = exporter.output.components(separatedBy: announced).dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        let url = "http://127.0.0.1:\(port)/metrics"
        // Listening first (`/healthz` costs nothing), then one scrape given the time it needs: the
        // first reads and verifies every audit row of the shared test database, which under a CPU
        // hog took longer than any per-request timeout, so retried scrapes only queued behind it.
        let up = await HTTP.waitFor("http://127.0.0.1:\(port)/healthz", seconds: 90)
        var answer: String?
        var failure = up.body == nil ? "/healthz never answered 200 in 90 s (last: \(up.last))" : ""
        if up.body != nil {
            do { answer = try await HTTP.get(url, timeout: 600).1 } catch { failure = "/metrics: \(error)" }
        }
        if answer == nil { Issue.record("exporter: \(failure) (running: \(exporter.process.isRunning)); its output: \(exporter.output)") }
        let first = try #require(answer)
        try expectMatchesStores(Exposition(first), fx)

        // More actions: the next scrape reads only the new rows, and still agrees with the stores.
        try runActions(fx, viewer: viewer)
        _ = try fx.dataManager.snapshot()
        let (status, second) = try await HTTP.get(url)
        #expect(status == 200)
        let scraped = Exposition(second)
        try expectMatchesStores(scraped, fx)

        // promtool accepts the exposition (lint included).
        let promtool = try Binaries.system("promtool")
        let check = try Binaries.run(promtool, ["check", "metrics"], stdin: second)
        #expect(check.status == 0, "promtool check metrics: \(check.output)")

        // Every metric a dashboard uses is in the exposition.
        let dashboards = try Dashboards.references(
            in: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("dashboards"))
        for ref in dashboards where !scraped.names.contains(ref.name) {
            Issue.record("\(ref.file): \(ref.name) is not in the scraped exposition")
        }

        // A real Prometheus on loopback scrapes it: its target is up and it has the figures.
        let prometheus = try Binaries.system("prometheus")
        let dir = fx.dataDir.appendingPathComponent("prometheus")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("prometheus.yml")
        try """
        global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
        scrape_configs:
          - job_name: agentos
            static_configs: [{ targets: ["127.0.0.1:\(port)"] }]
        """.write(to: config, atomically: true, encoding: .utf8)
        let check2 = try Binaries.run(promtool, ["check", "config", config.path])
        #expect(check2.status == 0, "promtool check config: \(check2.output)")
        let webPort = freeLoopbackPort()
        let server = try ChildProcess(
            prometheus,
            [
                "--config.file=\(config.path)", "--storage.tsdb.path=\(dir.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(webPort)", "--log.level=warn"
            ], log: dir.appendingPathComponent("prometheus.log"))
        defer { server.stop() }
        let api = "http://127.0.0.1:\(webPort)/api/v1"
        var health = ""
        var lastError = ""
        let deadline = Date().addingTimeInterval(45)
        while Date() < deadline {
            if let (code, body) = try? await HTTP.get("\(api)/targets", timeout: 2), code == 200,
                let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let data = json["data"] as? [String: Any], let targets = data["activeTargets"] as? [[String: Any]], let target = targets.first
            {
                health = target["health"] as? String ?? ""
                lastError = target["lastError"] as? String ?? ""
                if health == "up" { break }
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
        #expect(health == "up", "prometheus target health '\(health)' \(lastError); log: \(server.output.suffix(2_000))")
        let seq = try fx.count("SELECT max(seq) FROM audit_logs")
        var queried: Double?
        for _ in 0..<40 {
            if let (_, body) = try? await HTTP.get("\(api)/query?query=agentos_audit_last_seq", timeout: 2),
                let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let data = json["data"] as? [String: Any], let result = (data["result"] as? [[String: Any]])?.first,
                let value = result["value"] as? [Any], let text = value.last as? String
            {
                queried = Double(text)
                if queried == Double(seq) { break }
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
        #expect(queried == Double(seq), "prometheus has agentos_audit_last_seq \(String(describing: queried)), the store \(seq)")
        // Every dashboard expression is valid PromQL for this Prometheus.
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        for expr in Set(dashboards.map(\.expr)).sorted() {
            let encoded = expr.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
            let (code, body) = try await HTTP.get("\(api)/query?query=\(encoded)")
            #expect(code == 200 && body.contains("\"status\":\"success\""), "\(expr): \(body)")
        }
    }

    @Test func theTextfileModeWritesAnExpositionPromtoolAccepts() throws {
        let fx = try ActionFixture(extraGrants: ["viewer": Grant(role: .readonly)])
        defer { fx.close() }
        try runActions(fx, viewer: Actor(user: "viewer", host: "test"))
        let dir = fx.dataDir.appendingPathComponent("textfile")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Through `agentos metrics`, which runs the agentos-metrics beside it.
        let run = try Binaries.run(
            Binaries.built("agentos"),
            [
                "metrics", "serve", "--textfile", dir.path, "--once", "--redis", try TestServers.redisURL(), "--postgres", fx.backend.url,
                "--namespace", fx.ns.prefix, "--broker-prefix", fx.ns.brokerPrefix
            ])
        #expect(run.status == 0, "\(run.output)")
        let text = try String(contentsOf: dir.appendingPathComponent("agentos.prom"), encoding: .utf8)
        let m = Exposition(text)
        #expect(m.sum("agentos_actions_total") == Double(try fx.count("SELECT count(*) FROM audit_logs WHERE phase <> 'intent'")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["agentos.prom"], "no temporary file left behind")
        let check = try Binaries.run(try Binaries.system("promtool"), ["check", "metrics"], stdin: text)
        #expect(check.status == 0, "promtool check metrics: \(check.output)")
    }

    @Test func theSnapshotCarriesTheActionFiguresOfTheLastFiveMinutes() throws {
        let fx = try ActionFixture(extraGrants: ["viewer": Grant(role: .readonly)])
        defer { fx.close() }
        try runActions(fx, viewer: Actor(user: "viewer", host: "test"))
        let snapshot = try fx.dataManager.rebuild()
        let a = snapshot.system.actions
        #expect(a.finished == (try fx.count("SELECT count(*) FROM audit_logs WHERE phase <> 'intent'")))
        #expect(a.denials == (try fx.count("SELECT count(*) FROM audit_logs WHERE phase = 'denied'")))
        #expect(a.denials >= 2)
        let durations = try fx.db.query("SELECT duration_ms FROM audit_logs WHERE phase <> 'intent' ORDER BY duration_ms").rows
            .map { Double(try $0.get("duration_ms", as: Int.self)) }
        let rank = Int((0.99 * Double(durations.count)).rounded(.up)) - 1
        #expect(a.p99Ms == durations[rank])
        // What the cache serves decodes to the same figures.
        let cached = try #require(try fx.cache.get())
        #expect(try Snapshot.decode(cached).system.actions == a)
    }
}
