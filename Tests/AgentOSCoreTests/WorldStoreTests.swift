import AgentOSCore
import AgentOSCrypto
import AgentOSWorld
import Foundation
import Testing

/// The actions the live executor runs on its own stores, run embedded: each test runs one and then
/// watches the pipeline refuse or let through, the world's logs, configuration and sessions change,
/// or the file it wrote under the data directory, not only what the action reports.
@Suite("Embedded: the system actions reach the pipeline's runtime state and the world")
struct WorldSystemStoreTests {
    static let queue = "video_downloader"

    @Test func breakerTripRefusesItsServiceUntilReset() throws {
        let h = WorldHarness()
        h.expect("system.breaker_trip", ["service": .string("postgres")])
        let refused = h.run("queue.pause", ["queue": .string(Self.queue)])
        guard case .failure(.breakerOpen(service: "postgres", _)) = refused.outcome else {
            Issue.record("queue.pause went through an open breaker: \(refused.message)")
            return
        }
        #expect(h.read { $0.queues[Self.queue]?.paused } == false, "nothing reached the fleet")
        let shown = try h.world.dataManager.rebuild().system.breakers
        #expect(shown.first { $0.service == "postgres" }?.state == .open, "the System view shows it: \(shown)")
        h.expect("system.breaker_reset", ["service": .string("postgres")])
        h.expect("queue.pause", ["queue": .string(Self.queue)])
        #expect(h.read { $0.queues[Self.queue]?.paused } == true)
    }

    /// system.backup is limited to 2 a minute (bursts to 4): the next one is refused until the counters go.
    @Test func rateLimitResetLetsARefusedActionThroughAgain() throws {
        let h = WorldHarness()
        var refused: ActionReport?
        for _ in 0..<6 {
            let r = h.run("system.backup")
            if case .failure(.rateLimited) = r.outcome {
                refused = r
                break
            }
            #expect(r.succeeded, "\(r.message)")
        }
        #expect(refused != nil, "the limit refused a backup")
        let reset = h.run("system.rate_limit_reset", ["user": .string("alice")])
        #expect(reset.succeeded && (reset.result?.affected ?? 0) >= 1, "\(reset.message)")
        h.expect("system.backup")
    }

    @Test func resetClearsBreakersRateLimitsAndTheCache() throws {
        let h = WorldHarness()
        h.expect("system.breaker_trip", ["service": .string("postgres")])
        _ = try h.world.dataManager.snapshot()
        let reset = h.run("system.reset")
        #expect(reset.succeeded, "\(reset.message)")
        let details = try #require(reset.result?.details)
        #expect(details["breakers"] == .int(1) && details["cache"] == .int(1) && details["stale_sessions"] == .int(0), "\(details)")
        #expect(try h.world.cache.get() == nil, "the snapshot cache was dropped")
        h.expect("queue.pause", ["queue": .string(Self.queue)])
        #expect(h.read { $0.queues[Self.queue]?.paused } == true, "the breaker is closed again")
    }

    @Test func sessionTerminateEndsTheSessionTheSnapshotLists() async throws {
        let h = WorldHarness()
        let start = WorldHarness.start
        h.world.openSession(ConsoleSession(id: "s1", user: "bob", host: "ops-1", pid: 42, tty: "", startedAt: start, lastSeen: start, view: "jobs"))
        #expect(try h.world.dataManager.rebuild().system.sessions.map(\.id) == ["s1"])
        let kicks = h.world.bus.subscribe()
        h.expect("system.session_terminate", ["session": .string("s1")])
        #expect(try h.world.dataManager.rebuild().system.sessions.isEmpty, "the System view's session list lost it")
        var kicked: SessionKick?
        for await message in kicks {
            if case .event(let envelope) = message, case .sessionKick(let kick) = envelope.event {
                kicked = kick
                break
            }
        }
        #expect(kicked?.sessionID == "s1" && kicked?.by != nil && kicked?.requestID != nil, "the consoles were told who ended it")
        #expect(h.run("system.session_terminate", ["session": .string("s1")]).outcome == .failure(.notFound("console session s1")))
    }

    @Test func broadcastIsOnEveryConsoleUntilItExpires() throws {
        let h = WorldHarness()
        h.expect("system.broadcast", ["message": .string("deploy at 14:00"), "level": .string("warning"), "ttl": .int(20)])
        let banner = try h.world.dataManager.rebuild().system.broadcast
        #expect(banner?.message == "deploy at 14:00" && banner?.level == .warning && banner?.by == "alice", "\(String(describing: banner))")
        h.advance(21)
        #expect(try h.world.dataManager.rebuild().system.broadcast == nil, "gone after its ttl")
    }

    @Test func healthCheckCountsTheWorkersAndWritesItsResultToTheLog() throws {
        let h = WorldHarness()
        let first = try #require(h.run("system.health_check").result)
        let up = h.read { $0.workers.values.filter { $0.info.status.isUp }.count }
        #expect(first.details["workers_up"] == .int(up) && first.details["ok"] == .bool(true), "\(first.details)")
        h.expect("worker.shutdown", ["id": .string(h.firstStageWorker())])
        let second = try #require(h.run("system.health_check").result)
        #expect(second.details["workers_up"] == .int(up - 1), "\(second.details)")
        let lines = h.read { $0.logs.filter { $0.source == "health" } }
        #expect(lines.count == 2 && lines.last?.message == "health check: \(second.message)", "\(lines.map(\.message))")
    }

    @Test func ioCleanupDeletesOnlyOldMedia() throws {
        let h = WorldHarness()
        let out = h.runtime.dataDirectory.appendingPathComponent("io/output/clips")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let old = out.appendingPathComponent("old.mp4")
        let new = out.appendingPathComponent("new.mp4")
        try Data(repeating: 1, count: 100).write(to: old)
        try Data(repeating: 2, count: 50).write(to: new)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-40 * 86_400)], ofItemAtPath: old.path)
        let r = h.run("system.io_cleanup", ["days": .int(30)])
        #expect(r.result?.message == "deleted 1 processed media file(s), 100 bytes", "\(r.message)")
        #expect(!FileManager.default.fileExists(atPath: old.path) && FileManager.default.fileExists(atPath: new.path))
    }

    @Test func backupWritesTheStateTheConfigurationAndAManifestThatMatches() throws {
        let h = WorldHarness()
        h.expect("config.set", ["key": .string("pipeline.max_attempts"), "value": .string("7")])
        let r = try #require(h.run("system.backup").result)
        guard case .string(let path)? = r.details["path"] else {
            Issue.record("no path: \(r.message)")
            return
        }
        let dir = URL(fileURLWithPath: path)
        #expect(dir.path.hasPrefix(h.runtime.dataDirectory.appendingPathComponent("io/backups").path))
        let config = try JSONDecoder().decode([String: ConfigValue].self, from: Data(contentsOf: dir.appendingPathComponent("config.json")))
        #expect(config["pipeline.max_attempts"] == .int(7) && config.count == h.read { $0.config_.count }, "\(config)")
        let state = try AgentJSON.decoder().decode(Snapshot.self, from: Data(contentsOf: dir.appendingPathComponent("state.json")))
        #expect(state.workers.count == h.read { $0.workers.count })
        struct Manifest: Decodable {
            struct File: Decodable {
                var bytes: Int
                var sha256: String
            }
            var by: String
            var files: [String: File]
        }
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: dir.appendingPathComponent("manifest.json")))
        #expect(manifest.by == "alice" && manifest.files.keys.sorted() == ["config.json", "state.json"])
        for (name, file) in manifest.files {
            let data = try Data(contentsOf: dir.appendingPathComponent(name))
            #expect(file.bytes == data.count && file.sha256 == Hex.encode(Digest.sha256(data)), "\(name)")
        }
    }
}

@Suite("Embedded: the log store's exports, archives and purges")
struct WorldLogStoreTests {
    /// A quiet fleet with more than two days of history in 5-minute steps (lines old enough for
    /// `days`, fewer than the 5,000 the store keeps).
    static func oldWorld() -> WorldHarness {
        WorldHarness(seed: 9, rate: 0.05, historySeconds: 50 * 3_600, historyStep: 300, jobsPerMinute: 2)
    }

    @Test func archiveCompressesTheOldLinesAndTakesThemOutThenPurgeDeletes() throws {
        let h = Self.oldWorld()
        let twoDays = WorldHarness.start.addingTimeInterval(-2 * 86_400)
        let oneDay = WorldHarness.start.addingTimeInterval(-86_400)
        let old = h.read { $0.logs(before: twoDays) }
        let middle = h.read { $0.logs(before: oneDay).filter { $0.ts >= twoDays } }
        try #require(!old.isEmpty && !middle.isEmpty, "lines older than two days and between one and two")
        let counted = { h.read { $0.logCountsByLevel.values.reduce(0, +) } }
        let before = counted()
        #expect(
            h.run("logs.archive", ["days": .int(2), "expect": .int(old.count - 1)]).outcome
                == .failure(.impactExceeded(confirmed: old.count - 1, actual: old.count)))
        let r = try #require(h.run("logs.archive", ["days": .int(2)]).result)
        #expect(r.affected == old.count, "\(r.message)")
        guard case .string(let path)? = r.details["path"] else {
            Issue.record("no path")
            return
        }
        #expect(path.hasSuffix(".jsonl.gz") && path.hasPrefix(h.runtime.dataDirectory.appendingPathComponent("io/archive").path))
        let archived = try gunzip(path).split(separator: "\n")
        #expect(archived.count == old.count && archived.first?.contains("\"id\":\(old[0].id),") == true)
        #expect(h.read { $0.logs(before: twoDays).isEmpty }, "the archived lines left the store")
        #expect(counted() == before - old.count + h.read { sim in old.filter { sim.isAcked($0) }.count })
        let purged = try #require(h.run("logs.purge", ["days": .int(1)]).result)
        #expect(purged.affected == middle.count && h.read { $0.logs(before: oneDay).isEmpty }, "\(purged.message)")
        #expect(h.read { $0.logs.count } > 0, "newer lines stay")
    }

    @Test func exportWritesTheFilteredLines() throws {
        let h = WorldHarness()
        let info = h.read { sim in sim.logs.filter { $0.level >= .info && $0.source == "scheduler" } }
        try #require(!info.isEmpty)
        let r = try #require(h.run("logs.export", ["level": .string("info"), "source": .string("scheduler")]).result)
        guard case .string(let path)? = r.details["path"] else {
            Issue.record("no path")
            return
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == info.count && r.affected == info.count)
        #expect(lines.first?.hasPrefix("{\"id\":\(info.last!.id),") == true, "newest first: \(lines.first ?? "")")
        #expect(lines.allSatisfy { $0.contains("\"source\":\"scheduler\"") })
        let csv = try #require(h.run("logs.export", ["format": .string("csv"), "limit": .int(3)]).result)
        guard case .string(let csvPath)? = csv.details["path"] else { return }
        let rows = try String(contentsOfFile: csvPath, encoding: .utf8).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(rows.count == 4 && rows[0] == "id,ts,level,source,message,job_id,worker_id,context,acked")
    }

    func gunzip(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-dc", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite("Embedded: configuration files, versions and locks reach the key's owner")
struct WorldConfigStoreTests {
    static func schedule(_ h: WorldHarness) -> String? { h.read { $0.managers["cleanup"]?.schedule } }

    @Test func rollbackGivesTheOwnerTheOldVersion() throws {
        let h = WorldHarness()
        h.expect("config.set", ["key": .string("cleanup.schedule"), "value": .string("*/10 * * * *")])
        #expect(Self.schedule(h) == "*/10 * * * *")
        let r = h.run("config.rollback", ["key": .string("cleanup.schedule"), "version": .int(1)])
        #expect(r.result?.message == "cleanup.schedule: */10 * * * * → */5 * * * * (rolled back to version 1), version 3", "\(r.message)")
        #expect(Self.schedule(h) == "*/5 * * * *", "the cleanup manager runs on the old schedule again")
        #expect(
            h.run("config.rollback", ["key": .string("cleanup.schedule"), "version": .int(9)]).outcome
                == .failure(.notFound("version 9 of cleanup.schedule in the configuration history")))
    }

    @Test func exportThenImportRestoresTheExportedValues() throws {
        let h = WorldHarness()
        let r = try #require(h.run("config.export").result)
        guard case .string(let path)? = r.details["path"] else {
            Issue.record("no path")
            return
        }
        struct Item: Decodable {
            var type: String
            var value: ConfigValue
            var version: Int
        }
        let exported = try JSONDecoder().decode([String: Item].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(exported.count == h.read { $0.config_.count } && exported["cleanup.schedule"]?.value == .string("*/5 * * * *"))
        h.expect("config.set", ["key": .string("cleanup.schedule"), "value": .string("*/20 * * * *")])
        #expect(Self.schedule(h) == "*/20 * * * *")
        let imported = h.run("config.import", ["file": .string(path)])
        #expect(imported.result?.message == "imported \(URL(fileURLWithPath: path).lastPathComponent): 1 of \(exported.count) entries changed")
        #expect(Self.schedule(h) == "*/5 * * * *", "the owner took the imported schedule")
    }

    @Test func validateSaysWhatWouldChangeAndChangesNothing() throws {
        let h = WorldHarness()
        let file = h.runtime.dataDirectory.appendingPathComponent("next.json")
        try FileManager.default.createDirectory(at: h.runtime.dataDirectory, withIntermediateDirectories: true)
        try Data(#"{"cleanup.schedule": "*/30 * * * *", "pipeline.max_attempts": 3}"#.utf8).write(to: file)
        h.expect("config.lock", ["key": .string("cleanup.schedule"), "locked": .bool(true)])
        let r = h.run("config.validate", ["file": .string("next.json")])
        #expect(r.result?.message == "next.json: 2 entries valid (1 would change; locked: cleanup.schedule)", "\(r.message)")
        #expect(Self.schedule(h) == "*/5 * * * *")
        try Data(#"{"pipeline.max_attempts": 30}"#.utf8).write(to: file)
        #expect(
            h.run("config.validate", ["file": .string("next.json")]).outcome
                == .failure(.invalid(field: "pipeline.max_attempts", "30 is above the maximum 10")))
    }

    @Test func lockedKeyRefusesSetResetAndImportUntilUnlocked() throws {
        let h = WorldHarness()
        let key: [String: PayloadValue] = ["key": .string("cleanup.schedule")]
        h.expect("config.set", key.merging(["value": .string("*/10 * * * *")]) { a, _ in a })
        h.expect("config.lock", key.merging(["locked": .bool(true)]) { a, _ in a })
        #expect(h.read { $0.config_["cleanup.schedule"]?.locked } == true)
        let locked = ActionFailure.conflict("config key cleanup.schedule is locked (config.lock)")
        #expect(h.run("config.set", key.merging(["value": .string("*/15 * * * *")]) { a, _ in a }).outcome == .failure(locked))
        #expect(h.run("config.reset", key).outcome == .failure(locked))
        let file = h.runtime.dataDirectory.appendingPathComponent("in.json")
        try FileManager.default.createDirectory(at: h.runtime.dataDirectory, withIntermediateDirectories: true)
        try Data(#"{"cleanup.schedule": "*/15 * * * *", "pipeline.max_attempts": 4}"#.utf8).write(to: file)
        #expect(h.run("config.import", ["file": .string("in.json")]).outcome == .failure(locked))
        #expect(Self.schedule(h) == "*/10 * * * *" && h.read { $0.config_["pipeline.max_attempts"]?.value } == .int(3), "the owner kept both")
        h.expect("config.lock", key.merging(["locked": .bool(false)]) { a, _ in a })
        h.expect("config.import", ["file": .string("in.json")])
        #expect(Self.schedule(h) == "*/15 * * * *")

        // Without a key: the whole configuration is frozen.
        h.expect("config.lock", ["locked": .bool(true)])
        #expect(
            h.run("config.set", ["key": .string("pipeline.max_attempts"), "value": .string("5")]).outcome
                == .failure(.conflict("configuration is frozen (config.lock)")))
        h.expect("config.lock", ["locked": .bool(false)])
        h.expect("config.set", ["key": .string("pipeline.max_attempts"), "value": .string("5")])
    }

    /// The live owner (`agentos sim`) decodes what the live executor publishes.
    @Test func theLockTravelsOnTheControlChannel() throws {
        for command in [FleetCommand.lockConfig("cleanup.schedule", locked: true), .lockConfig(nil, locked: false)] {
            let wire = try JSONEncoder().encode(command)
            #expect(try JSONDecoder().decode(FleetCommand.self, from: wire) == command, "\(String(decoding: wire, as: UTF8.self))")
        }
        let published = #"{"by":"alice","command":"config.lock","locked":true,"target":"cleanup.schedule"}"#
        #expect(try JSONDecoder().decode(FleetCommand.self, from: Data(published.utf8)) == .lockConfig("cleanup.schedule", locked: true))
    }
}

@Suite("Embedded: analytics files from the world's per-minute stats")
struct WorldAnalyticsStoreTests {
    @Test func exportsAndReportCarryTheWorldsFigures() throws {
        let h = WorldHarness(historySeconds: 600)
        let completed = h.read { sim in
            sim.stats.filter { $0.key > sim.now.addingTimeInterval(-600) }.values.flatMap(\.values).reduce(0) { $0 + $1.completed }
        }
        try #require(completed > 0)
        func path(_ r: ActionReport) throws -> String {
            guard case .string(let p)? = r.result?.details["path"] else { throw Missing(report: r.message) }
            return p
        }
        let csv = try String(contentsOfFile: path(h.run("analytics.export_csv", ["window": .int(10)])), encoding: .utf8)
        let rows = csv.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
        #expect(rows.map { Int($0.split(separator: ",")[2])! }.reduce(0, +) == completed, "the CSV's completed column adds up to the world's")
        struct Series: Decodable {
            struct Row: Decodable { var completed: Int }
            var window_minutes: Int
            var series: [Row]
        }
        let json = try JSONDecoder().decode(
            Series.self, from: Data(contentsOf: URL(fileURLWithPath: path(h.run("analytics.export_json", ["window": .int(10)])))))
        #expect(json.window_minutes == 10 && json.series.count == rows.count && json.series.map(\.completed).reduce(0, +) == completed)
        let report = try String(contentsOfFile: path(h.run("analytics.report", ["window": .int(10)])), encoding: .utf8)
        #expect(report.hasPrefix("# AgentOS analytics report") && report.contains("- Completed: \(completed), failed:"), "\(report)")
    }

    struct Missing: Error { var report: String }
}
