import AgentOSCrypto
import Foundation

/// One `logs` row as exported (JSONL or CSV) or archived (JSONL, gzipped).
public struct LogRecord: Sendable {
    public static let levels = ["debug", "info", "warning", "error", "critical"]
    public var id: Int
    public var ts: Date
    public var level: String
    public var source: String
    public var message: String
    public var jobID: String?
    public var workerID: String?
    public var context: String
    public var acked: Bool

    public init(
        id: Int, ts: Date, level: String, source: String, message: String, jobID: String?, workerID: String?, context: String, acked: Bool
    ) {
        self.id = id
        self.ts = ts
        self.level = level
        self.source = source
        self.message = message
        self.jobID = jobID
        self.workerID = workerID
        self.context = context
        self.acked = acked
    }

    /// A line of the embedded log store (no context; `acked` for acknowledged error lines).
    public init(_ line: LogLine, acked: Bool) {
        self.init(
            id: line.id, ts: line.ts, level: line.level.rawValue, source: line.source, message: line.message, jobID: line.jobID,
            workerID: line.workerID, context: "{}", acked: acked)
    }

    /// `level` and the levels above it (all when nil).
    public static func levels(atLeast level: String?) -> [String] {
        guard let level, let i = levels.firstIndex(of: level) else { return levels }
        return Array(levels[i...])
    }

    static func clean(_ s: String, _ sanitized: Bool) -> String { sanitized ? TextSanitizer.clean(s, .multiLine) : s }

    /// One JSON object per line. Exports are sanitised for terminals; archives keep the text
    /// exactly (control characters escaped as `\u00XX`, never raw).
    public static func jsonl(_ lines: [LogRecord], sanitized: Bool) -> String {
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

    public static func csv(_ lines: [LogRecord]) -> String {
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

/// One `stats_minutely` row.
public struct StatsRow: Sendable {
    public var minute: Date
    public var stage: String
    public var completed: Int
    public var failed: Int
    public var retried: Int
    public var p50: Double?
    public var p95: Double?

    public init(minute: Date, stage: String, completed: Int, failed: Int, retried: Int, p50: Double?, p95: Double?) {
        self.minute = minute
        self.stage = stage
        self.completed = completed
        self.failed = failed
        self.retried = retried
        self.p50 = p50
        self.p95 = p95
    }

    public struct Totals {
        public var completed = 0, failed = 0, retried = 0
        public var successRate: Double? { completed + failed == 0 ? nil : Double(completed) / Double(completed + failed) }
    }

    public static func totals(_ series: [StatsRow]) -> [Date: Totals] {
        var out: [Date: Totals] = [:]
        for s in series {
            out[s.minute, default: Totals()].completed += s.completed
            out[s.minute, default: Totals()].failed += s.failed
            out[s.minute, default: Totals()].retried += s.retried
        }
        return out
    }

    /// The series as CSV, each row with its minute's totals over the stages.
    public static func csv(_ series: [StatsRow]) -> String {
        let totals = StatsRow.totals(series)
        var body = CSVText.row([
            "minute", "stage", "completed", "failed", "retried", "p50_ms", "p95_ms",
            "minute_completed", "minute_failed", "minute_retried"
        ])
        for s in series {
            let t = totals[s.minute]!
            body += CSVText.row([
                ISOTime.format(s.minute, fractionDigits: 0), TextSanitizer.clean(s.stage), String(s.completed), String(s.failed),
                String(s.retried), s.p50.map { ActionJSON.number($0) } ?? "", s.p95.map { ActionJSON.number($0) } ?? "",
                String(t.completed), String(t.failed), String(t.retried)
            ])
        }
        return body
    }

    /// The series and the per-minute totals as JSON.
    public static func json(_ series: [StatsRow], window: Int) -> String {
        let totals = StatsRow.totals(series)
        let minute = { (d: Date) in CanonicalJSON.string(ISOTime.format(d, fractionDigits: 0)) }
        let rows = series.map {
            "    {\"minute\": \(minute($0.minute)), \"stage\": \(CanonicalJSON.string(TextSanitizer.clean($0.stage))), \"completed\": \($0.completed), "
                + "\"failed\": \($0.failed), \"retried\": \($0.retried), \"p50_ms\": \(ActionJSON.number($0.p50)), \"p95_ms\": \(ActionJSON.number($0.p95))}"
        }
        let sums = totals.keys.sorted().map { m in
            let t = totals[m]!
            return "    {\"minute\": \(minute(m)), \"completed\": \(t.completed), \"failed\": \(t.failed), \"retried\": \(t.retried), "
                + "\"success_rate\": \(ActionJSON.number(t.successRate))}"
        }
        return """
            {
              "window_minutes": \(window),
              "generated_at": \(CanonicalJSON.string(ISOTime.format(Date()))),
              "series": [
            \(rows.joined(separator: ",\n"))
              ],
              "totals": [
            \(sums.joined(separator: ",\n"))
              ]
            }

            """
    }

    public static func report(_ series: [StatsRow], errors: [(name: String, count: Int)], window: Int, by user: String) -> String {
        func cell(_ s: String) -> String { TextSanitizer.clean(s).replacingOccurrences(of: "|", with: "\\|") }
        func ms(_ d: Double?) -> String { d.map { String(format: "%.1f", $0) } ?? "–" }
        let all = series.reduce(into: Totals()) { t, s in
            t.completed += s.completed
            t.failed += s.failed
            t.retried += s.retried
        }
        let perMinute = totals(series)
        let busiest = perMinute.max { a, b in a.value.completed < b.value.completed || (a.value.completed == b.value.completed && a.key > b.key) }
        var out = """
            # AgentOS analytics report

            Window: the last \(window) minute(s), generated \(ISOTime.format(Date(), fractionDigits: 0)) by \(cell(user)).
            Source: `stats_minutely` (\(series.count) per-minute row(s) over \(perMinute.count) minute(s)) and failed `jobs`.

            ## Throughput

            - Completed: \(all.completed), failed: \(all.failed), retried: \(all.retried)
            - Throughput: \(String(format: "%.2f", Double(all.completed) / Double(max(1, window)))) completed jobs/min over the window
            - Success rate: \(all.successRate.map { String(format: "%.1f %%", $0 * 100) } ?? "n/a (nothing finished)")

            """
        if let busiest {
            out +=
                "- Busiest minute: \(ISOTime.format(busiest.key, fractionDigits: 0)) (\(busiest.value.completed) completed, \(busiest.value.failed) failed)\n"
        }
        out += "\n## Stages\n\n"
        let stages = Dictionary(grouping: series, by: \.stage)
        if stages.isEmpty {
            out += "No per-minute statistics in the window.\n"
        } else {
            out += "| stage | completed | failed | retried | success | p50 ms (weighted mean) | p95 ms (worst minute) |\n"
            out += "|---|---:|---:|---:|---:|---:|---:|\n"
            for stage in stages.keys.sorted() {
                let rows = stages[stage]!
                let t = rows.reduce(into: Totals()) { t, s in
                    t.completed += s.completed
                    t.failed += s.failed
                    t.retried += s.retried
                }
                let p50s = rows.compactMap { s in s.p50.map { (value: $0, weight: Double(max(1, s.completed))) } }
                let weight = p50s.reduce(0) { $0 + $1.weight }
                let p50 = weight > 0 ? p50s.reduce(0) { $0 + $1.value * $1.weight } / weight : nil
                let p95 = rows.compactMap(\.p95).max()
                out +=
                    "| \(cell(stage)) | \(t.completed) | \(t.failed) | \(t.retried) | \(t.successRate.map { String(format: "%.1f %%", $0 * 100) } ?? "–") "
                    + "| \(ms(p50)) | \(ms(p95)) |\n"
            }
        }
        out += "\n## Top error classes\n\n"
        if errors.isEmpty {
            out += "No failed jobs in the window.\n"
        } else {
            out += "| error class | failed jobs |\n|---|---:|\n"
            for e in errors { out += "| \(cell(e.name)) | \(e.count) |\n" }
        }
        return out
    }
}

extension StatsRow {
    /// What an analytics export reports.
    public static func exported(to url: URL, rows: Int, window: Int) -> ActionResult {
        ActionResult(
            "exported \(rows) per-minute row(s) of the last \(window) minute(s) to \(url.path)", affected: rows,
            details: ["path": .string(url.path)])
    }
}

/// config.import and config.validate's file, and config.export's format.
public enum ConfigFile {
    /// One value of an import file: a scalar, or an object with `value` (config.export's format).
    public enum Item: Decodable, Sendable {
        case value(ConfigValue)
        case bad

        private enum Keys: String, CodingKey { case key, value }

        public init(from decoder: Decoder) throws {
            if let v = try? decoder.singleValueContainer().decode(ConfigValue.self) {
                self = .value(v)
                return
            }
            if let c = try? decoder.container(keyedBy: Keys.self), let v = try? c.decode(ConfigValue.self, forKey: .value) {
                self = .value(v)
                return
            }
            self = .bad
        }

        /// `[{"key": ..., "value": ...}]` (the snapshot's list of entries).
        struct Keyed: Decodable {
            var key: String
            var item: Item
            init(from decoder: Decoder) throws {
                key = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .key)
                item = try Item(from: decoder)
            }
        }
    }

    /// An entry of the file as it would be applied to `row`.
    public struct Planned<Row> {
        public var row: Row
        public var new: ConfigValue
        public var changed: Bool
    }

    /// The file at `path` (relative to `dataDirectory` unless absolute): its display name and its
    /// entries, sorted by key.
    public static func read(_ path: String, dataDirectory: URL) throws -> (String, [(key: String, item: Item)]) {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : dataDirectory.appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: url.path) else { throw ActionFailure.notFound("file \(url.path)") }
        let data = try Data(contentsOf: url)
        guard data.count <= 8 << 20 else { throw ActionFailure.invalid(field: "file", "\(url.path) is larger than 8 MiB") }
        let items: [(key: String, item: Item)]
        if let object = try? JSONDecoder().decode([String: Item].self, from: data) {
            items = object.map { (key: $0.key, item: $0.value) }
        } else if let array = try? JSONDecoder().decode([Item.Keyed].self, from: data) {
            items = array.map { (key: $0.key, item: $0.item) }
        } else {
            throw ActionFailure.invalid(field: "file", "\(url.path) is not a JSON object of key → value (or config.export's format)")
        }
        guard !items.isEmpty else { throw ActionFailure.invalid(field: "file", "\(url.path) holds no configuration entries") }
        return (url.lastPathComponent, items.sorted { $0.key < $1.key })
    }

    /// Every entry checked against its key's type and constraints (the first problem is an error
    /// naming the key), with the value each would get.
    public static func plan<Row>(
        _ items: [(key: String, item: Item)], rows: [String: Row], coerce: (ConfigValue, Row) throws(ConfigProblem) -> ConfigValue,
        holds: (Row, ConfigValue) -> Bool
    ) throws(ActionFailure) -> [Planned<Row>] {
        var plan: [Planned<Row>] = []
        for (key, item) in items {
            let shown = TextSanitizer.clean(String(key.prefix(80)))
            guard let row = rows[key] else { throw .invalid(field: shown, "unknown configuration key") }
            guard case .value(let raw) = item else {
                throw .invalid(field: shown, "expected a number, boolean or string (or an object with \"value\")")
            }
            do throws(ConfigProblem) {
                let new = try coerce(raw, row)
                plan.append(Planned(row: row, new: new, changed: !holds(row, new)))
            } catch {
                throw .invalid(field: shown, error.why)
            }
        }
        return plan
    }

    /// config.export's file: key → type, value, default and version (values as stored JSON).
    public static func export(_ entries: [(key: String, type: ConfigType, valueJSON: String, defaultJSON: String, version: Int)]) -> String {
        "{\n"
            + entries.map {
                "  \(CanonicalJSON.string($0.key)): {\"type\": \(CanonicalJSON.string($0.type.rawValue)), \"value\": \(ActionJSON.reencode($0.valueJSON, sanitized: false)), "
                    + "\"default\": \(ActionJSON.reencode($0.defaultJSON, sanitized: false)), \"version\": \($0.version)}"
            }.joined(separator: ",\n") + "\n}\n"
    }

    /// What config.validate reports: the entries, how many would change, and the locked keys among them.
    public static func validated(_ file: String, entries: Int, changing: Int, locked: [String]) -> ActionResult {
        ActionResult(
            "\(file): \(entries) entries valid (\(changing) would change\(locked.isEmpty ? "" : "; locked: \(locked.joined(separator: ", "))"))",
            affected: entries, details: ["entries": .int(entries), "would_change": .int(changing)])
    }

    /// What config.import reports.
    public static func imported(_ file: String, entries: Int, changed: Int) -> ActionResult {
        ActionResult(
            "imported \(file): \(changed) of \(entries) entries changed", affected: changed,
            details: ["entries": .int(entries), "changed": .int(changed)])
    }

    /// What an export reports.
    public static func exported(to url: URL, entries: Int) -> ActionResult {
        ActionResult("exported \(entries) configuration entries to \(url.path)", affected: entries, details: ["path": .string(url.path)])
    }
}

extension ActionFiles {
    /// `manifest.json` in `dir`: file name → SHA-256 and size, with who wrote it and when.
    public static func manifest(_ dir: URL, _ files: [URL], by user: String, name: String = "manifest.json") throws -> URL {
        var entries: [String] = []
        for f in files {
            let data = try Data(contentsOf: f)
            entries.append("\(CanonicalJSON.string(f.lastPathComponent)):{\"bytes\":\(data.count),\"sha256\":\"\(Hex.encode(Digest.sha256(data)))\"}")
        }
        let body =
            "{\"created_at\":\(CanonicalJSON.string(ISOTime.format(Date()))),\"by\":\(CanonicalJSON.string(user)),\"files\":{\(entries.joined(separator: ","))}}\n"
        let url = dir.appendingPathComponent(name)
        guard try write(url, Data(body.utf8)) else { throw ActionFailure.conflict("\(url.path) already exists") }
        return url
    }
}
