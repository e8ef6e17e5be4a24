import AgentOSCore
import ConsoleApp
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
}
