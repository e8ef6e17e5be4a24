import AgentOSCrypto
import Foundation

/// A deployment bus key (D66): the secret every console, warmer, simulator and headless command of
/// one deployment shares, named by a short id so a rotation can accept two at once.
public struct BusKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let id: String
    let secret: [UInt8]

    /// nil when the id is not 1–32 of `A-Z a-z 0-9 _ -` (it sits between the dots of a MAC) or the
    /// secret is shorter than 16 bytes.
    public init?(id: String, secret: String) {
        let bytes = Array(secret.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard Self.validID(id), bytes.count >= 16 else { return nil }
        self.id = id
        self.secret = bytes
    }

    public static func validID(_ id: String) -> Bool {
        (1...32).contains(id.utf8.count) && id.utf8.allSatisfy { BusAuth.isMACCharacter($0) && $0 != UInt8(ascii: ".") }
    }

    /// Never the secret.
    public var description: String { "<bus key \(id)>" }
    public var debugDescription: String { description }
}

/// The keys a process signs and verifies with: signing uses `current`; `current` and `previous`
/// are both accepted (a rotation). No `current`: the bus is unsigned, as before D66 (nothing is
/// signed, everything is accepted, and a live console says BUS UNSIGNED).
public struct BusKeys: Sendable, Equatable, CustomStringConvertible {
    public var current: BusKey?
    public var previous: BusKey?

    public init(current: BusKey? = nil, previous: BusKey? = nil) {
        self.current = current
        self.previous = previous
    }

    public static let none = BusKeys()
    public var signed: Bool { current != nil }
    public var description: String { current.map { "signed with \($0)" + (previous.map { ", also accepting \($0)" } ?? "") } ?? "unsigned" }

    func key(_ id: Substring) -> BusKey? {
        if let current, current.id == id { return current }
        if let previous, previous.id == id { return previous }
        return nil
    }
}

/// Why a message from the bus was refused (counted, said once per source, ignored).
public enum BusRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// No `"mac"` while this console holds a key.
    case unsigned
    /// Signed with a key id this console does not hold.
    case unknownKey(String)
    /// A MAC that does not match the message (forged or altered).
    case badMAC
    /// A `"mac"` field that is not `v1.<keyid>.<n>.<ms>.<hex>`.
    case malformedMAC
    /// The number sealed in the MAC is not the message's own generation or sequence number.
    case numberMismatch(sealed: Int64, body: Int64)
    /// A control message signed too long ago (or too far ahead): a replay.
    case outOfTime(ms: Int64)

    public var description: String {
        switch self {
        case .unsigned: return "unsigned"
        case .unknownKey(let id): return "signed with unknown key '\(id)'"
        case .badMAC: return "bad signature"
        case .malformedMAC: return "malformed signature"
        case .numberMismatch(let sealed, let body): return "signature is for number \(sealed), the message says \(body)"
        case .outOfTime(let ms): return "signed at \(ms) ms, outside the accepted window (a replay)"
        }
    }
}

/// A message refused by the bus's authentication, with where it came from.
public struct BusRefused: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let refusal: BusRefusal
    public init(source: String, refusal: BusRefusal) {
        self.source = source
        self.refusal = refusal
    }
    public var description: String { "refused a message from \(source): \(refusal)" }
}

/// What a verified message's MAC said.
public struct BusSeal: Sendable, Equatable {
    public let keyID: String
    public let number: Int64
    public let millis: Int64
}

/// The MAC of the bus (D66): HMAC-SHA-256 over the kind, key id, namespace, number (a snapshot's
/// generation, an event's sequence number, 0 for a control message), time in ms and the JSON body,
/// carried as the document's last member: `…,"mac":"v1.<keyid>.<n>.<ms>.<hex>"}`. Readers that do
/// not verify see one more member and ignore it.
public enum BusAuth {
    public enum Kind: String, Sendable { case snapshot, event, control }

    static let field = Array(#","mac":""#.utf8)

    static func isMACCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        default: return false
        }
    }

    public static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// The MAC string for `body` (the JSON without its `"mac"` member).
    public static func mac<C: Collection>(_ key: BusKey, kind: Kind, namespace: String, number: Int64, millis: Int64, body: C) -> String
    where C.Element == UInt8 {
        let header = Array("agentos-bus/v1\n\(kind.rawValue)\n\(key.id)\n\(namespace)\n\(number)\n\(millis)\n".utf8)
        return "v1.\(key.id).\(number).\(millis).\(Hex.encode(Digest.hmacSHA256(key: key.secret, message: header + Array(body))))"
    }

    /// `json` (an object, ending in `}`) with its MAC as the last member; unchanged without a key.
    public static func seal(_ json: [UInt8], keys: BusKeys, kind: Kind, namespace: String, number: Int64, millis: Int64 = nowMillis()) -> [UInt8] {
        guard let key = keys.current, json.last == UInt8(ascii: "}"), json.count > 2 else { return json }
        let mac = mac(key, kind: kind, namespace: namespace, number: number, millis: millis, body: json)
        return json.dropLast() + field + Array(mac.utf8) + Array(#""}"#.utf8)
    }

    /// Splits off a trailing `,"mac":"…"` member: the body as signed and the MAC text (nil: none).
    static func split(_ bytes: [UInt8]) -> (body: [UInt8], mac: String?) {
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        guard end >= 3, bytes[end - 1] == UInt8(ascii: "}"), bytes[end - 2] == UInt8(ascii: "\"") else { return (bytes, nil) }
        var i = end - 2
        while i > 0, isMACCharacter(bytes[i - 1]) { i -= 1 }
        let start = i - field.count
        guard start > 0, Array(bytes[start..<i]) == field else { return (bytes, nil) }
        return (Array(bytes[..<start]) + [UInt8(ascii: "}")], String(decoding: bytes[i..<(end - 2)], as: UTF8.self))
    }

    /// Verifies a message: its body (the MAC removed) and seal, or why it is refused. Without a key
    /// (an unsigned bus) every message passes, its MAC, if any, removed unchecked.
    public static func open(_ bytes: [UInt8], keys: BusKeys, kind: Kind, namespace: String) -> Result<([UInt8], BusSeal?), BusRefusal> {
        let (body, text) = split(bytes)
        guard keys.signed else { return .success((body, nil)) }
        guard let text else { return .failure(.unsigned) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "v1", let number = Int64(parts[2]), let millis = Int64(parts[3]), parts[4].utf8.count == 64
        else { return .failure(.malformedMAC) }
        guard let key = keys.key(parts[1]) else { return .failure(.unknownKey(String(parts[1]))) }
        let expected = mac(key, kind: kind, namespace: namespace, number: number, millis: millis, body: body)
        guard constantTimeEqual(Array(expected.utf8), Array(text.utf8)) else { return .failure(.badMAC) }
        return .success((body, BusSeal(keyID: key.id, number: number, millis: millis)))
    }

    /// How far a control message's signing time may be from the receiver's clock (a replay is refused).
    public static let controlWindowMillis: Int64 = 120_000

    /// A control message (`{ns}:control`) signed over number 0 and the time now.
    public static func sealControl(_ json: String, keys: BusKeys, namespace: String) -> [UInt8] {
        seal(Array(json.utf8), keys: keys, kind: .control, namespace: namespace, number: 0)
    }

    /// A control message verified: its body, or why it is refused (also when signed outside the window).
    public static func openControl(_ bytes: [UInt8], keys: BusKeys, namespace: String, nowMillis: Int64 = nowMillis()) -> Result<[UInt8], BusRefusal>
    {
        switch open(bytes, keys: keys, kind: .control, namespace: namespace) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let (body, seal)):
            if let seal {
                guard seal.number == 0 else { return .failure(.numberMismatch(sealed: seal.number, body: 0)) }
                guard abs(seal.millis - nowMillis) <= controlWindowMillis else { return .failure(.outOfTime(ms: seal.millis)) }
            }
            return .success(body)
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// The source a refused message claims (its `"source"` member), for saying it once per source.
    public static func claimedSource(_ bytes: [UInt8], fallback: String) -> String {
        guard case .object(let object)? = try? JSONTree.parse(bytes), case .string(let source)? = object["source"], !source.isEmpty
        else { return fallback }
        return String(source.prefix(80))
    }
}

/// How far a snapshot's generation may move (D66): at most `jump` plus `perSecond` for every second
/// since the held one was adopted ahead (more than a warmer could have produced: refused); behind
/// (Redis restarted, the counter began again) refused `olderRefusals` times in a row, then adopted.
public enum GenerationBound {
    public static let jump = 10_000
    public static let perSecond = 1_000
    public static let olderRefusals = 2

    public static func limit(held: Int, elapsedSeconds: Double) -> Int {
        let extra = Int(min(Double(jump) + Double(perSecond) * max(0, elapsedSeconds), Double(Int.max / 2)))
        let (sum, overflow) = held.addingReportingOverflow(extra)
        return overflow ? Int.max : sum
    }
}
