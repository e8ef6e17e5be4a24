import AgentOSCore
import Foundation
import Synchronization

/// The event bus on Redis. The publisher numbers its events (the next `seq` after
/// `{ns}:events:seq`) and signs each over its number (D66); one Lua script publishes them on
/// `{ns}:events` and advances the counter only if they are the next numbers, so across every
/// publisher the messages still go out in `seq` order. When another publisher got there first, the
/// script answers the counter and the publisher numbers and signs again.
public final class RedisEventBus: EventBus {
    private let redis: RedisClient
    private let ns: Namespace
    private let source: String
    /// The most messages waiting for the console (`BoundedBusStream`).
    private let bufferLimit: Int
    /// The number this publisher expects to give next (nil: ask the counter).
    private let guess = Mutex<Int64?>(nil)

    /// KEYS[1] = seq counter; ARGV[1] = channel, ARGV[2] = the first message's number, ARGV[3…] = the
    /// messages, numbered from it. Answers {1, last seq} when published, {0, counter} when the numbers
    /// were not the next ones (nothing published).
    package static let publishScript = RedisScript(
        """
        local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tonumber(ARGV[2]) ~= cur + 1 then return {0, cur} end
        for i = 3, #ARGV do redis.call('PUBLISH', ARGV[1], ARGV[i]) end
        return {1, redis.call('INCRBY', KEYS[1], #ARGV - 2)}
        """)

    /// Retries when other publishers keep taking the next numbers (each try is one round trip).
    static let maxAttempts = 200

    public init(redis: RedisClient, namespace: Namespace = Namespace(), source: String, bufferLimit: Int = BoundedBusStream.defaultLimit) {
        self.redis = redis.configuration.database == Namespace.DB.events ? redis : redis.selecting(database: Namespace.DB.events)
        self.ns = namespace
        self.source = source
        self.bufferLimit = bufferLimit
    }

    @discardableResult
    public func publish(_ event: AgentEvent) throws -> EventEnvelope {
        let ts = Date()
        let seq = try publishNumbered([event], ts: ts)
        return EventEnvelope(seq: seq, ts: ts, source: source, event: event)
    }

    /// Publishes a batch in one script call (numbered in order, all or nothing).
    public func publish(batch events: [AgentEvent]) throws {
        guard !events.isEmpty else { return }
        _ = try publishNumbered(events, ts: Date())
    }

    /// The batch as one script call on the events database, for a pipeline that also carries other
    /// databases' commands. Its reply goes to `published(_:)`: when another publisher took the numbers
    /// (or the server lost the script), `publish(batch:)` publishes them again.
    func publishCommands(_ events: [AgentEvent]) throws -> (database: Int, commands: [[any RedisArgument]]) {
        let first = try nextGuess()
        return (
            redis.configuration.database,
            [["EVALSHA", Self.publishScript.sha1, 1, ns.eventsSeqKey] + (try arguments(events, first: first, ts: Date()))]
        )
    }

    /// True when a reply of `publishCommands`' script says the batch went out (the next guess follows it).
    func published(_ reply: RedisValue) -> Bool {
        guard let items = reply.array, items.count == 2, items[0].int == 1, let last = items[1].int else { return false }
        guess.withLock { $0 = last + 1 }
        return true
    }

    private func nextGuess() throws -> Int64 {
        if let next = guess.withLock({ $0 }) { return next }
        return try currentSeq() + 1
    }

    private func arguments(_ events: [AgentEvent], first: Int64, ts: Date) throws -> [any RedisArgument] {
        var args: [any RedisArgument] = [ns.eventsChannel, first]
        for (i, event) in events.enumerated() {
            args.append(try Self.message(event, seq: first + Int64(i), ts: ts, source: source, namespace: ns))
        }
        return args
    }

    /// Numbers, signs and publishes; the first message's `seq`.
    private func publishNumbered(_ events: [AgentEvent], ts: Date) throws -> Int64 {
        var first = try nextGuess()
        for _ in 0..<Self.maxAttempts {
            let reply = try redis.evaluate(Self.publishScript, keys: [ns.eventsSeqKey], args: try arguments(events, first: first, ts: ts))
            let items = reply.array ?? []
            guard items.count == 2, let flag = items[0].int, let value = items[1].int else {
                throw RedisError.protocolError("the publish script answered \(reply)")
            }
            if flag == 1 {
                guess.withLock { $0 = value + 1 }
                return first
            }
            first = value + 1
        }
        guess.withLock { $0 = nil }
        throw RedisError.protocolError("could not take the next event numbers in \(Self.maxAttempts) tries (other publishers kept taking them)")
    }

    /// One event as it goes on the bus: `{"v":1,"seq":…,"type":…,"ts":…,"source":…,"data":{…},"mac":"…"}`
    /// (the MAC only with a bus key).
    public static func message(_ event: AgentEvent, seq: Int64, ts: Date, source: String, namespace: Namespace) throws -> [UInt8] {
        let body = try EventEnvelope.body(seq: seq, ts: ts, source: source, event: event)
        return BusAuth.seal(body, keys: namespace.busKeys, kind: .event, namespace: namespace.prefix, number: seq)
    }

    /// Verifies one message from the channel and decodes it (D66): a refused one is said as
    /// `.refused` (counted by the console, said once per source), never applied.
    static func receive(_ payload: [UInt8], namespace: Namespace) -> BusMessage {
        switch BusAuth.open(payload, keys: namespace.busKeys, kind: .event, namespace: namespace.prefix) {
        case .failure(let refusal):
            let claimed = BusAuth.claimedSource(payload, fallback: "an unknown publisher")
            return .refused(BusRefused(source: "events from \(claimed)", refusal: refusal))
        case .success(let (body, seal)):
            do throws(DecodeFailure) {
                let envelope = try EventEnvelope.decode(Data(body))
                if let seal, seal.number != envelope.seq {
                    return .refused(
                        BusRefused(
                            source: "events from \(String(envelope.source.prefix(80)))",
                            refusal: .numberMismatch(sealed: seal.number, body: envelope.seq)))
                }
                return .event(envelope)
            } catch {
                return .malformed(error)
            }
        }
    }

    public func currentSeq() throws -> Int64 {
        try redis.send("GET", ns.eventsSeqKey).int ?? 0
    }

    /// Messages are decoded on the subscriber's thread and handed to a `BoundedBusStream`: no
    /// unbounded buffer between Redis and the console (D64).
    public func subscribe() -> AsyncStream<BusMessage> {
        let out = BoundedBusStream(limit: bufferLimit)
        let ns = self.ns
        let subscriber = RedisSubscriber(
            redis.configuration, channels: [ns.eventsChannel],
            onEvent: { event in
                switch event {
                case .subscribed(let gap):
                    out.yield(.connected(gapPossible: gap))
                case .message(_, let payload, _):
                    out.yield(Self.receive(payload, namespace: ns))
                case .disconnected(let reason, let retry):
                    out.yield(.disconnected(reason: reason, retryInMillis: retry))
                }
            })
        out.onTermination { subscriber.stop() }
        subscriber.start()
        return out.stream
    }
}
