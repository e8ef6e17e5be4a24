import AgentOSAdapters
import AgentOSCore
import Foundation
import Testing

/// Celery's frames as captured from Celery 5.7 / kombu 5.7 (Fixtures/celery-frames.log), the
/// transport's key and channel names, and the worker/task state the monitor keeps.
@Suite("Celery protocol")
struct CeleryProtocolTests {
    /// (command, key or channel, payload) of each monitor line, redis-cli escaping undone.
    static func frames() throws -> [(command: String, target: String, payload: [UInt8])] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/celery-frames.log").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let args = tokens(String(line))
            guard args.count >= 3 else { return nil }
            return (String(decoding: args[0], as: UTF8.self), String(decoding: args[1], as: UTF8.self), args[2])
        }
    }

    /// The quoted arguments of a MONITOR line (`\"`, `\\`, `\xHH`, `\n` escapes).
    static func tokens(_ line: String) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var cur: [UInt8] = []
        var inside = false
        let b = Array(line.utf8)
        var i = 0
        while i < b.count {
            let c = b[i]
            if !inside {
                if c == UInt8(ascii: "\"") {
                    inside = true
                    cur = []
                }
                i += 1
                continue
            }
            if c == UInt8(ascii: "\\"), i + 1 < b.count {
                let n = b[i + 1]
                switch n {
                case UInt8(ascii: "x"):
                    cur.append(UInt8(String(decoding: b[(i + 2)..<(i + 4)], as: UTF8.self), radix: 16)!)
                    i += 4
                case UInt8(ascii: "n"):
                    cur.append(10)
                    i += 2
                case UInt8(ascii: "r"):
                    cur.append(13)
                    i += 2
                case UInt8(ascii: "t"):
                    cur.append(9)
                    i += 2
                default:
                    cur.append(n)
                    i += 2
                }
                continue
            }
            if c == UInt8(ascii: "\"") {
                out.append(cur)
                inside = false
            } else {
                cur.append(c)
            }
            i += 1
        }
        return out
    }

    @Test func everyCapturedFrameDecodes() throws {
        let frames = try Self.frames()
        #expect(frames.count >= 40)
        var events: [CeleryEvent] = []
        var requests = 0
        var replies = 0
        for f in frames {
            let env = try CeleryEnvelope.decode(f.payload, place: f.target)
            if f.target.hasPrefix("/0.celeryev/") {
                events += try CeleryEvent.events(in: env, place: f.target)
            } else if f.target == "/0.celery.pidbox" {
                #expect(env.body["method"]?.string != nil, "\(env.body)")
                requests += 1
            } else {
                #expect(env.headers["ticket"]?.string != nil && env.body.object?.count == 1, "\(env.body)")
                replies += 1
            }
        }
        #expect(requests == 18 && replies == 16, "\(requests) requests, \(replies) replies")
        let types = Set(events.map(\.type))
        #expect(
            types.isSuperset(of: [
                "worker-online", "worker-heartbeat", "worker-offline", "task-sent", "task-received", "task-started", "task-succeeded"
            ]))
        // A task.multi frame with several events.
        let multi = try frames.filter { $0.target == "/0.celeryev/task.multi" }.map {
            try CeleryEvent.events(in: CeleryEnvelope.decode($0.payload, place: "m"), place: "m").count
        }
        #expect(multi.contains { $0 > 1 })
    }

    @Test func stateFollowsCapturedEvents() throws {
        var state = CeleryState()
        for f in try Self.frames() where f.target.hasPrefix("/0.celeryev/") {
            for e in try CeleryEvent.events(in: CeleryEnvelope.decode(f.payload, place: f.target), place: f.target) { state.apply(e) }
        }
        let w1 = try #require(state.workers["w1@host"])
        #expect(w1.version == "5.7.0" && w1.pid == 14309)
        #expect(!state.tasks.isEmpty)
        #expect(state.tasks.values.contains { $0.state == "SUCCESS" && $0.name == "capapp.add" })
        let jobs = state.jobs()
        #expect(jobs.contains { $0.status == .completed })
    }

    @Test func heartbeatExpiryAfterTwiceTheFrequency() {
        var state = CeleryState()
        state.apply(
            CeleryEvent(
                type: "worker-heartbeat", hostname: "w@h", timestamp: 100, fields: ["freq": .double(2), "active": .int(1), "processed": .int(7)]))
        #expect(state.workerInfos(now: 103.9).first?.status == .online)
        #expect(state.workerInfos(now: 104.1).first?.status == .offline)
        state.apply(CeleryEvent(type: "worker-heartbeat", hostname: "w@h", timestamp: 104, fields: [:]))
        #expect(state.workerInfos(now: 105).first?.status == .online)
        state.apply(CeleryEvent(type: "worker-offline", hostname: "w@h", timestamp: 105, fields: [:]))
        #expect(state.workerInfos(now: 105).first?.status == .offline)
        #expect(state.workerInfos(now: 105).first?.processed == 7)
    }

    @Test func taskStatesDoNotGoBackwards() {
        var state = CeleryState()
        state.apply(CeleryEvent(type: "task-succeeded", hostname: "w@h", timestamp: 2, fields: ["uuid": .string("t1"), "result": .string("5")]))
        state.apply(CeleryEvent(type: "task-started", hostname: "w@h", timestamp: 1, fields: ["uuid": .string("t1")]))
        #expect(state.tasks["t1"]?.state == "SUCCESS")
        #expect(state.jobs().first?.status == .completed)
    }

    /// D67: the task map holds at most 2,000 and the worker map 5,000, the newest kept, through
    /// an eviction heap; an entry seen again keeps its place although its old heap pairs remain.
    @Test func stateIsCappedAndKeepsTheNewest() {
        var state = CeleryState()
        #expect(state.taskLimit == 2_000 && state.workerLimit == 5_000)
        var over = 0
        for i in 0..<10_000 {
            let t = Double(i)
            state.apply(CeleryEvent(type: "task-received", hostname: "w@h", timestamp: t, fields: ["uuid": .string("t\(i)")]))
            state.apply(CeleryEvent(type: "worker-heartbeat", hostname: "w\(i)@h", timestamp: t, fields: [:]))
            // Two old entries seen again every 100 events: their stale pairs must not evict them.
            if i % 100 == 99 {
                state.apply(CeleryEvent(type: "task-started", hostname: "w@h", timestamp: t, fields: ["uuid": .string("t0")]))
                state.apply(CeleryEvent(type: "worker-heartbeat", hostname: "w0@h", timestamp: t, fields: [:]))
            }
            if state.tasks.count > 2_000 || state.workers.count > 5_000 { over += 1 }
        }
        #expect(over == 0, "over a cap after \(over) event(s)")
        #expect(state.tasks.count == 2_000 && state.workers.count == 5_000)
        #expect((8_001..<10_000).allSatisfy { state.tasks["t\($0)"] != nil } && state.tasks["t0"]?.state == "STARTED")
        #expect(state.tasks["t8000"] == nil && state.tasks["t7999"] == nil)
        #expect((5_001..<10_000).allSatisfy { state.workers["w\($0)@h"] != nil } && state.workers["w0@h"] != nil)
        #expect(state.workers["w5000@h"] == nil)
        // Finished tasks go before running ones, the oldest first.
        var mixed = CeleryState()
        mixed.taskLimit = 3
        for (i, type) in ["task-started", "task-succeeded", "task-started", "task-succeeded"].enumerated() {
            mixed.apply(CeleryEvent(type: type, hostname: "w@h", timestamp: Double(i), fields: ["uuid": .string("m\(i)")]))
        }
        #expect(Set(mixed.tasks.keys) == ["m0", "m2", "m3"])
    }

    /// D79: finished tasks go by their last event, oldest first (one that finishes late is placed
    /// by its time; one that hears a later event moves back), all before any unfinished one; the
    /// held counts follow the evictions.
    @Test func evictionGoesByLastEventFinishedFirst() {
        var state = CeleryState()
        state.taskLimit = 4
        func event(_ type: String, _ id: String, _ t: Double) {
            state.apply(CeleryEvent(type: type, hostname: "w@h", timestamp: t, fields: ["uuid": .string(id)]))
        }
        event("task-started", "u1", 5)
        event("task-succeeded", "f1", 10)
        event("task-succeeded", "f2", 30)
        event("task-succeeded", "f3", 20) // finished late: before f2
        event("task-succeeded", "f4", 40)
        #expect(Set(state.tasks.keys) == ["u1", "f2", "f3", "f4"]) // f1, not the older unfinished u1
        event("task-succeeded", "f5", 25)
        #expect(Set(state.tasks.keys) == ["u1", "f2", "f4", "f5"]) // f3 (20) before f2 (30)
        event("task-started", "f2", 50) // a late event: f2 now after f5 and f4
        event("task-succeeded", "f6", 60)
        #expect(Set(state.tasks.keys) == ["u1", "f2", "f4", "f6"]) // f5
        event("task-started", "u2", 70)
        #expect(Set(state.tasks.keys) == ["u1", "u2", "f2", "f6"]) // f4
        event("task-started", "u3", 80)
        event("task-started", "u4", 90)
        #expect(Set(state.tasks.keys) == ["u1", "u2", "u3", "u4"]) // f2 (50), then f6
        event("task-succeeded", "u1", 100)
        event("task-started", "u5", 3)
        #expect(Set(state.tasks.keys) == ["u2", "u3", "u4", "u5"]) // u1 finished: first to go
        event("task-started", "u6", 110)
        #expect(Set(state.tasks.keys) == ["u2", "u3", "u4", "u6"]) // then the oldest unfinished, u5 (3)
        #expect(state.figures.inFlight == ["STARTED": 4])
    }

    /// D79: over many tasks, events out of order and late ones, the held tasks are always those a
    /// full sort would keep (finished before unfinished, oldest last event first).
    @Test func evictionMatchesAFullSort() {
        var state = CeleryState()
        state.taskLimit = 50
        var model: [String: (finished: Bool, updated: Double)] = [:]
        var seed: UInt64 = 42
        func random(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        var mismatches = 0
        for i in 0..<6_000 {
            // Unique times, mostly rising, some events up to 80 steps late; a few tasks never finish.
            let t = Double(i) - Double(random(5) == 0 ? random(80) : 0) + Double(i) / 100_000
            let id = "t\(random(3) == 0 ? max(0, i - 1 - random(60)) : i)"
            let type = random(4) == 0 ? "task-started" : "task-succeeded"
            state.apply(CeleryEvent(type: type, hostname: "w@h", timestamp: t, fields: ["uuid": .string(id)]))
            var m = model[id] ?? (false, t)
            m.updated = max(m.updated, t)
            if type == "task-succeeded" { m.finished = true }
            model[id] = m
            while model.count > 50 {
                let victim = model.min { ($0.value.finished ? 0 : 1, $0.value.updated) < ($1.value.finished ? 0 : 1, $1.value.updated) }!
                model[victim.key] = nil
            }
            if Set(state.tasks.keys) != Set(model.keys) { mismatches += 1 }
        }
        #expect(mismatches == 0, "held tasks differ from a full sort after \(mismatches) event(s)")
        #expect(state.figures.inFlight.values.reduce(0, +) == 50)
    }

    @Test(arguments: [
        (
            "{\"body\": \"gASV\", \"content-type\": \"application/x-python-serialize\", \"properties\": {\"body_encoding\": \"base64\"}}",
            "pickle is never loaded"
        ),
        ("{\"body\": \"eyJ0eXBlIjo\", \"content-type\": \"application/json\", \"properties\": {\"body_encoding\": \"base64\"}}", "not valid base64"),
        (
            "{\"body\": \"e30=\", \"content-type\": \"application/x-msgpack\", \"properties\": {\"body_encoding\": \"base64\"}}",
            "is not application/json"
        ),
        ("{\"body\": \"e30=\", \"content-type\": \"application/json\", \"properties\": {\"body_encoding\": \"base64\"", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("{\"body\": \"W10=\", \"properties\": {\"body_encoding\": \"rot13\"}}", "is not base64"),
        ("{\"body\": \"bm90IGpzb24=\", \"properties\": {\"body_encoding\": \"base64\"}}", "body is not JSON")
    ])
    func malformedFramesNameThePlaceAndTheProblem(_ frame: String, _ problem: String) {
        do {
            _ = try CeleryEnvelope.decode(Array(frame.utf8), place: "channel /0.celeryev/task.multi")
            Issue.record("decoded: \(frame)")
        } catch {
            #expect(error.description.hasPrefix("channel /0.celeryev/task.multi: "))
            #expect(error.description.contains(problem), "\(error)")
        }
    }

    @Test func eventBodiesMustBeEvents() throws {
        let env = CeleryEnvelope(
            headers: [:], properties: [:],
            body: .array([.object(["type": .string("task-started"), "hostname": .string("w@h"), "timestamp": .double(1)])]))
        #expect(throws: CeleryFrameError.self) { try CeleryEvent.events(in: env, place: "x") } // no uuid
        let other = CeleryEnvelope(headers: [:], properties: [:], body: .string("hello"))
        #expect(throws: CeleryFrameError.self) { try CeleryEvent.events(in: other, place: "x") }
    }

    @Test func transportOptionsNameKeysAndChannels() throws {
        let d = try CeleryTransport()
        #expect(d.pidboxChannel == "/0.celery.pidbox")
        #expect(d.eventPattern == "/0.celeryev/*")
        #expect(d.queueKeys("q2") == [Array("q2".utf8), Array("q2\u{06}\u{16}3".utf8), Array("q2\u{06}\u{16}6".utf8), Array("q2\u{06}\u{16}9".utf8)])
        #expect(d.queueName(ofKey: Array("q2\u{06}\u{16}6".utf8)) == "q2")
        #expect(d.replyBindingKey == "_kombu.binding.reply.celery.pidbox")
        #expect(d.replyBindingMember(oid: "abc") == Array("abc\u{06}\u{16}\u{06}\u{16}abc.reply.celery.pidbox".utf8))
        let p = try CeleryTransport(brokerDatabase: 3, globalKeyPrefix: "pfx:", fanoutPrefix: .database, fanoutPatterns: true)
        #expect(p.fanoutChannel(exchange: "celeryev", routingKey: "worker.heartbeat") == "pfx:/3.celeryev/worker.heartbeat")
        #expect(p.queueKeys("celery")[1] == Array("pfx:celery\u{06}\u{16}3".utf8))
        #expect(p.unackedKey == "pfx:unacked")
        #expect(try CeleryTransport(fanoutPrefix: .none).pidboxChannel == "celery.pidbox")
        #expect(try CeleryTransport(fanoutPrefix: .custom("/myprefix."), fanoutPatterns: false).eventPattern == "/myprefix.celeryev")
        #expect(try CeleryTransport(prioritySteps: [0, 5]).queueKeys("q").count == 2)
        #expect(throws: CeleryConfigError.self) { try CeleryTransport(prioritySteps: [3, 6]) }
        #expect(throws: CeleryConfigError.self) { try CeleryTransport(brokerDatabase: 16) }
    }

    @Test func requestEnvelopeRoundTrips() throws {
        let body = CeleryControl.requestBody(
            method: "revoke", arguments: ["task_id": .string("t"), "terminate": .bool(true)], destination: ["w@h"],
            ticket: "tk", replyTo: "oid")
        let frame = CeleryControl.envelope(body: body, exchange: "celery.pidbox", clock: 3, expires: 10.5, deliveryTag: "dt")
        let env = try CeleryEnvelope.decode(frame, place: "x")
        #expect(env.body == body)
        #expect(env.body["reply_to"]?["routing_key"]?.string == "oid" && env.body["destination"]?.array?.first?.string == "w@h")
        #expect(env.properties["delivery_info"]?["exchange"]?.string == "celery.pidbox" && env.properties["delivery_mode"]?.int == 2)
        #expect(env.headers["clock"]?.int == 3)
        #expect(CeleryMonitor.unackedRoutingKey(Array("[{\"properties\": {}}, \"\", \"q2\"]".utf8)) == "q2")
    }
}

@Suite("Celery transport options")
struct CeleryOptionsTests {
    @Test func optionsInCeleryWords() throws {
        let t = try CeleryTransport(
            options:
                #"{"global_keyprefix": "pfx:", "fanout_prefix": "/x.", "fanout_patterns": false, "priority_steps": [0, 5], "broker_db": 2, "queues": ["a", "b"], "reply_timeout": 2.5}"#
        )
        #expect(t.globalKeyPrefix == "pfx:" && t.fanoutPrefix == .custom("/x.") && !t.fanoutPatterns && t.prioritySteps == [0, 5])
        #expect(t.brokerDatabase == 2 && t.queues == ["a", "b"] && t.replyTimeout == 2.5)
        #expect(t.confirmTimeout == 10) // the default (D67)
        #expect(try CeleryTransport(options: #"{"confirm_timeout": 2.5}"#).confirmTimeout == 2.5)
        #expect(t.pidboxChannel == "pfx:/x.celery.pidbox")
        #expect(try CeleryTransport(options: "{}") == CeleryTransport())
    }

    @Test(arguments: [
        (#"{"global_keyprefx": "p"}"#, "unknown key 'global_keyprefx'"),
        (#"{"priority_steps": [0, "3"]}"#, "priority_steps must be a list of integers"),
        (#"{"priority_steps": [2, 3]}"#, "must start at 0"),
        (#"{"broker_db": 99}"#, "broker database 99"),
        (#"{"fanout_prefix": 3}"#, "fanout_prefix must be"),
        (#"{"confirm_timeout": "10"}"#, "confirm_timeout must be a number"),
        (#"{"confirm_timeout": 0}"#, "confirm timeout 0"),
        ("[1]", "must be a JSON object"),
        ("{", "not JSON")
    ])
    func badOptionsNameTheKey(_ text: String, _ problem: String) {
        do {
            _ = try CeleryTransport(options: text, place: "--celery")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.hasPrefix("celery: --celery: ") && error.description.contains(problem), "\(error)")
        }
    }
}
