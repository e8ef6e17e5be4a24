import AgentOSCore
import Foundation

/// Configuration (8): typed, range-checked and versioned changes of `config`, each with its
/// `config_history` row; the freeze flag and the reload time live in `console_settings`.
extension LiveActionExecutor {
    static let configHandlers: [ActionName: Handler] = [
        .configSet: { c in
            let key = try c.string("key")
            let text = try c.string("value")
            var entry: ConfigEntry?
            let r = try c.commit { tx in
                let row = try c.configRow(tx, key)
                try c.configWritable(tx, row)
                let new: ConfigValue
                do throws(ConfigProblem) { new = try ConfigCheck.parse(text, row) } catch {
                    throw ActionFailure.invalid(field: "value", "\(key): \(error.why)")
                }
                guard !row.holds(new) else { throw ActionFailure.conflict("\(key) is already \(ConfigCheck.show(new))") }
                entry = try c.applyConfig(tx, row, ConfigCheck.json(new), reason: c.p.string("reason"))
                return c.configResult(row, entry!, "")
            }
            try c.announce(entry!)
            return r
        },
        .configReset: { c in
            let key = try c.string("key")
            var entry: ConfigEntry?
            let r = try c.commit { tx in
                let row = try c.configRow(tx, key)
                guard !row.isDefault else { throw ActionFailure.conflict("\(key) already has its default value \(row.shown(row.defaultJSON))") }
                try c.configWritable(tx, row)
                entry = try c.applyConfig(tx, row, row.defaultJSON, reason: "reset to default")
                return c.configResult(row, entry!, " (default)")
            }
            try c.announce(entry!)
            return r
        },
        .configRollback: { c in
            let key = try c.string("key")
            let version = try c.int("version")
            var entry: ConfigEntry?
            let r = try c.commit { tx in
                let row = try c.configRow(tx, key)
                guard
                    let old = try tx.query("SELECT new_value::text AS v FROM config_history WHERE key = $1 AND version = $2", [key, version]).rows
                        .first
                else {
                    throw ActionFailure.notFound("version \(version) of \(key) in the configuration history")
                }
                try c.configWritable(tx, row)
                let stored = try ConfigCheck.decode(try old.get("v", as: String.self))
                let new: ConfigValue
                do throws(ConfigProblem) { new = try ConfigCheck.coerce(stored, row) } catch {
                    throw ActionFailure.conflict("version \(version) of \(key) is not valid today: \(error.why)")
                }
                guard !row.holds(new) else {
                    throw ActionFailure.conflict("\(key) already has the value of version \(version) (\(ConfigCheck.show(new)))")
                }
                entry = try c.applyConfig(tx, row, ConfigCheck.json(new), reason: "rollback to version \(version)")
                return c.configResult(row, entry!, " (rolled back to version \(version))")
            }
            try c.announce(entry!)
            return r
        },
        .configImport: { c in
            let (file, items) = try c.configFile()
            var entries: [ConfigEntry] = []
            let r = try c.commit { tx in
                let plan = try c.configPlan(tx, items, lock: true)
                let changes = plan.filter(\.changed)
                if !changes.isEmpty {
                    if try c.configFrozen(tx) { throw ActionFailure.conflict("configuration is frozen (config.lock)") }
                    if let locked = changes.first(where: \.row.locked) {
                        throw ActionFailure.conflict("config key \(locked.row.key) is locked (config.lock)")
                    }
                }
                for ch in changes { entries.append(try c.applyConfig(tx, ch.row, ConfigCheck.json(ch.new), reason: "import of \(file)")) }
                return ConfigFile.imported(file, entries: plan.count, changed: changes.count)
            }
            for e in entries { try c.announce(e) }
            return r
        },
        .configExport: { c in
            let rows = try c.db.reads.query("SELECT \(ConfigRow.columns) FROM config ORDER BY key").rows.map(ConfigRow.init)
            let body = ConfigFile.export(rows.map { ($0.key, $0.type, $0.valueJSON, $0.defaultJSON, $0.version) })
            let url = try ActionFiles.create(in: c.directory("io/exports"), "config", ext: "json", Data(body.utf8))
            return ConfigFile.exported(to: url, entries: rows.count)
        },
        .configValidate: { c in
            let (file, items) = try c.configFile()
            let plan = try c.db.withConnection { try c.configPlan($0, items, lock: false) }
            let changing = plan.filter(\.changed)
            return ConfigFile.validated(file, entries: plan.count, changing: changing.count, locked: changing.filter(\.row.locked).map(\.row.key))
        },
        .configReload: { c in
            let target = c.p.string("service") ?? "all"
            let r = try c.commit { tx in
                try tx.query(
                    """
                    INSERT INTO console_settings (key, value, updated_by)
                    VALUES ('config.reloaded_at', jsonb_build_object('ts', now(), 'by', $1::text, 'service', $2::text), $1)
                    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()
                    """, [c.user, target])
                return ActionResult(
                    target == "all" ? "all services told to reload their configuration" : "service \(target) told to reload its configuration")
            }
            try c.control(.action(.configReload), target)
            return r
        },
        .configLock: { c in
            guard let locked = c.p.bool("locked") else { throw ActionFailure.invalid(field: "locked", "required") }
            guard let key = c.p.string("key") else {
                let r = try c.commit { tx in
                    guard try c.configFrozen(tx, lock: true) != locked else {
                        throw ActionFailure.conflict("configuration is already \(locked ? "frozen" : "unfrozen")")
                    }
                    try tx.query(
                        """
                        INSERT INTO console_settings (key, value, updated_by) VALUES ('config.frozen', to_jsonb($1::boolean), $2)
                        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()
                        """, [locked, c.user])
                    return ActionResult(locked ? "configuration frozen: changes are refused until it is unfrozen" : "configuration unfrozen")
                }
                try c.control(.action(.configLock), "all", extra: ["locked": .bool(locked)])
                return r
            }
            var entry: ConfigEntry?
            let r = try c.commit { tx in
                guard
                    let row = try tx.query(
                        "UPDATE config SET locked = $2 WHERE key = $1 AND locked <> $2 RETURNING \(ConfigRow.columns)",
                        [key, locked]
                    ).rows.first
                else {
                    _ = try c.configRow(tx, key)
                    throw ActionFailure.conflict("config key \(key) is already \(locked ? "locked" : "unlocked")")
                }
                entry = try ConfigRow(row).entry
                return ActionResult("config key \(key) \(locked ? "locked" : "unlocked")")
            }
            try c.control(.action(.configLock), key, extra: ["locked": .bool(locked)])
            c.publish(.configChanged(entry!))
            return r
        }
    ]
}

extension LiveActionContext {
    /// The entry, locked for the change (not found when absent).
    func configRow(_ tx: PostgresConnection, _ key: String) throws -> ConfigRow {
        guard let row = try tx.query("SELECT \(ConfigRow.columns) FROM config WHERE key = $1 FOR UPDATE", [key]).rows.first else {
            throw ActionFailure.notFound("config key \(key)")
        }
        return try ConfigRow(row)
    }

    /// `console_settings['config.frozen']` is JSON `true`.
    func configFrozen(_ tx: PostgresConnection, lock: Bool = false) throws -> Bool {
        try tx.query("SELECT value = 'true'::jsonb AS frozen FROM console_settings WHERE key = 'config.frozen' \(lock ? "FOR UPDATE" : "FOR SHARE")")
            .rows.first?.get("frozen", as: Bool.self) ?? false
    }

    func configWritable(_ tx: PostgresConnection, _ row: ConfigRow) throws {
        if try configFrozen(tx) { throw ActionFailure.conflict("configuration is frozen (config.lock)") }
        if row.locked { throw ActionFailure.conflict("config key \(row.key) is locked (config.lock)") }
    }

    /// The new value as the next version, with its history row; the entry as it now is.
    func applyConfig(_ tx: PostgresConnection, _ row: ConfigRow, _ newJSON: String, reason: String?) throws -> ConfigEntry {
        let updated = try ConfigRow(
            tx.query(
                """
                UPDATE config SET value = $2, version = version + 1, updated_at = now(), updated_by = $3 WHERE key = $1 RETURNING \(ConfigRow.columns)
                """, [row.key, PostgresValue.json(newJSON), user]
            ).rows[0])
        try tx.query(
            "INSERT INTO config_history (key, version, old_value, new_value, changed_by, reason) VALUES ($1, $2, $3, $4, $5, $6)",
            [row.key, updated.version, PostgresValue.json(row.valueJSON), PostgresValue.json(newJSON), user, reason])
        return updated.entry
    }

    func configResult(_ old: ConfigRow, _ new: ConfigEntry, _ note: String) -> ActionResult {
        let was = old.shown(old.valueJSON)
        let now = TextSanitizer.clean(String(new.value.description.prefix(80)))
        return ActionResult(
            "\(new.key): \(was) → \(now)\(note), version \(new.version)",
            details: ["old": .string(was), "new": .string(now), "version": .int(new.version)])
    }

    func announce(_ entry: ConfigEntry) throws {
        try control(.configChanged, entry.key, extra: ["version": .int(entry.version)])
        publish(.configChanged(entry))
    }

    /// The import file named by the payload's `file` (relative to the data directory unless absolute).
    func configFile() throws -> (String, [(key: String, item: ConfigFile.Item)]) {
        try ConfigFile.read(try string("file"), dataDirectory: ex.settings.dataDirectory)
    }

    /// Every entry of a file checked against its key's type and constraints (the first problem
    /// is an error naming the key); with the value each would get.
    func configPlan(_ db: PostgresConnection, _ items: [(key: String, item: ConfigFile.Item)], lock: Bool) throws -> [ConfigPlanned] {
        let rows = try db.query(
            "SELECT \(ConfigRow.columns) FROM config WHERE key = ANY($1::text[]) ORDER BY key\(lock ? " FOR UPDATE" : "")",
            [PostgresValue.textArray(items.map(\.key))]
        ).rows.map(ConfigRow.init)
        return try ConfigFile.plan(
            items, rows: Dictionary(rows.map { ($0.key, $0) }) { a, _ in a }, coerce: ConfigCheck.coerce, holds: { $0.holds($1) })
    }
}

typealias ConfigPlanned = ConfigFile.Planned<ConfigRow>

/// A `config` row as the actions need it.
struct ConfigRow {
    static let columns = """
        key, type, value::text AS value, default_value::text AS default_value, constraints::text AS constraints, description, version, locked, \
        updated_at, updated_by, (value = default_value) AS is_default
        """

    var key: String
    var type: ConfigType
    var valueJSON: String
    var defaultJSON: String
    var rules: ConfigCheck.Rules
    var description: String
    var version: Int
    var locked: Bool
    var updatedAt: Date
    var updatedBy: String
    var isDefault: Bool

    init(_ row: PostgresRow) throws {
        key = try row.get("key")
        let t: String = try row.get("type")
        guard let type = ConfigType(rawValue: t) else {
            throw ActionFailure.failed("config key \(key) has the unknown type \(TextSanitizer.clean(t))")
        }
        self.type = type
        valueJSON = try row.get("value")
        defaultJSON = try row.get("default_value")
        rules = (try? JSONDecoder().decode(ConfigCheck.Rules.self, from: Data(try row.get("constraints", as: String.self).utf8))) ?? .init()
        description = try row.get("description")
        version = try row.get("version")
        locked = try row.get("locked")
        updatedAt = try row.get("updated_at")
        updatedBy = try row.get("updated_by")
        isDefault = try row.get("is_default")
    }

    var value: ConfigValue? { try? ConfigCheck.decode(valueJSON) }

    /// The current value equals `new` (compared as the entry's type).
    func holds(_ new: ConfigValue) -> Bool {
        guard let v = value else { return false }
        return ((try? ConfigCheck.coerce(v, self)) ?? v) == new
    }

    func shown(_ json: String) -> String {
        TextSanitizer.clean(String(((try? ConfigCheck.decode(json))?.description ?? json).prefix(80)))
    }

    var entry: ConfigEntry {
        ConfigEntry(
            key: key, type: type, value: value ?? .string(valueJSON), defaultValue: (try? ConfigCheck.decode(defaultJSON)) ?? .string(defaultJSON),
            constraints: ConfigConstraints(min: rules.min, max: rules.max, allowed: rules.choices, pattern: rules.pattern),
            description: description, version: version, locked: locked, updatedAt: updatedAt, updatedBy: updatedBy)
    }
}

extension ConfigCheck {
    /// `parse` and `coerce` against a row's type and constraints.
    static func parse(_ text: String, _ row: ConfigRow) throws(ConfigProblem) -> ConfigValue { try parse(text, row.type, row.rules) }
    static func coerce(_ v: ConfigValue, _ row: ConfigRow) throws(ConfigProblem) -> ConfigValue { try coerce(v, row.type, row.rules) }
}
