import Foundation
import AgentOSCrypto

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

    /// (type OID, text form or binary bytes, format 0 = text / 1 = binary)
    var wire: (oid: UInt32, bytes: [UInt8]?, format: Int32) {
        switch self {
        case .null: return (0, nil, 0)
        case let .text(s): return (0, Array(s.utf8), 0)
        case let .int(i): return (20, Array(String(i).utf8), 0)
        case let .double(d): return (701, Array(Self.formatDouble(d).utf8), 0)
        case let .bool(b): return (16, Array((b ? "t" : "f").utf8), 0)
        case let .bytes(b): return (17, b, 1)
        case let .uuid(u): return (2950, Array(u.uuidString.lowercased().utf8), 0)
        case let .timestamp(d): return (1184, Array(PostgresTimestamp.format(d).utf8), 0)
        case let .json(s): return (3802, Array(s.utf8), 0)
        case let .textArray(items): return (1009, Array(Self.arrayLiteral(items).utf8), 0)
        }
    }

    private static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
        return String(d)
    }

    static func arrayLiteral(_ items: [String]) -> String {
        "{" + items.map { item in
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
                while i < chars.count - 1 && chars[i] != "," { item.append(chars[i]); i += 1 }
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
        let b = Array(text.utf8)
        func num(_ start: Int, _ len: Int) -> Int? {
            guard start + len <= b.count else { return nil }
            var v = 0
            for i in start..<(start + len) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 19, let year = num(0, 4), b[4] == 45, let month = num(5, 2), b[7] == 45, let day = num(8, 2),
              b[10] == 32 || b[10] == 84, let hour = num(11, 2), b[13] == 58, let minute = num(14, 2), b[16] == 58,
              let second = num(17, 2) else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count && b[i] == 46 {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offsetSeconds = 0
        if i < b.count {
            if b[i] == 90 { i += 1 } // Z
            else if b[i] == 43 || b[i] == 45 {
                let sign = b[i] == 45 ? -1 : 1
                guard let oh = num(i + 1, 2) else { return nil }
                var om = 0, os = 0
                var j = i + 3
                if j < b.count && b[j] == 58 { guard let m = num(j + 1, 2) else { return nil }; om = m; j += 3 }
                if j < b.count && b[j] == 58 { guard let s = num(j + 1, 2) else { return nil }; os = s; j += 3 }
                offsetSeconds = sign * (oh * 3600 + om * 60 + os)
                i = j
            } else { return nil }
        }
        guard i == b.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    /// `2026-11-26T21:40:00.123456Z` with microseconds, which PostgreSQL reads back exactly.
    public static func format(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        var whole = Int(t.rounded(.down))
        var micros = Int(((t - Double(whole)) * 1_000_000).rounded())
        if micros >= 1_000_000 { whole += 1; micros -= 1_000_000 }
        let days = Int((Double(whole) / 86_400).rounded(.down))
        let secs = whole - days * 86_400
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int, _ n: Int) -> String {
            let s = String(v)
            return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secs / 3600, 2)):\(pad(secs % 3600 / 60, 2)):\(pad(secs % 60, 2)).\(pad(micros, 6))Z"
    }

    // Howard Hinnant's civil calendar algorithms.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
