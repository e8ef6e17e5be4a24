import AgentOSCrypto
import Foundation

/// Replaces personal data in payloads and reasons by a keyed HMAC (`hmac:` + 16 hex digits), so
/// audit rows, logs and events never hold it but can still be searched for it: values of fields
/// named like secrets, e-mail addresses and IP addresses anywhere in a text.
public struct PIIScrubber: Sendable {
    private let key: [UInt8]

    public init(key: [UInt8]) { self.key = key }

    /// The token a value becomes (for searching the audit by a known value).
    public func token(_ value: String) -> String {
        "hmac:" + Hex.encode(Digest.hmacSHA256(key: key, message: value).prefix(8))
    }

    public static let secretWords = [
        "password", "passwd", "secret", "token", "api_key", "apikey", "api-key", "private_key", "credential",
        "authorization", "cookie", "email", "e-mail", "phone", "ssn"
    ]
    private static let secretWordBytes = secretWords.map { Array($0.utf8) }

    public static func isSecretName(_ name: String) -> Bool {
        // Field names are ASCII: lower-cased and searched byte by byte (this runs for every field
        // of every request and outcome).
        guard name.utf8.allSatisfy({ $0 < 0x80 }) else {
            let n = name.lowercased()
            return secretWords.contains { n.contains($0) }
        }
        let n = name.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        return secretWordBytes.contains { word in
            guard word.count <= n.count else { return false }
            return (0...(n.count - word.count)).contains { at in n[at..<(at + word.count)].elementsEqual(word) }
        }
    }

    public func scrub(_ payload: Payload) -> [String: PayloadValue] {
        var out: [String: PayloadValue] = [:]
        // config.set carries the secret-ness in its key (`smtp.password`).
        let secretConfig = payload.string("key").map(Self.isSecretName) ?? false
        for (name, value) in payload.values {
            if Self.isSecretName(name) || (secretConfig && name == "value") {
                out[name] = .string(token(value.description))
            } else if case .string(let s) = value {
                out[name] = .string(scrub(text: s))
            } else {
                out[name] = value
            }
        }
        return out
    }

    /// E-mail addresses, IPv4 and IPv6 addresses inside free text become tokens.
    public func scrub(text: String) -> String {
        // Most texts (ids, names, messages) cannot hold any of the patterns: an e-mail address
        // needs '@', an IPv4 address three dots, an IPv6 address two colons.
        var at = false
        var dots = 0
        var colons = 0
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "@"): at = true
            case UInt8(ascii: "."): dots += 1
            case UInt8(ascii: ":"): colons += 1
            default: break
            }
        }
        guard at || dots >= 3 || colons >= 2 else { return text }
        let possible = [at, dots >= 3, colons >= 2]
        var result = text
        for (regex, may) in zip(Self.patterns, possible) where may {
            let ns = result as NSString
            let matches = regex.matches(in: result, range: NSRange(location: 0, length: ns.length))
            for m in matches.reversed() {
                let found = ns.substring(with: m.range)
                result = (result as NSString).replacingCharacters(in: m.range, with: token(found))
            }
        }
        return result
    }

    private static let patterns: [NSRegularExpression] = [
        try! NSRegularExpression(pattern: #"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"#),
        try! NSRegularExpression(pattern: #"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"#),
        try! NSRegularExpression(pattern: #"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b"#)
    ]
}
