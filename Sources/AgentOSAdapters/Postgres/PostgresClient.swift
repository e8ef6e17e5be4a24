import Synchronization

/// A thread-safe pool of PostgreSQL connections. Idle connections are checked before reuse, so
/// a server restart costs a reconnect, not a failed query. Statements are never retried
/// automatically (a lost COMMIT may or may not have happened).
public final class PostgresClient: Sendable {
    public let conninfo: String
    private let maxIdle: Int
    private let idle: Mutex<[PostgresConnection]>

    public init(_ conninfo: String, maxIdleConnections: Int = 4) {
        self.conninfo = conninfo
        self.maxIdle = maxIdleConnections
        self.idle = Mutex([])
    }

    /// The connection target with any password hidden.
    public var target: String { PostgresConnection.redact(conninfo) }

    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try checkout()
        defer { checkin(connection) }
        return try body(connection)
    }

    @discardableResult
    public func query(_ sql: String, _ params: [any PostgresBindable] = []) throws -> PostgresRows {
        try withConnection { try $0.query(sql, params) }
    }

    @discardableResult
    public func execute(_ sql: String) throws -> PostgresRows {
        try withConnection { try $0.execute(sql) }
    }

    /// BEGIN … COMMIT on one connection; a thrown error rolls back.
    public func transaction<T>(isolation: String? = nil, _ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { try $0.transaction(isolation: isolation, body) }
    }

    public func shutdown() {
        idle.withLock { $0.removeAll() }
    }

    private func checkout() throws(PostgresError) -> PostgresConnection {
        while let c = idle.withLock({ $0.popLast() }) {
            if !c.isStale { return c }
        }
        return try PostgresConnection(conninfo)
    }

    private func checkin(_ connection: PostgresConnection) {
        // A connection left inside a transaction (or broken) is not reused.
        guard connection.isOK, !connection.inTransaction else { return }
        idle.withLock { pool in
            if pool.count < maxIdle { pool.append(connection) }
        }
    }
}
