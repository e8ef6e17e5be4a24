import AgentOSCore
import AgentOSCrypto
import Foundation

/// A query parameter. Text is sent untyped so the server infers the column type
/// (text, varchar, inet, enum…); the others carry their type.
public enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    case uuid(UUID)
    case timestamp(Date)
    /// JSON text, sent as jsonb.
    case json(String)
    /// A text[] value.
    case textArray([String])

    /// The type OID `wire` sends (0: the server infers it).
    var oid: UInt32 {
        switch self {
        case .null, .text: return 0
        case .int: return 20
        case .double: return 701
        case .bool: return 16
        case .bytes: return 17
        case .uuid: return 2950
        case .timestamp: return 1184
        case .json: return 3802
        case .textArray: return 1009
        }
    }

    /// 0: text form, 1: binary (bytea and uuid, whose bytes need no formatting).
    var format: Int32 {
        switch self {
        case .bytes, .uuid: return 1
        default: return 0
        }
    }

    /// Appends the value as sent (its text form, or its binary bytes); false for NULL, which
    /// sends no bytes. Written straight into the caller's buffer: no array per value.
    func append(to out: inout [UInt8]) -> Bool {
        switch self {
        case .null: return false
        case .text(let s), .json(let s): out.append(contentsOf: s.utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): out.append(contentsOf: Self.formatDouble(d).utf8)
        case .bool(let b): out.append(b ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        case .bytes(let b): out.append(contentsOf: b)
        case .uuid(let u): withUnsafeBytes(of: u.uuid) { out.append(contentsOf: $0) }
        case .timestamp(let d): out.append(contentsOf: PostgresTimestamp.format(d).utf8)
        case .textArray(let items): out.append(contentsOf: Self.arrayLiteral(items).utf8)
        }
        return true
    }

    private static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
        return String(d)
    }

    static func arrayLiteral(_ items: [String]) -> String {
        "{"
            + items.map { item in
                "\"" + item.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }.joined(separator: ",") + "}"
    }
}

/// Swift values that can be bound as parameters.
public protocol PostgresBindable: Sendable {
    var postgresValue: PostgresValue { get }
}

extension PostgresValue: PostgresBindable { public var postgresValue: PostgresValue { self } }
extension String: PostgresBindable { public var postgresValue: PostgresValue { .text(self) } }
extension Int: PostgresBindable { public var postgresValue: PostgresValue { .int(Int64(self)) } }
extension Int64: PostgresBindable { public var postgresValue: PostgresValue { .int(self) } }
extension Int32: PostgresBindable { public var postgresValue: PostgresValue { .int(Int64(self)) } }
extension Double: PostgresBindable { public var postgresValue: PostgresValue { .double(self) } }
extension Bool: PostgresBindable { public var postgresValue: PostgresValue { .bool(self) } }
extension UUID: PostgresBindable { public var postgresValue: PostgresValue { .uuid(self) } }
extension Date: PostgresBindable { public var postgresValue: PostgresValue { .timestamp(self) } }
extension Array: PostgresBindable where Element == UInt8 { public var postgresValue: PostgresValue { .bytes(self) } }
extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresValue: PostgresValue { self?.postgresValue ?? .null }
}

/// Types a column can be decoded into. Decoding reads PostgreSQL's text output format.
public protocol PostgresDecodable {
    static func decode(postgresText text: String, column: String) throws(PostgresError) -> Self
    /// Called for SQL NULL; non-optional types throw.
    static func decodeNull(column: String) throws(PostgresError) -> Self
}

extension PostgresDecodable {
    public static func decodeNull(column: String) throws(PostgresError) -> Self {
        throw PostgresError(kind: .decode, message: "column \(column) is NULL, expected \(Self.self)")
    }

    static func mismatch(_ text: String, _ column: String) -> PostgresError {
        let shown = text.count > 60 ? String(text.prefix(60)) + "…" : text
        return PostgresError(kind: .decode, message: "column \(column): '\(shown)' is not a valid \(Self.self)")
    }
}

extension String: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> String { text }
}
extension Int: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> Int {
        guard let v = Int(text) else { throw mismatch(text, column) }
        return v
    }
}
extension Int64: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> Int64 {
        guard let v = Int64(text) else { throw mismatch(text, column) }
        return v
    }
}
extension Int32: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> Int32 {
        guard let v = Int32(text) else { throw mismatch(text, column) }
        return v
    }
}
extension Double: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> Double {
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let v = Double(text) else { throw mismatch(text, column) }
            return v
        }
    }
}
extension Bool: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> Bool {
        switch text {
        case "t", "true": return true
        case "f", "false": return false
        default: throw mismatch(text, column)
        }
    }
}
extension UUID: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> UUID {
        guard let v = UUID(uuidString: text) else { throw mismatch(text, column) }
        return v
    }
}
extension Date: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> Date {
        guard let v = PostgresTimestamp.parse(text) else { throw mismatch(text, column) }
        return v
    }
}
extension Array: PostgresDecodable where Element == UInt8 {
    /// bytea in the default hex output format (`\x0a1b…`).
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> [UInt8] {
        guard text.hasPrefix("\\x"), let bytes = Hex.decode(text.dropFirst(2)) else { throw mismatch(text, column) }
        return bytes
    }
}
extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> Wrapped? {
        try Wrapped.decode(postgresText: text, column: column)
    }
    public static func decodeNull(column: String) throws(PostgresError) -> Wrapped? { nil }
}

/// A json/jsonb column as its text, with a helper to decode it.
public struct PostgresJSON: PostgresDecodable, Sendable, Equatable {
    public var text: String
    public init(_ text: String) { self.text = text }
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> PostgresJSON { PostgresJSON(text) }
    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(T.self, from: Data(text.utf8)) }
}

/// A text[] (or other one-dimensional array) column, parsed from PostgreSQL's array literal.
public struct PostgresTextArray: PostgresDecodable, Sendable, Equatable {
    public var items: [String?]
    public static func decode(postgresText text: String, column: String) throws(PostgresError) -> PostgresTextArray {
        guard let items = parse(text) else { throw mismatch(text, column) }
        return PostgresTextArray(items: items)
    }

    static func parse(_ text: String) -> [String?]? {
        let chars = Array(text.unicodeScalars)
        guard chars.first == "{", chars.last == "}" else { return nil }
        var items: [String?] = []
        var i = 1
        if chars.count == 2 { return [] }
        while i < chars.count - 1 {
            if chars[i] == "\"" {
                var item = String.UnicodeScalarView()
                i += 1
                while i < chars.count - 1 && chars[i] != "\"" {
                    if chars[i] == "\\" { i += 1 }
                    item.append(chars[i])
                    i += 1
                }
                i += 1 // closing quote
                items.append(String(item))
            } else {
                var item = String.UnicodeScalarView()
                while i < chars.count - 1 && chars[i] != "," {
                    item.append(chars[i])
                    i += 1
                }
                let s = String(item)
                items.append(s == "NULL" ? nil : s)
            }
            if i < chars.count - 1 && chars[i] == "," { i += 1 }
        }
        return items
    }
}

/// timestamptz in ISO text form, as the server sends it with DateStyle=ISO.
public enum PostgresTimestamp {
    /// `2026-11-26 21:40:00.123456+00` (also `T` separator, `+05:30`, `Z`, no fraction); nil if malformed.
    public static func parse(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        return ISOTime.parse(text)
    }

    /// `2026-11-26T21:40:00.123456Z` with microseconds, which PostgreSQL reads back exactly.
    public static func format(_ date: Date) -> String { ISOTime.format(date, fractionDigits: 6) }
}
