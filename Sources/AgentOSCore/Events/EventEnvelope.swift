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

    /// Decodes an envelope. Unknown types decode to `.unknown(type)`; malformed input throws a
    /// failure naming the JSON path.
    public static func decode(_ bytes: Data, decoder: JSONDecoder = AgentJSON.decoder()) throws(DecodeFailure) -> EventEnvelope {
        let header: Header
        do {
            header = try decoder.decode(Header.self, from: bytes)
        } catch {
            throw DecodeFailure.from(error, what: "event")
        }
        guard header.v == 1 else {
            throw DecodeFailure(what: "event", path: "$.v", problem: "unsupported envelope version \(header.v)")
        }
        func body<T: Decodable>(_ type: T.Type) throws(DecodeFailure) -> T {
            do {
                return try decoder.decode(Body<T>.self, from: bytes).data
            } catch {
                throw DecodeFailure.from(error, what: "event \(header.type) #\(header.seq)")
            }
        }
        let event: AgentEvent
        switch header.type {
        case "job.created": event = .jobCreated(try body(JobPatch.self))
        case "job.updated": event = .jobUpdated(try body(JobPatch.self))
        case "job.cancelled": event = .jobCancelled(try body(JobPatch.self))
        case "job.retried": event = .jobRetried(try body(JobPatch.self))
        case "job.deleted": event = .jobDeleted(id: try body(IDOnly.self).id)
        case "queue.updated", "queue.paused", "queue.resumed", "queue.cleared":
            event = .queueUpdated(try body(QueuePatch.self), cause: header.type)
        case "worker.online", "worker.heartbeat", "worker.updated", "worker.offline":
            event = .workerUpdated(try body(WorkerPatch.self), cause: header.type)
        case "manager.updated": event = .managerUpdated(try body(ManagerInfo.self))
        case "log.appended": event = .logAppended(try body(LogBatch.self).lines)
        case "config.changed": event = .configChanged(try body(ConfigEntry.self))
        case "alert.raised": event = .alertRaised(try body(Alert.self))
        case "alert.acked": event = .alertUpdated(try body(AlertPatch.self))
        case "system.maintenance": event = .maintenance(try body(Maintenance.self))
        case "system.broadcast": event = .broadcast(try body(OptionalBroadcast.self).broadcast)
        case "action.executed": event = .actionExecuted(try body(ActionNotice.self))
        case "cache.invalidated": event = .cacheInvalidated
        case "session.kick": event = .sessionKick(sessionID: try body(SessionKick.self).sessionID)
        default: event = .unknown(type: header.type)
        }
        return EventEnvelope(v: header.v, seq: header.seq, type: header.type, ts: header.ts, source: header.source, event: event)
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

    private struct Wire: Encodable {
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
struct SessionKick: Codable {
    var sessionID: String
    enum CodingKeys: String, CodingKey { case sessionID = "session_id" }
}
struct OptionalBroadcast: Decodable {
    var broadcast: Broadcast?
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Broadcast.CodingKeys.self)
        broadcast = try c.decodeIfPresent(String.self, forKey: .message) == nil ? nil : try Broadcast(from: decoder)
    }
}
