import AgentOSCore
import Foundation

/// The event bus on Redis: `seq` from `INCR {ns}:events:seq` and the PUBLISH on `{ns}:events`
/// happen in one Lua script, so across every publisher the messages go out in `seq` order.
public final class RedisEventBus: EventBus {
    private let redis: RedisClient
    private let ns: Namespace
    private let source: String
    /// The most messages waiting for the console (`BoundedBusStream`).
    private let bufferLimit: Int

    /// KEYS[1] = seq counter; ARGV[1] = channel, ARGV[2] = JSON up to the seq, ARGV[3] = the rest.
    static let publishScript = RedisScript(
        """
        local seq = redis.call('INCR', KEYS[1])
        redis.call('PUBLISH', ARGV[1], ARGV[2] .. seq .. ARGV[3])
        return seq
        """)

    public init(redis: RedisClient, namespace: Namespace = Namespace(), source: String, bufferLimit: Int = BoundedBusStream.defaultLimit) {
        self.redis = redis.configuration.database == Namespace.DB.events ? redis : redis.selecting(database: Namespace.DB.events)
        self.ns = namespace
        self.source = source
        self.bufferLimit = bufferLimit
    }

    private struct Body: Encodable {
        var type: String
        var ts: Date
        var source: String
        var data: AgentEvent
    }

    @discardableResult
    public func publish(_ event: AgentEvent) throws -> EventEnvelope {
        let ts = Date()
        let seq = try publish(event, ts: ts)
        return EventEnvelope(seq: seq, ts: ts, source: source, event: event)
    }

    /// Publishes a batch in one round trip (one script call per event, pipelined).
    public func publish(batch events: [AgentEvent]) throws {
        guard !events.isEmpty else { return }
        let ts = Date()
        var commands: [[any RedisArgument]] = []
        for event in events {
            let (head, tail) = try Self.split(event, ts: ts, source: source)
            commands.append(["EVALSHA", Self.publishScript.sha1, 1, ns.eventsSeqKey, ns.eventsChannel, head, tail])
        }
        let replies = try redis.pipeline(commands)
        if replies.contains(where: { if case .error(let m) = $0 { return m.hasPrefix("NOSCRIPT") } else { return false } }) {
            // The server lost its scripts (restart, SCRIPT FLUSH): publish one by one, which reloads.
            for event in events { _ = try publish(event, ts: ts) }
            return
        }
        if let failure = replies.first(where: { if case .error = $0 { return true } else { return false } }), case .error(let m) = failure {
            throw RedisError.fromReply(m)
        }
    }

    /// The batch as script calls on the events database, for a pipeline that also carries other
    /// databases' commands (on NOSCRIPT, `publish(batch:)` again loads the script).
    func publishCommands(_ events: [AgentEvent]) throws -> (database: Int, commands: [[any RedisArgument]]) {
        let ts = Date()
        return (
            redis.configuration.database,
            try events.map { event in
                let (head, tail) = try Self.split(event, ts: ts, source: source)
                return ["EVALSHA", Self.publishScript.sha1, 1, ns.eventsSeqKey, ns.eventsChannel, head, tail]
            }
        )
    }

    public func currentSeq() throws -> Int64 {
        try redis.send("GET", ns.eventsSeqKey).int ?? 0
    }

    /// Messages are decoded on the subscriber's thread and handed to a `BoundedBusStream`: no
    /// unbounded buffer between Redis and the console (D64).
    public func subscribe() -> AsyncStream<BusMessage> {
        let out = BoundedBusStream(limit: bufferLimit)
        let subscriber = RedisSubscriber(
            redis.configuration, channels: [ns.eventsChannel],
            onEvent: { event in
                switch event {
                case .subscribed(let gap):
                    out.yield(.connected(gapPossible: gap))
                case .message(_, let payload, _):
                    do throws(DecodeFailure) {
                        out.yield(.event(try EventEnvelope.decode(Data(payload))))
                    } catch {
                        out.yield(.malformed(error))
                    }
                case .disconnected(let reason, let retry):
                    out.yield(.disconnected(reason: reason, retryInMillis: retry))
                }
            })
        out.onTermination { subscriber.stop() }
        subscriber.start()
        return out.stream
    }

    private func publish(_ event: AgentEvent, ts: Date) throws -> Int64 {
        let (head, tail) = try Self.split(event, ts: ts, source: source)
        return try redis.evaluate(Self.publishScript, keys: [ns.eventsSeqKey], args: [ns.eventsChannel, head, tail]).int ?? 0
    }

    /// `{"v":1,"seq":` and `,"type":…}`: the script puts the sequence number between them.
    static func split(_ event: AgentEvent, ts: Date, source: String) throws -> (String, String) {
        let body = try FastJSONEncoder().encode(Body(type: event.type, ts: ts, source: source, data: event))
        var rest = String(decoding: body, as: UTF8.self)
        rest.removeFirst() // "{"
        return (#"{"v":1,"seq":"#, "," + rest)
    }
}
