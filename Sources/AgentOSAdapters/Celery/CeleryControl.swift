import AgentOSCore
import Foundation
import Synchronization

/// One worker's answer to a control request: `{hostname: value}`; `value` is usually
/// `{"ok": …}` or `{"error": …}`, and a plain value for inspect commands (`stats`, `active_queues`).
public struct CeleryReply: Sendable, Equatable {
    public var hostname: String
    public var value: JSONTree
    public var ok: String? { value["ok"]?.description }
    public var error: String? { value["error"]?.description }
    public init(hostname: String, value: JSONTree) {
        self.hostname = hostname
        self.value = value
    }
}

public struct CeleryBroadcast: Sendable, Equatable {
    public var method: String
    public var ticket: String
    /// Connections subscribed to the pidbox channel when it was published (each live worker holds one).
    public var listeners: Int
    public var replies: [CeleryReply]
    /// Frames on the reply queue that were skipped (another ticket, malformed).
    public var skipped: [String]
    public var elapsedSeconds: Double
    /// The replies that end the wait: one per destination, at most one per listener (D61).
    public var expected: Int
    /// Hostnames whose reply carried the ticket but that were not asked (D67): refused, not in `replies`.
    public var refused: [String] = []
    /// The wait ended because the expected replies arrived (false: the reply timeout ran out).
    public var allReplied: Bool { replies.count >= expected }
}

/// Celery's remote control over kombu's Redis transport (celery-redis-protocol.md §b): the
/// request envelope PUBLISHed on the `celery.pidbox` fan-out channel, a reply queue bound in
/// `_kombu.binding.reply.celery.pidbox` (without the binding workers drop their replies), BRPOP
/// on the reply lists with ticket matching until the timeout or the expected number of replies,
/// and the binding and the reply lists removed afterwards.
public final class CeleryControl: Sendable {
    public let transport: CeleryTransport
    let redis: RedisClient
    let clock = Mutex(0)
    let log: @Sendable (String) -> Void
    /// Replies refused because their hostname was not asked (D67): how many, and the sources
    /// already logged (each is logged once).
    let refusals = Mutex<(count: Int, logged: Set<String>)>((0, []))

    /// Waits for replies that ran to the reply timeout before the expected replies arrived (D77).
    let timeouts = Atomic<Int>(0)

    /// Replies refused so far because their hostname was not asked (D67).
    public var refusedReplies: Int { refusals.withLock { $0.count } }

    /// Waits so far that the reply timeout ended, not the expected replies (D77): 0 on a healthy fleet.
    public var timedOutWaits: Int { timeouts.load(ordering: .relaxed) }

    /// `redis`: any client of the broker's server; the broker database is selected here.
    public init(redis: RedisClient, transport: CeleryTransport, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.redis = redis.selecting(database: transport.brokerDatabase)
        self.transport = transport
        self.log = log
    }

    /// The request body (`method`, `arguments`, `destination`, `ticket`, `reply_to`).
    public static func requestBody(method: String, arguments: [String: JSONTree], destination: [String]?, ticket: String?, replyTo oid: String?)
        -> JSONTree
    {
        var body: [String: JSONTree] = [
            "method": .string(method), "arguments": .object(arguments),
            "destination": destination.map { .array($0.map(JSONTree.string)) } ?? .null, "pattern": .null, "matcher": .null
        ]
        if let ticket, let oid {
            body["ticket"] = .string(ticket)
            body["reply_to"] = .object(["exchange": .string(CeleryTransport.replyExchange), "routing_key": .string(oid)])
        }
        return .object(body)
    }

    /// The kombu envelope around a body (base64, JSON, delivery_mode 2, the pidbox exchange).
    public static func envelope(body: JSONTree, exchange: String, clock: Int, expires: Double?, deliveryTag: String) -> [UInt8] {
        var headers: [String: JSONTree] = ["clock": .int(clock)]
        if let expires { headers["expires"] = .double(expires) }
        let env: JSONTree = .object([
            "body": .string(Data(body.json.utf8).base64EncodedString()),
            "content-encoding": .string("utf-8"), "content-type": .string("application/json"),
            "headers": .object(headers),
            "properties": .object([
                "delivery_mode": .int(2), "delivery_info": .object(["exchange": .string(exchange), "routing_key": .string("")]),
                "priority": .int(0), "body_encoding": .string("base64"), "delivery_tag": .string(deliveryTag)
            ])
        ])
        return Array(env.json.utf8)
    }

    /// Sends `method` to the workers in `destination` (nil: every worker) and collects replies
    /// until the expected ones arrived or `timeout` seconds passed. Expected: one per destination,
    /// and never more than PUBLISH's receiver count (each worker holds one pidbox subscription),
    /// so a broadcast to every worker ends when each worker that got it answered (D61).
    /// `expectReply: false` (shutdown) publishes without a reply queue.
    ///
    /// Replies count only from the hostnames asked (D67): the `destination`, or for a broadcast to
    /// every worker the hostnames in `accept` (the worker map, and those that answered a ping in the
    /// same call). A reply with the right ticket from any other hostname is refused, counted and
    /// logged once per source. `accept: nil` with no destination is the discovery ping: any hostname.
    public func broadcast(
        _ method: String, arguments: [String: JSONTree] = [:], destination: [String]? = nil, expectReply: Bool = true,
        timeout: Double? = nil, accept: Set<String>? = nil
    ) throws -> CeleryBroadcast {
        let start = Date()
        let wait = timeout ?? transport.replyTimeout
        let ticket = UUID().uuidString.lowercased()
        let oid = UUID().uuidString.lowercased()
        let n = clock.withLock {
            $0 += 1
            return $0
        }
        let body = Self.requestBody(
            method: method, arguments: arguments, destination: destination,
            ticket: expectReply ? ticket : nil, replyTo: expectReply ? oid : nil)
        let frame = Self.envelope(
            body: body, exchange: "celery.pidbox", clock: n, expires: start.timeIntervalSince1970 + wait,
            deliveryTag: UUID().uuidString.lowercased())
        let member = transport.replyBindingMember(oid: oid)
        let keys = transport.replyKeys(oid: oid)
        if expectReply { try redis.send("SADD", transport.replyBindingKey, member) }
        defer {
            if expectReply {
                // kombu's cleanup: the binding member and the four reply lists.
                do {
                    _ = try redis.pipeline([
                        ["SREM", transport.replyBindingKey, member], ["SREM", transport.replyBindingPermanentKey, member],
                        ["DEL"] + keys
                    ])
                } catch { log("celery: cleanup of reply queue \(oid) failed: \(error)") }
            }
        }
        let listeners = Int(try redis.send("PUBLISH", transport.pidboxChannel, frame).int ?? 0)
        var replies: [CeleryReply] = []
        var skipped: [String] = []
        var refused: [String] = []
        let asked: Set<String>? = destination.map(Set.init) ?? accept
        let expected = min(asked?.count ?? listeners, listeners)
        if expectReply {
            let place = "reply queue \(oid).\(CeleryTransport.replyExchange)"
            let deadline = start.addingTimeInterval(wait)
            while replies.count < expected {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 { break }
                // At most 1 s per BRPOP: the connection's command timeout (5 s by default) must not fire first.
                let popped = try redis.send(["BRPOP"] + keys + [String(format: "%.3f", max(0.01, min(left, 1.0)))])
                guard let pair = popped.array, pair.count == 2, let bytes = pair[1].bytes else { continue }
                do {
                    let env = try CeleryEnvelope.decode(bytes, place: place)
                    guard env.headers["ticket"]?.string == ticket else {
                        skipped.append("\(place): reply for another ticket \(env.headers["ticket"]?.description.prefix(40) ?? "none")")
                        continue
                    }
                    guard let o = env.body.object, o.count == 1, let (host, value) = o.first else {
                        throw CeleryFrameError(place: place, problem: "reply body is not {hostname: result}")
                    }
                    if let asked, !asked.contains(host) {
                        refused.append(host)
                        refuse(host, method: method)
                        continue
                    }
                    // One reply per hostname: a second one on the same ticket is not another worker.
                    if replies.contains(where: { $0.hostname == host }) {
                        skipped.append("\(place): a second reply from \(host.prefix(80))")
                        continue
                    }
                    replies.append(CeleryReply(hostname: host, value: value))
                } catch {
                    skipped.append(String(describing: error))
                    log("celery: skipped a frame: \(error)")
                }
            }
            if replies.count < expected { timeouts.add(1, ordering: .relaxed) }
        }
        return CeleryBroadcast(
            method: method, ticket: ticket, listeners: listeners, replies: replies.sorted { $0.hostname < $1.hostname },
            skipped: skipped, elapsedSeconds: Date().timeIntervalSince(start), expected: expectReply ? expected : 0, refused: refused)
    }

    /// Counts a refused reply and logs its source the first time it is seen (D67).
    func refuse(_ host: String, method: String) {
        let first = refusals.withLock { r -> Bool in
            r.count += 1
            guard r.logged.count < 1_000 else { return false }
            return r.logged.insert(host).inserted
        }
        if first {
            log(
                "celery: refused a \(method) reply from \(TextSanitizer.clean(String(host.prefix(120)))): that hostname was not asked (further replies from it are counted, not logged)"
            )
        }
    }
}
