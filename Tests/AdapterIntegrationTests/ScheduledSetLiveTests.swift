import AgentOSAdapters
import AgentOSCore
import AgentOSLiveWorld
import AgentOSWorld
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// Issue 20 item 4, the scheduled set (D80): a job the simulator holds until its ETA is a `pending`
/// row with `jobs.eta` and no broker message; the console's scheduled set shows that very time, and
/// run now (job.retry) queues it at once: the row queued without an ETA, one message in the list.
@Suite("the scheduled set against PostgreSQL", .serialized)
struct ScheduledSetLiveTests {
    /// One of the Jobs tab's sets drawn from `snapshot` as the console draws it (reached with `]`).
    static func jobSet(_ set: ViewID, of snapshot: Snapshot) -> String {
        var state = AppState(
            connection: ConnectionState(mode: "live", environment: "test"), operatorInfo: OperatorInfo(user: "op", role: "admin"),
            now: snapshot.generatedAt, width: 140, height: 60)
        _ = App.update(&state, .snapshotLoaded(snapshot))
        _ = App.update(&state, .key(.char("2")))
        while state.screen.id != set { _ = App.update(&state, .key(.char("]"))) }
        return App.render(state).text()
    }

    @Test func aScheduledRowShowsItsETAAndRunNowQueuesIt() throws {
        let fx = try ActionFixture(scheduledShare: SimulatorConfig.fleetScheduledShare)
        defer { fx.close() }
        let scheduledRow = "SELECT count(*)::bigint FROM jobs WHERE status = 'pending' AND eta > now()"
        try fx.tick(until: { try fx.count(scheduledRow) > 0 }, limit: 600, "the scheduler held a job until its ETA")
        let row = try #require(
            try fx.db.query("SELECT id::text AS id, eta, queue, attempts FROM jobs WHERE status = 'pending' AND eta > now() ORDER BY eta, id").rows
                .first)
        let id: String = try row.get("id")
        let eta: Date = try row.get("eta")
        let queue: String = try row.get("queue")
        let simulated = try #require(fx.sim?.read { $0.jobs[id]?.eta }, "the simulator's job \(id) has no ETA")
        #expect(abs(eta.timeIntervalSince(simulated)) < 0.001, "\(eta) in the row, \(simulated) in the simulator")
        #expect(try !fx.brokerMessages(queue).contains { $0.contains(id) }, "a scheduled job has no message before its ETA")

        // The console's scheduled set, from the snapshot PostgreSQL gives.
        let snapshot = try fx.dataManager.rebuild()
        let screen = Self.jobSet(.scheduled, of: snapshot)
        let line = try #require(screen.split(separator: "\n").first { $0.contains(Fmt.shortID(id)) }, "job \(id) not in the set:\n\(screen)")
        #expect(line.contains(Fmt.clock(eta)), "due at \(Fmt.clock(eta)) in PostgreSQL; the screen says: \(line)")

        // Run now: queued at once, its ETA dropped, no attempt counted, one message in the broker list.
        try fx.expectSuccess(fx.run("job.retry", ["id": .string(id)]))
        #expect(try fx.jobStatus(id) == "queued")
        #expect(try fx.count("SELECT count(*)::bigint FROM jobs WHERE id = $1::uuid AND eta IS NULL AND attempts = 0", [id]) == 1)
        #expect(try fx.brokerMessages(queue).filter { $0.contains(id) }.count == 1)
        // The owner obeys too: its own copy of the job is queued and its writer leaves one message.
        try fx.tick(1)
        #expect(fx.sim?.read { $0.jobs[id].map { $0.status != .pending && $0.eta == nil } } == true)
        #expect(try fx.brokerMessages(queue).filter { $0.contains(id) }.count <= 1)
    }
}
