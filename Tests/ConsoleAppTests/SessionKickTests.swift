import AgentOSCore
import ConsoleApp
import Testing

/// `system.session_terminate` reaches the console it names as a `session.kick` event: that console
/// stops and says why; every other console carries on.
@Suite struct SessionKickTests {
    func kick(_ id: String, into state: inout AppState) -> [Effect] {
        let seq = (state.sequencer.lastSeq ?? 0) + 1
        return App.update(&state, .bus(.event(EventEnvelope(seq: seq, ts: Fixture.now, source: "other", event: .sessionKick(sessionID: id)))))
    }

    @Test func theNamedConsoleStopsAndSaysWhy() {
        var state = Fixture.state()
        state.actions.actor = Actor(user: "alice", host: "ops-1", sessionID: "a1b2c3")
        #expect(kick("a1b2c3", into: &state) == [.quit])
        #expect(state.quitting)
        #expect(state.endedBecause == "this console session (a1b2c3) was ended by an administrator (system.session_terminate)")
    }

    @Test func anotherSessionsKickChangesNothingHere() {
        var state = Fixture.state()
        state.actions.actor = Actor(user: "alice", host: "ops-1", sessionID: "a1b2c3")
        #expect(kick("ffff00", into: &state).isEmpty)
        #expect(!state.quitting && state.endedBecause == nil)
        // A console without a session id (none given) is never matched by an empty one.
        state.actions.actor.sessionID = ""
        #expect(kick("", into: &state).isEmpty && !state.quitting)
    }
}
