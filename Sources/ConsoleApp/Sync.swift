import AgentOSCore
import Foundation

/// The data side of the console: the snapshot, the order of the events applied to it, and when
/// to read it again. Its folds are pure and return the effects they need (a `.reloadSnapshot`).
public struct SyncState: Sendable {
    public var holder = SnapshotHolder()
    public var sequencer = EventSequencer()
    /// When the data on screen was last confirmed current (snapshot load or an applied event).
    public var dataAsOf: Date?
    /// When the last snapshot was loaded (the console re-reads it every `refreshInterval`).
    public var loadedAt: Date?
    public var reloadPending = false
    /// A change (an invalidation, a gap) came after the last load began: a tick reloads once
    /// `App.minReloadSpacing` has passed since the last load.
    public var reloadDue = false
    /// How often the console re-reads the cached snapshot while events flow (corrects drift).
    public var refreshInterval: TimeInterval = App.refreshInterval
    public var counters = Counters()
    /// The events applied since the last snapshot's sequence, oldest first, at most
    /// `replayLimit`: a reloaded snapshot older than what is on screen (the cache is built every
    /// few seconds, events arrive in between) gets them again instead of turning the screen back.
    var applied: [EventEnvelope] = []
    static let replayLimit = 5_000
    /// How many events are kept for replay (a test's window on the bound).
    public var replayCount: Int { applied.count }

    public struct Counters: Sendable, Equatable {
        public var eventsApplied = 0
        public var eventsStale = 0
        public var unknownEvents = 0
        public var malformedEvents = 0
        public var gaps = 0
        public var reloads = 0
        /// Messages refused by the bus's authentication (D66): unsigned, badly signed, replayed.
        public var refused = 0
    }
    /// The sources whose refused messages were said already (each is said once, then only counted).
    public var refusedSources: Set<String> = []

    /// A message refused by the bus's authentication: counted; true the first time from `source`
    /// (said then, and logged with the notice), so a flood of forgeries is one line, not one per message.
    mutating func refused(source: String) -> Bool {
        counters.refused += 1
        guard refusedSources.count < 1_000 else { return false }
        return refusedSources.insert(source).inserted
    }

    public init() {}

    public var snapshot: Snapshot? { holder.current }

    /// A reload now (the operator asked, or the stream came back).
    /// The operator asked for the reload on its way (its end is then said).
    var reloadAsked = false

    mutating func reload() -> [Effect] {
        reloadPending = true
        return [.reloadSnapshot]
    }

    /// The load on its way (or the last one) had to be at least as new as the bus.
    var resyncing = false
    /// A loaded snapshot stopped short of a hole in the events the console holds: the next load
    /// must be a resync (re-reading the same cached snapshot would leave the hole until the cache's
    /// warmer rebuilds it, seconds later).
    var resyncDue = false

    /// A load that must be at least as new as the bus (`Effect.resyncSnapshot`).
    mutating func resyncLoad() -> [Effect] {
        reloadPending = true
        resyncing = true
        return [.resyncSnapshot]
    }

    /// After a load: the resync a hole asked for. A resync that still found one (the backend could
    /// not give a newer snapshot) waits for the tick's spacing instead of asking again at once.
    mutating func catchUp() -> [Effect] {
        guard resyncDue else { return [] }
        resyncDue = false
        if resyncing {
            resyncing = false
            reloadDue = true
            return []
        }
        return reloadPending ? [] : resyncLoad()
    }

    /// One snapshot reload, unless one is already on its way.
    mutating func reloadUnlessPending() -> [Effect] {
        guard !reloadPending else {
            reloadDue = true // the load on its way may have started before this change
            return []
        }
        return reload()
    }

    /// Each tick: a reload once the refresh interval (a change waiting: the minimum spacing) has passed.
    mutating func tick(_ now: Date) -> [Effect] {
        guard let loaded = loadedAt, !reloadPending, now.timeIntervalSince(loaded) >= (reloadDue ? App.minReloadSpacing : refreshInterval)
        else { return [] }
        reloadDue = false
        return reload()
    }

    /// A loaded snapshot: accepted (events continue from its sequence), or why it was refused.
    mutating func loaded(_ snapshot: Snapshot, now: Date) -> String? {
        reloadPending = false
        counters.reloads += 1
        defer { if !resyncDue { resyncing = false } }
        if let failure = holder.accept(snapshot, now: now) { return failure.description }
        sequencer.reset(to: replay(after: snapshot.eventSeq))
        dataAsOf = now
        loadedAt = now
        return nil
    }

    /// Applies again the events after `seq` that the console had already applied, as long as they
    /// follow on from it without a hole; returns the last sequence now in the snapshot. Events past a
    /// hole (missed while the stream was down) are not applied to a snapshot that lacks what came
    /// before them: a reload is due instead, for a snapshot that includes the hole.
    mutating func replay(after seq: Int64) -> Int64 {
        var last = seq
        var kept: [EventEnvelope] = []
        for envelope in applied where envelope.seq > seq {
            if envelope.seq == last + 1 {
                holder.apply(envelope.event, at: envelope.ts)
                last = envelope.seq
                kept.append(envelope)
            } else {
                resyncDue = true
                break
            }
        }
        applied = kept
        return last
    }

    /// A load that failed waits a refresh interval before the next try.
    mutating func loadFailed(now: Date) {
        reloadPending = false
        resyncing = false
        loadedAt = now
    }

    /// The stream (re)connected: a possible gap means the sequence starts again from a snapshot at
    /// least as new as the bus (the cached one may predate the events that were missed).
    mutating func resync() -> [Effect] {
        sequencer.forget()
        return resyncLoad()
    }

    /// Where an event falls in the sequence (counted when stale or after a gap).
    mutating func admit(_ envelope: EventEnvelope) -> EventSequencer.Decision {
        let admission = sequencer.admit(envelope.seq)
        switch admission {
        case .stale: counters.eventsStale += 1
        case .gap: counters.gaps += 1
        case .apply: break
        }
        return admission
    }

    /// Applies an event to the snapshot; false: an unknown event (counted, skipped).
    mutating func apply(_ envelope: EventEnvelope, now: Date) -> Bool {
        if case .unknown = envelope.event {
            counters.unknownEvents += 1
            return false
        }
        holder.apply(envelope.event, at: envelope.ts)
        applied.append(envelope)
        if applied.count > Self.replayLimit { applied.removeFirst(Self.replayLimit / 2) } // amortised: half at a time
        counters.eventsApplied += 1
        dataAsOf = now
        return true
    }

    /// The cache changed elsewhere: a reload, at most one per `App.minReloadSpacing` (the next tick
    /// reloads one that comes sooner).
    mutating func invalidated(now: Date) -> [Effect] {
        if let loaded = loadedAt, now.timeIntervalSince(loaded) < App.minReloadSpacing {
            reloadDue = true
            return []
        }
        return reloadUnlessPending()
    }
}
