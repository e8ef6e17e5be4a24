import AgentOSCore
import ConsoleApp
import Foundation
import Testing

/// `system.session_terminate` reaches the console it names as a `session.kick` event (or, when
/// that was missed, through its heartbeat): that console stops accepting actions, says who ended
/// it and why, writes its side of the audit, and quits once the operator acknowledges. Every other
/// console carries on, and lists the sessions as they start and end.
@Suite struct SessionKickTests {
    static let ended = SessionKick(sessionID: "a1b2c3", by: "bob", reason: "INC-42 rotating keys", requestID: UUID())

    func send(_ event: AgentEvent, into state: inout AppState) -> [Effect] {
        let seq = (state.sequencer.lastSeq ?? 0) + 1
        return App.update(&state, .bus(.event(EventEnvelope(seq: seq, ts: Fixture.now, source: "other", event: event))))
    }

    func alice(view: ViewID = .dashboard) -> AppState {
        var state = Fixture.state(width: 120, height: 30, view: view)
        state.actions.actor = Actor(user: "alice", host: "ops-1", sessionID: "a1b2c3")
        return state
    }

    @Test func theNamedConsoleStopsAcceptingActionsSaysWhoAndWhyAndQuitsWhenAcknowledged() {
        var state = alice(view: .jobs)
        #expect(send(.sessionKick(Self.ended), into: &state) == [.sessionEnded(Self.ended)], "this side's audit row is asked for")
        #expect(!state.quitting, "it waits for the operator")
        let screen = App.render(state).text()
        #expect(screen.contains("ended by bob") && screen.contains("INC-42 rotating keys") && screen.contains("no longer accepted"))
        // Nothing runs any more: the action menu, an action key, a view switch are all refused.
        for key: Key in [.char("."), .char("c"), .char("2"), .char(":"), .tab] {
            #expect(App.update(&state, .key(key)).isEmpty)
            #expect(state.overlay == .none && state.view == .jobs)
        }
        // A second kick (the heartbeat's) asks for no second audit row.
        #expect(App.update(&state, .bus(.sessionEnded(Self.ended))).isEmpty)
        #expect(App.update(&state, .key(.enter)) == [.quit])
        #expect(state.quitting)
        #expect(state.endedBecause == "this console session (a1b2c3) was ended by bob (system.session_terminate): INC-42 rotating keys")
    }

    @Test func aKickMissedOnTheBusArrivesThroughTheHeartbeat() {
        var state = alice()
        #expect(App.update(&state, .bus(.sessionEnded(Self.ended))) == [.sessionEnded(Self.ended)])
        #expect(state.sessionEnded == Self.ended && !state.quitting)
    }

    /// A kick that arrives after missed events (a gap) still ends the session and asks for the
    /// audit row, beside the reload the gap asks for.
    @Test func aKickAfterAGapStillEndsTheSession() {
        var state = alice()
        let seq = (state.sequencer.lastSeq ?? 0) + 5
        let effects = App.update(&state, .bus(.event(EventEnvelope(seq: seq, ts: Fixture.now, source: "other", event: .sessionKick(Self.ended)))))
        #expect(effects.contains(.sessionEnded(Self.ended)), "\(effects)")
        #expect(state.sessionEnded == Self.ended)
    }

    @Test func anOpenDialogClosesWhenTheSessionEnds() {
        var state = alice()
        state.overlay = .help
        _ = send(.sessionKick(Self.ended), into: &state)
        #expect(state.overlay == .none && state.sessionEnded != nil)
    }

    @Test func anotherSessionsKickChangesNothingHere() {
        var state = alice()
        #expect(send(.sessionKick(SessionKick(sessionID: "ffff00")), into: &state).isEmpty)
        #expect(!state.quitting && state.endedBecause == nil && state.sessionEnded == nil)
        // A console without a session id (none given) is never matched by an empty one.
        state.actions.actor.sessionID = ""
        #expect(send(.sessionKick(SessionKick(sessionID: "")), into: &state).isEmpty && state.sessionEnded == nil)
    }

    @Test func sessionsAppearAndLeaveTheListAsTheyStartAndEnd() throws {
        var state = alice(view: .system)
        _ = App.update(&state, .key(.char("]")))
        #expect(state.screen.id == .sessions, "the second pane of System Controls")
        let before = try #require(state.snapshot).system.sessions.count
        let other = ConsoleSession(
            id: "feed01", user: "carol", host: "bastion-2", pid: 4_242, tty: "/dev/pts/7", startedAt: Fixture.now, lastSeen: Fixture.now,
            view: "logs", mode: "wallboard")
        _ = send(.sessionStarted(other), into: &state)
        #expect(state.snapshot?.system.sessions.count == before + 1)
        let screen = App.render(state).text()
        #expect(screen.contains("carol") && screen.contains("bastion-2") && screen.contains("wallboard"), "\(screen)")
        // Ending one aims at the selected row: the pane offers only that action, with its session filled in.
        let spec = try #require(ActionCatalog.spec("system.session_terminate"))
        #expect(state.screen.actionEntries(state).map(\.spec.name) == ["system.session_terminate"])
        #expect(state.screen.prefill(state, spec, selected: "feed01").0 == ["session": .string("feed01")])
        #expect(state.screen.prefill(state, spec, selected: "a1b2c3").1 == "this is your own console")
        _ = send(.sessionEnded(sessionID: "feed01"), into: &state)
        #expect(state.snapshot?.system.sessions.count == before)
        _ = send(.sessionStarted(other), into: &state)
        _ = send(.sessionKick(SessionKick(sessionID: "feed01", by: "alice")), into: &state)
        #expect(state.snapshot?.system.sessions.count == before, "a kicked session leaves the list too")
    }
}
