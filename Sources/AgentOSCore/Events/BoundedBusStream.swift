import Synchronization

/// The bus messages between the subscriber and the console (D64): at most `limit` wait; when
/// full, new messages are dropped and counted, and the consumer hears `.overflowed(dropped:)`
/// before anything newer, so it reloads the snapshot instead of showing a silent hole. Memory
/// stays bounded however fast the bus floods and however slowly the console reads.
public final class BoundedBusStream: Sendable {
    /// 10,000 messages: minutes of a normal fleet's events, a few MB.
    public static let defaultLimit = 10_000

    public let stream: AsyncStream<BusMessage>
    private let continuation: AsyncStream<BusMessage>.Continuation
    private let dropped = Mutex(0)

    public init(limit: Int = BoundedBusStream.defaultLimit) {
        (stream, continuation) = AsyncStream.makeStream(of: BusMessage.self, bufferingPolicy: .bufferingOldest(limit))
    }

    public func yield(_ message: BusMessage) {
        dropped.withLock { lost in
            if lost > 0 {
                guard case .enqueued = continuation.yield(.overflowed(dropped: lost)) else {
                    lost += 1
                    return
                }
                lost = 0
            }
            if case .dropped = continuation.yield(message) { lost += 1 }
        }
    }

    public func finish() { continuation.finish() }

    public func onTermination(_ handler: @escaping @Sendable () -> Void) {
        continuation.onTermination = { _ in handler() }
    }
}
