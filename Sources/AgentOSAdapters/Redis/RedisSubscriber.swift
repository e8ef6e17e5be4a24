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
/// is noticed. Behind Sentinel it also leaves a master that is still up when the sentinels name
/// another (a manual failover), and reports the gap like any reconnect.
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
        /// The sentinel monitor's observer, while running behind Sentinel.
        var observer: (monitor: SentinelMonitor, token: Int)?
        /// A new master the thread has not moved to yet.
        var switchedTo: String?
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
            if let monitor = SentinelMonitor.shared(for: configuration) {
                let token = monitor.observe { [weak self] master in self?.masterSwitched(to: master.address) }
                c.observer = (monitor, token)
            }
            let thread = Thread { [self] in self.run() }
            thread.name = "redis-subscriber"
            c.thread = thread
            thread.start()
        }
    }

    /// Stops the thread, closes the connection and finishes the stream.
    public func stop() {
        let (first, observer) = control.withLock { c -> (Bool, (monitor: SentinelMonitor, token: Int)?) in
            if c.stopped { return (false, nil) }
            c.stopped = true
            defer { c.observer = nil }
            return (true, c.observer)
        }
        guard first else { return }
        if let observer { observer.monitor.removeObserver(observer.token) }
        var byte: UInt8 = 1
        _ = write(wakePipe.write, &byte, 1)
        if control.withLock({ $0.thread == nil }) { continuation.finish() }
    }

    private var isStopped: Bool { control.withLock { $0.stopped } }

    /// From the sentinel monitor's thread: wakes the subscriber thread to move.
    private func masterSwitched(to address: String) {
        control.withLock { $0.switchedTo = address }
        var byte: UInt8 = 1
        _ = write(wakePipe.write, &byte, 1)
    }

    /// The new master's address once, after draining the wake pipe.
    private func takeSwitch() -> String? {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakePipe.read, &buffer, buffer.count) > 0 {}
        return control.withLock { c in
            defer { c.switchedTo = nil }
            return c.switchedTo
        }
    }

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
                if let master = try pump(connection) {
                    // Straight to the new master; `.subscribed(gapPossible: true)` follows.
                    emit(.disconnected(reason: "redis failover: new master \(master)", retryInMillis: 0))
                }
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

    /// Reads messages until the connection fails, the subscriber stops (nil) or the sentinels name
    /// another master (its address).
    private func pump(_ connection: RedisConnection) throws(RedisError) -> String? {
        var pingSent: UInt64?
        while true {
            let deadline = pingSent.map { $0 + 5_000_000_000 } ?? Monotonic.deadline(afterMillis: pingIntervalMillis)
            guard let reply = try connection.readReply(deadline: deadline, wakeFD: wakePipe.read) else {
                if isStopped { return nil }
                if let master = takeSwitch() { return master }
                if pingSent != nil {
                    throw .timeout(endpoint: connection.endpoint, operation: "PING on the subscription", millis: 5_000)
                }
                try connection.write([["PING"]], deadline: Monotonic.deadline(afterMillis: configuration.commandTimeoutMillis))
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
        _ = takeSwitch() // woken by a new master: connect to it now
        return isStopped
    }
}
