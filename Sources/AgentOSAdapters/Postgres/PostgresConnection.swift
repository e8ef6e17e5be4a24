import AgentOSCore
import CLibPQ
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The rows of a result, decoded from PostgreSQL's text format on access.
public struct PostgresRows: Sendable, Sequence {
    public let columns: [String]
    public let rows: [PostgresRow]
    /// Rows changed by INSERT/UPDATE/DELETE (PQcmdTuples), 0 otherwise.
    public let affectedRows: Int

    public func makeIterator() -> IndexingIterator<[PostgresRow]> { rows.makeIterator() }
    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }
    public var first: PostgresRow? { rows.first }
    public subscript(i: Int) -> PostgresRow { rows[i] }
}

public struct PostgresRow: Sendable {
    let index: [String: Int]
    public let values: [String?]

    /// Decodes a column by name; the error names the column and the value.
    public func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let i = index[column] else {
            throw PostgresError(kind: .decode, message: "no column named \(column) (have: \(index.keys.sorted().joined(separator: ", ")))")
        }
        guard let text = values[i] else { return try T.decodeNull(column: column) }
        return try T.decode(postgresText: text, column: column)
    }

    /// Decodes a column by position.
    public func get<T: PostgresDecodable>(_ position: Int, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard position < values.count else { throw PostgresError(kind: .decode, message: "no column at position \(position)") }
        let name = index.first { $0.value == position }?.key ?? "#\(position)"
        guard let text = values[position] else { return try T.decodeNull(column: name) }
        return try T.decode(postgresText: text, column: name)
    }
}

/// One libpq connection. Queries are always parameterised (PQexecParams); the session runs with
/// TimeZone=UTC and DateStyle=ISO so values decode the same everywhere. Not thread-safe: one
/// user at a time (the pool hands it over, hence `@unchecked Sendable`).
public final class PostgresConnection: @unchecked Sendable {
    private let conn: OpaquePointer
    public let target: String
    public let pooler: PostgresPooler
    /// Inside `transaction`: the BEGIN not yet sent (it travels with the first statement).
    private var pendingBegin: String?
    /// Inside `transaction`: `commit(with:)` already committed.
    private var committed = false
    /// Inside `transaction`: statements that go out with the COMMIT (`deferUntilCommit`).
    private var deferred: [Statement] = []
    /// Inside `transaction`: a transaction of its own sent ahead of the BEGIN (`lead(with:)`).
    private var leading: (statements: [Statement], onRows: ([PostgresRows]) throws -> Void)?
    /// Goes right after the BEGIN (`open(with:)`).
    private var opening: Statement?

    /// Connects with a URL (`postgresql://user@host:port/db?sslmode=verify-full`) or a key/value
    /// string (`host=… port=… dbname=…`). TLS goes through libpq's `sslmode`/`sslrootcert`. With
    /// several hosts libpq tries them in turn, for a read-write session unless the string's
    /// `target_session_attrs` (or `targetSessionAttrs`, which wins over it) says otherwise;
    /// `pooler=transaction` (see `PostgresPooler`) is ours, not libpq's.
    public init(_ conninfo: String, applicationName: String = "agentos", targetSessionAttrs: String? = nil) throws(PostgresError) {
        target = SecretRedactor.redact(conninfo)
        let parsed = try PostgresTarget(conninfo)
        pooler = parsed.pooler
        // Defaults first: the keywords inside the URL (expanded from dbname) override them, and
        // keywords after dbname override the URL's.
        var keywords = ["connect_timeout", "application_name"]
        var values = ["5", applicationName]
        if parsed.hostCount > 1 {
            keywords.append("target_session_attrs")
            values.append("read-write")
        }
        keywords.append("dbname")
        values.append(parsed.conninfo)
        if let targetSessionAttrs {
            keywords.append("target_session_attrs")
            values.append(targetSessionAttrs)
        }
        let c: OpaquePointer? = withArrayOfCStrings(keywords) { k in
            withArrayOfCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let c else { throw PostgresError(kind: .connection, message: "out of memory creating a connection to \(target)") }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(c))
            PQfinish(c)
            // Several hosts and none of them a primary: say so (a promotion may be under way).
            let wanted = targetSessionAttrs ?? parsed.targetSessionAttrs ?? (parsed.hostCount > 1 ? "read-write" : "any")
            if parsed.hostCount > 1, wanted == "read-write" || wanted == "primary" {
                throw PostgresError(
                    kind: .connection,
                    message: "no PostgreSQL primary among the \(parsed.hostCount) hosts of \(target) (a promotion may be under way): \(message)")
            }
            throw PostgresError(kind: .connection, message: "cannot connect to \(target): \(message)")
        }
        conn = c // from here on, deinit owns the connection
        agentos_pq_silence_notices(c)
        switch parsed.pooler {
        case .session:
            _ = try execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3; SET client_min_messages = 'warning'")
        case .transaction:
            // Only what PgBouncer tracks per client and restores on whichever server connection it
            // lends (TimeZone, DateStyle); since PostgreSQL 12 any positive extra_float_digits is the
            // default's shortest exact output, and notices are silenced above.
            _ = try execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'")
        }
    }

    /// The server this connection reached (`host:port`), among several hosts the one libpq chose.
    public var server: String {
        let host = PQhost(conn).map { String(cString: $0) } ?? "?"
        let port = PQport(conn).map { String(cString: $0) } ?? "?"
        return "\(host):\(port)"
    }

    /// A statement failed with SQLSTATE 25006 (read_only_sql_transaction): this server is, or has
    /// become, read-only, so the pool should find the primary again.
    public private(set) var refusedWrites = false

    deinit { PQfinish(conn) }

    /// The server's process id for this session (for pg_cancel_backend and tests).
    public var backendPID: Int32 { PQbackendPID(conn) }
    public var isOK: Bool { PQstatus(conn) == CONNECTION_OK }
    public var inTransaction: Bool { PQtransactionStatus(conn) != PQTRANS_IDLE }

    /// True when an idle connection has been closed by the server or is unusable.
    public var isStale: Bool {
        guard isOK else { return true }
        let fd = PQsocket(conn)
        guard fd >= 0 else { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, 0) == 0 { return false }
        // We never LISTEN, so data on an idle connection is a termination notice or EOF.
        _ = PQconsumeInput(conn)
        return true
    }

    /// One parameterised statement for `pipeline`.
    public struct Statement {
        public var sql: String
        public var params: [any PostgresBindable]
        public init(_ sql: String, _ params: [any PostgresBindable] = []) {
            self.sql = sql
            self.params = params
        }
    }

    /// Runs one parameterised statement and returns its rows. Inside `transaction`, the first
    /// statement travels with its BEGIN (one round trip).
    @discardableResult
    public func query(_ sql: String, _ params: [any PostgresBindable] = []) throws(PostgresError) -> PostgresRows {
        // A statement seen before runs by name (parsed and planned once per connection); a new one
        // is prepared and run in one round trip by `pipeline`, as is a transaction's first statement.
        if pendingBegin == nil {
            let bound = params.map(\.postgresValue)
            if let name = prepared[Self.preparedKey(sql, bound)] {
                return try consume(
                    withParameters(bound) { (count, _, values, lengths, formats) in
                        PQexecPrepared(conn, name, count, values, lengths, formats, 0)
                    })
            }
            if !preparesStatements || !Self.preparable(sql) || prepared.count >= Self.maxPrepared {
                return try consume(
                    withParameters(bound) { (count, types, values, lengths, formats) in
                        PQexecParams(conn, sql, count, types, values, lengths, formats, 0)
                    })
            }
        }
        return try pipeline([Statement(sql, params)])[0]
    }

    /// Sends the statements in one round trip (libpq pipeline mode) and returns each one's rows.
    /// After a failing statement the server skips the rest; the first error is thrown once the
    /// pipeline is drained (inside a transaction, the transaction is then aborted).
    @discardableResult
    public func pipeline(_ statements: [Statement]) throws(PostgresError) -> [PostgresRows] {
        guard pendingBegin != nil, let lead = leading else { return try pipeline(statements, lead: 0) }
        leading = nil
        let n = lead.statements.count
        let rows = try pipeline([Statement("BEGIN")] + lead.statements + [Statement("COMMIT")] + statements, lead: n + 2)
        do { try lead.onRows(Array(rows[1...n])) } catch {
            var e = (error as? PostgresError) ?? PostgresError(kind: .client, message: String(describing: error))
            e.inLead = true
            throw e
        }
        return Array(rows.dropFirst(n + 2))
    }

    /// Inside `transaction`, before its first statement: `statements` go out as a transaction of
    /// their own ahead of the BEGIN, in the same round trip (committed by the server before the
    /// transaction starts; if one fails, the server skips everything after it). `onRows` gets their
    /// rows; its error, or theirs, is thrown with `inLead` set, and the transaction is rolled back.
    public func lead(with statements: [Statement], onRows: @escaping ([PostgresRows]) throws -> Void) {
        leading = (statements, onRows)
    }

    /// Inside `transaction`, before its first statement: `statement` runs right after the BEGIN, in
    /// the same round trip, inside the transaction (the server's `open_action`, D71). Its rows are
    /// not returned; its error fails the transaction.
    public func open(with statement: Statement) {
        opening = statement
    }

    /// The first `lead` statements are a transaction of their own: an error among them has `inLead` set.
    private func pipeline(_ statements: [Statement], lead: Int) throws(PostgresError) -> [PostgresRows] {
        var all = statements
        var beginAt: Int?
        var opened = false
        if let begin = pendingBegin {
            pendingBegin = nil
            all.insert(Statement(begin), at: lead)
            beginAt = lead
            if let opening {
                self.opening = nil
                all.insert(opening, at: lead + 1)
                opened = true
            }
        }
        guard PQenterPipelineMode(conn) == 1 else {
            throw PostgresError(kind: .client, message: "cannot enter pipeline mode: \(Self.trimmed(PQerrorMessage(conn)))")
        }
        defer { _ = PQexitPipelineMode(conn) }
        // What was sent, in order: each gives one result (then a NULL). Preparations are not returned.
        var sent: [(prepares: PreparedKey?, name: String)] = []
        var queries = 0
        for st in all {
            let bound = st.params.map(\.postgresValue)
            let key = Self.preparedKey(st.sql, bound)
            var name = prepared[key] ?? ""
            if name.isEmpty, preparesStatements, Self.preparable(st.sql), prepared.count + sent.count < Self.maxPrepared {
                name = "agentos_\(nextPrepared)"
                nextPrepared += 1
                // The statement's types are its key's; no parameter bytes are needed to prepare it.
                let ok = PQsendPrepare(conn, name, st.sql, Int32(key.types.count), key.types)
                guard ok == 1 else { break }
                sent.append((key, name))
            }
            let ok: Int32 = withParameters(bound) { (count, types, values, lengths, formats) in
                name.isEmpty
                    ? PQsendQueryParams(conn, st.sql, count, types, values, lengths, formats, 0)
                    : PQsendQueryPrepared(conn, name, count, values, lengths, formats, 0)
            }
            guard ok == 1 else { break }
            sent.append((nil, name))
            queries += 1
        }
        var firstError: PostgresError?
        // Which statement failed first (its position in `all`).
        var failedAt = all.count
        if queries < all.count {
            firstError = PostgresError(kind: isOK ? .client : .connection, message: Self.trimmed(PQerrorMessage(conn)))
            failedAt = queries
        }
        guard PQpipelineSync(conn) == 1 else {
            throw firstError ?? PostgresError(kind: .connection, message: "pipeline sync failed: \(Self.trimmed(PQerrorMessage(conn)))")
        }
        var out: [PostgresRows] = []
        for item in sent {
            guard let result = PQgetResult(conn) else {
                throw firstError ?? PostgresError(kind: .connection, message: "pipeline ended early: \(Self.trimmed(PQerrorMessage(conn)))")
            }
            if let key = item.prepares {
                let status = PQresultStatus(result)
                if status == PGRES_COMMAND_OK {
                    prepared[key] = item.name
                    PQclear(result)
                } else if status == PGRES_PIPELINE_ABORTED {
                    PQclear(result)
                } else {
                    do { _ = try consume(result) } catch {
                        if firstError == nil {
                            firstError = error
                            failedAt = out.count // the statement it prepares
                        }
                    }
                }
                while let extra = PQgetResult(conn) { PQclear(extra) }
                continue
            }
            if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                PQclear(result)
                out.append(PostgresRows(columns: [], rows: [], affectedRows: 0))
            } else {
                do { out.append(try consume(result)) } catch {
                    if firstError == nil {
                        firstError = error
                        failedAt = out.count
                    }
                    out.append(PostgresRows(columns: [], rows: [], affectedRows: 0))
                }
            }
            // Each statement's results end with a NULL.
            while let extra = PQgetResult(conn) { PQclear(extra) }
        }
        // The sync point.
        while let r = PQgetResult(conn) {
            let done = PQresultStatus(r) == PGRES_PIPELINE_SYNC
            PQclear(r)
            if done { break }
        }
        if var firstError {
            firstError.inLead = failedAt < lead
            throw firstError
        }
        if let beginAt {
            if opened { out.remove(at: beginAt + 1) }
            out.remove(at: beginAt)
        }
        return out
    }

    /// Inside `transaction`: a statement whose rows nobody reads goes out with the COMMIT (same
    /// transaction, no round trip of its own). Its error fails the commit, so the transaction.
    public func deferUntilCommit(_ sql: String, _ params: [any PostgresBindable] = []) {
        deferred.append(Statement(sql, params))
    }

    /// Commits the open transaction together with the deferred statements and `statements` (run
    /// in that order) in one round trip; returns the rows of `statements`. `transaction` then has
    /// nothing left to commit.
    @discardableResult
    public func commit(with statements: [Statement]) throws(PostgresError) -> [PostgresRows] {
        let before = deferred
        deferred = []
        let rows = try pipeline(before + statements + [Statement("COMMIT")])
        committed = true
        return Array(rows.dropFirst(before.count).dropLast())
    }

    /// Statements prepared on this connection: SQL and parameter types → name.
    private var prepared: [PreparedKey: String] = [:]
    private var nextPrepared = 1
    /// Beyond this many (generated SQL), statements run unnamed.
    static let maxPrepared = 256
    /// Behind a transaction-mode pooler a named statement would be prepared on one server
    /// connection and executed on another: every statement goes unnamed (parsed each time).
    private var preparesStatements: Bool { pooler == .session }

    struct PreparedKey: Hashable {
        let sql: String
        let types: [UInt32]
    }

    static func preparedKey(_ sql: String, _ values: [PostgresValue]) -> PreparedKey {
        PreparedKey(sql: sql, types: values.map(\.oid))
    }

    /// Only plain DML is prepared (what PREPARE accepts); utility statements run unnamed.
    static func preparable(_ sql: String) -> Bool {
        let head = sql.drop { $0 == " " || $0 == "\n" }.prefix(7).uppercased()
        return ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"].contains { head.hasPrefix($0) }
    }

    /// Binds `params` as libpq wants them (NUL-terminated copies kept alive during `body`). The
    /// values are made once per statement (`postgresValue`) for its prepared key and its binding.
    private func withParameters<R>(
        _ params: [PostgresValue],
        _ body: (Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        // Every value in one buffer, each followed by a NUL (libpq reads text values as C
        // strings): one allocation per statement instead of two per value.
        var types = [Oid]()
        var lengths = [Int32]()
        var formats = [Int32]()
        var offsets = [Int]()
        types.reserveCapacity(params.count)
        lengths.reserveCapacity(params.count)
        formats.reserveCapacity(params.count)
        offsets.reserveCapacity(params.count)
        var buffer = [UInt8]()
        buffer.reserveCapacity(64 * params.count + 1)
        for value in params {
            let start = buffer.count
            types.append(value.oid)
            formats.append(value.format)
            if value.append(to: &buffer) {
                lengths.append(Int32(buffer.count - start))
                offsets.append(start)
                buffer.append(0)
            } else {
                lengths.append(0)
                offsets.append(-1)
            }
        }
        if buffer.isEmpty { buffer.append(0) } // a base address even when every value is NULL
        return buffer.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            let values: [UnsafePointer<CChar>?] = offsets.map { $0 < 0 ? nil : base + $0 }
            return body(Int32(params.count), types, values, lengths, formats)
        }
    }

    /// The SCRAM-SHA-256 verifier of `password` for `user`, computed here by libpq: what
    /// `ALTER ROLE … PASSWORD` stores, so the password itself never reaches the server or its logs.
    public func scramVerifier(password: String, user: String) throws(PostgresError) -> String {
        guard let out = PQencryptPasswordConn(conn, password, user, "scram-sha-256") else {
            throw PostgresError(kind: .client, message: "cannot compute a SCRAM verifier: \(Self.trimmed(PQerrorMessage(conn)))")
        }
        defer { PQfreemem(out) }
        return String(cString: out)
    }

    /// Runs statements without parameters (may contain several, e.g. a migration).
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> PostgresRows {
        if pendingBegin != nil, leading != nil { try pipeline([]) } // the lead, with the BEGIN
        if let begin = pendingBegin {
            pendingBegin = nil
            _ = try consume(PQexec(conn, begin))
            if let opening {
                self.opening = nil
                try query(opening.sql, opening.params)
            }
        }
        return try consume(PQexec(conn, sql))
    }

    /// Runs `body` inside BEGIN … COMMIT; any thrown error rolls the transaction back and is rethrown.
    /// BEGIN goes out with the first statement, and `commit(with:)` may fold the COMMIT into the
    /// last round trip.
    public func transaction<T>(isolation: String? = nil, _ body: (PostgresConnection) throws -> T) throws -> T {
        pendingBegin = isolation.map { "BEGIN ISOLATION LEVEL \($0)" } ?? "BEGIN"
        committed = false
        defer {
            // A lead or an opening nothing sent is dropped with its transaction.
            leading = nil
            opening = nil
        }
        do {
            let value = try body(self)
            if !committed {
                if !deferred.isEmpty {
                    try commit(with: [])
                } else if pendingBegin != nil {
                    pendingBegin = nil // nothing ran: nothing to commit
                } else {
                    try execute("COMMIT")
                }
            }
            committed = false
            return value
        } catch {
            pendingBegin = nil
            committed = false
            deferred = []
            if isOK && inTransaction { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    private func consume(_ result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw PostgresError(kind: isOK ? .client : .connection, message: Self.trimmed(PQerrorMessage(conn)))
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            break
        default:
            func field(_ code: Character) -> String? {
                guard let p = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
                return String(cString: p)
            }
            let sqlState = field("C")
            if sqlState == "25006" { refusedWrites = true }
            let message = field("M") ?? Self.trimmed(PQresultErrorMessage(result))
            let connectionLost = !isOK
            throw PostgresError(
                kind: connectionLost && sqlState == nil ? .connection : .server, sqlState: sqlState,
                message: message.isEmpty ? Self.trimmed(PQerrorMessage(conn)) : message,
                detail: field("D"), hint: field("H"), constraint: field("n"), table: field("t"), column: field("c"))
        }
        let nFields = Int(PQnfields(result))
        let nRows = Int(PQntuples(result))
        var columns: [String] = []
        var index: [String: Int] = [:]
        for f in 0..<nFields {
            let name = String(cString: PQfname(result, Int32(f)))
            columns.append(name)
            if index[name] == nil { index[name] = f }
        }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(nRows)
        for r in 0..<nRows {
            var values: [String?] = []
            values.reserveCapacity(nFields)
            for f in 0..<nFields {
                if PQgetisnull(result, Int32(r), Int32(f)) == 1 {
                    values.append(nil)
                } else {
                    let len = Int(PQgetlength(result, Int32(r), Int32(f)))
                    let ptr = PQgetvalue(result, Int32(r), Int32(f))!
                    values.append(String(decoding: UnsafeRawBufferPointer(start: ptr, count: len), as: UTF8.self))
                }
            }
            rows.append(PostgresRow(index: index, values: values))
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, rows: rows, affectedRows: affected)
    }

    static func trimmed(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p).trimmingCharacters(in: .whitespacesAndNewlines)
    }

}

private func withArrayOfCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
