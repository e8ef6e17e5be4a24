import Foundation

/// The one place that hides passwords in connection strings and in text that may quote one (error
/// messages, notices, log lines): the console's settings, the PostgreSQL and the Redis adapters all use
/// it. What it hides is also what counts as "a password on the command line" (`containsPassword`).
public enum SecretRedactor {
    /// `scheme://userinfo@`: the userinfo runs to the last `@` before the host part ends.
    static let userinfo = try! NSRegularExpression(pattern: #"\b([A-Za-z][A-Za-z0-9+.-]*)://([^/?#\s]*)@"#)
    /// `password=…`, `…_password=…` (`sentinel_password`), `PGPASSWORD=…`, and the bus keys
    /// (`AGENTOS_BUS_KEY=…`, `…bus_previous_key=…`, D66), as a query item or a
    /// key/value pair: a quoted value up to its closing quote (backslash escapes honoured), a quote never
    /// closed up to the end of the line, else up to the next `&` or blank. Values must be non-empty.
    static let assignment = try! NSRegularExpression(
        pattern: #"\b([A-Za-z0-9_.-]*(?:password|bus_key|bus_previous_key))(\s*=\s*)"#
            + #"('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|['"][^\n]*|[^&\s'"][^&\s]*)"#,
        options: [.caseInsensitive])

    /// `text` with every password in it replaced by `***`: URL userinfo (`u:***@`; Redis's
    /// password-only `redis://***@`), query items and key/value pairs named `…password`.
    /// `bareRedisUserinfo: false` when a password is given elsewhere: `redis://word@host` then names a user.
    public static func redact(_ text: String, bareRedisUserinfo: Bool = true) -> String {
        var out = text as NSString
        // Back to front, so earlier ranges stay valid.
        for m in assignment.matches(in: out as String, range: NSRange(location: 0, length: out.length)).reversed() {
            out = out.replacingCharacters(in: m.range(at: 3), with: "***") as NSString
        }
        for m in userinfo.matches(in: out as String, range: NSRange(location: 0, length: out.length)).reversed() {
            let scheme = out.substring(with: m.range(at: 1)).lowercased()
            let info = out.substring(with: m.range(at: 2))
            let range = m.range(at: 2)
            if let colon = info.firstIndex(of: ":") {
                guard info[info.index(after: colon)...] != "" else { continue }
                out = out.replacingCharacters(in: range, with: String(info[..<colon]) + ":***") as NSString
            } else if scheme.hasPrefix("redis"), !info.isEmpty, bareRedisUserinfo {
                out = out.replacingCharacters(in: range, with: "***") as NSString // redis://secret@host: password only
            }
        }
        return out as String
    }

    /// Whether `text` holds a password (what `redact` would hide), e.g. a URL given on a flag.
    public static func containsPassword(_ text: String, bareRedisUserinfo: Bool = true) -> Bool {
        redact(text, bareRedisUserinfo: bareRedisUserinfo) != text
    }
}
