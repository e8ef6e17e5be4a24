import ConsoleApp
import ConsoleUI
import Foundation
import Testing

/// `read_from: replica` (D81) on the status line: the replica and its lag while reads go there; the
/// fall back to the master said once as a warning, then shown until the replica answers again.
@Suite struct ReplicaReadsStatusTests {
    static func live() -> AppState {
        var state = Fixture.state(width: 160, height: 24)
        state.connection.mode = "live"
        return state
    }

    static func statusLine(_ state: AppState) -> String { App.render(state).row(state.height - 1) }

    @Test func theReplicaAndItsLagAreShownAndAFallBackIsSaidOnce() {
        var s = Self.live()
        let onReplica = ConnectionState.Reads(text: "reads: replica 127.0.0.1:6381 lag 0 B", fellBack: false)
        _ = App.update(&s, .connection(redis: .up, postgres: .up, redisReads: onReplica))
        #expect(Self.statusLine(s).contains("reads: replica 127.0.0.1:6381 lag 0 B"), "\(Self.statusLine(s))")
        let notices = s.notices.count

        let fellBack = ConnectionState.Reads(text: "reads: master (replica: 127.0.0.1:6381 does not answer)", fellBack: true)
        _ = App.update(&s, .connection(redis: .up, postgres: .up, redisReads: fellBack))
        _ = App.update(&s, .connection(redis: .up, postgres: .up, redisReads: fellBack))
        #expect(s.notices.count == notices + 1 && s.notices.last?.level == .warning && s.notices.last?.text == fellBack.text)
        #expect(Self.statusLine(s).contains("reads: master (replica:"), "\(Self.statusLine(s))")

        _ = App.update(&s, .connection(redis: .up, postgres: .up, redisReads: nil))
        #expect(!Self.statusLine(s).contains("reads:"), "no replica reads configured: nothing said")
    }
}
