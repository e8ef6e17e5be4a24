import AgentOSCore
import Foundation

/// Agents & Workers (15) and Managers (10): rows in `workers`/`managers`, and a control
/// command so the workers and managers themselves change.
extension LiveActionExecutor {
    static let workerHandlers: [ActionName: Handler] = [
        .workerRestart: { c in
            try c.workerTransition(
                .workerRestart, set: "status = 'restarting', desired_state = 'running'", from: ["online", "paused", "draining", "starting"],
                done: "restarting (in-flight work finishes or is requeued)")
        },
        .workerShutdown: { c in
            try c.workerTransition(
                .workerShutdown, set: "desired_state = 'stopped', status = CASE WHEN active > 0 THEN 'draining' ELSE 'stopped' END",
                from: ["online", "paused", "draining", "starting", "restarting"], done: "warm shutdown: finishes active tasks, then stops")
        },
        .workerStart: { c in
            try c.workerTransition(
                .workerStart, set: "status = 'starting', desired_state = 'running'", from: ["stopped", "offline"], done: "starting")
        },
        .workerPause: { c in
            try c.workerTransition(
                .workerPause, set: "status = 'paused', desired_state = 'paused'", from: ["online"], done: "paused: consumers cancelled")
        },
        .workerResume: { c in
            try c.workerTransition(.workerResume, set: "status = 'online', desired_state = 'running'", from: ["paused"], done: "consuming again")
        },
        .workerDrain: { c in
            try c.workerTransition(
                .workerDrain, set: "status = 'draining', desired_state = 'drained'", from: ["online", "paused"],
                done: "draining: takes no new work, stops when idle")
        },
        .workerScale: { c in try c.setConcurrency { _ in try c.int("concurrency") } },
        .workerPoolGrow: { c in try c.setConcurrency { min(64, $0 + (c.p.int("n") ?? 1)) } },
        .workerPoolShrink: { c in try c.setConcurrency { max(1, $0 - (c.p.int("n") ?? 1)) } },
        .workerAutoscale: { c in
            let id = try c.string("id")
            let lo = try c.int("min")
            let hi = try c.int("max")
            guard lo <= hi else { throw ActionFailure.invalid(field: "min", "\(lo) is above max \(hi)") }
            let r = try c.commit { tx in
                guard
                    try tx.query(
                        "UPDATE workers SET autoscale_min = $2, autoscale_max = $3, updated_at = now() WHERE id = $1 RETURNING id",
                        [id, lo, hi]
                    ).rows.first != nil
                else { throw ActionFailure.notFound("worker \(id)") }
                return ActionResult("worker \(id): autoscale \(lo)…\(hi)")
            }
            try c.control(.action(.workerAutoscale), id, extra: ["min": .int(lo), "max": .int(hi)])
            return r
        },
        .workerRestartAll: { c in
            let stage = c.p.string("stage")
            var ids: [String] = []
            let r = try c.commit { tx in
                ids = try tx.query(
                    """
                    UPDATE workers SET status = 'restarting', desired_state = 'running', updated_at = now()
                    WHERE status NOT IN ('offline','stopped') AND ($1::text IS NULL OR stage = $1) RETURNING id
                    """, [stage]
                ).rows.map { try $0.get("id", as: String.self) }.sorted()
                return ActionResult("rolling restart of \(ids.count) worker(s)\(stage.map { " of stage \($0)" } ?? "")", affected: ids.count)
            }
            try c.control(.action(.workerRestart), targets: ids, extra: ["rolling": .bool(true)])
            return r
        },
        .workerRateLimit: { c in
            let id = try c.string("id")
            let task = try c.string("task")
            let rate = try c.string("rate")
            guard rate.range(of: #"^\d+(/[smh])?$"#, options: .regularExpression) != nil else {
                throw ActionFailure.invalid(field: "rate", "'\(rate)' is not a rate like 10/m, 2/s or 0")
            }
            let r = try c.commit { tx in
                let sql =
                    rate == "0"
                    ? "UPDATE workers SET rate_limits = rate_limits - $2, updated_at = now() WHERE id = $1 RETURNING id"
                    : "UPDATE workers SET rate_limits = rate_limits || jsonb_build_object($2::text, $3::text), updated_at = now() WHERE id = $1 RETURNING id"
                let params: [any PostgresBindable] = rate == "0" ? [id, task] : [id, task, rate]
                guard try tx.query(sql, params).rows.first != nil else { throw ActionFailure.notFound("worker \(id)") }
                return ActionResult(rate == "0" ? "worker \(id): \(task) rate limit removed" : "worker \(id): \(task) limited to \(rate)")
            }
            try c.control(.action(.workerRateLimit), id, extra: ["task": .string(task), "rate": .string(rate)])
            return r
        },
        .workerTimeLimit: { c in
            let id = try c.string("id")
            let task = try c.string("task")
            let soft = try c.int("soft")
            let hard = try c.int("hard")
            guard soft <= hard else { throw ActionFailure.invalid(field: "soft", "\(soft) s is above the hard limit \(hard) s") }
            let r = try c.commit { tx in
                guard
                    try tx.query(
                        """
                        UPDATE workers SET time_limits = time_limits || jsonb_build_object($2::text, jsonb_build_object('soft', $3::int, 'hard', $4::int)),
                            updated_at = now() WHERE id = $1 RETURNING id
                        """, [id, task, soft, hard]
                    ).rows.first != nil
                else { throw ActionFailure.notFound("worker \(id)") }
                return ActionResult("worker \(id): \(task) time limits soft \(soft) s, hard \(hard) s")
            }
            try c.control(.action(.workerTimeLimit), id, extra: ["task": .string(task), "soft": .int(soft), "hard": .int(hard)])
            return r
        },
        .workerPing: { c in
            let id = try c.string("id")
            guard try c.db.query("SELECT 1 FROM workers WHERE id = $1", [id]).rows.first != nil else { throw ActionFailure.notFound("worker \(id)") }
            // The worker itself answers (the database only remembers its last heartbeat): BLPOP bounds the wait.
            let token = UUID().uuidString.lowercased()
            let start = DispatchTime.now().uptimeNanoseconds
            try c.control(.action(.workerPing), id, extra: ["reply": .string(token)])
            let reply = try c.redis(WorkerPong.database).send("BLPOP", c.ns.pingReplyKey(token), WorkerPong.timeoutSeconds)
            guard let bytes = reply.array?.last?.bytes else {
                throw ActionFailure.failed("worker \(id) did not answer within \(WorkerPong.timeoutSeconds) s")
            }
            let pong = try JSONDecoder().decode(WorkerPong.self, from: Data(bytes))
            let rtt = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            return ActionResult(
                String(
                    format: "pong from %@ (pid %d on %@, %@): %d of %d slots busy, %d processed, round trip %.2f ms",
                    pong.worker, pong.pid, pong.hostname, pong.status, pong.active, pong.concurrency, pong.processed, rtt),
                details: [
                    "pid": .int(pong.pid), "hostname": .string(pong.hostname), "active": .int(pong.active),
                    "rtt_us": .int(Int(rtt * 1_000)), "status": .string(pong.status)
                ])
        },
        .workerForget: { c in
            let id = try c.string("id")
            let r = try c.commit { tx in
                guard try tx.query("DELETE FROM workers WHERE id = $1 AND status IN ('offline','stopped') RETURNING id", [id]).rows.first != nil
                else {
                    try c.whyNot(tx, table: "workers", key: "id", id: id, what: "worker", hint: "only offline or stopped workers can be forgotten")
                }
                return ActionResult("worker \(id) removed from the roster")
            }
            try c.control(.action(.workerForget), id)
            return r
        }
    ]

    static let managerHandlers: [ActionName: Handler] = [
        .managerStart: { c in try c.managerTransition(.managerStart, set: "status = 'running'", from: ["stopped", "failed"], done: "started") },
        .managerStop: { c in
            try c.managerTransition(
                .managerStop, set: "status = 'stopped', next_run_at = NULL", from: ["running", "paused", "starting"], done: "stopped")
        },
        .managerPause: { c in try c.managerTransition(.managerPause, set: "status = 'paused'", from: ["running"], done: "paused") },
        .managerResume: { c in try c.managerTransition(.managerResume, set: "status = 'running'", from: ["paused"], done: "resumed") },
        .managerRestart: { c in
            try c.managerTransition(
                .managerRestart, set: "status = 'starting', last_error = NULL", from: ["running", "paused", "stopped", "failed", "starting"],
                done: "restarting")
        },
        .managerTrigger: { c in
            try c.managerTransition(
                .managerTrigger, set: "next_run_at = now()", from: ["running", "paused"], requireEnabled: true, done: "runs now")
        },
        .managerSetSchedule: { c in
            let schedule = try c.string("schedule")
            var next = "next_run_at"
            if case .interval(let seconds)? = Schedule.parse(schedule) { next = "now() + make_interval(secs => \(seconds))" }
            return try c.managerTransition(
                .managerSetSchedule, set: "schedule = $3, next_run_at = \(next)", from: nil, params: [schedule],
                extra: ["schedule": .string(schedule)], done: "schedule \(schedule)")
        },
        .managerSetConcurrency: { c in
            let n = try c.int("concurrency")
            return try c.managerTransition(
                .managerSetConcurrency, set: "concurrency = $3", from: nil, params: [n], value: n, done: "concurrency \(n)")
        },
        .managerEnable: { c in
            try c.managerTransition(.managerEnable, set: "enabled = true", from: nil, guardSQL: "NOT enabled", done: "enabled")
        },
        .managerDisable: { c in
            try c.managerTransition(
                .managerDisable, set: "enabled = false, next_run_at = NULL", from: nil, guardSQL: "enabled", done: "disabled: no more runs")
        }
    ]
}

extension LiveActionContext {
    /// Moves a worker from one of `from` with `set`, then tells it.
    func workerTransition(_ command: ActionName, set: String, from: [String], done: String) throws -> ActionResult {
        let id = try string("id")
        let r = try commit { tx in
            guard
                try tx.query(
                    "UPDATE workers SET \(set), updated_at = now() WHERE id = $1 AND status = ANY($2::text[]) RETURNING id",
                    [id, PostgresValue.textArray(from)]
                ).rows.first != nil
            else {
                try whyNot(
                    tx, table: "workers", key: "id", id: id, what: "worker",
                    hint: "\(command.rawValue) applies to \(from.joined(separator: "/")) workers")
            }
            return ActionResult("worker \(id): \(done)")
        }
        try control(.action(command), id)
        return r
    }

    func setConcurrency(_ next: (Int) throws -> Int) throws -> ActionResult {
        let id = try string("id")
        var value = 0
        let r = try commit { tx in
            guard let row = try tx.query("SELECT concurrency FROM workers WHERE id = $1 FOR UPDATE", [id]).rows.first else {
                throw ActionFailure.notFound("worker \(id)")
            }
            let old: Int = try row.get("concurrency")
            value = try next(old)
            try tx.query("UPDATE workers SET concurrency = $2, updated_at = now() WHERE id = $1", [id, value])
            return ActionResult("worker \(id): concurrency \(old) → \(value)", details: ["concurrency": .int(value), "was": .int(old)])
        }
        try control(.action(.workerScale), id, value: value)
        publish(.workerUpdated(WorkerPatch(id: id, concurrency: value), cause: "worker.updated"))
        return r
    }

    func managerTransition(
        _ command: ActionName, set: String, from: [String]?, guardSQL: String? = nil, requireEnabled: Bool = false,
        params: [any PostgresBindable] = [], value: Int? = nil, extra: [String: PayloadValue] = [:], done: String
    ) throws -> ActionResult {
        let id = try string("id")
        var conditions = from == nil ? [] : ["status = ANY($2::text[])"]
        if let guardSQL { conditions.append(guardSQL) }
        if requireEnabled { conditions.append("enabled") }
        let whereSQL = conditions.isEmpty ? "" : " AND " + conditions.joined(separator: " AND ")
        let r = try commit { tx in
            let args: [any PostgresBindable] = [id, PostgresValue.textArray(from ?? [])] + params + [user]
            guard
                try tx.query(
                    """
                    UPDATE managers SET \(set), updated_at = now(), updated_by = $\(3 + params.count)
                    WHERE id = $1 AND ($2::text[] IS NOT NULL)\(whereSQL) RETURNING id
                    """, args
                ).rows.first != nil
            else {
                let hint =
                    from.map { "\(command.rawValue) applies to \($0.joined(separator: "/")) managers" }
                    ?? (requireEnabled ? "the manager is disabled" : "nothing to change")
                try whyNot(tx, table: "managers", key: "id", id: id, what: "manager", hint: hint)
            }
            return ActionResult("manager \(id): \(done)")
        }
        try control(.action(command), id, value: value, extra: extra)
        return r
    }
}

/// A worker's answer to worker.ping (`{"command":"worker.ping","target":id,"reply":token}` on
/// `{ns}:control`): its owner LPUSHes this JSON to `pingReplyKey(token)` in DB1, where the
/// executor waits for it with BLPOP.
public struct WorkerPong: Codable, Sendable, Equatable {
    public var worker: String
    public var hostname: String
    public var pid: Int
    public var status: String
    public var active: Int
    public var concurrency: Int
    public var processed: Int

    public init(worker: String, hostname: String, pid: Int, status: String, active: Int, concurrency: Int, processed: Int) {
        self.worker = worker
        self.hostname = hostname
        self.pid = pid
        self.status = status
        self.active = active
        self.concurrency = concurrency
        self.processed = processed
    }

    public static let database = Namespace.DB.cache
    public static let timeoutSeconds = 2
    /// An answer nobody waits for any more expires.
    public static let replyTTLSeconds = 30
}

extension Namespace {
    public func pingReplyKey(_ token: String) -> String { "\(prefix):control:reply:\(token)" }
}
