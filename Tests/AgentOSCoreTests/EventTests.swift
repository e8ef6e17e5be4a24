import AgentOSCore
import AgentOSWorld
import Foundation
import Testing

@Suite struct EventTests {
    static let ts = Date(timeIntervalSince1970: 1_795_729_200.123)

    static let samples: [AgentEvent] = [
        .jobCreated(
            JobPatch(
                id: "j1", name: "clip", stage: "face_detector", queue: "face_detector", status: .queued, priority: 3, owner: "alice", createdAt: ts)),
        .jobUpdated(JobPatch(id: "j1", status: .running, progress: 0.42, workerID: "w1")),
        .jobCancelled(JobPatch(id: "j1", status: .cancelled)),
        .jobRetried(JobPatch(id: "j1", status: .queued, attempts: 0)),
        .jobDeleted(id: "j1"),
        .queueUpdated(QueuePatch(name: "video_cutter", pending: 3, paused: true), cause: "queue.paused"),
        .queueUpdated(QueuePatch(name: "video_cutter", pending: 0, removed: 12), cause: "queue.cleared"),
        .workerUpdated(WorkerPatch(id: "w1", status: .offline), cause: "worker.offline"),
        .workerUpdated(WorkerPatch(id: "w1", active: 2, load: 0.5), cause: "worker.heartbeat"),
        .managerUpdated(ManagerInfo(id: "cleanup", kind: "cleanup", status: .paused)),
        .logAppended([LogLine(id: 1, ts: ts, level: .error, source: "w1", message: "boom", jobID: "j1")]),
        .configChanged(ConfigEntry(key: "k", type: .int, value: .int(4), defaultValue: .int(3), version: 2)),
        .alertRaised(Alert(id: 5, ts: ts, severity: .critical, source: "q", title: "backlog")),
        .alertUpdated(AlertPatch(id: 5, status: .acked, ackedBy: "bob")),
        .maintenance(Maintenance(enabled: true, message: "upgrade", since: ts, by: "alice")),
        .broadcast(Broadcast(message: "deploy at 22:00", level: .warning)),
        .broadcast(nil),
        .actionExecuted(ActionNotice(action: "job.cancel", user: "alice", outcome: "success", target: "j1")),
        .cacheInvalidated,
        .sessionKick(SessionKick(sessionID: "s-1")),
        .sessionKick(
            SessionKick(
                sessionID: "s-2", by: "alice", reason: "INC-7 rotating keys", requestID: UUID(uuidString: "3F2504E0-4F89-11D3-9A0C-0305E82C3301"))),
        .sessionStarted(
            ConsoleSession(
                id: "s-3", user: "bob", host: "bastion", pid: 42, tty: "/dev/pts/3", startedAt: ts, lastSeen: ts, view: "jobs", mode: "wallboard")),
        .sessionEnded(sessionID: "s-3")
    ]

    @Test(arguments: samples)
    func envelopesRoundTrip(event: AgentEvent) throws {
        let envelope = EventEnvelope(seq: 1_842, ts: Self.ts, source: "sim@host", event: event)
        let decoded = try EventEnvelope.decode(try envelope.encoded())
        #expect(decoded.seq == 1_842 && decoded.type == event.type && decoded.source == "sim@host")
        #expect(decoded.event == event)
        #expect(abs(decoded.ts.timeIntervalSince1970 - Self.ts.timeIntervalSince1970) < 0.001)
    }

    @Test func contractExampleDecodes() throws {
        let json =
            #"{"v":1,"seq":1842,"type":"job.updated","ts":"2026-11-26T21:40:00.123Z","source":"sim@host","data":{"id":"abc","status":"running","stage":"face_detector","progress":0.42}}"#
        let e = try EventEnvelope.decode(Data(json.utf8))
        #expect(e.event == .jobUpdated(JobPatch(id: "abc", stage: "face_detector", status: .running, progress: 0.42)))
    }

    @Test func unknownTypesAreKeptAsUnknown() throws {
        let json = #"{"v":1,"seq":2,"type":"galaxy.exploded","ts":"2026-11-26T21:40:00Z","data":{"anything":[1]}}"#
        #expect(try EventEnvelope.decode(Data(json.utf8)).event == .unknown(type: "galaxy.exploded"))
    }

    @Test(arguments: [
        (#"{"v":1,"type":"job.updated","ts":"2026-11-26T21:40:00Z","data":{}}"#, "$.seq"),
        (#"{"v":1,"seq":3,"type":"job.updated","ts":"2026-11-26T21:40:00Z","data":{"status":"running"}}"#, "$.data.id"),
        (#"{"v":1,"seq":3,"type":"job.updated","ts":"2026-11-26T21:40:00Z","data":{"id":"x","progress":"half"}}"#, "$.data.progress"),
        (#"{"v":2,"seq":3,"type":"job.updated","ts":"2026-11-26T21:40:00Z","data":{}}"#, "$.v"),
        (#"{"v":1,"seq":3,"type":"job.upd"#, "$")
    ])
    func malformedEventsNameThePath(json: String, path: String) {
        do {
            _ = try EventEnvelope.decode(Data(json.utf8))
            Issue.record("decoded \(json)")
        } catch {
            #expect(error.path == path, "\(error)")
        }
    }

    @Test func sequencerDetectsGapsAndStaleEvents() {
        var s = EventSequencer()
        #expect(s.admit(10) == .apply)
        #expect(s.admit(11) == .apply)
        #expect(s.admit(11) == .stale)
        #expect(s.admit(14) == .gap(expected: 12, got: 14))
        #expect(s.admit(15) == .apply)
        s.reset(to: 100)
        #expect(s.admit(99) == .stale)
        #expect(s.admit(101) == .apply)
        s.forget()
        #expect(s.admit(500) == .apply)
        #expect(s.gaps == 1 && s.stale == 2)
    }

    @Test func inMemoryBusDeliversInOrder() async throws {
        let bus = InMemoryEventBus()
        let stream = bus.subscribe()
        for i in 0..<1_000 { try bus.publish(.jobDeleted(id: "j\(i)")) }
        var seqs: [Int64] = []
        var first: BusMessage?
        for await message in stream {
            if first == nil {
                first = message
                continue
            }
            if case .event(let e) = message { seqs.append(e.seq) }
            if seqs.count == 1_000 { break }
        }
        #expect(first == .connected(gapPossible: false))
        #expect(seqs == Array(1...1_000))
        #expect(try bus.currentSeq() == 1_000)
    }
}

@Suite struct SnapshotApplyTests {
    @Test func jobEventsMoveCounts() {
        var s = Snapshot(generation: 1, generatedAt: EventTests.ts, source: "live")
        s.apply(.jobCreated(JobPatch(id: "a", stage: "video_cutter", status: .queued)), at: EventTests.ts)
        s.apply(.jobCreated(JobPatch(id: "b", stage: "video_cutter", status: .queued)), at: EventTests.ts)
        s.apply(.jobUpdated(JobPatch(id: "a", status: .running, workerID: "w")), at: EventTests.ts)
        #expect(s.jobs.count(.queued) == 1 && s.jobs.count(.running) == 1 && s.jobs.total == 2)
        s.apply(.jobUpdated(JobPatch(id: "a", status: .failed, error: "boom")), at: EventTests.ts)
        #expect(s.jobs.failed.map(\.id) == ["a"] && s.jobs.byStage["video_cutter"]?["failed"] == 1)
        s.apply(.jobRetried(JobPatch(id: "a", status: .queued, error: "")), at: EventTests.ts)
        #expect(s.jobs.failed.isEmpty && s.jobs.recent.first { $0.id == "a" }?.error == nil)
        s.apply(.jobDeleted(id: "b"), at: EventTests.ts)
        #expect(s.jobs.total == 1 && s.jobs.count(.queued) == 1)
    }

    /// A storm pushes jobs out of the recent window; their later updates must not bring them back
    /// as rows without a name or owner (a detail showed "owner: system"), nor count them again.
    @Test func updatesToAJobOutsideTheWindowAddNoRowAndNoCount() {
        var s = Snapshot(generation: 1, generatedAt: EventTests.ts, source: "live")
        s.jobs.failed = [Job(id: "old-failed", stage: "video_cutter", queue: "video_cutter", status: .failed, createdAt: EventTests.ts)]
        s.apply(.jobCreated(JobPatch(id: "a", name: "clip", stage: "video_cutter", status: .queued, owner: "alice")), at: EventTests.ts)
        s.apply(.jobUpdated(JobPatch(id: "gone", stage: "face_detector", status: .running, workerID: "w")), at: EventTests.ts)
        #expect(s.jobs.recent.map(\.id) == ["a"] && s.jobs.total == 1 && s.jobs.count(.running) == 0)
        #expect(s.jobs.recent[0].name == "clip" && s.jobs.recent[0].owner == "alice")
        // A failed job known only from the failed list leaves it when retried.
        s.apply(.jobRetried(JobPatch(id: "old-failed", status: .queued, error: "")), at: EventTests.ts)
        #expect(s.jobs.failed.isEmpty && s.jobs.recent.map(\.id) == ["a"])
    }

    @Test func logsStayBounded() {
        var s = Snapshot(generation: 1, generatedAt: EventTests.ts, source: "live")
        for batch in 0..<30 {
            let lines = (0..<100).map { LogLine(id: batch * 100 + $0, ts: EventTests.ts, level: .info, source: "w", message: "m") }
            s.apply(.logAppended(lines), at: EventTests.ts)
        }
        #expect(s.logs.recent.count == Snapshot.recentLogLimit && s.logs.recent.last?.id == 2_999)
        #expect(s.logs.byLevel["info"] == 3_000)
    }

    @Test func queueWorkerAlertAndSystemEvents() {
        var s = Snapshot(
            generation: 1, generatedAt: EventTests.ts, source: "live", queues: [QueueInfo(name: "q", pending: 9)],
            workers: [WorkerInfo(id: "w", stage: "s", status: .online)])
        s.apply(.queueUpdated(QueuePatch(name: "q", pending: 0, paused: true), cause: "queue.paused"), at: EventTests.ts)
        s.apply(.workerUpdated(WorkerPatch(id: "w"), cause: "worker.offline"), at: EventTests.ts)
        s.apply(.alertRaised(Alert(id: 1, ts: EventTests.ts, severity: .warning, source: "q", title: "t")), at: EventTests.ts)
        s.apply(.alertUpdated(AlertPatch(id: 1, status: .acked, ackedBy: "bob")), at: EventTests.ts)
        s.apply(.maintenance(Maintenance(enabled: true)), at: EventTests.ts)
        #expect(s.queues[0].paused && s.queues[0].pending == 0)
        #expect(s.workers[0].status == .offline)
        #expect(s.alerts[0].status == .acked && s.alerts[0].ackedBy == "bob")
        #expect(s.system.maintenance.enabled)
        let changed = s.apply(.unknown(type: "x"), at: EventTests.ts)
        #expect(!changed)
    }
}

@Suite struct EventFuzzTests {
    /// Thousands of corrupted envelopes: each decodes (possibly as an unknown type) or fails with a
    /// path; nothing crashes, and a snapshot folding the good ones stays valid.
    @Test func fuzzedEventsNeverCrash() throws {
        // Keys sorted: the encoder's key order follows the process's hash seed, and the same seed must give the same inputs.
        let bases = try EventTests.samples.map {
            let encoded = try EventEnvelope(seq: 7, ts: EventTests.ts, source: "fuzz", event: $0).encoded()
            return try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: encoded), options: [.sortedKeys])
        }
        var rng = SimRandom(seed: 77)
        var snapshot = Snapshot(generation: 1, generatedAt: EventTests.ts, source: "live")
        var ok = 0
        var failed = 0
        let junk: [[UInt8]] = [[0x9b], [0x1b, 0x5d, 0x35, 0x32], [0xff], [0x00], Array("\u{202E}".utf8), Array("\"".utf8), Array("}".utf8)]
        for i in 0..<5_000 {
            var doc = Array(bases[i % bases.count])
            switch i % 3 {
            case 0: doc = Array(doc.prefix(Int(rng.next() % UInt64(doc.count))))
            case 1: doc[Int(rng.next() % UInt64(doc.count))] = UInt8(rng.next() & 0xff)
            default: doc.insert(contentsOf: rng.pick(junk), at: Int(rng.next() % UInt64(doc.count)))
            }
            let envelope: EventEnvelope
            do throws(DecodeFailure) { envelope = try EventEnvelope.decode(Data(doc)) } catch {
                #expect(error.path.hasPrefix("$"), "\(error)")
                failed += 1
                continue
            }
            // One round trip may normalise (a time of 0.1239 s is written to the millisecond); after it, nothing changes.
            let normalised = try EventEnvelope.decode(envelope.encoded())
            #expect(
                try EventEnvelope.decode(normalised.encoded()) == normalised,
                "what decodes re-encodes to itself: \(String(decoding: doc, as: UTF8.self))")
            snapshot.apply(envelope.event, at: envelope.ts)
            ok += 1
        }
        #expect(failed > 3_000, "most corruptions must be caught, got \(failed)")
        #expect(ok > 0, "some corruptions leave a valid envelope (or the folding branch is never run)")
        #expect(try Snapshot.decode(try snapshot.encoded()).generation == 1, "the folded snapshot still encodes and decodes")
    }
}
