import AgentOSAdapters
import AgentOSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// CPU per Celery event with 10 and with 10,000 tasks held (issue 25: "holding 10,000 tasks costs
/// no more CPU per event than holding 10"). Frames shaped as a Celery 5.7 prefork worker sends
/// them (kombu envelope, base64 JSON body, `task.multi` lists of task-received, task-started and
/// task-succeeded with the dispatcher's hostname, utcoffset, pid and clock) go through the
/// monitor's own `ingest`, decode included; the monitor holds exactly its cap, so each new task
/// evicts a finished one, as a console does after its first `cap` tasks.
extension BenchCommand {
    func celeryEventFigures(redisURL: String) throws -> [BenchResult] {
        let rounds = 15
        let tasksPerRound = 1_000
        let sizes = [10, 10_000]
        var monitors: [Int: (monitor: CeleryMonitor, feed: CeleryEventFeed)] = [:]
        for held in sizes {
            let transport = try CeleryTransport(brokerDatabase: 12, globalKeyPrefix: "benchev\(getpid())-\(held):", queues: ["benchq"])
            let monitor = CeleryMonitor(redis: try RedisClient(url: redisURL), transport: transport) // never started: fed by hand
            monitor.holdTasks(atMost: held)
            var feed = CeleryEventFeed(host: "bench@agentos-bench")
            for frame in feed.frames(tasks: held) { monitor.ingest(frame, channel: feed.channel) } // filled to the cap
            guard monitor.current.tasks.count == held else {
                throw BenchError("celery events: \(monitor.current.tasks.count) tasks held, not \(held)")
            }
            monitors[held] = (monitor, feed)
        }
        // The two sizes round by round, in turn and each first every other round, so both meet the
        // same load on a shared machine (one size's rounds after the other's let the load of those
        // minutes into the ratio).
        var perEvent: [Int: [Double]] = [:]
        for round in 0..<rounds {
            for held in round % 2 == 0 ? sizes : sizes.reversed() {
                let frames = monitors[held]!.feed.frames(tasks: tasksPerRound)
                let (monitor, channel) = (monitors[held]!.monitor, monitors[held]!.feed.channel)
                let start = Self.processCPUMillis() / 1_000
                for frame in frames { monitor.ingest(frame, channel: channel) }
                let cpu = Self.processCPUMillis() / 1_000 - start
                perEvent[held, default: []].append(cpu * 1_000 / Double(tasksPerRound * CeleryEventFeed.eventsPerTask))
            }
        }
        for held in sizes {
            let s = monitors[held]!.monitor.current
            guard s.tasks.count == held, s.figures.finished["SUCCESS"] == held + rounds * tasksPerRound, s.malformed == 0 else {
                throw BenchError(
                    "celery events: held \(s.tasks.count) (not \(held)), counted \(s.figures.finished["SUCCESS"] ?? 0) succeeded, \(s.malformed) malformed"
                )
            }
            perEvent[held]!.sort()
        }
        let few = perEvent[10]!
        let many = perEvent[10_000]!
        let line = String(
            format: "celery events: CPU per event %.2f µs with 10 tasks held, %.2f µs with 10,000 (ratio %.2f; medians of %d rounds of %d events)\n",
            BenchResult.percentile(few, 0.5) * 1_000, BenchResult.percentile(many, 0.5) * 1_000,
            BenchResult.percentile(many, 0.5) / max(1e-12, BenchResult.percentile(few, 0.5)), rounds, tasksPerRound * CeleryEventFeed.eventsPerTask)
        FileHandle.standardError.write(Data(line.utf8))
        return [
            BenchResult(
                name: "celery events: CPU ms per event, 10,000 tasks held", figure: many, baseline: few,
                baselineName: "CPU ms per event, 10 tasks held", goalRatio: 1.2)
        ]
    }
}

/// Event frames as a Celery 5.7 worker publishes them on `/0.celeryev/task.multi`: one frame per
/// task with its three events (the worker buffers task events and flushes them as a list).
struct CeleryEventFeed {
    static let eventsPerTask = 3
    let host: String
    let channel = "/0.celeryev/task.multi"
    let pid = 4242
    var clock = 0

    init(host: String) { self.host = host }

    /// The frames of `tasks` new tasks, each received, started and succeeded a few ms apart.
    mutating func frames(tasks: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(tasks)
        let base = Date().timeIntervalSince1970
        for i in 0..<tasks {
            let id = UUID().uuidString.lowercased()
            let t = base + Double(i) * 0.001
            let received = event(
                "task-received", t,
                [
                    "uuid": .string(id), "name": .string("app.add"), "args": .string("(\(i), 2)"), "kwargs": .string("{}"),
                    "root_id": .string(id), "parent_id": .null, "retries": .int(0), "eta": .null, "expires": .null
                ])
            let started = event("task-started", t + 0.0005, ["uuid": .string(id)])
            let succeeded = event("task-succeeded", t + 0.002, ["uuid": .string(id), "result": .string("\(i + 2)"), "runtime": .double(0.0012)])
            out.append(envelope(.array([received, started, succeeded])))
        }
        return out
    }

    /// What `EventDispatcher.publish` adds to each event: hostname, utcoffset, pid, clock, timestamp, type.
    mutating func event(_ type: String, _ timestamp: Double, _ fields: [String: JSONTree]) -> JSONTree {
        clock += 1
        var o = fields
        o["type"] = .string(type)
        o["hostname"] = .string(host)
        o["utcoffset"] = .int(0)
        o["pid"] = .int(pid)
        o["clock"] = .int(clock)
        o["timestamp"] = .double(timestamp)
        return .object(o)
    }

    /// kombu's envelope (Redis transport): the body base64, the celeryev exchange and routing key.
    func envelope(_ body: JSONTree) -> [UInt8] {
        let env: JSONTree = .object([
            "body": .string(Data(body.json.utf8).base64EncodedString()), "content-encoding": .string("utf-8"),
            "content-type": .string("application/json"), "headers": .object(["hostname": .string(host)]),
            "properties": .object([
                "delivery_mode": .int(1), "delivery_info": .object(["exchange": .string("celeryev"), "routing_key": .string("task.multi")]),
                "priority": .int(0), "body_encoding": .string("base64"), "delivery_tag": .string(UUID().uuidString.lowercased())
            ])
        ])
        return Array(env.json.utf8)
    }
}
