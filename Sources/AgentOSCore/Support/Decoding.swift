import Foundation

extension KeyedDecodingContainer {
    /// An optional field: missing or null gives `fallback`; a value of the wrong type is an error.
    @inlinable
    func opt<T: Decodable>(_ key: Key, _ fallback: @autoclosure () -> T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback()
    }

    /// A required field: missing, null or the wrong type is an error naming the path.
    @inlinable
    func req<T: Decodable>(_ key: Key) throws -> T {
        try decode(T.self, forKey: key)
    }
}

/// A decoding failure with the JSON path where it happened, e.g. `$.jobs.recent[3].status`.
public struct DecodeFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let what: String
    public let path: String
    public let problem: String

    public init(what: String, path: String, problem: String) {
        self.what = what
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(what): \(path): \(problem)" }

    /// Turns any error from JSONDecoder into a message that names the path and the problem.
    public static func from(_ error: Error, what: String) -> DecodeFailure {
        func path(_ codingPath: [CodingKey]) -> String {
            var p = "$"
            for key in codingPath {
                if let i = key.intValue { p += "[\(i)]" } else { p += "." + key.stringValue }
            }
            return p
        }
        switch error {
        case let failure as DecodeFailure:
            return failure
        case DecodingError.typeMismatch(let type, let ctx):
            return DecodeFailure(what: what, path: path(ctx.codingPath), problem: "expected \(jsonName(type)); \(shorten(ctx.debugDescription))")
        case DecodingError.valueNotFound(let type, let ctx):
            return DecodeFailure(what: what, path: path(ctx.codingPath), problem: "required \(jsonName(type)) is null")
        case DecodingError.keyNotFound(let key, let ctx):
            return DecodeFailure(what: what, path: path(ctx.codingPath + [key]), problem: "required field is missing")
        case DecodingError.dataCorrupted(let ctx):
            let underlying =
                (ctx.underlyingError as? FastJSONSyntaxError)?.description
                ?? (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            let detail = underlying ?? ctx.debugDescription
            return DecodeFailure(
                what: what, path: path(ctx.codingPath), problem: ctx.codingPath.isEmpty ? "not valid JSON (\(shorten(detail)))" : shorten(detail))
        default:
            return DecodeFailure(what: what, path: "$", problem: String(describing: error))
        }
    }

    private static func jsonName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "a boolean"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return name
        }
    }

    private static func shorten(_ s: String) -> String { s.count > 160 ? String(s.prefix(160)) + "…" : s }
}

/// The JSON coders used for the snapshot and events: ISO 8601 timestamps with milliseconds.
public enum AgentJSON {
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            if let seconds = try? c.decode(Double.self) { return Date(timeIntervalSince1970: seconds) }
            let text = try c.decode(String.self)
            guard let date = ISOTime.parse(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(text.prefix(40))' is not an ISO 8601 timestamp")
            }
            return date
        }
        return d
    }

    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(ISOTime.format(date))
        }
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.withoutEscapingSlashes]
        return e
    }
}
