import Foundation
import Synchronization

/// The embedded mode's event bus: envelopes with `seq`, delivered to every subscriber in order.
public final class InMemoryEventBus: EventBus {
    private struct State {
        var seq: Int64 = 0
        var subscribers: [UUID: AsyncStream<BusMessage>.Continuation] = [:]
    }

    private let state = Mutex(State())
    private let source: String
    private let clock: @Sendable () -> Date
    private let bufferLimit: Int

    /// `bufferLimit` bounds each subscriber's backlog; when a slow subscriber overflows, the oldest
    /// messages are dropped, which it sees as a `seq` gap (and reloads), never as unbounded memory.
    public init(source: String = "embedded", bufferLimit: Int = 50_000, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.source = source
        self.clock = clock
        self.bufferLimit = bufferLimit
    }

    @discardableResult
    public func publish(_ event: AgentEvent) throws -> EventEnvelope {
        let ts = clock()
        return state.withLock { s in
            s.seq += 1
            let envelope = EventEnvelope(seq: s.seq, ts: ts, source: source, event: event)
            for c in s.subscribers.values { c.yield(.event(envelope)) }
            return envelope
        }
    }

    public func currentSeq() throws -> Int64 { state.withLock { $0.seq } }

    public func subscribe() -> AsyncStream<BusMessage> {
        let (stream, continuation) = AsyncStream.makeStream(of: BusMessage.self, bufferingPolicy: .bufferingNewest(bufferLimit))
        let id = UUID()
        state.withLock { s in
            s.subscribers[id] = continuation
            continuation.yield(.connected(gapPossible: false))
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}
