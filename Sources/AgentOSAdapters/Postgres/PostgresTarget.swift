import AgentOSCore
import CLibPQ
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What sits between the console and PostgreSQL.
public enum PostgresPooler: String, Sendable {
    /// Nothing, or a pooler in session mode: a connection is the console's until it closes it.
    case session
    /// A pooler in transaction mode (PgBouncer `pool_mode = transaction`): a server connection is
    /// the console's only during a transaction, so nothing may outlive one — no named prepared
    /// statements, no session settings beyond those the pooler tracks, advisory locks only `_xact`.
    case transaction
}

/// A connection string as the console reads it: libpq's own (a URL or key/value pairs, with several
/// hosts if wanted: `host=a,b port=5432,5433` or `postgresql://a:5432,b:5433/db`) plus `pooler=` and
/// `read_from=`, which libpq does not know and are taken out here.
public struct PostgresTarget: Sendable, Equatable {
    /// The string for libpq, without `pooler=`.
    public let conninfo: String
    public let pooler: PostgresPooler
    /// How many hosts libpq will try (a comma-separated `host` or `hostaddr`).
    public let hostCount: Int
    /// `read_from=standby`: reads that may lag (snapshot rebuilds, analytics, exports) go to a standby
    /// when one answers (`PostgresClient.reads`); `primary`, the default, keeps them on the primary.
    public let readsFromStandby: Bool
    /// The string's own `target_session_attrs`, if any.
    public let targetSessionAttrs: String?

    public init(_ text: String) throws(PostgresError) {
        var pooler = PostgresPooler.session
        var rest = text
        if let value = Self.take("pooler", from: &rest) {
            guard let parsed = PostgresPooler(rawValue: value) else {
                throw PostgresError(kind: .client, message: "pooler must be session or transaction, got '\(value)'")
            }
            pooler = parsed
        }
        switch Self.take("read_from", from: &rest) {
        case nil, "primary": readsFromStandby = false
        case "standby": readsFromStandby = true
        case let other?: throw PostgresError(kind: .client, message: "read_from must be primary or standby, got '\(other)'")
        }
        conninfo = rest
        self.pooler = pooler
        let options = try Self.parse(rest)
        hostCount = max(
            options["host"].map { $0.split(separator: ",", omittingEmptySubsequences: false).count } ?? 1,
            options["hostaddr"].map { $0.split(separator: ",", omittingEmptySubsequences: false).count } ?? 1)
        targetSessionAttrs = options["target_session_attrs"]
    }

    /// libpq's own reading of the string: keyword → value, for the keywords it sets.
    static func parse(_ conninfo: String) throws(PostgresError) -> [String: String] {
        var message: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &message) else {
            let why = message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "out of memory"
            if let message { PQfreemem(message) }
            throw PostgresError(kind: .client, message: "invalid connection string \(SecretRedactor.redact(conninfo)): \(why)")
        }
        defer { PQconninfoFree(options) }
        var result: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { result[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return result
    }

    /// Removes `name=value` from a URL's query or from key/value pairs; returns the value.
    private static func take(_ name: String, from conninfo: inout String) -> String? {
        if let schemeEnd = conninfo.range(of: "://") {
            guard let q = conninfo[schemeEnd.upperBound...].firstIndex(of: "?") else { return nil }
            var found: String?
            let kept = conninfo[conninfo.index(after: q)...].split(separator: "&").filter { pair in
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard kv[0] == name else { return true }
                found = kv.count > 1 ? String(kv[1]) : ""
                return false
            }
            guard let found else { return nil }
            conninfo = String(conninfo[..<q]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
            return found
        }
        // Key/value: a `name=value` pair that starts the string or follows a space.
        var search = conninfo.startIndex
        while let r = conninfo.range(of: name + "=", range: search..<conninfo.endIndex) {
            if r.lowerBound == conninfo.startIndex || conninfo[conninfo.index(before: r.lowerBound)] == " " {
                var end = conninfo[r.upperBound...].firstIndex(of: " ") ?? conninfo.endIndex
                let value = String(conninfo[r.upperBound..<end])
                var start = r.lowerBound
                if end < conninfo.endIndex {
                    end = conninfo.index(after: end) // and the space after it
                } else if start > conninfo.startIndex {
                    start = conninfo.index(before: start) // or, last, the space before it
                }
                conninfo.removeSubrange(start..<end)
                return value
            }
            search = r.upperBound
        }
        return nil
    }
}
