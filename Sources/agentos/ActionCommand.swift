import AgentOSAdapters
import AgentOSCore
import AgentOSCrypto
import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The live backend the headless commands and the console share: Redis and PostgreSQL clients,
/// the data manager, the bus and the action dispatcher.
struct LiveStack {
    let redis: RedisClient
    let postgres: PostgresClient
    let cache: RedisSnapshotCache
    let bus: RedisEventBus
    let dataManager: AdminDataManager
    let actions: LiveActions

    init(connection: ConnectionOptions.Settings, dataDir: String?) throws {
        guard let redisURL = connection.redisURL, let postgresURL = connection.postgresURL else {
            throw fail(
                "this command needs a live backend: --redis and --postgres (or AGENTOS_REDIS_URL and AGENTOS_POSTGRES_URL, or the configuration file)",
                code: ExitStatus.usage)
        }
        let transport = try connection.celery()
        var config: RedisConfiguration
        do { config = try RedisConfiguration(url: redisURL) } catch { throw fail("--redis: \(error)", code: ExitStatus.config) }
        config.clientName = "agentos-cli"
        redis = RedisClient(config)
        postgres = PostgresClient(postgresURL)
        let ns = connection.names
        cache = RedisSnapshotCache(redis: redis, namespace: ns)
        bus = RedisEventBus(redis: redis, namespace: ns, source: "cli@\(ProcessInfo.processInfo.hostName)")
        dataManager = AdminDataManager(cache: cache, source: PostgresSnapshotSource(postgres: postgres, redis: redis, namespace: ns), bus: bus)
        do {
            // With --celery the mapped actions on Celery's workers, queues and tasks go to its remote control.
            let celery = transport.map { [redis] in
                CeleryMonitor(redis: redis, transport: $0, log: { FileHandle.standardError.write(Data("agentos: \($0)\n".utf8)) })
            }
            actions = try LiveActions(
                redis: redis, postgres: postgres, namespace: ns, dataDirectory: DataDirectory.resolve(dataDir),
                postgresURL: postgresURL, dataManager: dataManager, cache: cache, bus: bus,
                pgDump: ProcessInfo.processInfo.environment["AGENTOS_PG_DUMP"], celery: celery)
        } catch {
            throw fail("\(error)", code: ExitStatus.config)
        }
    }
}

/// Who runs a command: the Unix account, the SSH source address (recorded, never trusted for
/// identity), this host, and an optional `--as` (admins only, checked by the dispatcher).
func currentActor(actingAs: String? = nil) -> Actor {
    let env = ProcessInfo.processInfo.environment
    let ip = env["SSH_CONNECTION"]?.split(separator: " ").first.map(String.init).flatMap { candidate -> String? in
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, candidate, &v4) == 1 || inet_pton(AF_INET6, candidate, &v6) == 1 ? candidate : nil
    }
    return Actor(
        user: Identity.current(), actingAs: actingAs, ip: ip, host: ProcessInfo.processInfo.hostName,
        sessionID: "cli-\(ProcessInfo.processInfo.processIdentifier)", userAgent: "agentos-cli/\(AgentOSVersion.string)")
}

struct DataDirOption: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (io/, logs/audit, the audit HMAC key).", valueName: "dir"))
    var path: String?
}

/// `agentos action NAME key=value ...`: one action through the same dispatcher as the console.
struct ActionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "action",
        abstract: "Run one admin action headless (validation, RBAC, rate limit, idempotency, breaker, audit).",
        discussion: """
            Payload fields as key=value (see `agentos can-i --list` for the actions and their fields).
            Critical actions need --yes and --reason. Exit status: 0 done, 1 failed, 3 denied, 4 rate limited,
            5 conflict (idempotency key in use or reused with another payload, or the target's state), 6 not found,
            7 audit unavailable (nothing executed), 8 backend unavailable or breaker open, 64 usage, 65 invalid payload.
            """
    )

    @Argument(help: "Action name, e.g. job.cancel.", completion: Completions.actions) var name: String
    @Argument(help: "Payload fields: key=value.") var fields: [String] = []
    @Flag(help: "Confirm a critical action (types the target's name for you).") var yes = false
    @Option(help: "Reason or ticket (required for critical actions).") var reason: String?
    @Option(
        help: ArgumentHelp(
            "The count you confirm (actions with an `expect` field): refused, nothing changed, if more would be affected.",
            valueName: "N"))
    var expect: Int?
    @Option(name: .customLong("idempotency-key"), help: "Reuse to retry safely: the stored result is replayed.") var idempotencyKey: String?
    @Option(name: .customLong("as"), help: "Act as another user (admins only; audited).") var actingAs: String?
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(
        name: .customLong("dry-run"),
        help: """
            Check the payload against the catalog and say what would be asked; with a backend (--redis and --postgres), also \
            preview what the action would touch (counted and listed, audited as a preview): nothing is changed.
            """)
    var dryRun = false
    @Option(help: ArgumentHelp("Rows a --dry-run preview lists (the count is always whole).", valueName: "N"))
    var limit = ActionPreview.defaultLimit
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var celery: CeleryOption
    @OptionGroup var dataDir: DataDirOption

    func run() throws {
        guard let spec = ActionCatalog.spec(name) else {
            throw fail("unknown action '\(TextSanitizer.clean(name))' (agentos can-i --list shows them)", code: 65)
        }
        var payload: [String: PayloadValue] = [:]
        for field in fields {
            guard let eq = field.firstIndex(of: "="), eq != field.startIndex else {
                throw fail("payload field '\(TextSanitizer.clean(field))' is not key=value", code: ExitStatus.usage)
            }
            payload[String(field[..<eq])] = .string(String(field[field.index(after: eq)...]))
        }
        if let expect {
            guard spec.takesExpect else {
                throw fail("--expect: \(name) has no counted impact (it applies to \(Self.expectActions))", code: ExitStatus.usage)
            }
            payload["expect"] = .int(expect)
        }
        let connected = try connection.resolve(celery: celery)
        if dryRun { return try check(spec, payload, connected) }
        let stack = try LiveStack(connection: connected, dataDir: dataDir.path)
        var confirmation: String?
        if spec.confirmation == .typed {
            guard yes else { throw fail("\(name) is critical: add --yes and --reason", code: 3) }
            confirmation = spec.target(in: payload)
        }
        let request = ActionRequest(
            action: name, payload: payload, actor: currentActor(actingAs: actingAs),
            idempotencyKey: idempotencyKey ?? SecureRandom.hexToken(), reason: reason, confirmation: confirmation)
        let report = stack.actions.dispatcher.dispatch(request)
        stack.actions.history.drain()
        if json {
            try JSONOutput.write(reportJSON(report))
        } else if report.succeeded {
            print(TextSanitizer.clean(report.message))
            for w in report.warnings { FileHandle.standardError.write(Data("agentos: warning: \(TextSanitizer.clean(w))\n".utf8)) }
        } else {
            FileHandle.standardError.write(Data("agentos: \(name): \(TextSanitizer.clean(report.message))\n".utf8))
        }
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }

    static let expectActions = ActionSpec.boundedByExpect.map(\.rawValue).sorted().joined(separator: ", ")

    /// `--dry-run`: the payload as the pipeline's validation stage would take it, and what a real
    /// run would still need; without a backend no server is contacted and nothing is audited,
    /// with one the preview follows (`preview`). Exit 65 when invalid.
    func check(_ spec: ActionSpec, _ payload: [String: PayloadValue], _ connected: ConnectionOptions.Settings) throws {
        let valid: Payload
        do {
            valid = try spec.validate(payload)
        } catch {
            if json {
                try JSONOutput.write(CanonicalJSON.object(["action": .string(name), "valid": .bool(false), "error": .string(error.description)]))
            } else {
                FileHandle.standardError.write(Data("agentos: \(name): \(TextSanitizer.clean(error.description))\n".utf8))
            }
            throw ExitCode(error.exitStatus)
        }
        var needs: [String] = []
        if spec.confirmation == .typed {
            if !yes { needs.append("--yes") }
            if (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty { needs.append("--reason") }
        }
        let payloadJSON = CanonicalJSON.object(valid.values)
        if connected.redisURL != nil, connected.postgresURL != nil {
            return try preview(spec, payload, valid: valid, needs: needs, connected)
        }
        if json {
            try JSONOutput.write(
                CanonicalJSON.object([
                    "action": .string(name), "valid": .bool(true), "payload": .string(payloadJSON), "risk": .string(spec.risk.rawValue),
                    "target": .string(spec.target(in: valid.values)), "needs": .string(needs.joined(separator: " "))
                ]))
        } else {
            print("valid: \(name) \(payloadJSON) (risk \(spec.risk.rawValue), target \(TextSanitizer.clean(spec.target(in: valid.values))))")
            if !needs.isEmpty { print("a real run also needs \(needs.joined(separator: " ")) (critical action)") }
            print("dry run: nothing was sent, no backend was contacted")
        }
    }

    func reportJSON(_ r: ActionReport) -> String {
        var f: [String: PayloadValue] = [
            "action": .string(r.action), "request_id": .string(r.requestID.uuidString.lowercased()),
            "target": .string(r.target), "ok": .bool(r.succeeded), "message": .string(r.message),
            "exit_status": .int(Int(r.exitStatus)), "total_us": .int(Int(r.totalMillis * 1_000)),
            "audit_seqs": .string(r.auditSeqs.map(String.init).joined(separator: ","))
        ]
        switch r.outcome {
        case .success(let result):
            f["affected"] = .int(result.affected)
            f["replayed"] = .bool(result.replayed)
            for (k, v) in result.details { f["detail." + k] = v }
        case .failure(let failure): f["error"] = .string(failure.outcome)
        }
        return CanonicalJSON.object(f)
    }
}

/// `agentos can-i ACTION` / `agentos can-i --list`: RBAC decisions, like `kubectl auth can-i`.
struct CanICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "can-i",
        abstract: "Say whether you may run an action (exit 0 yes, 3 no); --list shows every action with your decision."
    )

    @Argument(help: "Action name.", completion: Completions.actions) var action: String?
    @Flag(help: "List every action with its view, risk, fields and your decision.") var list = false
    @Option(name: .customLong("as"), help: "Ask for another user (admins only).") var actingAs: String?
    @Flag(help: "Print the decision (or the list) as JSON.") var json = false
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var celery: CeleryOption

    /// One action's decision as a JSON object (with its catalog facts when listing).
    static func object(_ spec: ActionSpec, _ d: PolicyDecision, catalog: Bool, celery: Bool = false) -> [String: Any] {
        var o: [String: Any] = ["action": spec.name, "allowed": d.allowed, "own_jobs_only": d == .allowOwn]
        // With --celery: whether Celery's remote control runs it when its target is Celery's (D77).
        if celery { o["celery"] = CeleryActionExecutor.mapped.contains(spec.id) }
        if case .deny(let why) = d { o["reason"] = why }
        if catalog {
            o["view"] = spec.view.rawValue
            o["risk"] = spec.risk.rawValue
            o["title"] = spec.title
            o["rate_per_minute"] = spec.ratePerMinute
            o["fields"] = spec.fields.map { ["name": $0.name, "required": $0.required, "type": $0.typeDescription] as [String: Any] }
            if let key = spec.key { o["key"] = key }
        }
        return o
    }

    static func printJSON(_ value: Any) throws { try JSONOutput.write(object: value) }

    func run() throws {
        let actor = currentActor(actingAs: actingAs)
        // Live: user_permissions; embedded: the operator is an admin (the demo can do everything).
        let connected = try connection.resolve(celery: celery)
        let withCelery = try connected.celery() != nil
        let live = connected.live
        let source: PermissionSource =
            live
            ? PostgresPermissionSource(postgres: PostgresClient(connected.postgresURL ?? ""))
            : StaticPermissions(fallback: Grant(role: .admin))
        // An operator's own login: PostgreSQL decides (D71); a shared login: the console's advisory mirror.
        var server: [String: PolicyDecision]?
        var who = live ? actor.effectiveUser : "\(actor.user) (embedded: admin)"
        if live {
            let postgres = PostgresClient(connected.postgresURL ?? "")
            do {
                let identity = try ServerIdentity.read(postgres)
                if identity.enforced {
                    server = try ServerIdentity.decisions(postgres, ActionCatalog.all.map(\.name))
                    who = "\(identity.login) (\(identity.role?.rawValue ?? "no role"), decided by PostgreSQL)"
                } else {
                    who += " (RBAC advisory: shared login \(identity.login))"
                }
            } catch {
                throw fail("PostgreSQL: \(error)", code: ExitStatus.unavailable)
            }
        }
        let decide = { (name: String) -> PolicyDecision in
            if let server { return server[name] ?? .deny("the server does not know \(name)") }
            do { return Policy.decide(try Policy.grant(for: actor, from: source), ActionCatalog.spec(name)) } catch { return .deny("\(error)") }
        }
        if json && (list || action == nil) {
            try Self.printJSON(
                ["user": who, "actions": ActionCatalog.all.map { Self.object($0, decide($0.name), catalog: true, celery: withCelery) }]
                    as [String: Any])
            return
        }
        if list || action == nil {
            print("actions for \(who):")
            // An aligned table: each column as wide as its widest cell (Foundation's %-26@ does not pad on Linux).
            // With --celery a CELERY column: "remote" where Celery's remote control runs the action on its targets.
            let rows =
                [["ACTION", "ALLOWED", "VIEW", "RISK"] + (withCelery ? ["CELERY"] : []) + ["FIELDS"]]
                + ActionCatalog.all.map { spec in
                    let d = decide(spec.name)
                    let verdict = d.allowed ? (d == .allowOwn ? "yes (own jobs)" : "yes") : "no"
                    let celeryCell = CeleryActionExecutor.mapped.contains(spec.id) ? "remote" : "-"
                    return [spec.name, verdict, spec.view.rawValue, spec.risk.rawValue] + (withCelery ? [celeryCell] : []) + [
                        spec.fields.map { $0.required ? $0.name : "[\($0.name)]" }.joined(separator: " ")
                    ]
                }
            let last = rows[0].count - 1
            let widths = (0..<last).map { c in rows.map { $0[c].count }.max() ?? 0 }
            for row in rows {
                let padded = (0..<last).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                print((padded + [row[last]]).joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
            return
        }
        guard let action, ActionCatalog.spec(action) != nil else { throw fail("unknown action '\(TextSanitizer.clean(action ?? ""))'", code: 65) }
        let d = decide(action)
        if json {
            try Self.printJSON(Self.object(ActionCatalog.spec(action)!, d, catalog: false, celery: withCelery))
            if !d.allowed { throw ExitCode(3) }
            return
        }
        let remote =
            withCelery && CeleryActionExecutor.mapped.contains(ActionCatalog.spec(action)!.id)
            ? " (on Celery's workers, tasks and queues: Celery's remote control runs it)" : ""
        switch d {
        case .allow: print("yes" + remote)
        case .allowOwn: print("yes (own jobs only)" + remote)
        case .deny(let why):
            print("no: \(why)")
            throw ExitCode(3)
        }
    }
}
