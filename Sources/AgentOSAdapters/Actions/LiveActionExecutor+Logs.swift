import AgentOSCore
import Foundation

/// System Logs (10): exports and archives of `logs`, per-service levels, mutes, alert rules and
/// bookmarks (migration 5's tables), acknowledgements.
extension LiveActionExecutor {
    static let logHandlers: [ActionName: Handler] = [
        .logsExport: { c in
            let format = c.p.string("format") ?? "jsonl"
            let lines = try c.db.reads.query(
                """
                SELECT \(LogRecord.columns) FROM logs
                WHERE level = ANY($1::text[]) AND ($2::text IS NULL OR source = $2)
                  AND ($3::text IS NULL OR strpos(lower(message), lower($3)) > 0)
                ORDER BY ts DESC, id DESC LIMIT $4
                """,
                [
                    PostgresValue.textArray(LogRecord.levels(atLeast: c.p.string("level"))), c.p.string("source"), c.p.string("search"),
                    c.p.int("limit") ?? 10_000
                ]
            ).rows.map(LogRecord.init)
            let body = format == "csv" ? LogRecord.csv(lines) : LogRecord.jsonl(lines, sanitized: true)
            let url = try ActionFiles.create(in: c.directory("io/exports"), "logs", ext: format == "csv" ? "csv" : "jsonl", Data(body.utf8))
            return ActionResult(
                "exported \(lines.count) log line(s) to \(url.path)", affected: lines.count,
                details: ["path": .string(url.path), "format": .string(format)])
        },
        .logsSetLevel: { c in
            let service = try c.string("service")
            let level = try c.string("level")
            let r = try c.commit { tx in
                let was = try tx.query("SELECT level FROM service_log_levels WHERE service = $1 FOR UPDATE", [service]).rows.first?.get(
                    "level", as: String.self)
                try tx.query(
                    """
                    INSERT INTO service_log_levels (service, level, updated_by) VALUES ($1, $2, $3)
                    ON CONFLICT (service) DO UPDATE SET level = EXCLUDED.level, updated_by = EXCLUDED.updated_by, updated_at = now()
                    """, [service, level, c.user])
                return ActionResult("service \(service): log level \(was ?? "default") → \(level)", details: ["level": .string(level)])
            }
            try c.control(.action(.logsSetLevel), service, extra: ["level": .string(level)])
            return r
        },
        .logsArchive: { c in
            let days = try c.int("days")
            let dir = try c.directory("io/archive")
            var archive: URL?
            do {
                return try c.commit { tx in
                    let lines = try tx.query(
                        """
                        SELECT \(LogRecord.columns) FROM logs WHERE ts < now() - make_interval(days => $1::int) ORDER BY ts, id FOR UPDATE
                        """, [days]
                    ).rows.map(LogRecord.init)
                    try c.p.withinConfirmed(lines.count)
                    let plain = try ActionFiles.create(
                        in: dir, "logs", ext: "jsonl", Data(LogRecord.jsonl(lines, sanitized: false).utf8), keepFree: ".gz")
                    let url = try ActionFiles.gzip(plain)
                    archive = url
                    let n = try tx.query(
                        "DELETE FROM logs WHERE id = ANY($1::text[]::bigint[])",
                        [PostgresValue.textArray(lines.map { String($0.id) })]
                    ).affectedRows
                    return ActionResult(
                        "archived \(n) log line(s) older than \(days) day(s) to \(url.path)", affected: n,
                        details: ["path": .string(url.path)])
                }
            } catch {
                if let archive { try? FileManager.default.removeItem(at: archive) }
                throw error
            }
        },
        .logsPurge: { c in
            let days = try c.int("days")
            return try c.commit { tx in
                let n = try tx.query("DELETE FROM logs WHERE ts < now() - make_interval(days => $1::int)", [days]).affectedRows
                try c.p.withinConfirmed(n)
                return ActionResult("purged \(n) log line(s) older than \(days) day(s)", affected: n)
            }
        },
        .logsMuteSource: { c in
            let source = try c.string("source")
            let r = try c.commit { tx in
                guard
                    try tx.query(
                        "INSERT INTO log_mutes (source, muted_by) VALUES ($1, $2) ON CONFLICT (source) DO NOTHING RETURNING source",
                        [source, c.user]
                    ).rows.first != nil
                else { throw ActionFailure.conflict("log source \(source) is already muted") }
                return ActionResult("log source \(source) muted")
            }
            try c.control(.action(.logsMuteSource), source)
            return r
        },
        .logsUnmuteSource: { c in
            let source = try c.string("source")
            let r = try c.commit { tx in
                guard try tx.query("DELETE FROM log_mutes WHERE source = $1 RETURNING source", [source]).rows.first != nil else {
                    throw ActionFailure.conflict("log source \(source) is not muted")
                }
                return ActionResult("log source \(source) unmuted")
            }
            try c.control(.action(.logsUnmuteSource), source)
            return r
        },
        .logsAckErrors: { c in
            let source = c.p.string("source")
            return try c.commit { tx in
                let n = try tx.query(
                    """
                    UPDATE logs SET acked = true WHERE level IN ('error','critical') AND NOT acked AND ($1::text IS NULL OR source = $1)
                    """, [source]
                ).affectedRows
                return ActionResult("acknowledged \(n) error line(s)\(source.map { " of \($0)" } ?? "")", affected: n)
            }
        },
        .logsAlertRuleAdd: { c in
            let pattern = try c.string("pattern")
            let level = c.p.string("level") ?? "error"
            let severity = c.p.string("severity") ?? "warning"
            try c.checkRegex(pattern)
            var id = 0
            let r = try c.commit { tx in
                if let same = try tx.query(
                    "SELECT id FROM log_alert_rules WHERE pattern = $1 AND level = $2 AND severity = $3",
                    [pattern, level, severity]
                ).rows.first {
                    throw ActionFailure.conflict("an identical alert rule exists (#\(try same.get("id", as: Int.self)))")
                }
                id = try tx.query(
                    """
                    INSERT INTO log_alert_rules (pattern, level, severity, created_by) VALUES ($1, $2, $3, $4) RETURNING id
                    """, [pattern, level, severity, c.user]
                ).rows[0].get("id")
                return ActionResult(
                    "alert rule #\(id): \(level)+ lines matching /\(TextSanitizer.clean(pattern))/ raise a \(severity) alert",
                    details: ["id": .int(id)])
            }
            // The log services evaluate the rule on their new lines.
            try c.control(
                .action(.logsAlertRuleAdd), String(id), extra: ["pattern": .string(pattern), "level": .string(level), "severity": .string(severity)])
            return r
        },
        .logsAlertRuleRemove: { c in
            let id = try c.int("id")
            let r = try c.commit { tx in
                guard let row = try tx.query("DELETE FROM log_alert_rules WHERE id = $1 RETURNING pattern", [id]).rows.first else {
                    throw ActionFailure.notFound("alert rule \(id)")
                }
                return ActionResult("alert rule #\(id) (/\(TextSanitizer.clean(try row.get("pattern", as: String.self)))/) removed")
            }
            try c.control(.action(.logsAlertRuleRemove), String(id))
            return r
        },
        .logsBookmark: { c in
            let logID = try c.int("id")
            let note = try c.string("note")
            return try c.commit { tx in
                guard try tx.query("SELECT 1 FROM logs WHERE id = $1", [logID]).rows.first != nil else {
                    throw ActionFailure.notFound("log line \(logID)")
                }
                let id: Int = try tx.query(
                    "INSERT INTO log_bookmarks (log_id, note, created_by) VALUES ($1, $2, $3) RETURNING id",
                    [logID, note, c.user]
                ).rows[0].get("id")
                return ActionResult("bookmark #\(id) on log line \(logID)", details: ["id": .int(id)])
            }
        }
    ]
}

extension LiveActionContext {
    /// A log alert pattern must compile both here and in PostgreSQL (`~`).
    func checkRegex(_ pattern: String) throws {
        do { _ = try NSRegularExpression(pattern: pattern) } catch {
            throw ActionFailure.invalid(field: "pattern", "'\(TextSanitizer.clean(String(pattern.prefix(60))))' is not a valid regular expression")
        }
        do { _ = try db.query("SELECT '' ~ $1 AS m", [pattern]) } catch let e as PostgresError where e.sqlState == "2201B" {
            throw ActionFailure.invalid(field: "pattern", "PostgreSQL rejects the regular expression: \(TextSanitizer.clean(e.message))")
        }
    }
}

/// One `logs` row as exported (JSONL or CSV) or archived (JSONL, gzipped).
struct LogRecord {
    static let levels = ["debug", "info", "warning", "error", "critical"]
    static let columns = "id, ts, level, source, message, job_id::text AS job_id, worker_id, context::text AS context, acked"

    var id: Int
    var ts: Date
    var level: String
    var source: String
    var message: String
    var jobID: String?
    var workerID: String?
    var context: String
    var acked: Bool

    init(_ row: PostgresRow) throws {
        id = try row.get("id")
        ts = try row.get("ts")
        level = try row.get("level")
        source = try row.get("source")
        message = try row.get("message")
        jobID = try row.get("job_id")
        workerID = try row.get("worker_id")
        context = try row.get("context")
        acked = try row.get("acked")
    }

    /// `level` and the levels above it (all when nil).
    static func levels(atLeast level: String?) -> [String] {
        guard let level, let i = levels.firstIndex(of: level) else { return levels }
        return Array(levels[i...])
    }

    static func clean(_ s: String, _ sanitized: Bool) -> String { sanitized ? TextSanitizer.clean(s, .multiLine) : s }

    /// One JSON object per line. Exports are sanitised for terminals; archives keep the text
    /// exactly (control characters escaped as `\u00XX`, never raw).
    static func jsonl(_ lines: [LogRecord], sanitized: Bool) -> String {
        var out = ""
        for l in lines {
            let s = { (t: String) in CanonicalJSON.string(clean(t, sanitized)) }
            let opt = { (t: String?) in t.map(s) ?? "null" }
            out += "{\"id\":\(l.id),\"ts\":\(s(ISOTime.format(l.ts, fractionDigits: 6))),\"level\":\(s(l.level)),\"source\":\(s(l.source)),"
            out += "\"message\":\(s(l.message)),\"job_id\":\(opt(l.jobID)),\"worker_id\":\(opt(l.workerID)),"
            out += "\"context\":\(ActionJSON.reencode(l.context, sanitized: sanitized)),\"acked\":\(l.acked)}\n"
        }
        return out
    }

    static func csv(_ lines: [LogRecord]) -> String {
        var out = CSVText.row(["id", "ts", "level", "source", "message", "job_id", "worker_id", "context", "acked"])
        for l in lines {
            out += CSVText.row(
                [
                    String(l.id), ISOTime.format(l.ts, fractionDigits: 6), l.level, l.source, l.message, l.jobID ?? "", l.workerID ?? "",
                    ActionJSON.reencode(l.context, sanitized: true), String(l.acked)
                ].map { TextSanitizer.clean($0, .multiLine) })
        }
        return out
    }
}

/// RFC 4180: CRLF line ends; fields with a comma, quote, CR or LF quoted, quotes doubled.
enum CSVText {
    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func row(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }
}

/// Numbers and re-encoded JSON for the files the actions write (strings: `CanonicalJSON.string`).
enum ActionJSON {
    static func number(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }

    static func number(_ d: Double?) -> String { d.map { number($0) } ?? "null" }

    /// Any JSON value, re-encoded with sorted keys and `string` escapes (optionally sanitising
    /// every string for terminals). Text that is not JSON becomes a string.
    static func reencode(_ text: String, sanitized: Bool) -> String {
        guard let tree = try? JSONDecoder().decode(JSONTree.self, from: Data(text.utf8)) else {
            return CanonicalJSON.string(sanitized ? TextSanitizer.clean(text, .multiLine) : text)
        }
        return tree.canonical(sanitized)
    }
}

extension JSONTree {
    /// Sorted keys and `CanonicalJSON` string escapes; every string sanitised for terminals if asked.
    func canonical(_ sanitized: Bool) -> String {
        let s = { (t: String) in CanonicalJSON.string(sanitized ? TextSanitizer.clean(t, .multiLine) : t) }
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return ActionJSON.number(d)
        case .string(let t): return s(t)
        case .array(let items): return "[" + items.map { $0.canonical(sanitized) }.joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { s($0) + ":" + fields[$0]!.canonical(sanitized) }.joined(separator: ",") + "}"
        }
    }
}

/// Files under the data directory: created 0600 (never over an existing file), fully written
/// and synced before the action returns.
enum ActionFiles {
    /// `<dir>/<base>-<stamp>.<ext>` (with `-1`, `-2`, … on a clash); `keepFree` is a suffix whose
    /// file must not exist either (`.gz` before compressing).
    static func create(in dir: URL, _ base: String, ext: String, _ data: Data, keepFree: String? = nil) throws -> URL {
        let stamp = LiveActionContext.stamp()
        for attempt in 0..<100 {
            let url = dir.appendingPathComponent("\(base)-\(stamp)\(attempt == 0 ? "" : "-\(attempt)").\(ext)")
            if let keepFree, FileManager.default.fileExists(atPath: url.path + keepFree) { continue }
            if try write(url, data) { return url }
        }
        throw ActionFailure.failed("no free file name for \(base)-\(stamp).\(ext) in \(dir.path)")
    }

    /// Creates exactly `url` (0600, never over an existing file), writes and syncs it; false when
    /// the name is taken.
    @discardableResult
    static func write(_ url: URL, _ data: Data) throws -> Bool {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw ActionFailure.failed("cannot create \(url.path): \(String(cString: strerror(errno)))")
        }
        let failure = writeAll(fd, data)
        close(fd)
        if let failure {
            unlink(url.path)
            throw ActionFailure.failed("cannot write \(url.path): \(failure)")
        }
        return true
    }

    /// Writes everything, forces 0600 (whatever the umask) and syncs; the error text or nil.
    private static func writeAll(_ fd: Int32, _ data: Data) -> String? {
        let err: Int32 = data.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
        if err != 0 { return String(cString: strerror(err)) }
        if fchmod(fd, 0o600) != 0 || fsync(fd) != 0 { return String(cString: strerror(errno)) }
        return nil
    }

    /// Compresses `file` with gzip (which replaces it by `file.gz`, same mode); the `.gz` URL.
    static func gzip(_ file: URL) throws -> URL {
        let out = URL(fileURLWithPath: file.path + ".gz")
        func fail(_ why: String) -> ActionFailure {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(at: out)
            return ActionFailure.failed(why)
        }
        guard let tool = ["/bin/gzip", "/usr/bin/gzip"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw fail("gzip not found (/bin/gzip, /usr/bin/gzip)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["-n", "--", file.path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { throw fail("cannot run \(tool): \(error)") }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationReason == .exit, p.terminationStatus == 0, FileManager.default.fileExists(atPath: out.path) else {
            throw fail("gzip exited \(p.terminationStatus): \(TextSanitizer.clean(String(decoding: stderr.prefix(300), as: UTF8.self)))")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: out.path)
        return out
    }
}
