import AgentOSCore
import ConsoleApp
import Foundation
import Testing

/// Issue 19 item 8: a queue's "Next jobs" are listed in the order the broker hands them out.
@Suite struct QueueDetailTests {
    @Test func nextJobsComeByPriorityThenArrival() throws {
        let t0 = Fixture.now.addingTimeInterval(-60)
        func job(_ id: String, priority: Int, at seconds: Double, status: JobStatus = .queued) -> Job {
            Job(
                id: id, name: id, pipeline: "video", stage: "video_cutter", queue: "video_cutter", status: status, priority: priority,
                owner: "alice", createdAt: t0, updatedAt: t0.addingTimeInterval(seconds))
        }
        var s = Snapshot(generation: 1, generatedAt: Fixture.now, source: "test", queues: [QueueInfo(name: "video_cutter", stage: "video_cutter")])
        // Newest first, as the snapshot's recent window holds them.
        s.jobs.recent = [
            job("late-p1", priority: 1, at: 40), job("retrying", priority: 0, at: 35, status: .retrying), job("p5", priority: 5, at: 30),
            job("early-p1", priority: 1, at: 20), job("p0", priority: 0, at: 10), job("running", priority: 0, at: 5, status: .running)
        ]
        let state = Fixture.state()
        let content = try #require(ScreenRegistry.screen(.queues).detail(state, s, id: "video_cutter"))
        let lines: [String] = content.lines.map(\.text)
        let next = try #require(lines.firstIndex(of: "Next jobs"))
        let order: [String] = lines[(next + 1)...].map { String($0.split(separator: " ").last ?? "") }
        #expect(order == ["p0", "early-p1", "late-p1", "p5", "retrying"], "queued by priority, then arrival; retrying ones after")
    }
}
