import Foundation

/// The envelope of every event on the bus (`{ns}:events`, Redis DB5):
/// `{"v":1,"seq":1842,"type":"job.updated","ts":"…","source":"sim@host","data":{…}}`.
/// `seq` comes from `INCR {ns}:events:seq`, so a subscriber can see gaps.
public struct EventEnvelope: Sendable, Equatable {
    public var v: Int
    public var seq: Int64
    public var type: String
    public var ts: Date
    public var source: String
    public var event: AgentEvent

    public init(seq: Int64, ts: Date, source: String, event: AgentEvent) {
        self.v = 1
        self.seq = seq
        self.type = event.type
        self.ts = ts
        self.source = source
        self.event = event
    }

    struct Header: Decodable {
        var v: Int
        var seq: Int64
        var type: String
        var ts: Date
        var source: String

        enum CodingKeys: String, CodingKey { case v, seq, type, ts, source }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            v = try c.opt(.v, 1)
            seq = try c.req(.seq)
            type = try c.req(.type)
            ts = try c.req(.ts)
            source = try c.opt(.source, "")
        }
    }

    struct Body<T: Decodable>: Decodable {
        var data: T
    }

    /// Decodes an envelope (one parse with `FastJSONDecoder`). Unknown types decode to `.unknown(type)`;
    /// malformed input throws a failure naming the JSON path.
    public static func decode(_ bytes: Data) throws(DecodeFailure) -> EventEnvelope {
        var header: Header?
        do {
            return try FastJSONDecoder().withDocument(bytes) { document in
                let h = try document.decode(Header.self, at: 0)
                header = h
                guard h.v == 1 else {
                    throw DecodeFailure(what: "event", path: "$.v", problem: "unsupported envelope version \(h.v)")
                }
                return EventEnvelope(v: h.v, seq: h.seq, type: h.type, ts: h.ts, source: h.source, event: try event(h.type, document))
            }
        } catch let failure as DecodeFailure {
            throw failure
        } catch {
            throw DecodeFailure.from(error, what: header.map { "event \($0.type) #\($0.seq)" } ?? "event")
        }
    }

    private static func event(_ type: String, _ document: FastJSONDocument) throws -> AgentEvent {
        func body<T: Decodable>(_: T.Type) throws -> T { try document.decode(Body<T>.self, at: 0).data }
        switch type {
        case "job.created": return .jobCreated(try body(JobPatch.self))
        case "job.updated": return .jobUpdated(try body(JobPatch.self))
        case "job.cancelled": return .jobCancelled(try body(JobPatch.self))
        case "job.retried": return .jobRetried(try body(JobPatch.self))
        case "job.deleted": return .jobDeleted(id: try body(IDOnly.self).id)
        case "queue.updated", "queue.paused", "queue.resumed", "queue.cleared":
            return .queueUpdated(try body(QueuePatch.self), cause: type)
        case "worker.online", "worker.heartbeat", "worker.updated", "worker.offline":
            return .workerUpdated(try body(WorkerPatch.self), cause: type)
        case "manager.updated": return .managerUpdated(try body(ManagerInfo.self))
        case "log.appended": return .logAppended(try body(LogBatch.self).lines)
        case "config.changed": return .configChanged(try body(ConfigEntry.self))
        case "alert.raised": return .alertRaised(try body(Alert.self))
        case "alert.acked": return .alertUpdated(try body(AlertPatch.self))
        case "system.maintenance": return .maintenance(try body(Maintenance.self))
        case "system.broadcast": return .broadcast(try body(OptionalBroadcast.self).broadcast)
        case "action.executed": return .actionExecuted(try body(ActionNotice.self))
        case "cache.invalidated": return .cacheInvalidated
        case "session.kick": return .sessionKick(try body(SessionKick.self))
        case "session.started": return .sessionStarted(try body(ConsoleSession.self))
        case "session.ended": return .sessionEnded(sessionID: try body(SessionKick.self).sessionID)
        default: return .unknown(type: type)
        }
    }

    init(v: Int, seq: Int64, type: String, ts: Date, source: String, event: AgentEvent) {
        self.v = v
        self.seq = seq
        self.type = type
        self.ts = ts
        self.source = source
        self.event = event
    }

    /// The JSON form published on the bus.
    public func encoded(encoder: JSONEncoder = AgentJSON.encoder()) throws -> Data {
        try encoder.encode(Wire(v: v, seq: seq, type: type, ts: ts, source: source, data: event))
    }

    /// A message's JSON before its seal, `{"v":1,"seq":…,"type":…,"ts":…,"source":…,"data":{…}}`:
    /// the bytes `encoded()` gives (`Wire`'s synthesised `encode(to:)`), written without an `Encoder` for the envelope.
    public static func body(seq: Int64, ts: Date, source: String, event: AgentEvent) throws -> [UInt8] {
        let w = FastJSONWriter()
        var o = FastJSONObjectWriter(w)
        o.int("v", 1)
        o.int("seq", seq)
        o.string("type", event.type)
        o.date("ts", ts)
        o.string("source", source)
        do {
            try o.value("data", event)
        } catch is FastJSONWriter.Unsupported {
            w.unsupported = true
        }
        guard !w.unsupported else {
            return try FastJSONEncoder().encodeBytes(Wire(v: 1, seq: seq, type: event.type, ts: ts, source: source, data: event))
        }
        o.end()
        return w.out
    }

    /// The members in the order the bus writes them (`body` writes the same by hand).
    struct Wire: Encodable {
        var v: Int
        var seq: Int64
        var type: String
        var ts: Date
        var source: String
        var data: AgentEvent
    }
}

struct IDOnly: Codable { var id: String }
struct LogBatch: Codable { var lines: [LogLine] }
/// `session.kick`: which console session ends, who ended it, why, and the request that did (the
/// ended console's own audit row names it, so the two sides of a termination link up).
public struct SessionKick: Codable, Sendable, Equatable {
    public var sessionID: String
    public var by: String?
    public var reason: String?
    public var requestID: UUID?

    public init(sessionID: String, by: String? = nil, reason: String? = nil, requestID: UUID? = nil) {
        self.sessionID = sessionID
        self.by = by
        self.reason = reason
        self.requestID = requestID
    }

    /// What the ended console says on screen and on the terminal afterwards.
    public var sentence: String {
        "this console session (\(sessionID)) was ended by \(by ?? "an administrator") (system.session_terminate)"
            + (reason.map { ": \($0)" } ?? "")
    }

    enum CodingKeys: String, CodingKey {
        case by, reason
        case sessionID = "session_id"
        case requestID = "request_id"
    }
}
struct OptionalBroadcast: Decodable {
    var broadcast: Broadcast?
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Broadcast.CodingKeys.self)
        broadcast = try c.decodeIfPresent(String.self, forKey: .message) == nil ? nil : try Broadcast(from: decoder)
    }
}
