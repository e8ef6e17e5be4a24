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
        do { root = try JSONTree.parse(bytes) } catch { throw fail("not JSON (\(bytes.count) bytes): \(Self.reason(error))") }
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
            return CeleryEnvelope(headers: headers, properties: properties, body: try JSONTree.parse(bodyBytes))
        } catch {
            throw fail("body is not JSON (\(bodyBytes.count) bytes): \(Self.reason(error))")
        }
    }

    /// The routing key of `properties.delivery_info`.
    public var routingKey: String? { properties["delivery_info"]?["routing_key"]?.string }

    /// `JSONTree.parse`'s error (what and at which byte), shortened for a log line.
    static func reason(_ error: Error) -> String { String(describing: error).prefix(160).description }
}
