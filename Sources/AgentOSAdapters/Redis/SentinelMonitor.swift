import Synchronization

/// Knows which server Redis Sentinel names as the master of one `redis-sentinel://` URL and
/// follows its failovers, as Redis's guidelines for Sentinel clients describe: ask the sentinels
/// in turn (`SENTINEL get-master-addr-by-name`, the one that answered first next time), let every
/// connection verify the answer with `ROLE`, and listen for `+switch-master` on every sentinel.
///
/// One monitor per sentinel set and master name in the process (`shared(for:)`), so all pools and
/// subscribers of a console agree on the master. `generation` grows with every change of address:
/// connections made under an older one are dropped by their pools, subscribers reconnect.
public final class SentinelMonitor: Sendable {
    public struct Master: Sendable, Equatable {
        public let host: String
        public let port: Int
        public let generation: Int
        public var address: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }
    }

    /// A replica of the master, as the sentinels list it (`read_from=replica`, D81).
    public struct Replica: Sendable, Equatable {
        public let host: String
        public let port: Int
        /// As the sentinel reports them: `slave` alone is a healthy one; `s_down`, `disconnected`… are not.
        public let flags: String
        public var address: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }
        public var isHealthy: Bool { flags == "slave" }
    }

    public let sentinel: RedisConfiguration.Sentinel
    private let tls: RedisConfiguration.TLS?
    private let state: Mutex<State>

    private struct Address: Equatable {
        let host: String
        let port: Int
    }

    private struct State {
        /// The last address the sentinels gave (kept after `forget`, to tell a switch from a repeat).
        var address: Address?
        /// False after `forget`: the next `current()` asks the sentinels.
        var trusted = false
        var generation = 0
        /// The sentinels in the order they are asked: the last one that answered first.
        var order: [RedisConfiguration.Sentinel.Node]
        var observers: [Int: @Sendable (Master) -> Void] = [:]
        var nextObserver = 0
        var watchers: [RedisSubscriber] = []
        var stopped = false
    }

    private struct Key: Hashable {
        let sentinel: RedisConfiguration.Sentinel
        let tls: RedisConfiguration.TLS?
    }

    private static let registry = Mutex<[Key: SentinelMonitor]>([:])

    /// The process's monitor for a `redis-sentinel://` configuration; nil for any other endpoint.
    public static func shared(for configuration: RedisConfiguration) -> SentinelMonitor? {
        guard case .sentinel(let sentinel) = configuration.endpoint else { return nil }
        let key = Key(sentinel: sentinel, tls: configuration.tls)
        return registry.withLock { monitors in
            if let existing = monitors[key] { return existing }
            let monitor = SentinelMonitor(sentinel, tls: configuration.tls)
            monitors[key] = monitor
            return monitor
        }
    }

    private init(_ sentinel: RedisConfiguration.Sentinel, tls: RedisConfiguration.TLS?) {
        self.sentinel = sentinel
        self.tls = tls
        state = Mutex(State(order: sentinel.nodes))
    }

    /// The master as last known; asks the sentinels when none is (first use, or after `forget`).
    public func current() throws(RedisError) -> Master {
        startWatching()
        let known = state.withLock { s in
            s.trusted ? s.address.map { Master(host: $0.host, port: $0.port, generation: s.generation) } : nil
        }
        if let known { return known }
        return try refresh()
    }

    /// Asks the sentinels now.
    @discardableResult
    public func refresh() throws(RedisError) -> Master {
        var problems: [String] = []
        for node in state.withLock({ $0.order }) {
            do {
                let connection = try RedisConnection(sentinelConfiguration(node))
                defer { connection.close() }
                let reply = try connection.send(["SENTINEL", "get-master-addr-by-name", sentinel.masterName])
                guard let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].string.flatMap({ Int($0) })
                else {
                    problems.append("\(node.host):\(node.port) knows no master named '\(sentinel.masterName)'")
                    continue
                }
                state.withLock { s in
                    s.order.removeAll { $0 == node }
                    s.order.insert(node, at: 0)
                }
                return adopt(host: host, port: port)
            } catch {
                problems.append(error.description)
            }
        }
        throw .noMaster("no sentinel of \(sentinel.description) named the master: \(problems.joined(separator: "; "))")
    }

    /// The replicas the first sentinel that answers lists: the healthy ones (flags exactly `slave`: not
    /// down, not disconnected) first, of those the ones whose link to the master it last saw up, then
    /// the least behind. (The sentinels refresh a replica's link status only every 10 s: the
    /// connection's ROLE check is what decides.)
    public func replicas() throws(RedisError) -> [Replica] {
        var problems: [String] = []
        for node in state.withLock({ $0.order }) {
            do {
                let connection = try RedisConnection(sentinelConfiguration(node))
                defer { connection.close() }
                let reply = try connection.send(["SENTINEL", "replicas", sentinel.masterName])
                let listed = (reply.array ?? []).compactMap { entry -> (replica: Replica, rank: [Int])? in
                    // Each entry is a flat list: name, value, name, value…
                    let flat = entry.array?.compactMap(\.string) ?? []
                    var fields: [String: String] = [:]
                    for i in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[i]] = flat[i + 1] }
                    guard let host = fields["ip"], let port = fields["port"].flatMap({ Int($0) }) else { return nil }
                    let replica = Replica(host: host, port: port, flags: fields["flags"] ?? "?")
                    let linkUp = fields["master-link-status"] == "ok"
                    return (replica, [replica.isHealthy ? 1 : 0, linkUp ? 1 : 0, fields["slave-repl-offset"].flatMap { Int($0) } ?? 0])
                }
                return listed.sorted { $1.rank.lexicographicallyPrecedes($0.rank) }.map(\.replica)
            } catch {
                problems.append(error.description)
            }
        }
        throw .noReplica("no sentinel of \(sentinel.description) answered: \(problems.joined(separator: "; "))")
    }

    /// A connection to `generation`'s master failed or found a replica: the next `current()` asks again.
    public func forget(generation: Int) {
        state.withLock { s in
            if s.generation == generation { s.trusted = false }
        }
    }

    /// The number that grows with every change of the master's address.
    public var generation: Int { state.withLock { $0.generation } }

    /// Calls `handler` (on a sentinel's subscriber thread) with each new master.
    public func observe(_ handler: @escaping @Sendable (Master) -> Void) -> Int {
        state.withLock { s in
            s.nextObserver += 1
            s.observers[s.nextObserver] = handler
            return s.nextObserver
        }
    }

    public func removeObserver(_ token: Int) {
        _ = state.withLock { $0.observers.removeValue(forKey: token) }
    }

    /// Stops listening to the sentinels and leaves the registry (tests; a console keeps its monitor).
    public func stop() {
        let watchers = state.withLock { s -> [RedisSubscriber] in
            s.stopped = true
            defer { s.watchers = [] }
            return s.watchers
        }
        watchers.forEach { $0.stop() }
        Self.registry.withLock { monitors in
            monitors = monitors.filter { $0.value !== self }
        }
    }

    /// Records the address the sentinels gave; a new one starts a new generation and is announced.
    private func adopt(host: String, port: Int) -> Master {
        let (master, observers) = state.withLock { s -> (Master, [@Sendable (Master) -> Void]) in
            let new = Address(host: host, port: port)
            let previous = s.address
            s.trusted = true
            if previous != new {
                s.address = new
                s.generation += 1
            }
            let master = Master(host: host, port: port, generation: s.generation)
            // The first address learnt is no switch.
            return (master, previous != nil && previous != new ? Array(s.observers.values) : [])
        }
        observers.forEach { $0(master) }
        return master
    }

    private func sentinelConfiguration(_ node: RedisConfiguration.Sentinel.Node) -> RedisConfiguration {
        // Short timeouts, as the guidelines advise: a sentinel that does not answer at once is skipped.
        RedisConfiguration(
            endpoint: .tcp(host: node.host, port: node.port), tls: tls, username: sentinel.username, password: sentinel.password,
            connectTimeoutMillis: 500, commandTimeoutMillis: 1_000, clientName: "agentos-sentinel-client")
    }

    /// One subscriber per sentinel on `+switch-master`: any of them announcing the switch is enough.
    private func startWatching() {
        let configurations: [RedisConfiguration]? = state.withLock { s in
            guard s.watchers.isEmpty, !s.stopped else { return nil }
            return sentinel.nodes.map(sentinelConfiguration)
        }
        guard let configurations else { return }
        let watchers = configurations.map { configuration in
            RedisSubscriber(
                configuration, channels: ["+switch-master"], backoff: Backoff(baseMillis: 100, capMillis: 2_000),
                pingIntervalMillis: 5_000
            ) { [weak self] event in self?.handle(event) }
        }
        let started = state.withLock { s -> Bool in
            guard s.watchers.isEmpty, !s.stopped else { return false }
            s.watchers = watchers
            return true
        }
        if started { watchers.forEach { $0.start() } }
    }

    private func handle(_ event: SubscriptionEvent) {
        switch event {
        case .message(_, let payload, _):
            // "<master name> <old ip> <old port> <new ip> <new port>"
            let parts = String(decoding: payload, as: UTF8.self).split(separator: " ")
            guard parts.count == 5, parts[0] == sentinel.masterName, let port = Int(parts[4]) else { return }
            _ = adopt(host: String(parts[3]), port: port)
        case .subscribed(gapPossible: true):
            // A switch may have been announced while this sentinel was out of reach.
            _ = try? refresh()
        case .subscribed, .disconnected:
            break
        }
    }
}
