import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a subscriber tells its consumer.
public enum SubscriptionEvent: Sendable, Equatable {
    /// Subscribed to every channel and pattern. `gapPossible` is true after a reconnect:
    /// messages published while disconnected are lost (pub/sub is at-most-once), so the consumer
    /// should reload its state.
    case subscribed(gapPossible: Bool)
    /// A message on `channel` (with the `pattern` it matched, for pattern subscriptions).
    case message(channel: String, payload: [UInt8], pattern: String?)
    /// The connection is gone; the subscriber reconnects after `retryInMillis`.
    case disconnected(reason: String, retryInMillis: Int)
}

/// A pub/sub subscriber on a dedicated thread. Messages arrive as an `AsyncStream`; nothing
/// else waits on it. It reconnects with exponential backoff, jitter and a cap, subscribes again,
/// and reports the possible gap. An idle connection is checked with PING so a half-open socket
/// is noticed.
public final class RedisSubscriber: Sendable {
    public let events: AsyncStream<SubscriptionEvent>
    public let configuration: RedisConfiguration
    private let continuation: AsyncStream<SubscriptionEvent>.Continuation
    /// When set, events are handed to it on the subscriber's thread instead of the stream (for
    /// consumers that must not wait for the cooperative pool).
    private let onEvent: (@Sendable (SubscriptionEvent) -> Void)?
    private let channels: [String]
    private let patterns: [String]
    private let wakePipe: (read: Int32, write: Int32)
    private let control: Mutex<Control>
    private let pingIntervalMillis: Int
    private let backoffTemplate: Backoff

    private struct Control {
        var stopped = false
        var thread: Thread?
    }

    public init(
        _ configuration: RedisConfiguration, channels: [String], patterns: [String] = [],
        backoff: Backoff = Backoff(baseMillis: 100, capMillis: 5_000), pingIntervalMillis: Int = 15_000,
        bufferingPolicy: AsyncStream<SubscriptionEvent>.Continuation.BufferingPolicy = .unbounded,
        onEvent: (@Sendable (SubscriptionEvent) -> Void)? = nil
    ) {
        self.onEvent = onEvent
        precondition(!channels.isEmpty || !patterns.isEmpty, "subscribe to at least one channel or pattern")
        self.configuration = configuration
        self.channels = channels
        self.patterns = patterns
        self.pingIntervalMillis = pingIntervalMillis
        self.backoffTemplate = backoff
        (events, continuation) = AsyncStream.makeStream(of: SubscriptionEvent.self, bufferingPolicy: bufferingPolicy)
        var fds: [Int32] = [0, 0]
        let rc = pipe(&fds)
        precondition(rc == 0, "pipe() failed: \(String(cString: strerror(errno)))")
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        wakePipe = (fds[0], fds[1])
        control = Mutex(Control())
    }

    deinit {
        Glibc.close(wakePipe.read)
        Glibc.close(wakePipe.write)
    }

    private func emit(_ event: SubscriptionEvent) {
        if let onEvent { onEvent(event) } else { continuation.yield(event) }
    }

    /// Starts the subscriber thread (once).
    public func start() {
        control.withLock { c in
            guard c.thread == nil, !c.stopped else { return }
            let thread = Thread { [self] in self.run() }
            thread.name = "redis-subscriber"
            c.thread = thread
            thread.start()
        }
    }

    /// Stops the thread, closes the connection and finishes the stream.
    public func stop() {
        let first = control.withLock { c -> Bool in
            if c.stopped { return false }
            c.stopped = true
            return true
        }
        guard first else { return }
        var byte: UInt8 = 1
        _ = write(wakePipe.write, &byte, 1)
        if control.withLock({ $0.thread == nil }) { continuation.finish() }
    }

    private var isStopped: Bool { control.withLock { $0.stopped } }

    private func run() {
        var backoff = backoffTemplate
        var everSubscribed = false
        defer { continuation.finish() }
        while !isStopped {
            do {
                let connection = try RedisConnection(configuration)
                defer { connection.close() }
                try subscribe(connection)
                backoff.reset()
                emit(.subscribed(gapPossible: everSubscribed))
                everSubscribed = true
                try pump(connection)
            } catch {
                if isStopped { return }
                let delay = backoff.next()
                emit(.disconnected(reason: error.description, retryInMillis: delay))
                if waitForStop(millis: delay) { return }
            }
        }
    }

    private func subscribe(_ connection: RedisConnection) throws(RedisError) {
        var commands: [[[UInt8]]] = []
        if !channels.isEmpty { commands.append([Array("SUBSCRIBE".utf8)] + channels.map { Array($0.utf8) }) }
        if !patterns.isEmpty { commands.append([Array("PSUBSCRIBE".utf8)] + patterns.map { Array($0.utf8) }) }
        let deadline = Monotonic.deadline(afterMillis: configuration.commandTimeoutMillis)
        try connection.write(commands, deadline: deadline)
        var confirmations = channels.count + patterns.count
        while confirmations > 0 {
            guard let reply = try connection.readReply(deadline: deadline, wakeFD: wakePipe.read) else {
                if isStopped { throw .connectionLost(endpoint: connection.endpoint, reason: "stopped") }
                throw .timeout(endpoint: connection.endpoint, operation: "SUBSCRIBE", millis: configuration.commandTimeoutMillis)
            }
            if case .error(let message) = reply { throw RedisConnection.typedError(message, endpoint: connection.endpoint) }
            if let kind = reply.array?.first?.string, kind == "subscribe" || kind == "psubscribe" { confirmations -= 1 }
        }
    }

    /// Reads messages until the connection fails or the subscriber stops.
    private func pump(_ connection: RedisConnection) throws(RedisError) {
        var pingSent: UInt64?
        while true {
            let deadline = pingSent.map { $0 + 5_000_000_000 } ?? Monotonic.deadline(afterMillis: pingIntervalMillis)
            guard let reply = try connection.readReply(deadline: deadline, wakeFD: wakePipe.read) else {
                if isStopped { return }
                if pingSent != nil {
                    throw .timeout(endpoint: connection.endpoint, operation: "PING on the subscription", millis: 5_000)
                }
                try connection.write([[Array("PING".utf8)]], deadline: Monotonic.deadline(afterMillis: configuration.commandTimeoutMillis))
                pingSent = Monotonic.nanos()
                continue
            }
            pingSent = nil
            guard let parts = reply.array, let kind = parts.first?.string else { continue }
            switch kind {
            case "message" where parts.count == 3:
                emit(.message(channel: parts[1].string ?? "", payload: parts[2].bytes ?? [], pattern: nil))
            case "pmessage" where parts.count == 4:
                emit(.message(channel: parts[2].string ?? "", payload: parts[3].bytes ?? [], pattern: parts[1].string))
            default:
                continue // pong, subscribe confirmations
            }
        }
    }

    /// Sleeps up to `millis`, waking early on stop. Returns true when stopped.
    private func waitForStop(millis: Int) -> Bool {
        var p = pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, Int32(millis))
        return isStopped
    }
}
