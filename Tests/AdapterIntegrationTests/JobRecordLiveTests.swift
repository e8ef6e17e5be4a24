import AgentOSAdapters
import AgentOSCore
import AgentOSLiveWorld
import AgentOSTestSupport
import AgentOSWorld
import Foundation
import Testing

/// A job's complete record live (issue 20 item 2, D76): the writer stores the submission in
/// `jobs.payload` and the result at completion; the console's read gives them back, row and all.
@Suite("A job's complete record from PostgreSQL", .serialized)
struct JobRecordLiveTests {
    @Test func argumentsAndResultRoundTripThroughTheJobsRow() throws {
        let backend = try LiveBackend.make()
        defer { backend.drop() }
        let sim = try LiveSimulation(
            config: SimulatorConfig(seed: 11, rate: 2), redis: backend.redis, postgres: backend.postgres,
            namespace: backend.namespace, historySeconds: 300)
        // Jobs written as not yet completed, then simulated time until one of them completes: its
        // result reaches the row by the update, not the insert (the history's jobs are inserted as they are).
        let written = Set(sim.read { $0.jobs.values.filter { !$0.status.isFinished }.map(\.id) })
        var t = Date()
        func completedLater() -> Job? { sim.read { s in written.lazy.compactMap { s.jobs[$0] }.first { $0.status == .completed } } }
        for _ in 0..<2_400 where completedLater() == nil {
            t += 0.5
            try sim.step(to: t)
        }
        let completed = try #require(completedLater(), "none of the jobs written unfinished completed in 20 simulated minutes")
        let waiting = try #require(sim.read { $0.jobs.values.first { $0.status == .queued } })
        for job in [completed, waiting] {
            let record = try #require(try PostgresSnapshotSource.jobRecord(backend.postgres, id: job.id), "no row for \(job.id)")
            let expected = SimJobPayload.record(job)
            #expect(record.args == expected.args && record.kwargs == expected.kwargs, "\(record.raw.json)")
            #expect(record.result == expected.result, "\(job.status): \(record.raw.json)")
            #expect(record.raw["id"]?.string == job.id && record.raw["status"]?.string == job.status.rawValue)
        }
        #expect(try PostgresSnapshotSource.jobRecord(backend.postgres, id: "not-a-uuid") == nil)
        #expect(try PostgresSnapshotSource.jobRecord(backend.postgres, id: UUID().uuidString.lowercased()) == nil)
    }
}
