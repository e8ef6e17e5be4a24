import Foundation

/// Writes one JSON object member by member, for the hand-written writers below.
///
/// Only for the snapshot's bulk rows (jobs and log lines) and the events every action publishes (job
/// patches, action notices; the bus envelope is `EventEnvelope.body`): going through `encode(to:)` costs a container box,
/// protocol witnesses and an escaping pass over every key per field. Each writer lists the members
/// exactly as the synthesised `encode(to:)` would (declaration order, CodingKeys names, optionals left
/// out when nil), and `FastJSONEncoderTests` compares the output with Foundation's for values with every
/// optional set and unset: change a type and its writer together.
struct FastJSONObjectWriter {
    let w: FastJSONWriter
    private var first = true

    init(_ writer: FastJSONWriter) {
        w = writer
        w.out.append(0x7B)
    }

    /// `"key":` (keys here are plain ASCII: no escaping needed).
    @inline(__always)
    private mutating func key(_ k: StaticString) {
        if first { first = false } else { w.out.append(0x2C) }
        w.out.append(0x22)
        w.out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        w.out.append(0x22)
        w.out.append(0x3A)
    }

    mutating func string(_ k: StaticString, _ v: String) {
        key(k)
        w.writeString(v)
    }
    mutating func string(_ k: StaticString, _ v: String?) { if let v { string(k, v) } }
    mutating func int<T: FixedWidthInteger>(_ k: StaticString, _ v: T) {
        key(k)
        w.writeInteger(v)
    }
    mutating func int(_ k: StaticString, _ v: Int?) { if let v { int(k, v) } }
    mutating func double(_ k: StaticString, _ v: Double) throws {
        key(k)
        try w.writeFloat(v)
    }
    mutating func double(_ k: StaticString, _ v: Double?) throws { if let v { try double(k, v) } }
    /// Any other value, through its `encode(to:)`.
    mutating func value<T: Encodable>(_ k: StaticString, _ v: T) throws {
        key(k)
        try w.encodeMember(v)
    }
    mutating func date(_ k: StaticString, _ v: Date) {
        key(k)
        w.writeString(ISOTime.format(v))
    }
    mutating func date(_ k: StaticString, _ v: Date?) { if let v { date(k, v) } }

    func end() { w.out.append(0x7D) }
}

extension Job {
    /// As the synthesised `encode(to:)`.
    func writeJSON(_ o: FastJSONObjectWriter) throws {
        var o = o
        o.string("id", id)
        o.string("name", name)
        o.string("pipeline", pipeline)
        o.string("stage", stage)
        o.string("queue", queue)
        o.string("status", status.rawValue)
        o.int("priority", priority)
        try o.double("progress", progress)
        o.int("attempts", attempts)
        o.int("max_attempts", maxAttempts)
        o.string("worker", workerID)
        o.string("owner", owner)
        o.date("created_at", createdAt)
        o.date("updated_at", updatedAt)
        o.date("started_at", startedAt)
        o.date("finished_at", finishedAt)
        o.string("error", error)
        o.string("error_class", errorClass)
        o.string("traceback", traceback)
        o.date("eta", eta)
        o.end()
    }
}

extension LogLine {
    /// As the synthesised `encode(to:)`.
    func writeJSON(_ o: FastJSONObjectWriter) throws {
        var o = o
        o.int("id", id)
        o.date("ts", ts)
        o.string("level", level.rawValue)
        o.string("source", source)
        o.string("message", message)
        o.string("job_id", jobID)
        o.string("worker", workerID)
        o.end()
    }
}

extension JobPatch {
    /// As the synthesised `encode(to:)`.
    func writeJSON(_ o: FastJSONObjectWriter) throws {
        var o = o
        o.string("id", id)
        o.string("name", name)
        o.string("stage", stage)
        o.string("queue", queue)
        o.string("status", status?.rawValue)
        o.int("priority", priority)
        try o.double("progress", progress)
        o.int("attempts", attempts)
        o.string("worker", workerID)
        o.string("owner", owner)
        o.date("created_at", createdAt)
        o.date("updated_at", updatedAt)
        o.date("started_at", startedAt)
        o.date("finished_at", finishedAt)
        o.string("error", error)
        o.string("error_class", errorClass)
        o.date("eta", eta)
        o.end()
    }
}

extension ActionNotice {
    /// As the synthesised `encode(to:)`.
    func writeJSON(_ o: FastJSONObjectWriter) {
        var o = o
        o.string("action", action)
        o.string("user", user)
        o.string("outcome", outcome)
        o.string("target", target)
        o.string("request_id", requestID)
        o.string("summary", summary)
        o.end()
    }
}

extension AgentEvent {
    /// The events every action publishes, as `encode(to:)` writes them; false for the others, which
    /// go through `encode(to:)`.
    func writeJSONIfCommon(_ w: FastJSONWriter) throws -> Bool {
        switch self {
        case .jobCreated(let p), .jobUpdated(let p), .jobCancelled(let p), .jobRetried(let p): try p.writeJSON(FastJSONObjectWriter(w))
        case .actionExecuted(let n): n.writeJSON(FastJSONObjectWriter(w))
        case .cacheInvalidated: FastJSONObjectWriter(w).end()
        default: return false
        }
        return true
    }
}
