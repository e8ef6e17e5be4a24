import Foundation

/// A type with a hand-written reader that `FastJSONDecoder` uses instead of its `init(from:)`.
///
/// Only for the snapshot's bulk rows. Codable's containers cost a class box, protocol witnesses and
/// unspecialised generic code per field, which limits a Codable decoder to about 5x Foundation's speed;
/// these readers are specialised for their keys and value types. Each reader's body is a line-by-line
/// copy of the type's `init(from:)` (same keys, same defaults, and both read the keys in the order the
/// encoder writes them, so the document's look-up finds each one at its first try), and `FastJSONTests` decodes every field
/// missing, null and mistyped with both and requires identical results: change them together.
protocol FastJSONReadable: FastJSONDirect {
    associatedtype CodingKeys: CodingKey
    init(fastJSON c: FastJSONObject<CodingKeys>) throws
}

/// A type `FastJSONDocument.decode` decodes without `init(from:)`, straight into memory for a `Self`.
protocol FastJSONDirect: Decodable {
    static func decode(from document: FastJSONDocument, at i: Int, into memory: UnsafeMutableRawPointer) throws
}

extension FastJSONReadable {
    static func decode(from document: FastJSONDocument, at i: Int, into memory: UnsafeMutableRawPointer) throws {
        try document.checkContainer(.object, at: i)
        memory.initializeMemory(as: Self.self, to: try Self(fastJSON: FastJSONObject(document: document, node: i)))
    }
}

/// One JSON object as the readers see it: `req` and `opt` as `KeyedDecodingContainer`'s (Decoding.swift),
/// with the same errors and coding paths, but specialised for the concrete key and value types.
struct FastJSONObject<Key: CodingKey> {
    let document: FastJSONDocument
    let node: Int

    /// A required field: missing, null or the wrong type is an error naming the path.
    @inline(__always)
    func req<T: Decodable>(_ key: Key) throws -> T {
        guard let v = document.indexedLookup(key.stringValue, inObject: node) else { throw document.keyNotFound(key, inObject: node) }
        return try value(at: v)
    }

    /// An optional field: missing or null gives `fallback`; a value of the wrong type is an error.
    @inline(__always)
    func opt<T: Decodable>(_ key: Key, _ fallback: @autoclosure () -> T) throws -> T {
        guard let v = document.indexedLookup(key.stringValue, inObject: node), !document.isNull(v) else { return fallback() }
        return try value(at: v)
    }

    /// `document.decode(T.self, at:)`, with the scalar cases chosen when this is specialised for `T`.
    @inline(__always)
    private func value<T: Decodable>(at v: Int) throws -> T {
        if T.self == String.self { return try document.decodeString(at: v) as! T }
        if T.self == String?.self { return try (document.isNull(v) ? nil : document.decodeString(at: v)) as! T }
        if T.self == Date.self { return try document.decodeDate(at: v) as! T }
        if T.self == Date?.self { return try (document.isNull(v) ? nil : document.decodeDate(at: v)) as! T }
        if T.self == Int.self { return try document.decodeInteger(at: v, as: Int.self) as! T }
        if T.self == Int?.self { return try (document.isNull(v) ? nil : document.decodeInteger(at: v, as: Int.self)) as! T }
        if T.self == Double.self { return try document.decodeDouble(at: v) as! T }
        if T.self == Double?.self { return try (document.isNull(v) ? nil : document.decodeDouble(at: v)) as! T }
        if T.self == Bool.self { return try document.decodeBool(at: v) as! T }
        return try document.decode(T.self, at: v)
    }

}

/// A `String` enum whose `Decodable` conformance is the standard library's default for `RawRepresentable`
/// (decode a string, then `init(rawValue:)`), which the decoder then does directly.
protocol FastJSONStringEnum: RawRepresentable<String>, FastJSONDirect {}

extension FastJSONStringEnum {
    static func decode(from document: FastJSONDocument, at i: Int, into memory: UnsafeMutableRawPointer) throws {
        let raw = try document.decodeString(at: i)
        guard let value = Self(rawValue: raw) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: document.codingPath(to: i),
                    debugDescription: "Cannot initialize \(Self.self) from invalid String value \(raw)"))
        }
        memory.initializeMemory(as: Self.self, to: value)
    }
}

extension JobStatus: FastJSONStringEnum {}
extension WorkerStatus: FastJSONStringEnum {}
extension ManagerStatus: FastJSONStringEnum {}
extension LogLevel: FastJSONStringEnum {}
extension ConfigType: FastJSONStringEnum {}
extension AlertSeverity: FastJSONStringEnum {}
extension AlertStatus: FastJSONStringEnum {}
extension HealthStatus: FastJSONStringEnum {}
extension BreakerState: FastJSONStringEnum {}

// MARK: - Readers (keep each one identical to the type's `init(from:)`)

extension Job: FastJSONReadable {
    init(fastJSON c: FastJSONObject<CodingKeys>) throws {
        id = try c.req(.id)
        name = try c.opt(.name, "")
        pipeline = try c.opt(.pipeline, "video")
        stage = try c.opt(.stage, "")
        queue = try c.opt(.queue, stage)
        status = try c.req(.status)
        priority = try c.opt(.priority, 5)
        progress = try c.opt(.progress, 0)
        attempts = try c.opt(.attempts, 0)
        maxAttempts = try c.opt(.maxAttempts, 3)
        workerID = try c.opt(.workerID, nil)
        owner = try c.opt(.owner, "system")
        createdAt = try c.opt(.createdAt, Date(timeIntervalSince1970: 0))
        updatedAt = try c.opt(.updatedAt, createdAt)
        startedAt = try c.opt(.startedAt, nil)
        finishedAt = try c.opt(.finishedAt, nil)
        error = try c.opt(.error, nil)
        errorClass = try c.opt(.errorClass, nil)
        traceback = try c.opt(.traceback, nil)
        eta = try c.opt(.eta, nil)
    }
}

extension LogLine: FastJSONReadable {
    init(fastJSON c: FastJSONObject<CodingKeys>) throws {
        id = try c.req(.id)
        ts = try c.req(.ts)
        level = try c.req(.level)
        source = try c.opt(.source, "")
        message = try c.opt(.message, "")
        jobID = try c.opt(.jobID, nil)
        workerID = try c.opt(.workerID, nil)
    }
}

extension WorkerInfo: FastJSONReadable {
    init(fastJSON c: FastJSONObject<CodingKeys>) throws {
        id = try c.req(.id)
        hostname = try c.opt(.hostname, "")
        stage = try c.opt(.stage, "")
        queues = try c.opt(.queues, [])
        status = try c.req(.status)
        concurrency = try c.opt(.concurrency, 1)
        active = try c.opt(.active, 0)
        processed = try c.opt(.processed, 0)
        failed = try c.opt(.failed, 0)
        load = try c.opt(.load, 0)
        version = try c.opt(.version, "")
        pid = try c.opt(.pid, nil)
        autoscaleMin = try c.opt(.autoscaleMin, nil)
        autoscaleMax = try c.opt(.autoscaleMax, nil)
        rssBytes = try c.opt(.rssBytes, 0)
        heartbeatAgeSeconds = try c.opt(.heartbeatAgeSeconds, nil)
        startedAt = try c.opt(.startedAt, nil)
    }
}

extension QueueInfo: FastJSONReadable {
    init(fastJSON c: FastJSONObject<CodingKeys>) throws {
        name = try c.req(.name)
        stage = try c.opt(.stage, "")
        pending = try c.opt(.pending, 0)
        reserved = try c.opt(.reserved, 0)
        failed = try c.opt(.failed, 0)
        paused = try c.opt(.paused, false)
        rateLimit = try c.opt(.rateLimit, nil)
        consumers = try c.opt(.consumers, 0)
        oldestAgeSeconds = try c.opt(.oldestAgeSeconds, nil)
    }
}

/// Identical to `ConfigValue.init(from:)` (the first of Bool, Int, Double, String that decodes), but
/// tests the value's kind instead of catching three errors.
extension ConfigValue: FastJSONDirect {
    static func decode(from document: FastJSONDocument, at i: Int, into memory: UnsafeMutableRawPointer) throws {
        let node = document.tape[i]
        let value: ConfigValue
        if node.kind == .true || node.kind == .false {
            value = .bool(node.kind == .true)
        } else if node.kind == .number, let int = FastJSONValue.integer(document.base, node, as: Int.self) {
            value = .int(int)
        } else if node.kind == .number, let double = FastJSONValue.double(document.base, node) {
            value = .double(double)
        } else if node.kind == .string {
            value = .string(document.string(at: i))
        } else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: document.codingPath(to: i),
                    debugDescription: "a config value must be a number, boolean or string"))
        }
        memory.initializeMemory(as: ConfigValue.self, to: value)
    }
}
