import Foundation

/// Any JSON value as a tree that keeps integers, floats, booleans and null apart: what Celery and
/// kombu send (envelopes, event bodies, control replies), and the JSON the log export re-encodes.
public enum JSONTree: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONTree])
    case object([String: JSONTree])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONTree].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONTree].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Parses JSON text with `FastJSONParser` (D82) into the tree `JSONDecoder` gives through
    /// `init(from:)`: a number is `.int` when it reads as an `Int` (`2`, `2.0`, `1.5e3`, a non-zero
    /// number too small for a Double reads as 0), else `.double`; the first of duplicate keys wins; a
    /// trailing comma, a byte order mark and UTF-16/32 text are accepted; at most 512 levels. Invalid
    /// UTF-8, text after the value and numbers out of range are refused; the error names the byte.
    public static func parse(_ bytes: [UInt8]) throws(FastJSONSyntaxError) -> JSONTree {
        try bytes.withUnsafeBufferPointer { (all) throws(FastJSONSyntaxError) -> JSONTree in
            switch FastJSONDecoder.encoding(of: all) {
            case (.utf8, let bom):
                return try parseUTF8(UnsafeBufferPointer(rebasing: all[bom...]))
            case (let encoding, let bom):
                guard let text = String(bytes: all[bom...], encoding: encoding) else {
                    throw FastJSONSyntaxError(reason: "Text is neither UTF-8 nor valid \(encoding)", offset: 0, line: 1, column: 1)
                }
                return try Array(text.utf8).withUnsafeBufferPointer { (utf8) throws(FastJSONSyntaxError) -> JSONTree in try parseUTF8(utf8) }
            }
        }
    }

    private static func parseUTF8(_ bytes: UnsafeBufferPointer<UInt8>) throws(FastJSONSyntaxError) -> JSONTree {
        let (tape, _) = try FastJSONParser.parse(bytes, maxDepth: 512)
        defer { tape.deallocate() }
        var builder = TreeBuilder(base: bytes.baseAddress!, count: bytes.count, tape: tape)
        return try builder.next()
    }

    /// Walks a parsed tape in order, one tree node per tape node.
    private struct TreeBuilder {
        let base: UnsafePointer<UInt8>
        let count: Int
        let tape: UnsafeMutablePointer<FastJSONNode>
        var at = 0

        mutating func next() throws(FastJSONSyntaxError) -> JSONTree {
            let node = tape[at]
            at += 1
            switch node.kind {
            case .null: return .null
            case .true: return .bool(true)
            case .false: return .bool(false)
            case .string: return .string(FastJSONValue.string(base, node))
            case .number:
                if let i = FastJSONValue.integer(base, node, as: Int.self) { return .int(i) }
                if let d = FastJSONValue.double(base, node) { return .double(d) }
                let text = String(decoding: UnsafeBufferPointer(start: base + Int(node.a), count: Int(node.b)), as: UTF8.self)
                // Foundation's integer path reads an underflowing number (1e-400) as 0; only overflow fails.
                if Double(text) == 0 { return .int(0) }
                throw FastJSONSyntaxError("Number \(text.prefix(40)) is out of range", at: Int(node.a), in: base, count: count)
            case .array:
                var a: [JSONTree] = []
                a.reserveCapacity(Int(node.a))
                for _ in 0..<node.a { a.append(try next()) }
                return .array(a)
            case .object:
                var o = [String: JSONTree](minimumCapacity: Int(node.a))
                for _ in 0..<node.a {
                    let key = FastJSONValue.string(base, tape[at])
                    at += 1
                    let value = try next()
                    if o[key] == nil { o[key] = value } // the first of duplicate keys wins, as in Foundation
                }
                return .object(o)
            }
        }
    }

    /// Compact JSON with sorted keys (what the console publishes and shows).
    public var json: String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: enc.encode(self), as: UTF8.self)) ?? "null"
    }

    public var description: String {
        if case .string(let s) = self { return s }
        return json
    }

    public subscript(key: String) -> JSONTree? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var object: [String: JSONTree]? { if case .object(let o) = self { return o } else { return nil } }
    public var array: [JSONTree]? { if case .array(let a) = self { return a } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var isNull: Bool { self == .null }
    public var double: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    public var int: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        case .string(let s): return Int(s)
        default: return nil
        }
    }
}
