import AgentOSCore
import AgentOSWorld
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// A job's record (issue 20 item 2, in part): every attempt with its stage, worker, start, end and
/// runtime, read from the job's timeline.
@Suite struct JobRecordTests {
    @Test func everyAttemptWithItsWorkerStartEndAndRuntime() throws {
        let job = try #require(Fixture.snapshot.jobs.recent.first)
        var s = Fixture.state(width: 140, height: 48, view: .jobs)
        let t0 = Fixture.now.addingTimeInterval(-120)
        func event(_ dt: Double, _ type: String, _ stage: String, _ worker: String?) -> JobEvent {
            JobEvent(jobID: job.id, ts: t0.addingTimeInterval(dt), type: type, stage: stage, workerID: worker)
        }
        let events = [
            event(0, "created", "video_downloader", nil),
            event(1, "started", "video_downloader", "down-1@gpu-01"), event(9.5, "stage_completed", "video_downloader", "down-1@gpu-01"),
            event(10, "started", "audio_transcriber", "asr-2@gpu-04"), event(14, "retrying", "audio_transcriber", nil),
            event(20, "started", "audio_transcriber", "asr-3@gpu-05")
        ]
        PaletteTests.palette(&s, "job \(job.id)")
        _ = App.update(&s, .jobHistory(job.id, events))
        let frame = App.render(s).text()
        let rows = frame.split(separator: "\n").map(String.init)
        let start = try #require(rows.firstIndex { $0.contains("Attempts") }, "\(frame)")
        let attempts = rows[(start + 1)...(start + 3)]
        #expect(attempts.map { $0.contains("down-1@gpu-01") && $0.contains("8.5s") && $0.contains("done") } == [true, false, false], "\(attempts)")
        #expect(attempts.dropFirst().first?.contains("asr-2@gpu-04") == true && attempts.dropFirst().first?.contains("failed, to be retried") == true)
        #expect(attempts.last?.contains("asr-3@gpu-05") == true && attempts.last?.contains("running") == true)
    }

    /// A failed job with its record as the embedded backend hands it over (scrubbed with `key`).
    static func failedJobRecord(_ scrubber: PIIScrubber) throws -> (Job, JobRecord) {
        let job = try #require(Fixture.snapshot.jobs.failed.first)
        var raw = try #require(SimJobPayload.record(job).raw.object)
        // A value a terminal must not get as it is, and a secret nested in a keyword argument.
        var payload = try #require(raw["payload"]?.object)
        var kwargs = try #require(payload["kwargs"]?.object)
        kwargs["callback"] = .object(["url": .string("https://hooks.example.com/done"), "api_token": .string("s3cr3t-t0ken")])
        kwargs["note"] = .string("title\u{1b}[31m red\u{7} \u{9b}2J")
        payload["kwargs"] = .object(kwargs)
        raw["payload"] = .object(payload)
        return (job, JobRecord(raw: .object(raw)).scrubbed(scrubber))
    }

    @Test func argumentsKeywordArgumentsAndResultScrubbedAsTheAuditScrubs() throws {
        let scrubber = PIIScrubber(key: Array(repeating: 7, count: 32))
        let (job, record) = try Self.failedJobRecord(scrubber)
        // The audit's tokens for the same key: a secret-named field at any depth, an address in a text.
        #expect(record.kwargs["notify_email"] == .string(scrubber.token("\(job.owner)@example.com")))
        #expect(record.kwargs["callback"]?["api_token"] == .string(scrubber.token("s3cr3t-t0ken")))
        #expect(record.kwargs["callback"]?["url"] == .string("https://hooks.example.com/done"))
        #expect(record.args.first == .string("s3://agentos-media/incoming/\(job.id.prefix(8)).mp4"))
        #expect(record.result == nil, "a failed job has no result")

        var s = Fixture.state(width: 120, height: 70, view: .jobs)
        PaletteTests.palette(&s, "job \(job.id)")
        _ = App.update(&s, .jobRecord(job.id, record))
        let frame = App.render(s).text()
        #expect(frame.contains("Arguments") && frame.contains("[0]:") && frame.contains("s3://agentos-media/incoming/"), "\(frame)")
        #expect(frame.contains("Keyword arguments") && frame.contains(scrubber.token("s3cr3t-t0ken")), "\(frame)")
        #expect(!frame.contains("s3cr3t-t0ken") && !frame.contains("@example.com") && !frame.contains("\u{1b}"), "\(frame)")
        #expect(frame.contains("none (it has not completed)"))

        // A completed job's result, field by field.
        let done = try #require(Fixture.snapshot.jobs.recent.first { $0.status == .completed })
        _ = App.update(&s, .key(.escape))
        PaletteTests.palette(&s, "job \(done.id)")
        _ = App.update(&s, .jobRecord(done.id, SimJobPayload.record(done).scrubbed(scrubber)))
        let completed = App.render(s).text()
        #expect(completed.contains("output:") && completed.contains("s3://agentos-media/published/\(done.id.prefix(8))/master.m3u8"), "\(completed)")
        // A name longer than the label column keeps every letter, and its value follows it.
        let words = try #require(SimJobPayload.record(done).result?["transcript_words"])
        #expect(completed.contains("transcript_words: \(words)"), "\(completed)")
    }

    @Test func yShowsTheRawRecordAsScrollableSanitisedJSON() throws {
        let (job, record) = try Self.failedJobRecord(PIIScrubber(key: Array(repeating: 7, count: 32)))
        var s = Fixture.state(width: 100, height: 24, view: .jobs)
        PaletteTests.palette(&s, "job \(job.id)")
        _ = App.update(&s, .jobRecord(job.id, record))
        _ = App.update(&s, .key(.char("y")))
        let frame = App.render(s).text()
        #expect(frame.contains("raw record (y: back)") && frame.contains("\"error_class\" : \"\(job.errorClass ?? "")\""), "\(frame)")
        #expect(frame.contains("j/k scroll"), "longer than the pane: \(frame)")
        // Control characters reach the screen as text, never as bytes (checked on the lines, before the cell buffer's own guard).
        let lines = try #require(ScreenRegistry.screen(.jobs).detail(s, Fixture.snapshot, id: job.id)).lines.map(\.text)
        #expect(lines.contains { $0.contains("\"title\\u001b[31m red\\u0007 ") }, "\(lines)")
        #expect(!lines.contains { $0.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) } }, "\(lines)")
        #expect(!frame.contains("\"updated_at\""), "the last field is below the pane")
        _ = App.update(&s, .key(.char("G")))
        #expect(App.render(s).text().contains("\"updated_at\""), "scrolled to the end: the last field")
        _ = App.update(&s, .key(.char("y")))
        let back = App.render(s).text()
        #expect(back.contains("status:") && !back.contains("raw record (y: back)"), "y again: the drill-down: \(back)")
    }

    @Test func failedJobCompleteRecordGolden() throws {
        let (job, record) = try Self.failedJobRecord(PIIScrubber(key: Array(repeating: 7, count: 32)))
        var s = Fixture.state(width: 100, height: 80, view: .jobs)
        PaletteTests.palette(&s, "job \(job.id)")
        let t0 = job.createdAt
        _ = App.update(
            &s,
            .jobHistory(
                job.id,
                [
                    JobEvent(jobID: job.id, ts: t0, type: "created", stage: job.stage, message: "queued in \(job.queue)"),
                    JobEvent(jobID: job.id, ts: t0.addingTimeInterval(1), type: "started", stage: job.stage, workerID: "down-1@gpu-01"),
                    JobEvent(
                        jobID: job.id, ts: t0.addingTimeInterval(8), type: "failed", stage: job.stage, workerID: "down-1@gpu-01", message: job.error)
                ]))
        _ = App.update(&s, .jobRecord(job.id, record))
        try Fixture.assertGolden(App.render(s), "jobs-failed-record-100x80")
    }
}
