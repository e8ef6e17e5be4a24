import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

/// Any JSON value, decoded through the `Decodable` entry points a domain type would use.
indirect enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }
}

/// Decodes with the new decoder and with Foundation's (`AgentJSON.decoder()`, the former implementation).
func decodeBoth<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> (fast: Result<T, DecodeFailure>, foundation: Result<T, DecodeFailure>) {
    let data = Data(bytes)
    let fast = Result { try FastJSONDecoder().decode(T.self, from: data) }.mapError { DecodeFailure.from($0, what: "test") }
    let foundation = Result { try AgentJSON.decoder().decode(T.self, from: data) }.mapError { DecodeFailure.from($0, what: "test") }
    return (fast, foundation)
}

func fast<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try FastJSONDecoder().decode(T.self, from: Data(json.utf8))
}

func fastFailure<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> DecodeFailure? {
    do {
        _ = try FastJSONDecoder().decode(T.self, from: Data(bytes))
        return nil
    } catch {
        return DecodeFailure.from(error, what: "test")
    }
}

@Suite struct FastJSONParserTests {
    @Test func escapes() throws {
        #expect(try fast(String.self, #""\"\\\/\b\f\n\r\t""#) == "\"\\/\u{08}\u{0C}\n\r\t")
        #expect(try fast(String.self, #""a\u00e9\u20AC\u0000z""#) == "aé€\u{0}z")
        #expect(try fast(String.self, #""\ud83d\ude00 \uD834\uDD1E""#) == "😀 𝄞")
        #expect(try fast(String.self, "\"raw é € 😀\"") == "raw é € 😀")
        #expect(try fast([String: Int].self, #"{"na\u006de":1}"#) == ["name": 1])
        for bad in [
            #""\ud800""#, #""\ud800x""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800\n""#, #""\x""#, #""\u12G4""#, #""\u12""#,
            "\"a\u{01}b\"", "\"tab\there\"", #""\"#
        ] {
            #expect(fastFailure(String.self, Array(bad.utf8))?.path == "$", "\(bad)")
        }
    }

    @Test func strictUTF8() throws {
        let invalid: [[UInt8]] = [
            [0xFF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF0, 0x80, 0x80, 0x80],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xE2, 0x82], [0xE2, 0x82, 0x41], [0x80], [0xC3]
        ]
        for bytes in invalid {
            let doc = [0x22] + bytes + [0x22]
            #expect(fastFailure(String.self, doc)?.path == "$", "\(bytes)")
            // Also inside a field that is not decoded: the parser validates every string.
            #expect(fastFailure([String: Int].self, Array(#"{"a":1,"x":""#.utf8) + bytes + Array(#""}"#.utf8)) != nil)
        }
        let valid: [[UInt8]] = [
            [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xF0, 0x90, 0x80, 0x80],
            [0xF4, 0x8F, 0xBF, 0xBF]
        ]
        for bytes in valid {
            #expect(try FastJSONDecoder().decode(String.self, from: Data([0x22] + bytes + [0x22])) == String(decoding: bytes, as: UTF8.self))
        }
        // Long strings take the eight-bytes-at-a-time path; specials at every position of a word.
        for at in 0..<20 {
            var text = Array(repeating: UInt8(ascii: "a"), count: 20)
            text[at] = 0xC3
            text.insert(0xA9, at: at + 1)
            #expect(try FastJSONDecoder().decode(String.self, from: Data([0x22] + text + [0x22])) == String(decoding: text, as: UTF8.self))
            var quoted = Array(repeating: UInt8(ascii: "b"), count: 20)
            quoted[at] = UInt8(ascii: "\\")
            quoted.insert(UInt8(ascii: "n"), at: at + 1)
            #expect(try FastJSONDecoder().decode(String.self, from: Data([0x22] + quoted + [0x22])).count == 20)
            var control = Array(repeating: UInt8(ascii: "c"), count: 20)
            control[at] = 0x1F
            #expect(fastFailure(String.self, [0x22] + control + [0x22]) != nil)
        }
    }

    @Test func numbers() throws {
        #expect(
            try fast([Int].self, "[0,-0,7,-12,9223372036854775807,-9223372036854775808,1e2,4.0,-3.0e1,0.5e1]")
                == [0, 0, 7, -12, .max, .min, 100, 4, -30, 5])
        #expect(try fast([Int64].self, "[1842,-1]") == [1842, -1])
        #expect(try fast([UInt8].self, "[255]") == [255])
        let doubles = try fast([Double].self, "[0,-0.0,1.5,-2.25e-3,1e308,4.9e-324,0.1,123456789012345678901234567890,3.141592653589793,1E+2]")
        #expect(
            doubles == [0, -0.0, 1.5, -2.25e-3, 1e308, .leastNonzeroMagnitude, 0.1, Double("123456789012345678901234567890")!, 3.141592653589793, 100]
        )
        var rng = SimRandom(seed: 5)
        let random = (0..<2_000).map { i -> Double in
            let d = Double(bitPattern: rng.next())
            return d.isFinite ? d : Double(i) * 0.37
        }
        #expect(try FastJSONDecoder().decode([Double].self, from: JSONEncoder().encode(random)) == random, "correctly rounded, as Foundation")
        let (a, b) = decodeBoth([Double].self, Array(String(describing: random.prefix(300)).utf8))
        #expect(try a.get() == b.get())
        for bad in ["[1.5]", "[1e999]", "[9223372036854775808]", "[-9223372036854775809]", "[1e20]", "[\"1\"]", "[true]"] {
            #expect(fastFailure([Int].self, Array(bad.utf8)) != nil, "\(bad) as Int")
        }
        for bad in ["[1e999]", "[-1e999]", "[1e-400]"] {
            let failure = fastFailure([Double].self, Array(bad.utf8))
            #expect(failure?.path == "$[0]" && failure?.problem.contains("not representable") == true, "\(bad)")
        }
        #expect(try fast([Double].self, "[0e-400, 0.000e999]") == [0, 0], "a true zero is no underflow")
        for bad in ["01", "-", "+1", ".5", "1.", "1e", "1e+", "-01", "0x10", "1.5.2", "--1", "NaN", "Infinity", "1 2"] {
            #expect(fastFailure(JSONValue.self, Array(bad.utf8))?.path == "$", "\(bad)")
        }
    }

    @Test func literalsStructureAndWhitespace() throws {
        #expect(
            try fast(JSONValue.self, " \n\t\r{ \"a\" : [ true , false , null ] }\n ") == .object(["a": .array([.bool(true), .bool(false), .null])]))
        #expect(try fast([Int].self, "[1,2,]") == [1, 2], "a trailing comma, as Foundation accepts")
        #expect(try fast([String: Int].self, #"{"a":1,}"#) == ["a": 1])
        #expect(try fast([String: Int].self, #"{"a":1,"a":2}"#) == ["a": 1], "the first of repeated keys wins, as Foundation")
        #expect(try fast(Int.self, "5") == 5)
        #expect(try FastJSONDecoder().decode([Int].self, from: Data([0xEF, 0xBB, 0xBF] + Array("[1]".utf8))) == [1], "UTF-8 byte order mark")
        #expect(try FastJSONDecoder().decode([String].self, from: "[\"é\"]".data(using: .utf16LittleEndian)!) == ["é"], "UTF-16 input")
        for bad in ["", " ", "tru", "nul", "[1,,2]", "[,]", "{,}", "{\"a\"}", "{\"a\":}", "{1:2}", "[1}", "{\"a\":1]", "[1] x", "'a'", "{\"a\":1,,}"]
        {
            #expect(fastFailure(JSONValue.self, Array(bad.utf8))?.path == "$", "\(bad)")
        }
    }

    @Test func nestingIsLimited() throws {
        func nested(_ depth: Int, _ open: String, _ close: String) -> [UInt8] {
            Array((String(repeating: open, count: depth) + "1" + String(repeating: close, count: depth)).utf8)
        }
        struct Skip: Decodable { init(from decoder: Decoder) throws {} }
        _ = try FastJSONDecoder().decode(Skip.self, from: Data(nested(512, "[", "]")))
        _ = try FastJSONDecoder().decode(Skip.self, from: Data(nested(512, "{\"k\":", "}")))
        let tooDeep = fastFailure(Skip.self, nested(513, "[", "]"))
        #expect(tooDeep?.path == "$" && tooDeep?.problem.contains("nested") == true)
        #expect(fastFailure(Skip.self, nested(513, "{\"k\":", "}"))?.path == "$")
        #expect(fastFailure(Skip.self, nested(100_000, "[", "]"))?.path == "$", "no stack overflow")
        #expect(fastFailure(Skip.self, nested(100_000, "{\"a\":", "}"))?.path == "$")
        #expect(try FastJSONDecoder(maxDepth: 3).decode(JSONValue.self, from: Data("[[[1]]]".utf8)) == .array([.array([.array([.number(1)])])]))
        #expect(
            fastFailure(JSONValue.self, Array("[[[[1]]]]".utf8)) == nil
                && (try? FastJSONDecoder(maxDepth: 3).decode(Skip.self, from: Data("[[[[1]]]]".utf8))) == nil)
    }

    /// Every strict prefix of a document is invalid JSON: each must fail (with path `$`) and none may crash.
    @Test func truncationAtEveryByte() throws {
        let doc = Array(#"{"a":[1,-2.5e3,"x\u00e9\ud83d\ude00y",true,false,null,{}],"b":{"c":"d","e":[]},"f":"é€😀"}"#.utf8)
        #expect(try FastJSONDecoder().decode(JSONValue.self, from: Data(doc)) == AgentJSON.decoder().decode(JSONValue.self, from: Data(doc)))
        for n in 0..<doc.count {
            let failure = fastFailure(JSONValue.self, Array(doc.prefix(n)))
            #expect(failure?.path == "$" && failure?.problem.contains("not valid JSON") == true, "prefix \(n)")
        }
        let snapshot = Array(try SnapshotDecodingTests.sample(seconds: 20).encoded())
        for n in stride(from: 0, to: snapshot.count, by: max(1, snapshot.count / 500)) {
            #expect(throws: DecodeFailure.self) { try Snapshot.decode(Data(snapshot.prefix(n))) }
        }
    }

    @Test func hugeStringsAndBigObjects() throws {
        let huge = String(repeating: "x€", count: 700_000)
        #expect(try FastJSONDecoder().decode(String.self, from: JSONEncoder().encode(huge)) == huge)
        // More keys than the linear scan covers: looked up through a hash table.
        var big: [String: Int] = [:]
        for i in 0..<1_000 { big["key\(i)"] = i }
        let data = try JSONEncoder().encode(big)
        #expect(try FastJSONDecoder().decode([String: Int].self, from: data) == big)
        struct Wide: Decodable, Equatable {
            var first: Int, last: Int, missing: Int?
            enum CodingKeys: String, CodingKey {
                case first = "key0"
                case last = "key999"
                case missing = "key1000"
            }
        }
        #expect(try FastJSONDecoder().decode(Wide.self, from: data) == Wide(first: 0, last: 999, missing: nil))
        let escapedKeys =
            #"{"k\u0030":1,"a":2,"k0":3,"b":4,"c":5,"d":6,"e":7,"f":8,"g":9,"h":10,"i":11,"j":12,"k":13,"l":14,"m":15,"n":16,"o":17,"p":18,"q":19,"r":20,"s":21,"t":22,"u":23,"v":24,"w":25,"x":26,"y":27,"z":28,"aa":29,"bb":30,"cc":31,"dd":32,"ee":33}"#
        let (a, b) = decodeBoth([String: Int].self, Array(escapedKeys.utf8))
        #expect(try a.get() == b.get() && a.get()["k0"] == 1)
        struct K: Decodable, Equatable { var k0: Int, ee: Int }
        let (c, d) = decodeBoth(K.self, Array(escapedKeys.utf8))
        #expect(try c.get() == d.get() && c.get() == K(k0: 1, ee: 33))
    }

    @Test func errorsNameThePath() throws {
        let json =
            #"{"schema":"agentos.admin.ssot/4","generation":9,"generated_at":"2026-11-26T21:40:00Z","jobs":{"recent":[{"id":"a","status":"running","progress":1e999}]}}"#
        do {
            _ = try Snapshot.decode(Data(json.utf8))
            Issue.record("decoded an overflowing number")
        } catch {
            #expect(error.path == "$.jobs.recent[0].progress" && error.problem.contains("not representable"), "\(error)")
        }
        let syntax = #"{"schema":"agentos.admin.ssot/4","generation":9,"#
        do {
            _ = try Snapshot.decode(Data(syntax.utf8))
        } catch {
            #expect(error.path == "$" && error.problem.hasPrefix("not valid JSON (Unexpected end of file"), "\(error)")
        }
    }
}

@Suite struct FastJSONEquivalenceTests {
    static func snapshots() -> [Snapshot] {
        var result: [Snapshot] = []
        for (seed, rate, seconds) in [(UInt64(7), 1.0, 300.0), (9, 4, 900), (3, 2, 60)] {
            var sim = FleetSimulator(config: SimulatorConfig(seed: seed, rate: rate), start: SnapshotDecodingTests.start)
            _ = sim.advance(to: SnapshotDecodingTests.start.addingTimeInterval(seconds), step: 1)
            result.append(sim.snapshot(generation: Int(seed), source: seed == 9 ? "live" : "embedded"))
        }
        var sparse = Snapshot(generation: 1, generatedAt: SnapshotDecodingTests.start, source: "live")
        sparse.system.broadcast = Broadcast(message: "deploy \"now\"\n\t☃", level: .warning, expiresAt: SnapshotDecodingTests.start, by: "alice")
        result.append(sparse)
        return result
    }

    /// The new decoder gives exactly what Foundation's JSONDecoder gives, for simulator snapshots.
    @Test func snapshotsDecodeAsWithFoundation() throws {
        for snapshot in Self.snapshots() {
            for pretty in [false, true] {
                let data = try snapshot.encoded(pretty: pretty)
                let reference = try AgentJSON.decoder().decode(Snapshot.self, from: data)
                let decoded = try Snapshot.decode(data)
                #expect(decoded == reference)
            }
        }
    }

    /// A snapshot large enough for its logs and jobs to be decoded on another thread: the same values,
    /// and with errors in several places the same (first) error, as Foundation's sequential decode.
    @Test func largeSnapshotsDecodeInParallelAsSequentially() throws {
        var sim = FleetSimulator(config: SimulatorConfig(seed: 11, rate: 8), start: SnapshotDecodingTests.start)
        _ = sim.advance(to: SnapshotDecodingTests.start.addingTimeInterval(1_800), step: 1)
        let snapshot = sim.snapshot(generation: 1, source: "live")
        let data = try snapshot.encoded()
        #expect(snapshot.jobs.recent.count >= 200 && snapshot.logs.recent.count >= 100, "rows enough for the parallel path")
        #expect(try Snapshot.decode(data) == AgentJSON.decoder().decode(Snapshot.self, from: data))

        let original = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func errors(_ edit: (inout [String: Any]) -> Void) throws -> (fast: String, foundation: String) {
            var json = original
            edit(&json)
            let bytes = try JSONSerialization.data(withJSONObject: json)
            var fast = "decoded"
            var foundation = "decoded"
            do { _ = try Snapshot.decode(bytes) } catch { fast = error.description }
            do { _ = try AgentJSON.decoder().decode(Snapshot.self, from: bytes) } catch {
                foundation = DecodeFailure.from(error, what: "snapshot").description
            }
            return (fast, foundation)
        }
        func setRow(_ json: inout [String: Any], _ section: String, _ list: String, _ index: Int, _ key: String, _ value: Any) {
            var part = json[section] as! [String: Any]
            var rows = part[list] as! [[String: Any]]
            rows[index][key] = value
            part[list] = rows
            json[section] = part
        }
        let badJob: (inout [String: Any]) -> Void = { setRow(&$0, "jobs", "recent", 150, "status", 42) }
        let badLog: (inout [String: Any]) -> Void = { setRow(&$0, "logs", "recent", 40, "level", "loud") }
        let badWorker: (inout [String: Any]) -> Void = { json in
            var workers = json["workers"] as! [[String: Any]]
            workers[1]["status"] = 7
            json["workers"] = workers
        }
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("a job row", badJob, "$.jobs.recent[150].status"),
            (
                "a log line and a job row",
                {
                    badLog(&$0)
                    badJob(&$0)
                }, "$.logs.recent[40].level"
            ),
            (
                "a worker and a job row",
                {
                    badWorker(&$0)
                    badJob(&$0)
                }, "$.workers[1].status"
            ),
            ("jobs of the wrong type", { $0["jobs"] = "nope" }, "$.jobs")
        ]
        for (what, edit, path) in cases {
            let (fast, foundation) = try errors(edit)
            #expect(fast == foundation, "\(what)")
            #expect(fast.contains(path), "\(what): \(fast)")
        }
        let (fast, foundation) = try errors { $0["logs"] = NSNull() }
        #expect(fast == "decoded" && foundation == "decoded", "null logs default to none")
    }

    struct Payload<T: Decodable & Equatable>: Decodable, Equatable { var data: T }
    struct IDOnly: Decodable, Equatable { var id: String }
    struct Lines: Decodable, Equatable { var lines: [LogLine] }

    /// Every event sample: the envelope decodes as before, and its payload exactly as with Foundation.
    @Test(arguments: EventTests.samples)
    func eventPayloadsDecodeAsWithFoundation(event: AgentEvent) throws {
        let bytes = Array(try EventEnvelope(seq: 9, ts: EventTests.ts, source: "sim", event: event).encoded())
        func same<T: Decodable & Equatable>(_ type: T.Type) throws {
            let (fast, foundation) = decodeBoth(Payload<T>.self, bytes)
            #expect(try fast.get() == foundation.get())
        }
        switch event {
        case .jobCreated, .jobUpdated, .jobCancelled, .jobRetried: try same(JobPatch.self)
        case .jobDeleted: try same(IDOnly.self)
        case .queueUpdated: try same(QueuePatch.self)
        case .workerUpdated: try same(WorkerPatch.self)
        case .managerUpdated: try same(ManagerInfo.self)
        case .logAppended: try same(Lines.self)
        case .configChanged: try same(ConfigEntry.self)
        case .alertRaised: try same(Alert.self)
        case .alertUpdated: try same(AlertPatch.self)
        case .maintenance: try same(Maintenance.self)
        case .broadcast(let b): if b != nil { try same(Broadcast.self) }
        case .actionExecuted: try same(ActionNotice.self)
        case .sessionKick: try same(SessionKick.self)
        case .sessionStarted: try same(ConsoleSession.self)
        case .cacheInvalidated, .sessionEnded, .unknown: break
        }
        let envelope = try EventEnvelope.decode(Data(bytes))
        #expect(envelope.event == event && envelope.seq == 9 && envelope.source == "sim")
        #expect(abs(envelope.ts.timeIntervalSince1970 - EventTests.ts.timeIntervalSince1970) < 0.001)
    }

    /// The hand-written readers (FastJSONReaders.swift) must stay identical to the types' `init(from:)`:
    /// every field missing, null or mistyped gives the same value or the same failure path.
    @Test func readersMatchInitFromDecoder() throws {
        let t = SnapshotDecodingTests.start
        let job = Job(
            id: "j1", name: "clip", stage: "face_detector", queue: "q", status: .failed, priority: 2, progress: 0.5, attempts: 2,
            maxAttempts: 4, workerID: "w1", owner: "alice", createdAt: t, updatedAt: t.addingTimeInterval(5), startedAt: t,
            finishedAt: t.addingTimeInterval(9), error: "boom", errorClass: "E", traceback: "Traceback\n  line")
        let worker = WorkerInfo(
            id: "w1", hostname: "h", stage: "s", queues: ["a", "b"], status: .online, concurrency: 4, autoscaleMin: 1,
            autoscaleMax: 8, active: 2, processed: 90, failed: 3, load: 0.7, rssBytes: 1 << 30, heartbeatAgeSeconds: 1.5,
            version: "1.2", pid: 42, startedAt: t)
        let queue = QueueInfo(
            name: "q", stage: "s", pending: 3, reserved: 1, failed: 2, paused: true, rateLimit: 60, consumers: 2, oldestAgeSeconds: 12.5)
        let line = LogLine(id: 7, ts: t, level: .warning, source: "w1", message: "hot", jobID: "j1", workerID: "w1")
        try Self.mutateEveryField(job)
        try Self.mutateEveryField(worker)
        try Self.mutateEveryField(queue)
        try Self.mutateEveryField(line)
        let sample = SnapshotDecodingTests.sample()
        for j in sample.jobs.recent.prefix(5) { try Self.mutateEveryField(j) }
    }

    static func mutateEveryField<T: Codable & Equatable>(_ value: T) throws {
        let object = try #require(JSONSerialization.jsonObject(with: AgentJSON.encoder().encode(value)) as? [String: Any])
        let replacements: [Any?] = [nil, NSNull(), true, "x", 1.5, [String: Any](), [Any](), -1, "2026-11-26T21:40:00Z", "running", ["a"]]
        for key in object.keys.sorted() {
            for replacement in replacements {
                var mutated = object
                mutated[key] = replacement
                let bytes = Array(try JSONSerialization.data(withJSONObject: [mutated]))
                let (fast, foundation) = decodeBoth([T].self, bytes)
                switch (fast, foundation) {
                case (.success(let a), .success(let b)):
                    #expect(a == b, "\(T.self).\(key) = \(String(describing: replacement))")
                case (.failure(let a), .failure(let b)):
                    // Foundation reports numbers it cannot represent at `$`; the new decoder names the field.
                    let want = b.path == "$" ? "$[0].\(key)" : b.path
                    #expect(a.path == want, "\(T.self).\(key) = \(String(describing: replacement)): \(a) / \(b)")
                default:
                    Issue.record("\(T.self).\(key) = \(String(describing: replacement)): fast \(fast), Foundation \(foundation)")
                }
            }
        }
    }

    @Test func configValuesDecodeAsWithFoundation() throws {
        let values = #"[true,false,0,-3,4.0,1e2,1.5,-0.25,1e300,"x","","é",9223372036854775807,1e-5]"#
        let (fast, foundation) = decodeBoth([ConfigValue].self, Array(values.utf8))
        #expect(try fast.get() == foundation.get())
        for bad in ["[null]", "[[]]", "[{}]", "[1e999]"] {
            let (a, b) = decodeBoth([ConfigValue].self, Array(bad.utf8))
            guard case .failure(let x) = a, case .failure(let y) = b else {
                Issue.record("\(bad) decoded")
                continue
            }
            #expect(x.path == y.path && x.problem.contains("config value"), "\(bad): \(x) / \(y)")
        }
    }

    /// Corrupted documents: whatever the new decoder accepts, Foundation accepts with the same value
    /// (the new decoder is stricter in places: it validates strings and numbers it does not decode).
    @Test func fuzzedDocumentsNeverDecodeDifferently() throws {
        var bases = try EventTests.samples.map { Array(try EventEnvelope(seq: 3, ts: EventTests.ts, source: "f", event: $0).encoded()) }
        bases.append(Array(try SnapshotDecodingTests.sample(seconds: 20).encoded()))
        var rng = SimRandom(seed: 4242)
        let junk: [[UInt8]] = [
            [0x00], [0xFF], [0xC3], Array("\\u".utf8), Array("\"".utf8), Array(",".utf8), Array("]".utf8), Array("1e9".utf8), Array("-".utf8)
        ]
        var accepted = 0
        for i in 0..<2_000 {
            var doc = bases[i % bases.count]
            switch i % 3 {
            case 0: doc = Array(doc.prefix(Int(rng.next() % UInt64(doc.count))))
            case 1: doc[Int(rng.next() % UInt64(doc.count))] = UInt8(truncatingIfNeeded: rng.next())
            default: doc.insert(contentsOf: rng.pick(junk), at: Int(rng.next() % UInt64(doc.count)))
            }
            let (fast, foundation) = decodeBoth(JSONValue.self, doc)
            // What the fast decoder accepts, Foundation accepts with the same value (it may be stricter).
            if case .success(let value) = fast {
                accepted += 1
                #expect(try foundation.get() == value, "document \(i)")
            }
        }
        #expect(accepted > 100)
    }
}
