import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Issue 17 (D83): each role's Redis ACL user writes only the keys and publishes only on the
/// channels its actions need. Each console here runs on the operator's own PostgreSQL login AND
/// their own Redis user (cache, bus, stores, executor), so an action that needs a key the rules
/// forgot fails; the refusals are sent as that Redis user too.
@Suite(.serialized) struct OperatorRedisRulesTests {
    typealias Login = OperatorRolesTests.Login

    /// The login's own Redis connection (its ACL user and password), on the suite's database.
    static func redis(_ fx: ActionFixture, _ login: Login) throws -> RedisClient {
        var comps = URLComponents(string: try TestServers.redisURL())!
        comps.user = login.name
        comps.password = login.password
        return try RedisClient(url: comps.string!, database: fx.backend.redis.configuration.database)
    }

    /// A console's action pipeline and views wholly on the login's own connections.
    struct Console {
        let redis: RedisClient
        let actions: LiveActions
        let manager: AdminDataManager
        let login: Login

        init(_ fx: ActionFixture, _ login: Login) throws {
            self.login = login
            redis = try OperatorRedisRulesTests.redis(fx, login)
            let ns = fx.backend.namespace
            let cache = RedisSnapshotCache(redis: redis, namespace: ns)
            let bus = RedisEventBus(redis: redis, namespace: ns, source: "test")
            manager = AdminDataManager(cache: cache, source: PostgresSnapshotSource(postgres: login.postgres, redis: redis, namespace: ns), bus: bus)
            actions = try LiveActions(
                redis: redis, postgres: login.postgres, namespace: ns, dataDirectory: fx.dataDir, postgresURL: login.url, dataManager: manager,
                cache: cache, bus: bus)
        }

        /// As `ActionFixture.run` sends it (a critical action with its reason and typed target).
        func run(_ action: String, _ payload: [String: PayloadValue], key: String? = nil) -> ActionReport {
            let spec = ActionCatalog.spec(action)
            let critical = spec?.confirmation == .typed
            return actions.dispatcher.dispatch(
                ActionRequest(
                    action: action, payload: payload, actor: Actor(user: login.name, ip: "127.0.0.9", host: "t", sessionID: "s"),
                    idempotencyKey: key, reason: critical ? "TICKET-1" : nil, confirmation: critical ? spec?.target(in: payload) : nil))
        }
    }

    /// A fixture, a login of role user and its console wholly on that login's connections.
    static func userConsole() throws -> (ActionFixture, Login, Console) {
        let fx = try ActionFixture()
        let login = try provision(fx, .user)[0]
        do { return (fx, login, try Console(fx, login)) } catch {
            OperatorRolesTests.close(fx, [login])
            throw error
        }
    }

    /// A login of each role on `fx` (closed with `fx` if one cannot be made).
    static func provision(_ fx: ActionFixture, _ roles: Role...) throws -> [Login] {
        var logins: [Login] = []
        do {
            for role in roles { logins.append(try OperatorRolesTests.provision(fx, role)) }
        } catch {
            OperatorRolesTests.close(fx, logins)
            throw error
        }
        return logins
    }

    /// A queued job in `queue` owned by `owner`, with its kombu message pushed as the producers push it.
    static func queuedJob(_ fx: ActionFixture, owner: String, queue: String = "video_cutter") throws -> Job {
        let job = Job(
            id: UUID().uuidString.lowercased(), name: "acl test", stage: queue, queue: queue, status: .queued, owner: owner, createdAt: Date())
        try fx.backend.postgres.query(
            "INSERT INTO jobs (id, name, stage, queue, status, owner) VALUES ($1::uuid, $2, $3, $3, 'queued', $4)",
            [job.id, job.name, job.queue, owner])
        let message = KombuMessage.task(job: job, taskName: "agentos.\(queue)", deliveryTag: "tag-" + job.id)
        _ = try fx.backend.redis.selecting(database: Namespace.DB.queues).pipeline(
            fx.backend.namespace.brokerPush(queue: queue, priority: job.priority, job: job.id, message: message))
        return job
    }

    /// Whether the job's message is in its queue's lists (as the shared login sees them).
    static func queued(_ fx: ActionFixture, _ job: Job) throws -> Bool {
        let broker = fx.backend.redis.selecting(database: Namespace.DB.queues)
        return try fx.backend.namespace.brokerListKeys(queue: job.queue).contains { key in
            (try broker.send("LRANGE", key, 0, -1).array ?? []).contains { String(decoding: $0.bytes ?? [], as: UTF8.self).contains(job.id) }
        }
    }

    static func status(_ fx: ActionFixture, _ id: String) throws -> String {
        try fx.backend.postgres.query("SELECT status FROM jobs WHERE id = $1::uuid", [id]).rows[0].get("status")
    }

    /// The reply of `command` on `database` as the login's Redis user: nil when it ran, else the error.
    static func refusal(_ redis: RedisClient, _ database: Int, _ command: [any RedisArgument]) throws -> String? {
        do {
            return try redis.selecting(database: database).send(command).errorMessage
        } catch .server(let message) { return message }
    }

    /// Writes outside the role's keys and channels are refused by Redis; the ones its actions need run.
    static func expect(
        _ redis: RedisClient, refused: [(Int, [any RedisArgument])], allowed: [(Int, [any RedisArgument])], _ role: Role,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for (db, command) in refused {
            let error = try refusal(redis, db, command)
            #expect(error?.hasPrefix("NOPERM") == true, "\(role) \(command.map { "\($0)" }): \(error ?? "ran")", sourceLocation: sourceLocation)
        }
        for (db, command) in allowed {
            let error = try refusal(redis, db, command)
            #expect(error == nil, "\(role) \(command.map { "\($0)" }): \(error ?? "")", sourceLocation: sourceLocation)
        }
    }

    /// What no writing role may do, whatever its actions: another login's rate window, idempotency
    /// claim and console session (D91), the runtime flags, Redis administration, wiping a database or
    /// the scripts.
    static func neverAllowed(_ fx: ActionFixture, _ me: String) -> [(Int, [any RedisArgument])] {
        let ns = fx.backend.namespace
        let other = "someone_else"
        let othersSession = ns.sessionKey(ConsoleSessionStore.sessionID("c1", redisUser: other))
        return [
            (Namespace.DB.sessions, ["HSET", othersSession, "user", me]), (Namespace.DB.sessions, ["DEL", othersSession]),
            (Namespace.DB.sessions, ["HSET", ns.sessionKey("no-login-in-its-id"), "user", me]),
            (Namespace.DB.rateLimit, ["ZADD", ns.rateKey("rl:\(other):job.cancel"), 1, "x"]),
            (Namespace.DB.rateLimit, ["DEL", ns.rateKey("rl:\(other):job.cancel")]),
            (Namespace.DB.idempotency, ["SET", ns.idempotencyKey(IdempotencyScope(user: other, action: "job.cancel", key: "k")), "x"]),
            (Namespace.DB.sessions, ["SET", "\(ns.prefix):session_ended:another-console", "{}"]), // ending a console is admin's
            (Namespace.DB.cache, ["SET", ns.maintenanceKey, "{}"]), (Namespace.DB.cache, ["SET", ns.broadcastKey, "{}"]),
            (Namespace.DB.queues, ["LPUSH", ns.brokerPrefix + "not_a_queue", "x"]), (Namespace.DB.cache, ["SET", "x", "1"]),
            (Namespace.DB.cache, ["FLUSHDB"]), (Namespace.DB.cache, ["CONFIG", "SET", "maxmemory", "1"]),
            (Namespace.DB.cache, ["ACL", "SETUSER", me, "+@all", "~*"]), (Namespace.DB.cache, ["SCRIPT", "FLUSH"]),
            (Namespace.DB.cache, ["CLIENT", "KILL", "TYPE", "normal"]), (Namespace.DB.cache, ["PUBLISH", "any-channel", "x"])
        ]
    }

    /// A user cancels and retries its own job through every stage on its own Redis user; the
    /// console's own writes (cache rebuild, session row) run; everything else is refused.
    @Test func aUserRunsItsJobActionsOnItsOwnRedisUserAndWritesNothingElse() throws {
        let (fx, login, console) = try Self.userConsole()
        defer { OperatorRolesTests.close(fx, [login]) }
        let ns = fx.backend.namespace
        let job = try Self.queuedJob(fx, owner: login.name)
        #expect(try Self.queued(fx, job))

        let cancel = console.run("job.cancel", ["id": .string(job.id)], key: "k-cancel")
        #expect(cancel.succeeded, "\(cancel.outcome)")
        #expect(try Self.status(fx, job.id) == "cancelled")
        #expect(try !Self.queued(fx, job), "the cancelled job's message is still queued")
        // Its own claim and rate window were written (by its own Redis user).
        let scope = IdempotencyScope(user: login.name, action: "job.cancel", key: "k-cancel")
        #expect(try fx.backend.redis.selecting(database: Namespace.DB.idempotency).send("EXISTS", ns.idempotencyKey(scope)).int == 1)
        #expect(try fx.backend.redis.selecting(database: Namespace.DB.rateLimit).send("EXISTS", ns.rateKey("rl:\(login.name):job.cancel")).int == 1)

        let retry = console.run("job.retry", ["id": .string(job.id)], key: "k-retry")
        #expect(retry.succeeded, "\(retry.outcome)")
        #expect(try Self.status(fx, job.id) == "queued")
        #expect(try Self.queued(fx, job), "the retried job's message was not pushed")

        // The console's own writes: a cache rebuild (the action invalidated it) and its session row.
        _ = try console.manager.snapshot()
        #expect(try fx.backend.redis.selecting(database: Namespace.DB.cache).send("EXISTS", ns.snapshotKey).int == 1)
        let session = ConsoleSession(
            id: ConsoleSessionStore.sessionID("acl-\(UUID().uuidString.prefix(8))", redisUser: login.name), user: login.name, host: "t", pid: 1,
            tty: "", startedAt: Date(), lastSeen: Date(), view: "",
            mode: "interactive")
        #expect(try ConsoleSessionStore(redis: console.redis, namespace: ns).heartbeat(session) == nil)

        try Self.expect(
            console.redis,
            refused: Self.neverAllowed(fx, login.name) + [
                // No Celery control: a user's job is never a Celery task (D83).
                (Namespace.DB.queues, ["PUBLISH", "/0.celery.pidbox", "x"]),
                (Namespace.DB.queues, ["SADD", "_kombu.binding.reply.celery.pidbox", "x"]),
                (Namespace.DB.cache, ["LPUSH", ns.pingReplyKey("t"), "x"])
            ],
            allowed: [(Namespace.DB.rateLimit, ["DEL", ns.rateKey("rl:\(login.name):job.cancel")])], .user)
    }

    /// A queue added after the grant (its lists not yet in the login's rules, until `operator
    /// reapply`): the cancel commits in PostgreSQL, and the message's removal, left to the
    /// follow-ups (D87), fails there as a warning on the success, naming the job and the queue.
    @Test func aMessageTheLoginMayNotRemoveIsAWarningOnTheCommittedCancel() throws {
        let (fx, login, console) = try Self.userConsole()
        defer { OperatorRolesTests.close(fx, [login]) }
        let job = try Self.queuedJob(fx, owner: login.name, queue: "added_after_grant")
        #expect(try Self.queued(fx, job))

        let cancel = console.run("job.cancel", ["id": .string(job.id)], key: "k-late")
        #expect(cancel.succeeded, "\(cancel.outcome)")
        #expect(try Self.status(fx, job.id) == "cancelled")
        #expect(try Self.queued(fx, job), "the login's rules do not cover the queue: the message stays")
        let warning = cancel.warnings.first { $0.contains("job \(job.id)'s message removed from queue added_after_grant") }
        #expect(warning?.contains("NOPERM") == true, "\(cancel.warnings)")
        let outcome = try fx.backend.postgres.query(
            "SELECT outcome FROM audit_logs WHERE request_id = $1::uuid AND phase = 'outcome'", [cancel.requestID]
        ).rows.map { try $0.get("outcome", as: String.self) }
        #expect(outcome == ["success"])
    }

    /// A supervisor cancels anyone's job and may revoke a Celery task (the pidbox); an operator also
    /// runs the fleet's actions (worker.ping waits on its reply key); neither touches the flags.
    @Test func aSupervisorAndAnOperatorRunTheirActionsOnTheirOwnRedisUsers() throws {
        let fx = try ActionFixture()
        let logins = try Self.provision(fx, .supervisor, .operator)
        defer { OperatorRolesTests.close(fx, logins) }
        let (supervisor, op) = (logins[0], logins[1])
        let ns = fx.backend.namespace
        let celery: [(Int, [any RedisArgument])] = [
            (Namespace.DB.queues, ["PUBLISH", "/0.celery.pidbox", "x"]),
            (Namespace.DB.queues, ["SADD", "_kombu.binding.reply.celery.pidbox", "x"]),
            (Namespace.DB.queues, ["SREM", "_kombu.binding.reply.celery.pidbox", "x"])
        ]

        let sup = try Console(fx, supervisor)
        let theirs = try Self.queuedJob(fx, owner: "someone_else", queue: "audio_transcriber")
        let cancel = sup.run("job.cancel", ["id": .string(theirs.id)], key: "k1")
        #expect(cancel.succeeded, "\(cancel.outcome)")
        #expect(try Self.status(fx, theirs.id) == "cancelled")
        #expect(try !Self.queued(fx, theirs))
        try Self.expect(
            sup.redis, refused: Self.neverAllowed(fx, supervisor.name) + [(Namespace.DB.cache, ["LPUSH", ns.pingReplyKey("t"), "x"])],
            allowed: celery, .supervisor)

        let opConsole = try Console(fx, op)
        let worker = try fx.anyID("SELECT id FROM workers WHERE stage = 'video_downloader' AND status = 'online' ORDER BY id LIMIT 1")
        let ping = opConsole.run("worker.ping", ["id": .string(worker)])
        #expect(ping.succeeded, "\(ping.outcome)")
        let pause = opConsole.run("queue.pause", ["queue": .string("face_detector")], key: "k2")
        #expect(pause.succeeded, "\(pause.outcome)")
        let job = try Self.queuedJob(fx, owner: "someone_else", queue: "moment_detector")
        let move = opConsole.run("job.move", ["id": .string(job.id), "to": .string("face_detector")], key: "k3")
        #expect(move.succeeded, "\(move.outcome)")
        #expect(try Self.queued(fx, Job(id: job.id, name: job.name, stage: job.stage, queue: "face_detector", status: .queued, createdAt: Date())))
        try Self.expect(
            opConsole.redis, refused: Self.neverAllowed(fx, op.name), allowed: celery + [(Namespace.DB.cache, ["LPUSH", ns.pingReplyKey("t"), "x"])],
            .operator)
    }

    /// Readonly writes nothing; admin (who provisions ACL users) everything.
    @Test func readonlyWritesNothingAndAdminEverything() throws {
        let fx = try ActionFixture(seed: false)
        let logins = try Self.provision(fx, .readonly, .admin)
        defer { OperatorRolesTests.close(fx, logins) }
        let (readonly, admin) = (logins[0], logins[1])
        let ns = fx.backend.namespace
        let ro = try Self.redis(fx, readonly)
        try Self.expect(
            ro,
            refused: Self.neverAllowed(fx, readonly.name) + [
                (Namespace.DB.cache, ["SET", ns.snapshotKey, "x"]), (Namespace.DB.events, ["INCR", ns.eventsSeqKey]),
                (Namespace.DB.rateLimit, ["ZADD", ns.rateKey("rl:\(readonly.name):job.cancel"), 1, "x"]),
                (Namespace.DB.cache, ["PUBLISH", ns.eventsChannel, "x"])
            ],
            allowed: [(Namespace.DB.cache, ["GET", ns.snapshotKey]), (Namespace.DB.queues, ["LLEN", ns.brokerPrefix + "video_cutter"])], .readonly)
        try Self.expect(
            try Self.redis(fx, admin), refused: [],
            allowed: [(Namespace.DB.cache, ["SET", ns.maintenanceKey, "{}"]), (Namespace.DB.cache, ["DEL", ns.maintenanceKey])], .admin)
    }

    /// A Redis user granted before D83 (every key and channel) gets the role's rules from
    /// `reapplyRedisRules`, keeping its password; a grant without a password keeps it too.
    @Test func reapplyGivesAnEarlierGrantTheCurrentRulesAndKeepsItsPassword() throws {
        let fx = try ActionFixture(seed: false)
        let login = try OperatorRolesTests.provision(fx, .user)
        defer { OperatorRolesTests.close(fx, [login]) }
        let ns = fx.backend.namespace
        let otherWindow: [any RedisArgument] = ["ZADD", ns.rateKey("rl:someone_else:job.cancel"), 1, "x"]
        // The rules of the earlier grant.
        _ = try fx.backend.redis.send(["ACL", "SETUSER", login.name, "~*", "&*", "+@all", "-@admin", "-@dangerous"])
        let redis = try Self.redis(fx, login)
        #expect(try Self.refusal(redis, Namespace.DB.rateLimit, otherWindow) == nil, "the earlier rules should allow it")

        let done = try OperatorRolesTests.admin(fx).reapplyRedisRules()
        #expect(done.contains { $0.login == login.name && $0.outcome == "rules of role user applied" }, "\(done)")
        #expect(try Self.refusal(redis, Namespace.DB.rateLimit, otherWindow)?.hasPrefix("NOPERM") == true)
        #expect(try Self.refusal(Self.redis(fx, login), Namespace.DB.cache, ["PING"]) == nil, "the password still works")

        try OperatorRolesTests.admin(fx).grant(login.name, role: .operator, password: nil)
        #expect(try Self.refusal(Self.redis(fx, login), Namespace.DB.cache, ["LPUSH", ns.pingReplyKey("t"), "x"]) == nil)
    }
}

/// Not too tight: every publishing action an operator or supervisor may run (the control table's
/// rows, prepared as there) succeeds with the console wholly on that login's own Redis user.
@Suite(.serialized) struct OperatorRedisRulesSweepTests {
    static let rows: [(Role, ControlTable.Row)] = [Role.supervisor, .operator].flatMap { role in
        ControlTable.rows.filter { Policy.decide(Grant(role: role), ActionCatalog.spec($0.action)).allowed }.map { (role, $0) }
    }

    @Test(arguments: rows.map { ($0.0, $0.1) })
    func eachActionOfTheRoleRunsOnItsOwnRedisUser(_ role: Role, _ row: ControlTable.Row) throws {
        let fx = try ActionFixture()
        let login = try OperatorRolesTests.provision(fx, role)
        defer {
            fx.close()
            OperatorRolesTests.dropLogins([login.name])
        }
        let (payload, _) = try row.prepare(fx)
        let report = try OperatorRedisRulesTests.Console(fx, login).run(row.action, payload, key: "sweep")
        #expect(report.succeeded, "\(role) \(row.action): \(report.outcome)")
    }
}
