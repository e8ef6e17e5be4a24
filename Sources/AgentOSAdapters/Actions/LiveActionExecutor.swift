import AgentOSCore
import Foundation

/// Executes the actions against the real backend: rows in PostgreSQL (the effect and its audit
/// outcome row in one transaction), keys in Redis (broker lists in DB0, flags in DB1, runtime
/// state in DB2–DB6), control commands to the workers on `{ns}:control`, files under the data
/// directory (`io/backups`, `io/exports`, `io/reports`). One handler per catalog action, by view:
/// `LiveActionExecutor+Jobs.swift` (jobs, queues), `+Fleet` (workers, managers), `+System` (system,
/// database), `+Logs`, `+Config`, `+Analytics`.
public final class LiveActionExecutor: ActionExecutor {
    public struct Settings: Sendable {
        /// Root of `io/` (backups, exports, reports) and the media directories.
        public var dataDirectory: URL
        /// `pg_dump` (nil: found on PATH).
        public var pgDump: String?
        /// The conninfo `pg_dump` uses (the console's own).
        public var postgresURL: String
        /// How long an action whose COMMIT's answer was lost waits for a primary to tell from the
        /// audit trail whether it committed (a promotion takes seconds) before it reports `unknown`.
        public var lostCommitWaitSeconds: Double
        /// An operator's own login: each effect's transaction opens its action in the server
        /// (`agentos_api.open_action`, D71), without which the server refuses the change.
        public var opensActions: @Sendable () -> Bool
        public init(
            dataDirectory: URL, postgresURL: String, pgDump: String? = nil, lostCommitWaitSeconds: Double = 15,
            opensActions: @escaping @Sendable () -> Bool = { false }
        ) {
            self.dataDirectory = dataDirectory
            self.postgresURL = postgresURL
            self.pgDump = pgDump
            self.lostCommitWaitSeconds = lostCommitWaitSeconds
            self.opensActions = opensActions
        }
    }

    typealias Handler = @Sendable (LiveActionContext) throws -> ActionResult

    let db: PostgresClient
    let redis: RedisClient
    /// One client (one connection pool) per Redis database, made once.
    let databases: [RedisClient]
    let audit: PostgresAuditLog
    let ns: Namespace
    let settings: Settings
    let breakers: BreakerStore
    let rateLimits: RateLimitStore
    /// Rebuilds and stores the snapshot (system.cache_refresh).
    let refresh: @Sendable () throws -> Int

    public init(
        postgres: PostgresClient, redis: RedisClient, audit: PostgresAuditLog, namespace: Namespace, settings: Settings,
        breakers: BreakerStore, rateLimits: RateLimitStore, refresh: @escaping @Sendable () throws -> Int
    ) {
        db = postgres
        self.redis = redis
        databases = (0..<16).map { redis.selecting(database: $0) }
        self.audit = audit
        ns = namespace
        self.settings = settings
        self.breakers = breakers
        self.rateLimits = rateLimits
        self.refresh = refresh
    }

    static let handlers: [ActionName: Handler] = {
        var all: [ActionName: Handler] = [:]
        for group in [jobHandlers, workerHandlers, managerHandlers, systemHandlers, databaseHandlers, logHandlers, configHandlers, analyticsHandlers]
        {
            all.merge(group) { a, _ in a }
        }
        return all
    }()

    /// Catalog actions without a handler (a test keeps this empty).
    public static var missingHandlers: [ActionName] { ActionName.allCases.filter { handlers[$0] == nil } }

    public func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        let action = try call.action
        guard let handler = Self.handlers[action] else { throw .failed("no handler for \(action.rawValue)") }
        let outcome: Result<ActionResult, ActionFailure> = Self.mapped { try handler(LiveActionContext(ex: self, call: call)) }
        return try outcome.get()
    }

    /// Handlers whose first effect is `commit`: their intent row travels in its first round trip.
    static let intentCarriers: Set<ActionName> = [.jobCancel, .jobKill, .jobRetry]

    public func carriesIntent(_ call: ActionCall) -> Bool { (try? call.action).map(Self.intentCarriers.contains) ?? false }

    public func jobOwner(_ id: String) throws(ActionFailure) -> String? {
        try Self.mapped {
            try db.query("SELECT owner FROM jobs WHERE id = $1::uuid", [id]).rows.first.map { try $0.get("owner", as: String.self) }
        }.get()
    }

    public func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? {
        try Self.mapped { () throws -> Int? in
            func count(_ sql: String, _ params: [any PostgresBindable]) throws -> Int {
                try db.query(sql, params).rows.first?.get(0, as: Int.self) ?? 0
            }
            if let scope = Self.rowScope(spec.id, payload) { return try count(scope.countSQL, scope.params) }
            switch spec.id {
            case .workerRestart, .workerShutdown, .workerDrain:
                return try count("SELECT coalesce(sum(active), 0)::bigint FROM workers WHERE id = $1", [payload.string("id") ?? ""])
            case .systemIOCleanup: return try mediaOlderThan(days: payload.int("days") ?? 0).count
            default: return nil
            }
        }.get()
    }

    /// Runs `body`, turning backend errors into `ActionFailure.failed` (they count against the breaker).
    static func mapped<T>(_ body: () throws -> T) -> Result<T, ActionFailure> {
        do { return .success(try body()) } catch {
            if let f = error as? ActionFailure { return .failure(f) }
            if let pg = error as? PostgresError {
                // Constraint and data errors are the request's fault, not the backend's.
                if let state = pg.sqlState, state.hasPrefix("22") || state.hasPrefix("23") { return .failure(.conflict(pg.description)) }
                // The server refused the operator's login (D71): a refusal, not a backend fault.
                if pg.sqlState == "42501" { return .failure(.denied("PostgreSQL: \(pg.message)")) }
                return .failure(.failed("PostgreSQL: \(pg.description)"))
            }
            return .failure(.failed(String(describing: error)))
        }
    }

    /// Processed media under `io/output` older than `days`.
    func mediaOlderThan(days: Int) throws -> [URL] {
        try ActionFiles.files(under: settings.dataDirectory.appendingPathComponent("io/output"), olderThanDays: days)
    }
}

/// What a handler works with: the call, the backend, and helpers that keep the rules (effect and
/// outcome row in one transaction; control messages; events to publish).
struct LiveActionContext {
    let ex: LiveActionExecutor
    let call: ActionCall

    var p: Payload { call.payload }
    var user: String { call.user }
    var db: PostgresClient { ex.db }
    var ns: Namespace { ex.ns }
    func redis(_ database: Int) -> RedisClient { ex.databases[database] }

    func string(_ name: String) throws -> String { try p.required(name) }
    func int(_ name: String) throws -> Int { try p.requiredInt(name) }

    /// Runs the effect in one transaction with the audit outcome row; the record is kept only
    /// once the transaction committed. A carried intent row (`ActionExecutor.carriesIntent`) goes
    /// ahead of the transaction's first statement, committed on its own, in the same round trip.
    func commit(_ body: (PostgresConnection) throws -> ActionResult) throws -> ActionResult {
        var record: AuditRecord?
        var storedWithEffect = false
        // A carried intent row: a transaction of its own, ahead of the effect's BEGIN in the first round trip.
        let intent = call.pendingIntent.map(PostgresAuditLog.appending)
        call.pendingIntent = nil
        let result: ActionResult
        // Set once the COMMIT is on its way: a connection lost after that may have committed.
        var committing: ActionResult?
        do {
            result = try db.transaction { tx -> ActionResult in
                if let intent { tx.lead(with: intent.statements) { rows in call.intent = try intent.record(rows[intent.statements.count - 1]) } }
                if ex.settings.opensActions() {
                    tx.open(
                        with: PostgresConnection.Statement(
                            "SELECT agentos_api.open_action($1::uuid, $2::text, $3::text)",
                            [call.request.requestID, call.request.action, call.auditTarget ?? call.target]))
                }
                let r = try body(tx)
                // The outcome row, the durable idempotency result and COMMIT: one round trip.
                let outcome = PostgresAuditLog.appending(call.outcomeDraft("success", result: r))
                var statements = outcome.statements
                if let hold = call.idempotency {
                    statements.append(
                        RedisIdempotencyStore.durable(
                            hold.scope, fingerprint: hold.fingerprint, requestID: call.request.requestID,
                            result: r, ttlSeconds: hold.ttlSeconds))
                }
                committing = r
                let rows = try tx.commit(with: statements)
                storedWithEffect = call.idempotency != nil
                record = try outcome.record(rows[outcome.statements.count - 1])
                return r
            }
        } catch let e as PostgresError where e.inLead {
            throw ActionFailure.auditUnavailable(e.description)
        } catch let e as PostgresError where e.endedTheSession && committing != nil {
            return try resolveLostCommit(e, result: committing!)
        }
        if let intent, call.intent == nil {
            // Nothing went to PostgreSQL (the body sent nothing): the intent goes now, before any other effect.
            do { call.intent = try ex.audit.append(intent.draft) } catch { throw ActionFailure.auditUnavailable(String(describing: error)) }
        }
        call.outcomeRecord = record
        if storedWithEffect { call.idempotency?.storedWithEffect = true }
        return result
    }

    /// The COMMIT's answer was lost with the connection (the primary died or was demoted): the
    /// outcome row, written in the same transaction, is on whichever server is the primary now
    /// exactly when the effect is. Asks for it until a primary answers (`lostCommitWaitSeconds`);
    /// found: a success; absent: nothing committed; no primary: `outcomeUnknown`. Never re-executed.
    func resolveLostCommit(_ lost: PostgresError, result: ActionResult) throws -> ActionResult {
        let id = call.request.requestID
        let deadline = Date().addingTimeInterval(ex.settings.lostCommitWaitSeconds)
        var lastError: Error = lost
        repeat {
            do {
                let trail = try ex.audit.records(requestID: id)
                guard let outcome = trail.first(where: { $0.draft.phase == .outcome && $0.draft.outcome == "success" }) else {
                    throw ActionFailure.failed(
                        "PostgreSQL: \(lost.description); not committed: the primary's audit trail has no outcome row for request \(id)")
                }
                if call.intent == nil { call.intent = trail.first { $0.draft.phase == .intent } }
                call.outcomeRecord = outcome
                if call.idempotency != nil { call.idempotency?.storedWithEffect = true }
                call.warnings.append("the COMMIT's answer was lost (\(lost.message)); the audit trail shows it committed (seq \(outcome.seq))")
                return result
            } catch let f as ActionFailure {
                throw f
            } catch {
                lastError = error
                Thread.sleep(forTimeInterval: 0.25)
            }
        } while Date() < deadline
        throw ActionFailure.outcomeUnknown(
            "the COMMIT's answer was lost (\(lost.message)) and no primary answered within \(Int(ex.settings.lostCommitWaitSeconds)) s "
                + "(\(lastError)): request \(id) in the audit trail tells whether it ran; it is not retried")
    }

    /// A control command for the workers and managers (the simulator obeys them; Celery's
    /// pidbox comes with the Celery issue).
    func control(_ command: ControlCommand, _ target: String, value: Int? = nil, extra: [String: PayloadValue] = [:]) throws {
        var fields = extra
        if let value { fields["value"] = .int(value) }
        try control(command, targets: [target], extra: fields)
    }

    /// The same control command for many targets, in one pipelined round trip.
    func control(_ command: ControlCommand, targets: [String], extra: [String: PayloadValue] = [:]) throws {
        guard !targets.isEmpty else { return }
        let commands = targets.map { controlCommand(command, target: $0, extra: extra) }
        for reply in try ex.redis.pipeline(commands) {
            if case .error(let e) = reply { throw RedisError.server(e) }
        }
    }

    func controlCommand(_ command: ControlCommand, target: String, extra: [String: PayloadValue]) -> [any RedisArgument] {
        var fields = extra
        fields["command"] = .string(command.wire)
        fields["target"] = .string(target)
        fields["by"] = .string(user)
        return ["PUBLISH", ns.controlChannel, BusAuth.sealControl(CanonicalJSON.object(fields), keys: ns.busKeys, namespace: ns.prefix)]
    }

    func publish(_ event: AgentEvent) { call.events.append(event) }

    /// "not found" or "conflict (is <status>)" for a row the guarded UPDATE did not touch.
    func whyNot(_ tx: PostgresConnection, table: String, key: String, id: any PostgresBindable, what: String, hint: String = "") throws -> Never {
        let cast = table == "jobs" ? "::uuid" : ""
        guard let row = try tx.query("SELECT status FROM \(table) WHERE \(key) = $1\(cast)", [id]).rows.first else {
            throw ActionFailure.notFound("\(what) \(id)")
        }
        let status: String = try row.get("status")
        throw ActionFailure.conflict("\(what) \(id) is \(status)\(hint.isEmpty ? "" : ": \(hint)")")
    }

    /// Data-directory subfolder (created 0700).
    func directory(_ sub: String) throws -> URL { try ActionFiles.directory(ex.settings.dataDirectory, sub) }
}
