import AgentOSCore
import Foundation

/// Why a frame on a Celery channel or reply queue was skipped (counted and logged, never fatal).
public struct CeleryFrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where it came from: the channel or key.
    public let place: String
    public let problem: String
    public init(place: String, problem: String) {
        self.place = place
        self.problem = problem
    }
    public var description: String { "\(place): \(problem)" }
}

/// A kombu message envelope (celery-redis-protocol.md §0.1) with its body decoded:
/// base64 (`properties.body_encoding`) → UTF-8 JSON. Other serializers (pickle, yaml, msgpack)
/// are refused by name: the console never unpickles.
public struct CeleryEnvelope: Sendable, Equatable {
    public var headers: [String: JSONTree]
    public var properties: [String: JSONTree]
    public var body: JSONTree

    public init(headers: [String: JSONTree], properties: [String: JSONTree], body: JSONTree) {
        self.headers = headers
        self.properties = properties
        self.body = body
    }

    /// Largest frame the console looks at (a Celery event is a few hundred bytes; a stats reply a few KB).
    public static let maxBytes = 4 << 20

    public static func decode(_ bytes: [UInt8], place: String) throws(CeleryFrameError) -> CeleryEnvelope {
        func fail(_ problem: String) -> CeleryFrameError { CeleryFrameError(place: place, problem: problem) }
        guard bytes.count <= maxBytes else { throw fail("frame of \(bytes.count) bytes is over the \(maxBytes)-byte limit") }
        let root: JSONTree
        do { root = try CeleryJSON.parse(bytes) } catch { throw fail("not JSON (\(bytes.count) bytes): \(Self.reason(error))") }
        guard let o = root.object else { throw fail("envelope is not a JSON object") }
        let contentType = o["content-type"]?.string ?? "application/json"
        guard contentType == "application/json" else {
            throw fail("content-type '\(contentType.prefix(60))' is not application/json (only the JSON serializer is read; pickle is never loaded)")
        }
        if let enc = o["content-encoding"]?.string, enc.lowercased() != "utf-8" {
            throw fail("content-encoding '\(enc.prefix(40))' is not utf-8")
        }
        let properties = o["properties"]?.object ?? [:]
        let headers = o["headers"]?.object ?? [:]
        guard let rawBody = o["body"] else { throw fail("envelope has no body") }
        let bodyBytes: [UInt8]
        switch properties["body_encoding"]?.string {
        case "base64"?:
            guard let text = rawBody.string else { throw fail("base64 body is not a string") }
            guard let data = Data(base64Encoded: text) else {
                throw fail("body is not valid base64 (\(text.utf8.count) characters; truncated?)")
            }
            bodyBytes = Array(data)
        case nil, "utf-8"?:
            // kombu without body_encoding: the body is the JSON text itself (or already a value).
            guard let text = rawBody.string else { return CeleryEnvelope(headers: headers, properties: properties, body: rawBody) }
            bodyBytes = Array(text.utf8)
        case let other?:
            throw fail("body_encoding '\(other.prefix(40))' is not base64")
        }
        guard String(validating: bodyBytes, as: UTF8.self) != nil else { throw fail("body is not UTF-8") }
        do {
            return CeleryEnvelope(headers: headers, properties: properties, body: try CeleryJSON.parse(bodyBytes))
        } catch {
            throw fail("body is not JSON (\(bodyBytes.count) bytes): \(Self.reason(error))")
        }
    }

    /// The routing key of `properties.delivery_info`.
    public var routingKey: String? { properties["delivery_info"]?["routing_key"]?.string }

    static func reason(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let ctx) = error {
            return (ctx.underlyingError.map { String(describing: $0) } ?? ctx.debugDescription).prefix(160).description
        }
        return String(describing: error).prefix(160).description
    }
}

/// JSON text straight into a `JSONTree` (D79): what every Celery frame goes through, twice (the
/// envelope, then its body). `JSONTree.parse` goes through Foundation's `JSONDecoder`, whose
/// `JSONTree.init(from:)` tries each type in turn, a thrown error per miss. The same trees: a
/// number that is whole and fits is `.int` (2, 2.0, 1.5e3), any other `.double`; strings must be
/// UTF-8; at most 512 levels.
enum CeleryJSON {
    struct Failure: Error, CustomStringConvertible {
        let offset: Int
        let problem: String
        var description: String { "byte \(offset): \(problem)" }
    }

    static func parse(_ bytes: [UInt8]) throws -> JSONTree {
        try bytes.withUnsafeBufferPointer { buffer in
            var p = Parser(bytes: buffer)
            let value = try p.value(depth: 0)
            p.skipSpace()
            guard p.at == buffer.count else { throw Failure(offset: p.at, problem: "text after the JSON value") }
            return value
        }
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func fail(_ problem: String) -> Failure { Failure(offset: at, problem: problem) }

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func value(depth: Int) throws -> JSONTree {
            guard depth < 512 else { throw fail("nested deeper than 512") }
            skipSpace()
            guard at < bytes.count else { throw fail("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var o: [String: JSONTree] = [:]
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                    at += 1
                    return .object(o)
                }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    at += 1
                    o[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard at < bytes.count else { throw fail("unexpected end in an object") }
                    if bytes[at] == UInt8(ascii: ",") {
                        at += 1
                    } else if bytes[at] == UInt8(ascii: "}") {
                        at += 1
                        return .object(o)
                    } else {
                        throw fail("expected ',' or '}'")
                    }
                }
            case UInt8(ascii: "["):
                at += 1
                var a: [JSONTree] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                    at += 1
                    return .array(a)
                }
                while true {
                    a.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw fail("unexpected end in an array") }
                    if bytes[at] == UInt8(ascii: ",") {
                        at += 1
                    } else if bytes[at] == UInt8(ascii: "]") {
                        at += 1
                        return .array(a)
                    } else {
                        throw fail("expected ',' or ']'")
                    }
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try number()
            }
        }

        mutating func literal(_ word: StaticString, _ v: JSONTree) throws -> JSONTree {
            let n = word.utf8CodeUnitCount
            guard at + n <= bytes.count, memcmp(bytes.baseAddress! + at, word.utf8Start, n) == 0 else { throw fail("unknown literal") }
            at += n
            return v
        }

        mutating func number() throws -> JSONTree {
            let start = at
            var integral = true
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let digits = at
            while at < bytes.count {
                let c = bytes[at]
                if c >= 0x30 && c <= 0x39 {
                    at += 1
                } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+")
                    || c == UInt8(ascii: "-")
                {
                    integral = false
                    at += 1
                } else {
                    break
                }
            }
            guard at > digits, bytes[digits] >= 0x30 && bytes[digits] <= 0x39 else { throw fail("not a JSON value") }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            if integral, let i = Int(text) { return .int(i) }
            guard let d = Double(text), d.isFinite else { throw fail("bad number '\(text.prefix(40))'") }
            // As Foundation's decoder reads it into a JSONTree: a whole number that fits is an Int (2.0, 1.5e3).
            if d == d.rounded(), abs(d) < 9.2e18 { return .int(Int(d)) }
            return .double(d)
        }

        /// A string at `at` (its opening quote); escapes decoded, the text checked as UTF-8.
        mutating func string() throws -> String {
            at += 1
            let start = at
            while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\") { at += 1 }
            guard at < bytes.count else { throw fail("unterminated string") }
            if bytes[at] == UInt8(ascii: "\"") {
                defer { at += 1 }
                guard let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self) else {
                    throw fail("string is not UTF-8")
                }
                return s
            }
            var out = Array(bytes[start..<at])
            while true {
                guard at < bytes.count else { throw fail("unterminated string") }
                let c = bytes[at]
                if c == UInt8(ascii: "\"") {
                    at += 1
                    break
                }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    at += 1
                    continue
                }
                at += 1
                guard at < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                            throw fail("lone high surrogate")
                        }
                        at += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("bad low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("bad \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("bad escape")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not UTF-8") }
            return s
        }

        mutating func hex4() throws -> UInt32 {
            guard at + 4 <= bytes.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[at]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("bad hex digit in \\u escape")
                }
                v = v << 4 | d
                at += 1
            }
            return v
        }
    }
}
