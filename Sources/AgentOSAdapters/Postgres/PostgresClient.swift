import AgentOSCore
import Synchronization

/// A thread-safe pool of PostgreSQL connections. Idle connections are checked before reuse, so
/// a server restart costs a reconnect, not a failed query. Statements are never retried
/// automatically (a lost COMMIT may or may not have happened).
///
/// With several hosts (libpq's `host=a,b port=x,y`) the pool follows a failover: a lost connection
/// or a write refused as read-only (SQLSTATE 25006, a primary turned standby) empties the pool, and
/// the next connection goes to whichever host is the read-write one by then.
public final class PostgresClient: Sendable {
    public let conninfo: String
    /// Overrides the connection string's `target_session_attrs` (the read pool's `prefer-standby`).
    public let targetSessionAttrs: String?
    private let maxIdle: Int
    private let idle: Mutex<[PostgresConnection]>
    /// The read pool the string asks for with `read_from=standby` (nil: reads stay here).
    private let standbyReads: PostgresClient?

    public init(_ conninfo: String, maxIdleConnections: Int = 4, targetSessionAttrs: String? = nil) {
        self.conninfo = conninfo
        self.targetSessionAttrs = targetSessionAttrs
        self.maxIdle = maxIdleConnections
        self.idle = Mutex([])
        let wantsStandby = targetSessionAttrs == nil && ((try? PostgresTarget(conninfo))?.readsFromStandby ?? false)
        standbyReads = wantsStandby ? PostgresClient(conninfo, maxIdleConnections: maxIdleConnections, targetSessionAttrs: "prefer-standby") : nil
    }

    /// Where reads that may lag go: the `read_from=standby` read pool when the string asks for one,
    /// else this pool. Actions, the audit trail and anything read right after a write stay here.
    public var reads: PostgresClient { standbyReads ?? self }

    /// A pool for reads that may lag a little (snapshot rebuilds, analytics, exports): a standby
    /// when one of the hosts is, else the primary (`target_session_attrs=prefer-standby`).
    public func readPool() -> PostgresClient {
        PostgresClient(conninfo, maxIdleConnections: maxIdle, targetSessionAttrs: "prefer-standby")
    }

    /// The connection target with any password hidden.
    public var target: String { SecretRedactor.redact(conninfo) }

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
        standbyReads?.shutdown()
    }

    private func checkout() throws(PostgresError) -> PostgresConnection {
        while let c = idle.withLock({ $0.popLast() }) {
            if !c.isStale { return c }
        }
        return try PostgresConnection(conninfo, targetSessionAttrs: targetSessionAttrs)
    }

    private func checkin(_ connection: PostgresConnection) {
        // A broken connection, or one whose server refused a write as read-only, says the server
        // went away or changed role: the idle ones went to the same server, so they go too.
        guard connection.isOK, !connection.refusedWrites else {
            idle.withLock { $0.removeAll() }
            return
        }
        // A connection left inside a transaction is not reused.
        guard !connection.inTransaction else { return }
        idle.withLock { pool in
            if pool.count < maxIdle { pool.append(connection) }
        }
    }
}
