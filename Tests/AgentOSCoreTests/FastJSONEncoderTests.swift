import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

/// A JSON document with every scalar kept as its exact text and object members sorted by key: two
/// documents are equal when they differ at most in the order of keys (Foundation's JSONEncoder writes
/// keys in its dictionaries' hash order, which changes from process to process).
indirect enum RawJSON: Equatable {
    case scalar(String)
    case array([RawJSON])
    case object([String: RawJSON])

    /// Parses trusted encoder output (no validation beyond what is needed to find the tokens).
    static func parse(_ bytes: [UInt8]) -> RawJSON? {
        var i = 0
        func skip() { while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 } }
        func stringToken() -> String? {
            let start = i
            i += 1
            while i < bytes.count, bytes[i] != 0x22 { i += bytes[i] == 0x5C ? 2 : 1 }
            guard i < bytes.count else { return nil }
            i += 1
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }
        func value() -> RawJSON? {
            skip()
            guard i < bytes.count else { return nil }
            switch bytes[i] {
            case 0x22: return stringToken().map(RawJSON.scalar)
            case 0x5B:
                i += 1
                var items: [RawJSON] = []
                skip()
                if i < bytes.count, bytes[i] == 0x5D {
                    i += 1
                    return .array(items)
                }
                while true {
                    guard let v = value() else { return nil }
                    items.append(v)
                    skip()
                    guard i < bytes.count else { return nil }
                    i += 1
                    if bytes[i - 1] == 0x5D { return .array(items) }
                }
            case 0x7B:
                i += 1
                var members: [String: RawJSON] = [:]
                skip()
                if i < bytes.count, bytes[i] == 0x7D {
                    i += 1
                    return .object(members)
                }
                while true {
                    skip()
                    guard let k = stringToken() else { return nil }
                    skip()
                    i += 1 // :
                    guard let v = value(), members[k] == nil else { return nil }
                    members[k] = v
                    skip()
                    guard i < bytes.count else { return nil }
                    i += 1
                    if bytes[i - 1] == 0x7D { return .object(members) }
                }
            default:
                let start = i
                while i < bytes.count, ![0x2C, 0x5D, 0x7D, 0x20, 0x0A].contains(bytes[i]) { i += 1 }
                return .scalar(String(decoding: bytes[start..<i], as: UTF8.self))
            }
        }
        let v = value()
        skip()
        return i == bytes.count ? v : nil
    }
}

/// The fast encoder writes what Foundation's JSONEncoder (`AgentJSON.encoder()`) writes: the same
/// members with the same spelling of every string and number; only the order of keys may differ.
@Suite struct FastJSONEncoderTests {
    func foundation<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try AgentJSON.encoder().encode(value)) }
    func fast<T: Encodable>(_ value: T) throws -> [UInt8] { try FastJSONEncoder().encodeBytes(value) }

    func expectSameBytes<T: Encodable>(_ value: T, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) throws {
        let a = try fast(value)
        let b = try foundation(value)
        let parsed = RawJSON.parse(a)
        let same = parsed != nil && parsed == RawJSON.parse(b) // a Bool: a failing == over big values would be diffed
        #expect(
            same,
            "\(comment): fast \(String(decoding: a.prefix(300), as: UTF8.self)) / Foundation \(String(decoding: b.prefix(300), as: UTF8.self))",
            sourceLocation: sourceLocation)
    }

    @Test func rawJSONComparisonCanFail() {
        #expect(RawJSON.parse(Array(#"{"a":1,"b":[true,"x"]}"#.utf8)) == RawJSON.parse(Array(#"{"b":[true,"x"],"a":1}"#.utf8)))
        #expect(RawJSON.parse(Array(#"{"a":1}"#.utf8)) != RawJSON.parse(Array(#"{"a":1.0}"#.utf8)))
        #expect(RawJSON.parse(Array(#"["\u001b"]"#.utf8)) != RawJSON.parse(Array(#"["\u001B"]"#.utf8)))
        #expect(RawJSON.parse(Array(#"[1,2]"#.utf8)) != RawJSON.parse(Array(#"[2,1]"#.utf8)))
        #expect(RawJSON.parse(Array(#"{"a":1,"a":1}"#.utf8)) == nil)
    }

    /// The console's fixture snapshot (ConsoleAppTests' `Fixture.snapshot`: seed 21, 15 minutes, a paused
    /// queue, database activity), simulator snapshots of several seeds and rates, and a sparse one.
    static func snapshots() -> [Snapshot] {
        let start = Date(timeIntervalSince1970: 1_795_729_200)
        var fixtureSim = FleetSimulator(config: SimulatorConfig(seed: 21), start: start)
        _ = fixtureSim.advance(to: start.addingTimeInterval(900), step: 1)
        _ = fixtureSim.apply(.pauseQueue("video_cutter"))
        var fixture = fixtureSim.snapshot(generation: 7)
        fixture.system.database.running = [
            .init(pid: 4242, user: "agentos", state: "active", durationSeconds: 2.5, query: "SELECT * FROM jobs WHERE status = $1"),
            .init(pid: 4243, user: "report", state: "idle in transaction", durationSeconds: 95, query: "UPDATE workers SET load = $2")
        ]
        var result = [fixture] + FastJSONEquivalenceTests.snapshots()
        var odd = Snapshot(generation: 2, generatedAt: start.addingTimeInterval(0.5), source: "live")
        odd.system.broadcast = Broadcast(message: "a/b \\ \"q\" \u{1}\u{1f}\u{7f}\u{2028} é 😀 \t\n\r\u{8}\u{c}", level: .critical)
        odd.config = [
            ConfigEntry(
                key: "x", type: .float, value: .double(1e-7), defaultValue: .double(1e21),
                constraints: ConfigConstraints(min: -0.0, max: 1e300, allowed: ["a", ""], pattern: "^[a-z/]+$"))
        ]
        odd.jobs.byStage = ["s": ["running": 1, "failed": Int.max], "t": [:]]
        result.append(odd)
        return result
    }

    @Test func snapshotsEncodeAsWithFoundation() throws {
        for (i, snapshot) in Self.snapshots().enumerated() {
            try expectSameBytes(snapshot, "snapshot \(i)")
            let data = try snapshot.encoded()
            let isFast = Array(data) == (try fast(snapshot))
            #expect(isFast, "Snapshot.encoded() is the fast encoder")
            let back = try Snapshot.decode(data) == snapshot
            #expect(back, "round trip \(i)")
            let foundationBack = try AgentJSON.decoder().decode(Snapshot.self, from: data) == snapshot
            #expect(foundationBack, "Foundation reads it \(i)")
        }
    }

    /// The hand-written writers of the bulk rows (FastJSONWriters.swift) against the synthesised
    /// `encode(to:)` through Foundation: every optional unset, then every one set.
    @Test func rowWritersMatchEncodeToEncoder() throws {
        let t = Date(timeIntervalSince1970: 1_795_729_200.25)
        let bare = Job(id: "j0", stage: "s", queue: "q", status: .pending, createdAt: t)
        let full = Job(
            id: "j1", name: "clip \"1\"\n", pipeline: "p", stage: "face_detector", queue: "q/1", status: .failed, priority: 9,
            progress: 0.125, attempts: 2, maxAttempts: 4, workerID: "w1", owner: "alice", createdAt: t, updatedAt: t.addingTimeInterval(1),
            startedAt: t.addingTimeInterval(2), finishedAt: t.addingTimeInterval(3), error: "boom\u{1b}[2J", errorClass: "E",
            traceback: "Traceback\n\t line é")
        for job in [bare, full] {
            try expectSameBytes(job, job.id)
            try expectSameBytes([job, job], "array of \(job.id)")
        }
        let lines = [
            LogLine(id: 1, ts: t, level: .debug, source: "", message: ""),
            LogLine(id: -7, ts: t, level: .critical, source: "w1", message: "a\u{0}b", jobID: "j1", workerID: "w1")
        ]
        try expectSameBytes(lines)
        let patches = [
            JobPatch(id: "j0"),
            JobPatch(
                id: "j1", name: "n\"", stage: "s", queue: "q", status: .retrying, priority: -3, progress: 1e-7, attempts: 0, workerID: "w",
                owner: "ö", createdAt: t, updatedAt: t, startedAt: t, finishedAt: t, error: "e\u{7}", errorClass: "C", eta: t)
        ]
        let notices = [
            ActionNotice(action: "job.cancel", user: "alice", outcome: "success"),
            ActionNotice(action: "a", user: "b\\", outcome: "failure", target: "t", requestID: "r", summary: "line\nbreak")
        ]
        for patch in patches {
            try expectSameBytes(patch, patch.id)
            for event in [AgentEvent.jobCreated(patch), .jobUpdated(patch), .jobCancelled(patch), .jobRetried(patch)] {
                try expectSameBytes(Wire(seq: 1, ts: t, data: event), "\(event.type) \(patch.id)")
            }
        }
        for notice in notices {
            try expectSameBytes(notice, notice.action)
            try expectSameBytes(Wire(seq: 1, ts: t, data: .actionExecuted(notice)), notice.action)
        }
        #expect(throws: EncodingError.self) {
            var bad = full
            bad.progress = .nan
            _ = try FastJSONEncoder().encode(bad)
        }
    }

    struct Wire: Encodable {
        var seq: Int64
        var ts: Date
        var data: AgentEvent
    }

    @Test func eventsEncodeAsWithFoundation() throws {
        for event in EventTests.samples {
            try expectSameBytes(Wire(seq: 9, ts: EventTests.ts, data: event), "\(event.type)")
        }
    }

    /// A message on the bus as its members' synthesised `encode(to:)` writes them (the envelope the
    /// bus wrote through `Encoder` before `EventEnvelope.body`).
    struct Envelope: Encodable {
        var v = 1
        var seq: Int64
        var type: String
        var ts: Date
        var source: String
        var data: AgentEvent
    }

    @Test func theBusEnvelopeIsWrittenAsItsEncodableFormWouldBe() throws {
        for (i, event) in EventTests.samples.enumerated() {
            let seq = Int64(i) * 1_000_003 - 7
            let body = try EventEnvelope.body(seq: seq, ts: EventTests.ts, source: "console@h \"1\"", event: event)
            let expected = try foundation(Envelope(seq: seq, type: event.type, ts: EventTests.ts, source: "console@h \"1\"", data: event))
            let parsed = RawJSON.parse(body)
            let same = parsed != nil && parsed == RawJSON.parse(expected)
            #expect(same, "\(event.type): \(String(decoding: body, as: UTF8.self)) / \(String(decoding: expected, as: UTF8.self))")
            let back = try EventEnvelope.decode(Data(body))
            #expect(back == EventEnvelope(seq: seq, ts: back.ts, source: "console@h \"1\"", event: event), "\(event.type) read back")
        }
    }

    @Test func stringsAreEscapedAsFoundationDoes() throws {
        var all: [String] = (0..<0x80).map { String(UnicodeScalar(UInt8($0))) }
        all += [
            "", "/", "</script>", "\u{80}", "\u{9b}", "\u{2028}\u{2029}", "\u{202e}", "\u{feff}", "é€😀", "a\"b\\c",
            String(repeating: "x\u{0}", count: 500)
        ]
        for s in all { try expectSameBytes([s], s.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ")) }
        try expectSameBytes(all)
        try expectSameBytes(["k\u{1}\"/": "v"], "keys are escaped too")
    }

    @Test func numbersAreWrittenAsFoundationDoes() throws {
        try expectSameBytes([Int.min, Int.max, 0, -1, 10, 1_000_000])
        try expectSameBytes([Int8.min, Int8.max])
        try expectSameBytes([UInt64.max, 0])
        try expectSameBytes([Int32.min, Int32.max])
        try expectSameBytes([
            0.0, -0.0, 1, -1, 0.1, 1.5, 100, 1e15, 1e16, 1e17, 1e21, 1e22, 1e-5, 1e-7, 123456.789, .leastNonzeroMagnitude,
            .greatestFiniteMagnitude, .pi, 2.5e-3, 4.0, 1e300
        ])
        try expectSameBytes([Float(0.1), 1e10, -3, .greatestFiniteMagnitude])
        var rng = SimRandom(seed: 77)
        let random = (0..<3_000).map { i -> Double in
            let d = Double(bitPattern: rng.next())
            return d.isFinite ? d : Double(i) / 7
        }
        try expectSameBytes(random)
        for bad in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try FastJSONEncoder().encode([bad]) }
            #expect(throws: EncodingError.self) { try AgentJSON.encoder().encode([bad]) }
        }
        try expectSameBytes([true, false])
        try expectSameBytes([1, nil, 3] as [Int?])
        try expectSameBytes(["a": nil, "b": 1] as [String: Int?])
    }

    @Test func datesAreISO8601WithMilliseconds() throws {
        let dates = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_795_729_200.1235), Date(timeIntervalSince1970: -1.5),
            Date(timeIntervalSince1970: 253_402_300_799.999)
        ]
        try expectSameBytes(dates)
        try expectSameBytes(["d": dates[1]])
        try expectSameBytes(dates[1], "a top-level date")
    }

    /// Values streaming cannot write go through Foundation, so the bytes are still Foundation's.
    struct Nested: Encodable {
        enum K: String, CodingKey { case a, b, c }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            var inner = c.nestedContainer(keyedBy: K.self, forKey: .a)
            try c.encode(1, forKey: .b)
            try inner.encode("late", forKey: .c) // written after the parent moved on
            var list = c.nestedUnkeyedContainer(forKey: .c)
            try list.encode(2)
        }
    }

    struct EmptyNested: Encodable {
        enum K: String, CodingKey { case a }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            _ = c.nestedContainer(keyedBy: K.self, forKey: .a) // never written to: Foundation still writes {}
        }
    }

    struct Super: Encodable {
        enum K: String, CodingKey { case x }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(1, forKey: .x)
            try Date(timeIntervalSince1970: 5).encode(to: c.superEncoder())
        }
    }

    struct Mixed: Encodable {
        var url = URL(string: "https://example.com/a?b=c")!
        var data = Data([1, 2, 3])
        var n = 4
    }

    struct Quiet: Encodable {
        func encode(to encoder: Encoder) throws {}
    }

    @Test func unusualEncodersFallBackToFoundation() throws {
        try expectSameBytes(Nested())
        try expectSameBytes([Nested(), Nested()])
        try expectSameBytes(EmptyNested())
        try expectSameBytes(Super())
        try expectSameBytes(Mixed())
        try expectSameBytes(["q": Quiet()], "a nested value that encodes nothing")
        #expect(throws: EncodingError.self) { try FastJSONEncoder().encode(Quiet()) }
        #expect(throws: EncodingError.self) { try AgentJSON.encoder().encode(Quiet()) }
    }

    /// Timestamps decode as with Foundation and `ISOTime.parse`, also when the day part repeats (the
    /// decoder remembers the last day) and when a valid day is followed by an invalid time or day.
    @Test func timestampsDecodeAsWithFoundation() throws {
        let texts = [
            "2026-11-27T10:00:00Z", "2026-11-27T10:00:00.5Z", "2026-11-27T23:59:60.999Z", "2026-11-28T00:00:00.001Z",
            "2026-11-27T10:00:00.123456Z", "2026-11-27 10:00:00Z", "2026-11-27T10:00:00+02:00", "2026-11-27T10:00:00z",
            "1969-12-31T23:59:59.9Z", "2026-02-30T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T10:60:00Z", "2026-13-27T10:00:00Z",
            "2026-11-27T10:00:00.Z", "2026-11-27", "2026-11-27T10:00:00", "2026-11-2xT10:00:00Z", "2026-11-27T10:00:00Zx", "1e9"
        ]
        for text in texts {
            let json = Array("[\"2026-11-27T09:00:00Z\",\"\(text)\",\"2026-11-27T11:00:00Z\"]".utf8)
            let (fast, foundation) = decodeBoth([Date].self, json)
            switch (fast, foundation) {
            case (.success(let a), .success(let b)): #expect(a == b, "\(text)")
            case (.failure(let a), .failure(let b)): #expect(a.path == b.path && a.path == "$[1]", "\(text): \(a) / \(b)")
            default: Issue.record("\(text): fast \(fast), Foundation \(foundation)")
            }
        }
    }

    /// What Foundation accepts, the fast decoder accepts with the same value, for repeated keys too.
    @Test func repeatedKeysDecodeAsWithFoundation() throws {
        struct AB: Decodable, Equatable { var a: Int, b: Int? }
        for json in [#"{"a":1,"a":2}"#, #"{"a":1,"b":2,"a":3}"#] {
            let (f, n) = decodeBoth(AB.self, Array(json.utf8))
            #expect(try f.get() == n.get(), "\(json)")
            let (g, m) = decodeBoth([String: Int].self, Array(json.utf8))
            #expect(try g.get() == m.get(), "\(json)")
        }
        // The second object repeats a key the first had at another position (the key index remembers positions).
        let rows = #"[{"x":0,"y":0,"z":0,"a":1,"b":1},{"a":1,"b":2,"c":3,"a":4}]"#
        let (f, n) = decodeBoth([AB].self, Array(rows.utf8))
        #expect(try f.get() == n.get(), "\(rows)")
    }
}
