import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

@Suite("Actions: System Logs, Configuration, Analytics", .serialized)
struct DataActionTests {
    func insertLog(_ fx: ActionFixture, level: String, source: String, message: String, daysAgo: Int = 0) throws -> Int {
        try fx.scalar(
            "INSERT INTO logs (ts, level, source, message) VALUES (now() - make_interval(days => $4::int), $1, $2, $3) RETURNING id",
            [level, source, message, daysAgo], as: Int.self)
    }

    @Test func exportWritesTheFilteredLinesSanitised() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        _ = try insertLog(fx, level: "error", source: "probe", message: "disk \u{1B}[31mfull\u{9B}")
        _ = try insertLog(fx, level: "info", source: "probe", message: "all good")
        let report = fx.run("logs.export", ["format": .string("jsonl"), "level": .string("error"), "source": .string("probe")])
        try fx.expectSuccess(report)
        let text = try String(contentsOfFile: try fx.file(report), encoding: .utf8)
        #expect(text.split(separator: "\n").count == 1)
        #expect(text.contains("disk") && !text.contains("all good"))
        #expect(!text.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{9B}" }, "no raw ESC or C1 in an export")
        let csv = fx.run("logs.export", ["format": .string("csv"), "source": .string("probe")])
        try fx.expectSuccess(csv)
        #expect(try lines(fx.file(csv)) == 3)
    }

    @Test func setLevelMuteUnmuteAck() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("logs.set_level", ["service": .string("api"), "level": .string("debug")]))
        #expect(try fx.scalar("SELECT level FROM service_log_levels WHERE service = 'api'", as: String.self) == "debug")
        #expect(await fx.sawControl("logs.set_level", target: "api"))
        try fx.expectSuccess(fx.run("logs.mute_source", ["source": .string("noisy")]))
        #expect(try fx.count("SELECT count(*) FROM log_mutes WHERE source = 'noisy' AND muted_by = 'tester'") == 1)
        guard case .failure(.conflict) = fx.run("logs.mute_source", ["source": .string("noisy")]).outcome else {
            Issue.record("muted twice")
            return
        }
        try fx.expectSuccess(fx.run("logs.unmute_source", ["source": .string("noisy")]))
        #expect(try fx.count("SELECT count(*) FROM log_mutes WHERE source = 'noisy'") == 0)
        _ = try insertLog(fx, level: "error", source: "acksrc", message: "e1")
        _ = try insertLog(fx, level: "critical", source: "acksrc", message: "e2")
        try fx.expectSuccess(fx.run("logs.ack_errors", ["source": .string("acksrc")]))
        #expect(try fx.count("SELECT count(*) FROM logs WHERE source = 'acksrc' AND NOT acked") == 0)
    }

    func logMark(_ fx: ActionFixture) throws -> Int { try fx.count("SELECT coalesce(max(id), 0)::bigint FROM logs") }
    func ingestRuns(_ fx: ActionFixture) throws -> Int { try fx.count("SELECT runs FROM managers WHERE id = 'ingest'") }

    @Test func workersLogAtTheLevelSet() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("logs.set_level", ["service": .string("worker"), "level": .string("error")]))
        let mark = try logMark(fx)
        let runs0 = try ingestRuns(fx)
        // Ingest runs every 10 s of the owner's time: two runs are 20 s of worker activity.
        try fx.tick(until: { try ingestRuns(fx) >= runs0 + 2 }, "ingest ran twice")
        #expect(
            try fx.count("SELECT count(*) FROM logs WHERE id > $1 AND source LIKE '%@%' AND level IN ('debug','info','warning')", [mark]) == 0,
            "no worker line below error")
        #expect(
            try fx.count("SELECT count(*) FROM logs WHERE id > $1 AND source = 'ingest' AND level = 'info'", [mark]) >= 2, "ingest keeps its level")
        try fx.expectSuccess(fx.run("logs.set_level", ["service": .string("worker"), "level": .string("info")]))
        let back = try logMark(fx)
        try fx.tick(
            until: { try fx.count("SELECT count(*) FROM logs WHERE id > $1 AND source LIKE '%@%' AND level = 'info'", [back]) > 0 },
            "at info the workers write their info lines again")
    }

    @Test func mutedSourceIsDroppedUntilUnmuted() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("logs.mute_source", ["source": .string("ingest")]))
        let mark = try logMark(fx)
        let runs0 = try ingestRuns(fx)
        try fx.tick(until: { try ingestRuns(fx) >= runs0 + 2 }, "ingest ran twice")
        #expect(try fx.count("SELECT count(*) FROM logs WHERE id > $1 AND source = 'ingest'", [mark]) == 0, "no line from a muted source")
        try fx.expectSuccess(fx.run("logs.unmute_source", ["source": .string("ingest")]))
        let back = try logMark(fx)
        try fx.tick(until: { try fx.count("SELECT count(*) FROM logs WHERE id > $1 AND source = 'ingest'", [back]) > 0 }, "ingest writes again")
    }

    @Test func acknowledgedErrorsLeaveTheErrorFigures() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        _ = try insertLog(fx, level: "error", source: "acksrc", message: "e1")
        _ = try insertLog(fx, level: "critical", source: "acksrc", message: "e2")
        let before = try fx.dataManager.rebuild().logs
        #expect(before.bySource["acksrc"] == 2)
        try fx.expectSuccess(fx.run("logs.ack_errors", ["source": .string("acksrc")]))
        let after = try fx.dataManager.rebuild().logs
        #expect(after.bySource["acksrc", default: 0] == 0, "acknowledged lines leave the figures")
        #expect(after.byLevel["critical", default: 0] == before.byLevel["critical", default: 0] - 1)
    }

    @Test func alertRuleRaisesOnNewLinesAndResolvesWhenTheyStop() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let add = fx.run(
            "logs.alert_rule_add", ["pattern": .string("^ingested [0-9]+ uploads"), "level": .string("info"), "severity": .string("error")])
        try fx.expectSuccess(add)
        guard case .int(let rule)? = add.result?.details["id"] else {
            Issue.record("no rule id")
            return
        }
        let alerts = "SELECT count(*) FROM alerts WHERE source = $1 AND status = $2"
        try fx.tick(until: { try fx.count(alerts, ["log rule #\(rule)", "active"]) == 1 }, "a matching line raised the rule's alert")
        #expect(try fx.count("SELECT count(*) FROM alerts WHERE source = $1 AND severity = 'error'", ["log rule #\(rule)"]) == 1)
        // The condition clears: ingest stops writing those lines; 30 s quiet at rate 3 is 10 s of the owner's time.
        try fx.expectSuccess(fx.run("manager.disable", ["id": .string("ingest")]))
        try fx.tick(until: { try fx.count(alerts, ["log rule #\(rule)", "resolved"]) == 1 }, "the rule's alert resolved")
        #expect(try fx.count(alerts, ["log rule #\(rule)", "active"]) == 0)
        // Back soon after (issue 19): the same row reopens and counts the repeat, no second alert.
        try fx.expectSuccess(fx.run("manager.enable", ["id": .string("ingest")]))
        try fx.tick(until: { try fx.count(alerts, ["log rule #\(rule)", "active"]) == 1 }, "the rule's alert reopened")
        #expect(try fx.count("SELECT count(*) FROM alerts WHERE source = $1", ["log rule #\(rule)"]) == 1, "one row for the rule")
        #expect(try fx.scalar("SELECT count FROM alerts WHERE source = $1", ["log rule #\(rule)"], as: Int.self) == 2)
        #expect(try fx.scalar("SELECT kind FROM alerts WHERE source = $1", ["log rule #\(rule)"], as: String.self) == Alert.Kind.logRule)
        try fx.expectSuccess(fx.run("logs.alert_rule_remove", ["id": .int(rule)]))
        try fx.tick(1)
        #expect(fx.sim?.read { $0.logAlertRules.isEmpty } == true, "the owner dropped the rule")
    }

    @Test func archiveCompressesThenDeletesAndPurgeDeletes() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let old = try insertLog(fx, level: "info", source: "arch", message: "ancient", daysAgo: 40)
        let keep = try insertLog(fx, level: "info", source: "arch", message: "fresh")
        // Confirmed as none: refused in the transaction, the line stays and no archive file is left.
        let refused = fx.run("logs.archive", ["days": .int(30), "expect": .int(0)])
        #expect(refused.failure == .impactExceeded(confirmed: 0, actual: 1), "\(refused.message)")
        #expect(try fx.count("SELECT count(*) FROM logs WHERE id = $1", [old]) == 1)
        let archives = fx.dataDir.appendingPathComponent("io/archive").path
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: archives)) ?? []).isEmpty)
        let report = fx.run("logs.archive", ["days": .int(30), "expect": .int(1)])
        try fx.expectSuccess(report)
        let path = try fx.file(report)
        #expect(path.hasSuffix(".gz"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(2) == Data([0x1F, 0x8B]))
        #expect(try fx.count("SELECT count(*) FROM logs WHERE id = $1", [old]) == 0)
        #expect(try fx.count("SELECT count(*) FROM logs WHERE id = $1", [keep]) == 1)
        let older = try insertLog(fx, level: "info", source: "arch", message: "ancient 2", daysAgo: 50)
        let purgeRefused = fx.run("logs.purge", ["days": .int(30), "expect": .int(0)])
        #expect(purgeRefused.failure == .impactExceeded(confirmed: 0, actual: 1), "\(purgeRefused.message)")
        #expect(try fx.count("SELECT count(*) FROM logs WHERE id = $1", [older]) == 1)
        try fx.expectSuccess(fx.run("logs.purge", ["days": .int(30)]))
        #expect(try fx.count("SELECT count(*) FROM logs WHERE id = $1", [older]) == 0)
        #expect(try fx.count("SELECT count(*) FROM logs WHERE id = $1", [keep]) == 1)
    }

    @Test func alertRulesAndBookmarks() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let add = fx.run("logs.alert_rule_add", ["pattern": .string("disk (full|failure)"), "level": .string("error")])
        try fx.expectSuccess(add)
        let rule = try fx.count("SELECT max(id) FROM log_alert_rules")
        guard case .failure(.invalid(field: "pattern", _)) = fx.run("logs.alert_rule_add", ["pattern": .string("([unclosed")]).outcome else {
            Issue.record("a bad regex was accepted")
            return
        }
        try fx.expectSuccess(fx.run("logs.alert_rule_remove", ["id": .int(rule)]))
        #expect(try fx.count("SELECT count(*) FROM log_alert_rules") == 0)
        let line = try insertLog(fx, level: "warning", source: "x", message: "look here")
        try fx.expectSuccess(fx.run("logs.bookmark", ["id": .int(line), "note": .string("incident start")]))
        #expect(try fx.count("SELECT count(*) FROM log_bookmarks WHERE log_id = $1 AND note = 'incident start'", [line]) == 1)
        #expect(fx.run("logs.bookmark", ["id": .int(99_999_999), "note": .string("x")]).outcome.isNotFound)
    }

    @Test func bookmarkIsListedInTheSnapshotWithItsLine() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let line = try insertLog(fx, level: "warning", source: "x", message: "look here")
        try fx.expectSuccess(fx.run("logs.bookmark", ["id": .int(line), "note": .string("incident start")]))
        let s = try fx.dataManager.rebuild()
        let mark = try #require(s.logs.bookmarks.last)
        #expect(mark.logID == line && mark.note == "incident start" && mark.by == "tester")
        #expect(s.logs.recent.contains { $0.id == line }, "its line is among the lines the Logs view shows (and jumps to)")
    }

    @Test func setResetRollbackAreVersionedAndChecked() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let key = "pipeline.max_attempts"
        let v0 = try fx.count("SELECT version FROM config WHERE key = $1", [key])
        try fx.expectSuccess(fx.run("config.set", ["key": .string(key), "value": .string("5"), "reason": .string("flaky uploads")]))
        #expect(try fx.scalar("SELECT value::text FROM config WHERE key = $1", [key], as: String.self) == "5")
        #expect(try fx.count("SELECT version FROM config WHERE key = $1", [key]) == v0 + 1)
        #expect(try fx.count("SELECT count(*) FROM config_history WHERE key = $1 AND changed_by = 'tester'", [key]) == 1)
        #expect(await fx.sawControl("config.changed", target: key))
        guard case .failure(.invalid(field: "value", _)) = fx.run("config.set", ["key": .string(key), "value": .string("many")]).outcome else {
            Issue.record("a non-integer was accepted")
            return
        }
        try fx.expectSuccess(fx.run("config.reset", ["key": .string(key)]))
        #expect(try fx.scalar("SELECT (value = default_value)::text FROM config WHERE key = $1", [key], as: String.self) == "true")
        try fx.expectSuccess(fx.run("config.rollback", ["key": .string(key), "version": .int(v0 + 1)]))
        #expect(try fx.scalar("SELECT value::text FROM config WHERE key = $1", [key], as: String.self) == "5")
        #expect(fx.run("config.set", ["key": .string("no.such.key"), "value": .string("1")]).outcome.isNotFound)

        // What the console's drill-down shows: every version, newest first, with who, what and why.
        let history = try ConfigHistory.load(fx.db, key: key)
        // The seeded versions (1 through v0) stay under the three made here.
        #expect(history.map(\.version) == Array((1...(v0 + 3)).reversed()))
        let set = history.first { $0.version == v0 + 1 }
        #expect(set?.newValue == "5" && set?.reason == "flaky uploads" && set?.changedBy == "tester")
        #expect(history.first?.newValue == "5" && history.first?.reason == "rollback to version \(v0 + 1)")
        #expect(history[1].oldValue == "5" && history[1].reason == "reset to default")
    }

    @Test func lockFreezesChanges() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let key = "pipeline.max_attempts"
        try fx.expectSuccess(fx.run("config.lock", ["locked": .bool(true), "key": .string(key)]))
        #expect(try fx.scalar("SELECT locked FROM config WHERE key = $1", [key], as: Bool.self))
        guard case .failure(.conflict) = fx.run("config.set", ["key": .string(key), "value": .string("4")]).outcome else {
            Issue.record("locked key changed")
            return
        }
        // The key's owner took the lock from the control channel: it refuses a new value itself.
        try fx.tick()
        let owner = try #require(fx.sim)
        var changed = try #require(owner.read { $0.config_[key] })
        #expect(changed.locked)
        changed.value = .int(4)
        changed.version += 1
        guard case .failure(.invalid("config key \(key) is locked (config.lock)")) = try owner.apply(.setConfig(changed)) else {
            Issue.record("the owner took a new value of a locked key")
            return
        }
        try fx.expectSuccess(fx.run("config.lock", ["locked": .bool(false), "key": .string(key)]))
        try fx.expectSuccess(fx.run("config.lock", ["locked": .bool(true)]))
        guard case .failure(.conflict) = fx.run("config.set", ["key": .string(key), "value": .string("4")]).outcome else {
            Issue.record("frozen config changed")
            return
        }
        try fx.tick()
        #expect(owner.read { $0.configFrozen && $0.config_[key]?.locked == false }, "unlocked, and the whole configuration frozen")
        try fx.expectSuccess(fx.run("config.lock", ["locked": .bool(false)]))
        try fx.expectSuccess(fx.run("config.set", ["key": .string(key), "value": .string("4")]))
        try fx.tick()
        #expect(owner.read { $0.config_[key]?.value } == .int(4), "the owner took the value once unfrozen")
    }

    @Test func exportImportValidateReload() async throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let export = fx.run("config.export")
        try fx.expectSuccess(export)
        #expect(try String(contentsOfFile: try fx.file(export), encoding: .utf8).contains("pipeline.max_attempts"))
        let good = fx.dataDir.appendingPathComponent("good.json")
        let bad = fx.dataDir.appendingPathComponent("bad.json")
        try Data(#"{"pipeline.max_attempts": 6, "workers.autoscale": false}"#.utf8).write(to: good)
        try Data(#"{"pipeline.max_attempts": 7, "workers.autoscale": "sometimes"}"#.utf8).write(to: bad)
        try fx.expectSuccess(fx.run("config.validate", ["file": .string(good.path)]))
        guard case .failure(.invalid(field: "workers.autoscale", _)) = fx.run("config.validate", ["file": .string(bad.path)]).outcome else {
            Issue.record("validate accepted a bad file")
            return
        }
        guard case .failure(.invalid) = fx.run("config.import", ["file": .string(bad.path)]).outcome else {
            Issue.record("import accepted a bad file")
            return
        }
        #expect(try fx.scalar("SELECT value::text FROM config WHERE key = 'pipeline.max_attempts'", as: String.self) == "3", "all or nothing")
        try fx.expectSuccess(fx.run("config.import", ["file": .string(good.path)]))
        #expect(try fx.scalar("SELECT value::text FROM config WHERE key = 'pipeline.max_attempts'", as: String.self) == "6")
        #expect(try fx.scalar("SELECT value::text FROM config WHERE key = 'workers.autoscale'", as: String.self) == "false")
        try fx.expectSuccess(fx.run("config.reload", ["service": .string("api")]))
        #expect(try fx.count("SELECT count(*) FROM console_settings WHERE key = 'config.reloaded_at'") == 1)
        #expect(await fx.sawControl("config.reload", target: "api"))
    }

    @Test func analyticsExportsReportAndReset() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let rows = try fx.count("SELECT count(*) FROM stats_minutely WHERE minute > now() - interval '60 minutes'")
        #expect(rows > 0)
        let csv = fx.run("analytics.export_csv", ["window": .int(60)])
        try fx.expectSuccess(csv)
        #expect(try lines(fx.file(csv)) == rows + 1)
        let json = fx.run("analytics.export_json", ["window": .int(60)])
        try fx.expectSuccess(json)
        #expect(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try fx.file(json)))) is [String: Any])
        let report = fx.run("analytics.report", ["window": .int(60)])
        try fx.expectSuccess(report)
        #expect(try String(contentsOfFile: try fx.file(report), encoding: .utf8).contains("video_downloader"))
        try fx.expectSuccess(fx.run("analytics.reset_counters"))
        #expect(try fx.count("SELECT count(*) FROM stats_minutely") == 0)
        #expect(try fx.count("SELECT count(*) FROM workers WHERE processed <> 0 OR failed <> 0") == 0)
    }

    @Test func countersResetAtTheSourceStayReset() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        let completed = "SELECT coalesce(sum(completed), 0)::bigint FROM stats_minutely"
        let processed = "SELECT coalesce(sum(processed), 0)::bigint FROM workers"
        let before = (try fx.count(completed), try fx.count(processed))
        try #require(before.0 > 20 && before.1 > 20, "two minutes of history to reset: \(before)")
        let flushed = try fx.scalar("SELECT max(updated_at)::text FROM workers", as: String.self)
        try fx.expectSuccess(fx.run("analytics.reset_counters"))
        // The owner writes its stats and its workers again: what it writes starts from zero.
        try fx.tick(until: { try fx.scalar("SELECT max(updated_at)::text FROM workers", as: String.self) != flushed }, "the owner wrote its workers")
        #expect(try fx.count(completed) < before.0 / 2, "the owner's next write does not bring the counts back")
        #expect(try fx.count(processed) < before.1 / 2)
        #expect(fx.sim?.read { $0.workers.values.reduce(0) { $0 + $1.info.processed } } ?? 0 < before.1 / 2)
    }

    @Test func autoscaleOffStopsTheAutoscalerWhileTheQueueGrows() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("config.set", ["key": .string("workers.autoscale"), "value": .string("false")]))
        try fx.expectSuccess(fx.run("queue.pause", ["queue": .string("video_downloader")]))
        try fx.tick(1)
        let pools = "SELECT coalesce(sum(concurrency), 0)::bigint FROM workers WHERE stage = 'video_downloader'"
        let pool0 = try fx.count(pools)
        let runs0 = try fx.count("SELECT runs FROM managers WHERE id = 'autoscaler'")
        // The backlog grows past 20 (the autoscaler's trigger to grow) and it runs twice more.
        try fx.tick(
            until: {
                try fx.count("SELECT count(*) FROM jobs WHERE queue = 'video_downloader' AND status = 'queued'") > 30
                    && fx.count("SELECT runs FROM managers WHERE id = 'autoscaler'") >= runs0 + 2
            }, "the queue grew and the autoscaler ran")
        #expect(try fx.count(pools) == pool0, "with workers.autoscale off the pools stay as they are")
        #expect(fx.sim?.read { $0.config_["workers.autoscale"]?.value } == .bool(false))
    }

    @Test func maxAttemptsReachesTheComponentThatCreatesJobs() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        try fx.expectSuccess(fx.run("config.set", ["key": .string("pipeline.max_attempts"), "value": .string("1")]))
        try fx.tick(until: { try fx.count("SELECT count(*) FROM jobs WHERE max_attempts = 1") >= 3 }, "new jobs get one attempt")
        #expect(try fx.count("SELECT count(*) FROM jobs WHERE max_attempts = 1 AND status = 'retrying'") == 0)
        try fx.expectSuccess(fx.run("config.reset", ["key": .string("pipeline.max_attempts")]))
        let mark = try fx.eventMark()
        try fx.tick(
            until: {
                try fx.count(
                    "SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.id > $1 AND e.type = 'created' AND j.max_attempts = 3",
                    [mark]) >= 3
            }, "reset: new jobs get three again")
    }

    @Test func reloadRereadsTheStoreAndTheScheduleKeyMovesTheCleanupManager() throws {
        let fx = try ActionFixture()
        defer { fx.close() }
        // Another tool changed the row: the services learn it on config.reload.
        try fx.db.query("UPDATE config SET value = '\"*/2 * * * *\"', version = version + 1 WHERE key = 'cleanup.schedule'")
        try fx.tick(1)
        #expect(fx.sim?.read { $0.managers["cleanup"]?.schedule } == "*/5 * * * *", "nobody told the owner yet")
        try fx.expectSuccess(fx.run("config.reload", [:]))
        try fx.tick(
            until: { try fx.scalar("SELECT schedule FROM managers WHERE id = 'cleanup'", as: String.self) == "*/2 * * * *" },
            "the cleanup manager took the new schedule")
        #expect(try fx.count("SELECT count(*) FROM managers WHERE id = 'cleanup' AND extract(epoch FROM next_run_at)::bigint % 120 = 0") == 1)
    }
}

/// Lines of a file (CSV ends lines with CRLF, which Swift counts as one Character).
func lines(_ path: String) throws -> Int { try Data(contentsOf: URL(fileURLWithPath: path)).filter { $0 == 0x0A }.count }

extension Result where Failure == ActionFailure {
    var isNotFound: Bool { if case .failure(.notFound) = self { return true } else { return false } }
}
