import CCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// A byte stream to a Redis server: a non-blocking socket (TCP or unix), optionally wrapped in TLS.
/// Every read and write waits with `poll` against a deadline, so nothing blocks forever.
/// Owned by one thread at a time.
final class RedisTransport {
    enum ReadResult {
        case bytes(Int)
        case timedOut
        case woken
    }

    let fd: Int32
    let endpoint: String
    private var ssl: OpaquePointer?
    private var ctx: OpaquePointer?
    private var closed = false

    private init(fd: Int32, endpoint: String) {
        self.fd = fd
        self.endpoint = endpoint
    }

    deinit { close() }

    /// Opens the socket (and the TLS session) within `connectTimeoutMillis`.
    static func connect(_ config: RedisConfiguration) throws(RedisError) -> RedisTransport {
        _ = ignoreSIGPIPE
        let endpoint = config.endpointDescription
        let deadline = Monotonic.deadline(afterMillis: config.connectTimeoutMillis)
        let fd: Int32
        switch config.endpoint {
        case .tcp(let host, let port):
            fd = try connectTCP(host: host, port: port, deadline: deadline, endpoint: endpoint, timeout: config.connectTimeoutMillis)
        case .unix(let path):
            fd = try connectUnix(path: path, deadline: deadline, endpoint: endpoint, timeout: config.connectTimeoutMillis)
        case .sentinel:
            throw .noMaster("\(endpoint) must be resolved to its master before connecting") // RedisConnection does
        }
        let transport = RedisTransport(fd: fd, endpoint: endpoint)
        if let tls = config.tls {
            var host = ""
            if case .tcp(let h, _) = config.endpoint { host = h }
            try transport.startTLS(tls, host: tls.serverName ?? host, deadline: deadline, timeout: config.connectTimeoutMillis)
        }
        return transport
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let ssl {
            SSL_shutdown(ssl)
            SSL_free(ssl)
            self.ssl = nil
        }
        if let ctx {
            SSL_CTX_free(ctx)
            self.ctx = nil
        }
        Glibc.close(fd)
    }

    /// True when an idle connection has been closed by the peer (or has unexpected data):
    /// used to validate pooled connections before reuse, so a `CLIENT KILL` or server restart
    /// costs a reconnect instead of a failed command.
    var isStale: Bool {
        if closed { return true }
        if let ssl, SSL_pending(ssl) > 0 { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&p, 1, 0)
        return n != 0
    }

    // MARK: writing

    func writeAll(_ bytes: UnsafeRawBufferPointer, deadline: UInt64?, timeoutMillis: Int) throws(RedisError) {
        var offset = 0
        while offset < bytes.count {
            let base = bytes.baseAddress!.advanced(by: offset)
            let remaining = bytes.count - offset
            if let ssl {
                let n = SSL_write(ssl, base, Int32(min(remaining, Int(Int32.max))))
                if n > 0 {
                    offset += Int(n)
                    continue
                }
                let err = SSL_get_error(ssl, n)
                if err == agentos_ssl_error_want_read() {
                    try wait(POLLIN, deadline: deadline, op: "write", timeout: timeoutMillis)
                    continue
                }
                if err == agentos_ssl_error_want_write() {
                    try wait(POLLOUT, deadline: deadline, op: "write", timeout: timeoutMillis)
                    continue
                }
                throw .connectionLost(endpoint: endpoint, reason: "TLS write failed: \(Self.sslErrorString())")
            } else {
                let n = send(fd, base, remaining, Int32(MSG_NOSIGNAL))
                if n > 0 {
                    offset += n
                    continue
                }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    try wait(POLLOUT, deadline: deadline, op: "write", timeout: timeoutMillis)
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                throw .connectionLost(endpoint: endpoint, reason: "write failed: \(Self.errnoString())")
            }
        }
    }

    // MARK: reading

    /// Reads what is available into `buffer`, waiting until `deadline`.
    /// With `wakeFD`, a readable wake descriptor ends the wait early with `.woken`.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: UInt64?, wakeFD: Int32? = nil) throws(RedisError) -> ReadResult {
        while true {
            if let ssl {
                let n = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
                if n > 0 { return .bytes(Int(n)) }
                let err = SSL_get_error(ssl, n)
                if err == agentos_ssl_error_zero_return() {
                    throw .connectionLost(endpoint: endpoint, reason: "server closed the TLS session")
                }
                if err == agentos_ssl_error_want_read() || err == agentos_ssl_error_want_write() {
                    let events = err == agentos_ssl_error_want_read() ? POLLIN : POLLOUT
                    switch try pollWithWake(Int16(events), deadline: deadline, wakeFD: wakeFD) {
                    case .ready: continue
                    case .timedOut: return .timedOut
                    case .woken: return .woken
                    }
                }
                throw .connectionLost(
                    endpoint: endpoint, reason: n == 0 ? "server closed the connection" : "TLS read failed: \(Self.sslErrorString())")
            } else {
                let n = recv(fd, buffer.baseAddress, buffer.count, 0)
                if n > 0 { return .bytes(n) }
                if n == 0 { throw .connectionLost(endpoint: endpoint, reason: "server closed the connection") }
                if errno == EINTR { continue }
                guard errno == EAGAIN || errno == EWOULDBLOCK else {
                    throw .connectionLost(endpoint: endpoint, reason: "read failed: \(Self.errnoString())")
                }
                switch try pollWithWake(Int16(POLLIN), deadline: deadline, wakeFD: wakeFD) {
                case .ready: continue
                case .timedOut: return .timedOut
                case .woken: return .woken
                }
            }
        }
    }

    private enum PollOutcome { case ready, timedOut, woken }

    private func pollWithWake(_ events: Int16, deadline: UInt64?, wakeFD: Int32?) throws(RedisError) -> PollOutcome {
        var fds = [pollfd(fd: fd, events: events, revents: 0)]
        if let wakeFD { fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)) }
        while true {
            let n = poll(&fds, nfds_t(fds.count), Monotonic.pollTimeout(until: deadline))
            if n < 0 {
                if errno == EINTR { continue }
                throw .connectionLost(endpoint: endpoint, reason: "poll failed: \(Self.errnoString())")
            }
            if n == 0 { return .timedOut }
            if fds.count > 1 && fds[1].revents != 0 { return .woken }
            return .ready
        }
    }

    private func wait(_ events: Int32, deadline: UInt64?, op: String, timeout: Int) throws(RedisError) {
        if case .timedOut = try pollWithWake(Int16(events), deadline: deadline, wakeFD: nil) {
            throw .timeout(endpoint: endpoint, operation: op, millis: timeout)
        }
    }

    // MARK: connecting

    private static func connectTCP(host: String, port: Int, deadline: UInt64?, endpoint: String, timeout: Int) throws(RedisError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw .connectFailed(endpoint: endpoint, reason: "cannot resolve host '\(host)': \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: RedisError = .connectFailed(endpoint: endpoint, reason: "no address for \(host)")
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 {
                lastError = .connectFailed(endpoint: endpoint, reason: errnoString())
                continue
            }
            do {
                try finishConnect(
                    fd: fd, addr: ai.pointee.ai_addr, len: ai.pointee.ai_addrlen, deadline: deadline, endpoint: endpoint, timeout: timeout)
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            } catch {
                Glibc.close(fd)
                lastError = error
            }
        }
        throw lastError
    }

    private static func connectUnix(path: String, deadline: UInt64?, endpoint: String, timeout: Int) throws(RedisError) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard pathBytes.count < capacity else {
            throw .connectFailed(endpoint: endpoint, reason: "socket path longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .connectFailed(endpoint: endpoint, reason: errnoString()) }
        do {
            try withUnsafePointer(to: &addr) { p throws(RedisError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(RedisError) in
                    try finishConnect(
                        fd: fd, addr: sa, len: socklen_t(MemoryLayout<sockaddr_un>.size), deadline: deadline, endpoint: endpoint, timeout: timeout)
                }
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    private static func finishConnect(fd: Int32, addr: UnsafePointer<sockaddr>!, len: socklen_t, deadline: UInt64?, endpoint: String, timeout: Int)
        throws(RedisError)
    {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if Glibc.connect(fd, addr, len) == 0 { return }
        let err = errno
        if err == ECONNREFUSED || err == ENOENT { throw .connectionRefused(endpoint: endpoint) }
        guard err == EINPROGRESS || err == EAGAIN else { throw .connectFailed(endpoint: endpoint, reason: String(cString: strerror(err))) }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while true {
            let n = poll(&p, 1, Monotonic.pollTimeout(until: deadline))
            if n < 0 && errno == EINTR { continue }
            if n == 0 { throw .timeout(endpoint: endpoint, operation: "connect", millis: timeout) }
            break
        }
        var soError: Int32 = 0
        var soLen = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &soLen)
        if soError == ECONNREFUSED { throw .connectionRefused(endpoint: endpoint) }
        if soError != 0 { throw .connectFailed(endpoint: endpoint, reason: String(cString: strerror(soError))) }
    }

    // MARK: TLS

    private func startTLS(_ tls: RedisConfiguration.TLS, host: String, deadline: UInt64?, timeout: Int) throws(RedisError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw .tls(endpoint: endpoint, reason: "cannot create TLS context: \(Self.sslErrorString())")
        }
        self.ctx = ctx
        _ = agentos_ssl_ctx_set_min_tls12(ctx)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        if let ca = tls.caFile {
            guard SSL_CTX_load_verify_locations(ctx, ca, nil) == 1 else {
                throw .tls(endpoint: endpoint, reason: "cannot load CA file \(ca): \(Self.sslErrorString())")
            }
        } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
            throw .tls(endpoint: endpoint, reason: "cannot load the system CA store: \(Self.sslErrorString())")
        }
        if let cert = tls.certFile, let key = tls.keyFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else {
                throw .tls(endpoint: endpoint, reason: "cannot load client certificate \(cert): \(Self.sslErrorString())")
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
                throw .tls(endpoint: endpoint, reason: "cannot load client key \(key): \(Self.sslErrorString())")
            }
        }
        guard let ssl = SSL_new(ctx) else { throw .tls(endpoint: endpoint, reason: Self.sslErrorString()) }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        if !host.isEmpty {
            // SSL_set1_host verifies an IP address literal against the IP SANs, a name against DNS SANs.
            guard SSL_set1_host(ssl, host) == 1 else { throw .tls(endpoint: endpoint, reason: "cannot set expected host \(host)") }
            if !Self.isIPAddress(host) { _ = agentos_ssl_set_sni(ssl, host) }
        }
        while true {
            ERR_clear_error()
            let rc = SSL_connect(ssl)
            if rc == 1 { return }
            let err = SSL_get_error(ssl, rc)
            if err == agentos_ssl_error_want_read() || err == agentos_ssl_error_want_write() {
                var p = pollfd(fd: fd, events: Int16(err == agentos_ssl_error_want_read() ? POLLIN : POLLOUT), revents: 0)
                let n = poll(&p, 1, Monotonic.pollTimeout(until: deadline))
                if n == 0 { throw .timeout(endpoint: endpoint, operation: "TLS handshake", millis: timeout) }
                continue
            }
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                let why = String(cString: X509_verify_cert_error_string(verify))
                throw .tls(endpoint: endpoint, reason: "certificate verification failed: \(why)")
            }
            let detail = Self.sslErrorString()
            throw .tls(endpoint: endpoint, reason: "handshake failed: \(detail.isEmpty ? "connection closed by server" : detail)")
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    static func sslErrorString() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            messages.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.joined(separator: "; ")
    }

    static func errnoString() -> String { String(cString: strerror(errno)) }
}

/// Writing to a socket the server closed must be an error, not a fatal signal.
private let ignoreSIGPIPE: Void = {
    signal(SIGPIPE, SIG_IGN)
    return ()
}()
