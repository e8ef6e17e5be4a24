import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

@Suite struct SnapshotDecodingTests {
    static let start = Date(timeIntervalSince1970: 1_795_729_200)

    static func sample(seconds: Double = 300) -> Snapshot {
        var sim = FleetSimulator(config: SimulatorConfig(seed: 7), start: start)
        _ = sim.advance(to: start.addingTimeInterval(seconds), step: 1)
        return sim.snapshot(generation: 3)
    }

    @Test func roundTripKeepsEverything() throws {
        let s = Self.sample()
        let back = try Snapshot.decode(try s.encoded())
        #expect(back == s)
        #expect(back.schema == "agentos.admin.ssot/4" && back.generation == 3)
        #expect(!back.jobs.recent.isEmpty && !back.workers.isEmpty && !back.queues.isEmpty && !back.config.isEmpty)
    }

    @Test func unknownFieldsAreIgnoredAndOptionalOnesDefaulted() throws {
        let json = """
            {"schema":"agentos.admin.ssot/4","generation":9,"generated_at":"2026-11-26T21:40:00Z","future_field":{"x":[1,2]},
             "jobs":{"recent":[{"id":"j1","status":"running","unknown":true}]},
             "queues":[{"name":"video_downloader","pending":4,"colour":"blue"}],
             "workers":[{"id":"w1","status":"online"}]}
            """
        let s = try Snapshot.decode(Data(json.utf8))
        #expect(s.generation == 9 && s.source == "live")
        #expect(s.jobs.recent.first?.priority == 5 && s.jobs.recent.first?.owner == "system")
        #expect(s.queues.first?.pending == 4 && s.queues.first?.paused == false)
        #expect(s.workers.first?.concurrency == 1 && s.logs.recent.isEmpty && s.system.maintenance.enabled == false)
    }

    @Test(arguments: [
        (#"{"schema":"agentos.admin.ssot/4","generation":"9","generated_at":"2026-11-26T21:40:00Z"}"#, "$.generation", "integer"),
        (
            #"{"schema":"agentos.admin.ssot/4","generation":9,"generated_at":"2026-11-26T21:40:00Z","jobs":{"recent":[{"id":"a","status":"running"},{"id":"b","status":"exploded"}]}}"#,
            "$.jobs.recent[1].status", ""
        ),
        (
            #"{"schema":"agentos.admin.ssot/4","generation":9,"generated_at":"2026-11-26T21:40:00Z","queues":[{"pending":1}]}"#, "$.queues[0].name",
            "missing"
        ),
        (#"{"schema":"agentos.admin.ssot/4","generation":9,"generated_at":"yesterday"}"#, "$.generated_at", "ISO 8601"),
        (#"{"schema":"agentos.admin.ssot/3","generation":9,"generated_at":"2026-11-26T21:40:00Z"}"#, "$.schema", "unsupported schema"),
        (
            #"{"schema":"agentos.admin.ssot/4","generation":9,"generated_at":"2026-11-26T21:40:00Z","workers":[{"id":"w","status":"online","queues":"q"}]}"#,
            "$.workers[0].queues", "array"
        ),
        (#"{"schema":"agentos.admin.ssot/4","generation":9,"gen"#, "$", "JSON"),
        (#"[1,2,3]"#, "$", "")
    ])
    func badDocumentsNameThePathAndProblem(json: String, path: String, problem: String) {
        do {
            _ = try Snapshot.decode(Data(json.utf8))
            Issue.record("should not decode: \(json)")
        } catch {
            #expect(error.path == path, "\(error)")
            #expect(problem.isEmpty || error.problem.contains(problem), "\(error)")
            #expect(error.description.hasPrefix("snapshot: "))
        }
    }

    @Test func invalidUTF8AndHugeStrings() throws {
        var bytes = Array(#"{"schema":"agentos.admin.ssot/4","generation":1,"generated_at":"2026-11-26T21:40:00Z","jobs":{"recent":[{"id":""#.utf8)
        bytes += [0xff, 0xfe, 0xc3]
        bytes += Array(#"","status":"failed"}]}}"#.utf8)
        #expect(throws: DecodeFailure.self) { try Snapshot.decode(Data(bytes)) }
        let huge = String(repeating: "x", count: 2_000_000)
        let json =
            #"{"schema":"agentos.admin.ssot/4","generation":1,"generated_at":"2026-11-26T21:40:00Z","jobs":{"recent":[{"id":"j","status":"failed","error":""#
            + huge + #""}]}}"#
        let s = try Snapshot.decode(Data(json.utf8))
        #expect(s.jobs.recent.first?.error?.count == 2_000_000)
    }

    @Test func holderKeepsTheLastGoodSnapshot() throws {
        var holder = SnapshotHolder()
        let good = Self.sample()
        #expect(holder.accept(try good.encoded()) == nil)
        let failure = holder.accept(Data("{\"schema\":\"agentos.admin.ssot/4\",\"generation\":".utf8))
        #expect(failure != nil && holder.current == good && holder.rejected == 1)
        var older = good
        older.generation = 1
        #expect(holder.accept(older)?.path == "$.generation")
        #expect(holder.current?.generation == 3)
    }

    /// Thousands of corrupted documents: each one either decodes or fails with a path; none crashes,
    /// and the holder keeps a valid snapshot throughout.
    @Test func fuzzedSnapshotsNeverCrash() throws {
        let base = Array(try Self.sample(seconds: 40).encoded())
        var rng = SimRandom(seed: 2026)
        var holder = SnapshotHolder(Self.sample())
        var decoded = 0
        var rejected = 0
        let junk: [[UInt8]] = [
            [0x00], [0xff, 0xfe], Array("\u{1b}[2J".utf8), Array("\"".utf8), Array("{".utf8), Array("]".utf8),
            Array("null".utf8), Array("1e999".utf8), Array("-".utf8), [0xc0, 0x80]
        ]
        for i in 0..<3_000 {
            var doc = base
            switch i % 4 {
            case 0: doc = Array(doc.prefix(Int(rng.next() % UInt64(doc.count)))) // truncation
            case 1: for _ in 0..<1 + Int(rng.next() % 8) { doc[Int(rng.next() % UInt64(doc.count))] = UInt8(rng.next() & 0xff) } // byte flips
            case 2:
                let at = Int(rng.next() % UInt64(doc.count))
                doc.insert(contentsOf: rng.pick(junk), at: at) // injected junk
            default: // type swaps
                let text = String(decoding: doc, as: UTF8.self)
                let swapped = [("\"pending\":", "\"pending\":\"x\","), ("\"status\":\"", "\"status\":7,\"x\":\""), ("\"id\":", "\"id\":null,\"y\":")]
                let (from, to) = rng.pick(swapped)
                doc = Array(text.replacingOccurrences(of: from, with: to).utf8)
            }
            let before = holder.current
            if let error = holder.accept(Data(doc)) {
                rejected += 1
                #expect(error.path.hasPrefix("$"), "\(error)")
                #expect(holder.current == before, "a rejected document keeps the last good snapshot")
            } else {
                decoded += 1
                #expect(try holder.current == Snapshot.decode(Data(doc)), "an accepted document is the one held")
            }
        }
        #expect(rejected > 2_000, "most corruptions must be caught, got \(rejected)")
        #expect(decoded > 0, "some corruptions leave a valid document (or the accepting branch is never checked)")
    }
}
