/// A PostgreSQL failure: the SQLSTATE and the server's own words where the server answered.
public struct PostgresError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Could not connect, or the connection broke.
        case connection
        /// The server refused the statement (see `sqlState`).
        case server
        /// A value could not be decoded into the requested Swift type.
        case decode
        /// Something unexpected in the client library.
        case client
    }

    public var kind: Kind
    /// Five-character SQLSTATE, e.g. `23505` for a unique violation.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?
    /// The session is gone: the connection broke, or the server ended it (SQLSTATE 08…, or 57P…:
    /// terminated by an administrator, a crash or a shutdown). A COMMIT that met this may have committed.
    public var endedTheSession: Bool {
        kind == .connection || (sqlState.map { $0.hasPrefix("08") || $0.hasPrefix("57P") } ?? false)
    }

    /// The error came from the transaction sent ahead of another (`PostgresConnection.lead(with:onRows:)`):
    /// nothing after it ran.
    public var inLead = false

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    public var description: String {
        var text: String
        switch kind {
        case .connection: text = "PostgreSQL connection error: \(message)"
        case .server: text = "PostgreSQL error \(sqlState ?? "?????"): \(message)"
        case .decode: text = "PostgreSQL decode error: \(message)"
        case .client: text = "PostgreSQL client error: \(message)"
        }
        if let detail { text += " (\(detail))" }
        if let hint { text += " hint: \(hint)" }
        return text
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isConnectionError: Bool {
        kind == .connection || (sqlState.map { $0.hasPrefix("08") || $0 == "57P01" || $0 == "57P02" || $0 == "57P03" } ?? false)
    }
}
