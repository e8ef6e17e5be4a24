import CHiredis

#if canImport(Glibc)
    import Glibc
#endif

/// One authenticated connection to one logical database. hiredis formats the commands
/// (binary-safe argv) and parses the replies; the socket is ours (plain or TLS).
///
/// Not thread-safe: one thread uses it at a time (the pool hands it over, hence `@unchecked Sendable`).
public final class RedisConnection: @unchecked Sendable {
    public let configuration: RedisConfiguration
    private let transport: RedisTransport
    private let reader: UnsafeMutablePointer<redisReader>
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// Bytes fed to the reader since the last reply it completed (the reply being read, and at most
    /// one read's worth of the ones after it): what `maxReplyBytes` bounds. hiredis 0.14 has no bound
    /// of its own, and it keeps an array's finished elements as objects, not in its buffer.
    private var replyBytes = 0
    /// Set when the stream is out of sync (timeout mid-reply, protocol error): never reuse.
    public private(set) var isBroken = false
    /// Behind Sentinel: the monitor and the master this connection went to (or whose replica it reads, D81).
    private let sentinel: (monitor: SentinelMonitor, master: SentinelMonitor.Master)?

    public var endpoint: String { transport.endpoint }
    var fileDescriptor: Int32 { transport.fd }

    /// Connects, authenticates, selects the database and names the client. Behind Sentinel it
    /// connects to the master the sentinels name and checks with ROLE that it is one; the replica
    /// pool of `read_from=replica` connects to a replica they list and checks it follows that master.
    public init(_ configuration: RedisConfiguration) throws(RedisError) {
        self.configuration = configuration
        var target = configuration
        var replica: SentinelMonitor.Replica?
        if let monitor = SentinelMonitor.shared(for: configuration) {
            let master = try monitor.current()
            if configuration.connectsToReplica {
                let listed = try monitor.replicas()
                guard let first = listed.first, first.isHealthy else {
                    let seen = listed.map { "\($0.address) \($0.flags)" }.joined(separator: ", ")
                    throw .noReplica("the sentinels list no healthy replica of \(master.address)\(seen.isEmpty ? "" : " (\(seen))")")
                }
                replica = first
                target.endpoint = .tcp(host: first.host, port: first.port)
            } else {
                target.endpoint = .tcp(host: master.host, port: master.port)
            }
            sentinel = (monitor, master)
        } else {
            sentinel = nil
        }
        do {
            transport = try RedisTransport.connect(target)
        } catch {
            guard let sentinel else { throw error }
            if let replica { throw .noReplica("the replica \(replica.address) the sentinels list does not answer (\(error))") }
            sentinel.monitor.forget(generation: sentinel.master.generation)
            // The sentinels still name a master that is gone: none is known until they fail over.
            throw .noMaster("the sentinels name \(target.endpointDescription), which does not answer (\(error)); a failover may be under way")
        }
        guard let reader = redisReaderCreate() else { throw .protocolError("cannot allocate the hiredis reader") }
        self.reader = reader
        do { try handshake() } catch {
            if let sentinel, case .noMaster = error { sentinel.monitor.forget(generation: sentinel.master.generation) }
            throw error
        }
    }

    /// Behind Sentinel: the master has changed since this connection was made.
    public var isSuperseded: Bool {
        guard let sentinel else { return false }
        return sentinel.monitor.generation != sentinel.master.generation
    }

    deinit {
        redisReaderFree(reader)
        transport.close()
    }

    private func handshake() throws(RedisError) {
        if let password = configuration.password {
            var args: [any RedisArgument] = ["AUTH"]
            if let user = configuration.username { args.append(user) }
            args.append(password)
            let reply = try roundTrip([args], deadline: Monotonic.deadline(afterMillis: configuration.connectTimeoutMillis))[0]
            if case .error(let message) = reply {
                isBroken = true
                throw .authFailed(endpoint: endpoint, reason: message)
            }
        }
        var setup: [[any RedisArgument]] = []
        if configuration.database != 0 { setup.append(["SELECT", configuration.database]) }
        if let name = configuration.clientName { setup.append(["CLIENT", "SETNAME", name]) }
        if sentinel != nil { setup.append(["ROLE"]) }
        guard !setup.isEmpty else { return }
        let replies = try roundTrip(setup, deadline: Monotonic.deadline(afterMillis: configuration.connectTimeoutMillis))
        if let sentinel, configuration.connectsToReplica, let role = replies.last {
            try checkFollows(sentinel.master, role: role)
        } else if case .sentinel(let named) = configuration.endpoint, let role = replies.last {
            // A user whose ACL forbids ROLE cannot check; READONLY replies then tell a demoted master.
            let isMaster = role.array?.first?.string == "master" || (role.errorMessage?.hasPrefix("NOPERM") ?? false)
            if !isMaster {
                isBroken = true
                let what = role.array?.first?.string ?? role.errorMessage ?? "?"
                throw .noMaster("\(endpoint), named by the sentinels, is \(what), not the master of '\(named.masterName)'")
            }
        }
        if case .error(let message) = replies[0] {
            isBroken = true
            if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
                throw .authFailed(endpoint: endpoint, reason: message)
            }
            if configuration.database != 0 { throw .server("SELECT \(configuration.database): \(message)") }
        }
    }

    /// A replica to read from must say, with ROLE, that it follows the current master with its link up:
    /// a replica still following the old master after a failover (or a demoted master) would serve old data.
    private func checkFollows(_ master: SentinelMonitor.Master, role: RedisValue) throws(RedisError) {
        let parts = role.array ?? []
        let kind = parts.first?.string ?? role.errorMessage ?? "?"
        guard kind == "slave", parts.count >= 4 else {
            isBroken = true
            throw .noReplica("\(endpoint), listed by the sentinels as a replica, answered ROLE with \(kind)")
        }
        let follows = "\(parts[1].string ?? "?"):\(parts[2].string ?? "?")"
        let link = parts[3].string ?? "?"
        guard parts[1].string == master.host, parts[2].int == Int64(master.port), link == "connected" else {
            isBroken = true
            throw .noReplica("\(endpoint) follows \(follows) (link \(link)), not the master \(master.address)")
        }
    }

    public var isStale: Bool { isBroken || isSuperseded || transport.isStale }

    public func close() {
        isBroken = true
        transport.close()
    }

    /// Sends one command; a server error reply is thrown as a typed error.
    @discardableResult
    public func send(_ args: [any RedisArgument]) throws(RedisError) -> RedisValue {
        let reply = try roundTrip([args], deadline: commandDeadline())[0]
        if case .error(let message) = reply { throw Self.typedError(message, endpoint: endpoint) }
        return reply
    }

    /// Sends many commands in one write and reads the replies in order.
    /// Error replies come back as `.error` values in their place.
    public func pipeline(_ commands: [[any RedisArgument]]) throws(RedisError) -> [RedisValue] {
        try roundTrip(commands, deadline: commandDeadline())
    }

    static func typedError(_ message: String, endpoint: String) -> RedisError {
        if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
            return .authFailed(endpoint: endpoint, reason: message)
        }
        return RedisError.fromReply(message)
    }

    private func commandDeadline() -> UInt64? { Monotonic.deadline(afterMillis: configuration.commandTimeoutMillis) }

    // MARK: wire

    func roundTrip(_ commands: [[any RedisArgument]], deadline: UInt64?) throws(RedisError) -> [RedisValue] {
        guard !isBroken else { throw .connectionLost(endpoint: endpoint, reason: "connection was closed after an earlier error") }
        try write(commands, deadline: deadline)
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            guard let reply = try readReply(deadline: deadline, wakeFD: nil) else {
                isBroken = true
                throw .timeout(endpoint: endpoint, operation: "a reply", millis: configuration.commandTimeoutMillis)
            }
            replies.append(reply)
        }
        if let sentinel, !configuration.connectsToReplica, replies.contains(where: { $0.errorMessage?.hasPrefix("READONLY") ?? false }) {
            // The master was demoted under us (a failover this client has not heard of yet).
            isBroken = true
            sentinel.monitor.forget(generation: sentinel.master.generation)
        }
        return replies
    }

    func write(_ commands: [[any RedisArgument]], deadline: UInt64?) throws(RedisError) {
        var wire: [UInt8] = []
        wire.reserveCapacity(4_096) // one allocation for a job.cancel's largest pipeline
        for argv in commands {
            try Self.format(argv, into: &wire)
        }
        // withUnsafeBytes only rethrows untyped errors: carry the typed one out in a Result.
        let written = wire.withUnsafeBytes { raw in
            Result { () throws(RedisError) in
                try transport.writeAll(raw, deadline: deadline, timeoutMillis: configuration.commandTimeoutMillis)
            }
        }
        if case .failure(let error) = written {
            isBroken = true
            throw error
        }
    }

    /// Reads one complete reply; nil when the deadline passed or the wake descriptor fired first.
    func readReply(deadline: UInt64?, wakeFD: Int32?) throws(RedisError) -> RedisValue? {
        while true {
            var raw: UnsafeMutableRawPointer?
            if redisReaderGetReply(reader, &raw) != REDIS_OK {
                isBroken = true
                throw .protocolError(readerError())
            }
            if let raw {
                defer { freeReplyObject(raw) }
                replyBytes = reader.pointee.len - reader.pointee.pos
                return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
            }
            let outcome = readBuffer.withUnsafeMutableBytes { buf in
                Result { () throws(RedisError) in try transport.read(into: buf, deadline: deadline, wakeFD: wakeFD) }
            }
            let result: RedisTransport.ReadResult
            switch outcome {
            case .success(let r): result = r
            case .failure(let error):
                isBroken = true
                throw error
            }
            switch result {
            case .bytes(let n):
                let ok = readBuffer.withUnsafeBytes { buf in
                    redisReaderFeed(reader, buf.baseAddress!.assumingMemoryBound(to: CChar.self), n)
                }
                if ok != REDIS_OK {
                    isBroken = true
                    throw .protocolError(readerError())
                }
                replyBytes += n
                if replyBytes > configuration.maxReplyBytes {
                    isBroken = true
                    throw .replyTooLarge(endpoint: configuration.endpointDescription, bytes: replyBytes, limit: configuration.maxReplyBytes)
                }
            case .timedOut, .woken:
                return nil
            }
        }
    }

    /// Whether a complete reply may already be buffered (so callers must not wait on the socket).
    var hasBufferedInput: Bool { reader.pointee.len > reader.pointee.pos }

    private func readerError() -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// One command in RESP (`*N`, then `$len` and the bytes of each argument), written straight
    /// into `wire`: hiredis's `redisFormatCommandArgv` printed each length with `sprintf` into a
    /// buffer of its own, ≈ 3,400 instructions per command (about 20 commands per job.cancel). Each
    /// argument writes itself (`appendBulk`), so strings and integers need no array of their own.
    static func format(_ argv: [any RedisArgument], into wire: inout [UInt8]) throws(RedisError) {
        guard !argv.isEmpty else { throw .protocolError("cannot format an empty command") }
        wire.append(UInt8(ascii: "*"))
        RESPWriter.decimalLine(UInt64(argv.count), to: &wire)
        for arg in argv { arg.appendBulk(to: &wire) }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            guard let str = r.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: Int(r.len))))
        case REDIS_REPLY_STATUS:
            return .status(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(r.len)), as: UTF8.self) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(r.len)), as: UTF8.self) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(r.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            items.reserveCapacity(Int(r.elements))
            for i in 0..<Int(r.elements) {
                if let child = r.element[i] { items.append(convert(child)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }
}
