import Foundation

/// A streaming `Encoder` writing compact JSON bytes, a drop-in for `AgentJSON.encoder()` (Foundation's
/// JSONEncoder, ISO 8601 dates with milliseconds, slashes not escaped): the same `encode(to:)` code runs
/// and the output is byte for byte what Foundation writes (`FastJSONEncoderTests` compares them).
///
/// Foundation builds a tree of boxed values and then serialises it; this writes each value as it is
/// encoded. That works for the way synthesised and hand-written conformances encode (one container per
/// value, fields in order). Anything else — a nested container, a super encoder, a container used after
/// its value ended, `Data`, `URL`, `Decimal` — makes the whole value go through Foundation's JSONEncoder
/// instead, so the result is always Foundation's.
public struct FastJSONEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> Data {
        Data(try encodeBytes(value))
    }

    public func encodeBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        let writer = FastJSONWriter()
        do {
            try writer.encodeTopLevel(value)
            return writer.out
        } catch is FastJSONWriter.Unsupported {
            return Array(try AgentJSON.encoder().encode(value))
        }
    }
}

/// The output and the stack of values being written. Each value is a frame; its container (if any)
/// writes into it while it is the innermost frame.
final class FastJSONWriter {
    /// Thrown when a value needs what streaming cannot do; `FastJSONEncoder` then uses Foundation.
    struct Unsupported: Error {}

    enum Kind: UInt8 { case none, object, array, single }

    struct Frame {
        var kind: Kind
        var count: Int
        /// Unique per frame, so a container outliving its value is detected.
        var id: Int
        /// The key (or index) under which this value sits in its parent, for error paths.
        var key: (any CodingKey)?
    }

    // One writer per `encode` call, used by one thread: no dynamic exclusivity checks needed.
    @exclusivity(unchecked) var out: [UInt8] = []
    /// Set when a value asked for something streaming cannot write (a nested container, a super
    /// encoder), even if it then writes nothing: the whole value goes through Foundation.
    @exclusivity(unchecked) var unsupported = false
    @exclusivity(unchecked) private var frames: [Frame] = []
    @exclusivity(unchecked) private var nextID = 0

    init() {
        out.reserveCapacity(4096)
        frames.reserveCapacity(16)
    }

    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        try encodeValue(value, key: nil)
        if unsupported { throw Unsupported() }
        guard !out.isEmpty else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
    }

    var codingPath: [CodingKey] { frames.dropFirst().compactMap(\.key) }

    // MARK: Frames

    @inline(__always)
    func check(_ id: Int) throws {
        guard let top = frames.last, top.id == id else { throw Unsupported() }
    }

    /// Writes `value` as a new frame: its `encode(to:)` opens (at most) one container in it.
    func encodeValue<T: Encodable>(_ value: T, key: (any CodingKey)?) throws {
        if T.self == Date.self {
            writeString(ISOTime.format(unsafeBitCast(value, to: Date.self)))
            return
        }
        // The snapshot's bulk rows: hand-written writers (FastJSONWriters.swift), same output.
        if T.self == Job.self {
            try unsafeBitCast(value, to: Job.self).writeJSON(FastJSONObjectWriter(self))
            return
        }
        if T.self == LogLine.self {
            try unsafeBitCast(value, to: LogLine.self).writeJSON(FastJSONObjectWriter(self))
            return
        }
        if T.self == AgentEvent.self, try unsafeBitCast(value, to: AgentEvent.self).writeJSONIfCommon(self) { return }
        if T.self == Data.self || T.self == URL.self || T.self == Decimal.self { throw Unsupported() }
        nextID &+= 1
        frames.append(Frame(kind: .none, count: 0, id: nextID, key: key))
        let start = out.count
        try value.encode(to: FastJSONValueEncoder(writer: self, id: nextID))
        let frame = frames.removeLast()
        switch frame.kind {
        case .object: out.append(0x7D)
        case .array: out.append(0x5D)
        case .single: if out.count == start { throw Unsupported() }
        case .none:
            // A value that encoded nothing: Foundation writes an empty object (or fails at the top).
            if !frames.isEmpty {
                out.append(0x7B)
                out.append(0x7D)
            }
        }
    }

    /// Writes `value` as a member of an object written by hand (`FastJSONObjectWriter`, whose key is
    /// already out): as inside a container, a value that encodes nothing is `{}`.
    func encodeMember<T: Encodable>(_ value: T) throws {
        nextID &+= 1
        frames.append(Frame(kind: .object, count: 1, id: nextID, key: nil))
        defer { frames.removeLast() }
        try encodeValue(value, key: nil)
    }

    /// Turns the innermost frame (which must be `id`'s and still empty) into `kind`.
    func open(_ kind: Kind, _ id: Int) throws {
        try check(id)
        let top = frames.count - 1
        switch (frames[top].kind, kind) {
        case (.none, _):
            frames[top].kind = kind
            if kind == .object { out.append(0x7B) } else if kind == .array { out.append(0x5B) }
        case (.object, .object), (.array, .array):
            break // the same container asked for again
        default:
            throw Unsupported()
        }
    }

    /// Before an element of the innermost container: the separator, and the key for objects.
    @inline(__always)
    func element(_ id: Int, key: String?) throws {
        try check(id)
        let top = frames.count - 1
        if frames[top].count > 0 { out.append(0x2C) }
        frames[top].count += 1
        if let key {
            writeString(key)
            out.append(0x3A)
        }
    }

    /// A single value container may write once.
    func single(_ id: Int) throws {
        try check(id)
        let top = frames.count - 1
        guard frames[top].kind == .none else { throw Unsupported() }
        frames[top].kind = .single
    }

    // MARK: Scalars

    func writeNull() { out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }

    func writeBool(_ b: Bool) {
        if b { out.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65]) }
    }

    func writeInteger<T: FixedWidthInteger>(_ v: T) {
        if v == 0 {
            out.append(0x30)
            return
        }
        var magnitude = v.magnitude
        if v < 0 { out.append(0x2D) }
        // Digits backwards into a small buffer, then forwards into the output.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { buffer in
            var i = 40
            while magnitude > 0 {
                i -= 1
                buffer[i] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<40]))
        }
    }

    /// As Foundation: `description` without a trailing `.0`; NaN and infinities are an error.
    func writeFloat<T: BinaryFloatingPoint & CustomStringConvertible>(_ v: T) throws {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: codingPath, debugDescription: "Unable to encode \(T.self).\(v) directly in JSON."))
        }
        var text = v.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    /// A JSON string, escaped as Foundation's writer does (`"`, `\`, control characters; not `/`).
    func writeString(_ s: String) {
        var s = s
        s.withUTF8 { bytes in
            out.append(0x22)
            var runStart = 0
            for i in 0..<bytes.count {
                let c = bytes[i]
                guard c < 0x20 || c == 0x22 || c == 0x5C else { continue }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                runStart = i + 1
                out.append(0x5C)
                switch c {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x08: out.append(0x62)
                case 0x0C: out.append(0x66)
                case 0x0A: out.append(0x6E)
                case 0x0D: out.append(0x72)
                case 0x09: out.append(0x74)
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
                }
            }
            if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count])) }
            out.append(0x22)
        }
    }
}

// MARK: - Encoder and containers

struct FastJSONValueEncoder: Encoder {
    let writer: FastJSONWriter
    let id: Int

    var codingPath: [CodingKey] { writer.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        // `Encoder.container` cannot throw: a misuse is remembered and reported by the next write.
        let ok = (try? writer.open(.object, id)) != nil
        if !ok { writer.unsupported = true }
        return KeyedEncodingContainer(FastJSONKeyedEncoder<Key>(writer: writer, id: ok ? id : -1))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        let ok = (try? writer.open(.array, id)) != nil
        if !ok { writer.unsupported = true }
        return FastJSONUnkeyedEncoder(writer: writer, id: ok ? id : -1)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        FastJSONSingleEncoder(writer: writer, id: id)
    }
}

struct FastJSONKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: FastJSONWriter
    let id: Int

    var codingPath: [CodingKey] { writer.codingPath }

    mutating func encodeNil(forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeNull()
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeBool(value)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeString(value)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        try writer.writeFloat(value)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        try writer.writeFloat(value)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int8, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int16, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int32, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int64, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt16, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        writer.writeInteger(value)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try writer.element(id, key: key.stringValue)
        try writer.encodeValue(value, key: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        writer.unsupported = true
        return KeyedEncodingContainer(FastJSONKeyedEncoder<NestedKey>(writer: writer, id: -1))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        writer.unsupported = true
        return FastJSONUnkeyedEncoder(writer: writer, id: -1)
    }

    mutating func superEncoder() -> Encoder {
        writer.unsupported = true
        return FastJSONValueEncoder(writer: writer, id: -1)
    }
    mutating func superEncoder(forKey key: Key) -> Encoder {
        writer.unsupported = true
        return FastJSONValueEncoder(writer: writer, id: -1)
    }
}

struct FastJSONUnkeyedEncoder: UnkeyedEncodingContainer {
    let writer: FastJSONWriter
    let id: Int
    private(set) var count = 0

    init(writer: FastJSONWriter, id: Int) {
        self.writer = writer
        self.id = id
    }

    var codingPath: [CodingKey] { writer.codingPath }

    private mutating func next() throws {
        try writer.element(id, key: nil)
        count += 1
    }

    mutating func encodeNil() throws {
        try next()
        writer.writeNull()
    }
    mutating func encode(_ value: Bool) throws {
        try next()
        writer.writeBool(value)
    }
    mutating func encode(_ value: String) throws {
        try next()
        writer.writeString(value)
    }
    mutating func encode(_ value: Double) throws {
        try next()
        try writer.writeFloat(value)
    }
    mutating func encode(_ value: Float) throws {
        try next()
        try writer.writeFloat(value)
    }
    mutating func encode(_ value: Int) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int8) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int16) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int32) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int64) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt8) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt16) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt32) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt64) throws {
        try next()
        writer.writeInteger(value)
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = count
        try next()
        try writer.encodeValue(value, key: FastJSONKey(index: index))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        writer.unsupported = true
        return KeyedEncodingContainer(FastJSONKeyedEncoder<NestedKey>(writer: writer, id: -1))
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        writer.unsupported = true
        return FastJSONUnkeyedEncoder(writer: writer, id: -1)
    }
    mutating func superEncoder() -> Encoder {
        writer.unsupported = true
        return FastJSONValueEncoder(writer: writer, id: -1)
    }
}

struct FastJSONSingleEncoder: SingleValueEncodingContainer {
    let writer: FastJSONWriter
    let id: Int

    var codingPath: [CodingKey] { writer.codingPath }

    mutating func encodeNil() throws {
        try writer.single(id)
        writer.writeNull()
    }
    mutating func encode(_ value: Bool) throws {
        try writer.single(id)
        writer.writeBool(value)
    }
    mutating func encode(_ value: String) throws {
        try writer.single(id)
        writer.writeString(value)
    }
    mutating func encode(_ value: Double) throws {
        try writer.single(id)
        try writer.writeFloat(value)
    }
    mutating func encode(_ value: Float) throws {
        try writer.single(id)
        try writer.writeFloat(value)
    }
    mutating func encode(_ value: Int) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int8) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int16) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int32) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: Int64) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt8) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt16) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt32) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode(_ value: UInt64) throws {
        try writer.single(id)
        writer.writeInteger(value)
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        // The value replaces this frame's content: write it in place (a date, or a value with its own container).
        try writer.single(id)
        try writer.encodeValue(value, key: nil)
    }
}
