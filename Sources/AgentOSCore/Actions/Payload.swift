import Foundation

/// One payload value: a JSON scalar.
public enum PayloadValue: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case bool(Bool)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else {
            self = .string(try c.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .bool(let b): try c.encode(b)
        }
    }

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

/// A validated payload: every value has its field's type.
public struct Payload: Sendable, Equatable {
    public private(set) var values: [String: PayloadValue]

    public init(_ values: [String: PayloadValue] = [:]) { self.values = values }

    public subscript(_ name: String) -> PayloadValue? { values[name] }
    public func string(_ name: String) -> String? { if case .string(let s)? = values[name] { return s } else { return nil } }
    public func int(_ name: String) -> Int? { if case .int(let i)? = values[name] { return i } else { return nil } }
    /// A field a handler cannot do without (validation normally guarantees it): missing is `invalid`.
    public func required(_ name: String) throws(ActionFailure) -> String {
        guard let v = string(name) else { throw .invalid(field: name, "required") }
        return v
    }
    public func requiredInt(_ name: String) throws(ActionFailure) -> Int {
        guard let v = int(name) else { throw .invalid(field: name, "required") }
        return v
    }
    public func bool(_ name: String) -> Bool? { if case .bool(let b)? = values[name] { return b } else { return nil } }

    /// Refuses when `actual` rows exceed the count the operator confirmed (`expect`); call it where
    /// the rows are counted, before the change is kept (in its transaction, under its lock).
    public func withinConfirmed(_ actual: Int) throws(ActionFailure) {
        if let confirmed = int("expect"), actual > confirmed { throw .impactExceeded(confirmed: confirmed, actual: actual) }
    }

    /// Canonical JSON: keys sorted, no whitespace (fingerprints and audit hashes use it).
    public var canonicalJSON: String { CanonicalJSON.object(values.mapValues { $0 }) }
}

/// Canonical JSON text for hashing and for the files actions write: sorted keys, no whitespace,
/// and never a raw control, C1, bidi or other format character (`TextSanitizer.isUnsafe` ones
/// are `\u` escapes).
public enum CanonicalJSON {
    public static func string(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 8)
        append(string: s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func value(_ v: PayloadValue) -> String {
        switch v {
        case .string(let s): return string(s)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        }
    }

    public static func object(_ values: [String: PayloadValue]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(32 * values.count + 2)
        out.append(UInt8(ascii: "{"))
        for (i, (key, v)) in values.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            append(string: key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch v {
            case .string(let s): append(string: s, to: &out)
            case .int(let n): out.append(contentsOf: String(n).utf8)
            case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
            }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Printable ASCII (ids, names, most text, JSON held as text) is escaped byte by byte; anything
    /// else goes scalar by scalar.
    static func append(string s: String, to out: inout [UInt8]) {
        var s = s
        // One pass over the contiguous bytes; a string without quotes or backslashes goes in one copy.
        let printable = s.withUTF8 { bytes -> Bool in
            var escapes = 0
            for b in bytes {
                guard b >= 0x20 && b < 0x7F else { return false }
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { escapes += 1 }
            }
            out.reserveCapacity(out.count + bytes.count + escapes + 2)
            out.append(UInt8(ascii: "\""))
            if escapes == 0 {
                out.append(contentsOf: bytes)
            } else {
                for b in bytes {
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                    out.append(b)
                }
            }
            out.append(UInt8(ascii: "\""))
            return true
        }
        if printable { return }
        var text = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default:
                if TextSanitizer.isUnsafe(scalar.value) {
                    text += String(format: "\\u%04x", scalar.value)
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(contentsOf: (text + "\"").utf8)
    }
}

extension ActionSpec {
    /// Checks and types a raw payload (strings from the command line are converted). Unknown
    /// fields, missing required fields, wrong types and out-of-range values are errors naming the field.
    public func validate(_ raw: [String: PayloadValue]) throws(ActionFailure) -> Payload {
        for key in raw.keys.sorted() where field(key) == nil {
            // The name as the operator can read it: an empty, huge or escape-laden name is still named.
            let shown = key.isEmpty ? "(empty name)" : TextSanitizer.clean(key.count > 60 ? key.prefix(60) + "…" : key)
            throw .invalid(field: shown, "unknown field for \(name) (fields: \(fields.map(\.name).joined(separator: ", ")))")
        }
        var out: [String: PayloadValue] = [:]
        for f in fields {
            guard let value = raw[f.name] else {
                if let d = f.defaultValue { out[f.name] = d } else if f.required { throw .invalid(field: f.name, "required (\(f.typeDescription))") }
                continue
            }
            out[f.name] = try f.check(value)
        }
        return Payload(out)
    }
}

extension FieldSpec {
    func check(_ value: PayloadValue) throws(ActionFailure) -> PayloadValue {
        func fail(_ why: String) -> ActionFailure { .invalid(field: name, why) }
        let text = value.description
        switch kind {
        case .uuid:
            guard let u = UUID(uuidString: text) else { throw fail("'\(text.prefix(60))' is not a UUID") }
            return .string(u.lowercasedString)
        case .name:
            let ok =
                !text.isEmpty && text.count <= 128
                && text.unicodeScalars.allSatisfy {
                    ($0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.:@-".unicodeScalars.contains($0)))
                }
            guard ok else { throw fail("'\(TextSanitizer.clean(String(text.prefix(60))))' is not a valid name (letters, digits, _ . : @ -)") }
            return .string(text)
        case .text(let maxLength):
            guard case .string = value else { return .string(text) }
            guard text.count <= maxLength else { throw fail("longer than \(maxLength) characters") }
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty || !required else { throw fail("must not be empty") }
            return .string(text)
        case .int(let lo, let hi):
            let n: Int
            switch value {
            case .int(let i): n = i
            case .string(let s):
                guard let i = Int(s.trimmingCharacters(in: .whitespaces)) else { throw fail("'\(s.prefix(40))' is not an integer") }
                n = i
            case .bool: throw fail("expected an integer, got a boolean")
            }
            guard n >= lo && n <= hi else { throw fail("\(n) is out of range \(lo)…\(hi)") }
            return .int(n)
        case .bool:
            switch value {
            case .bool(let b): return .bool(b)
            case .int(let i) where i == 0 || i == 1: return .bool(i == 1)
            case .string(let s):
                switch s.lowercased() {
                case "true", "yes", "on", "1": return .bool(true)
                case "false", "no", "off", "0": return .bool(false)
                default: throw fail("'\(s.prefix(40))' is not a boolean (true/false)")
                }
            default: throw fail("not a boolean")
            }
        case .choice(let values):
            guard values.contains(text) else {
                throw fail("'\(TextSanitizer.clean(String(text.prefix(40))))' is not one of \(values.joined(separator: ", "))")
            }
            return .string(text)
        case .schedule:
            guard Schedule.parse(text) != nil else {
                throw fail("'\(TextSanitizer.clean(String(text.prefix(60))))' is neither a 5-field cron expression nor an interval like 30s, 5m, 1h")
            }
            return .string(text)
        case .path:
            guard !text.isEmpty, text.count <= 512, !text.split(separator: "/").contains(".."), !text.contains("\0") else {
                throw fail("'\(TextSanitizer.clean(String(text.prefix(60))))' is not an acceptable path (no '..')")
            }
            return .string(text)
        }
    }
}

/// A manager schedule: cron (5 fields, each `*`, `*/n`, numbers, ranges and lists within
/// bounds) or an interval (`30s`, `5m`, `2h`, `1d`, also written `every 30s`).
public enum Schedule: Sendable, Equatable {
    case interval(seconds: Int)
    case cron(String)

    public static func parse(_ text: String) -> Schedule? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("every ") { t = String(t.dropFirst(6)).trimmingCharacters(in: .whitespaces) }
        if let unit = t.last, let n = Int(t.dropLast()), n > 0 {
            let mult: Int? = ["s": 1, "m": 60, "h": 3600, "d": 86_400][String(unit)]
            if let mult { return n * mult <= 30 * 86_400 ? .interval(seconds: n * mult) : nil }
        }
        let parts = t.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 5 else { return nil }
        let bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
        for (part, (lo, hi)) in zip(parts, bounds) {
            for item in part.split(separator: ",", omittingEmptySubsequences: false) {
                var body = Substring(item)
                if let slash = body.firstIndex(of: "/") {
                    guard let step = Int(body[body.index(after: slash)...]), step > 0 else { return nil }
                    body = body[..<slash]
                }
                if body == "*" { continue }
                let ends = body.split(separator: "-", omittingEmptySubsequences: false)
                guard (1...2).contains(ends.count) else { return nil }
                let nums = ends.compactMap { Int($0) }
                guard nums.count == ends.count, nums.allSatisfy({ $0 >= lo && $0 <= hi }), nums.first! <= nums.last! else { return nil }
            }
        }
        return .cron(parts.joined(separator: " "))
    }
}
