import AgentOSCore
import AgentOSTestSupport
import Dispatch
import Foundation
import Synchronization

// MARK: - Clock

/// A clock that only moves when told to (milliseconds since the epoch).
final class ManualClock: ActionClock {
    static let start: Int64 = 1_800_000_000_000
    private let now: Mutex<Int64>

    init(_ start: Int64 = ManualClock.start) { now = Mutex(start) }

    func nowMillis() -> Int64 { now.withLock { $0 } }
    func advance(_ millis: Int64) { now.withLock { $0 += millis } }
}

// MARK: - Executor

/// Counts executions per action, records payloads, can fail, sleep or run a hook while executing.
final class FakeExecutor: ActionExecutor {
    struct Execution: Sendable {
        var action: String
        var payload: Payload
        var requestID: UUID
        var user: String
    }

    private struct Config {
        /// Consumed one per execution, before `alwaysFail`.
        var nextFailures: [ActionFailure] = []
        var alwaysFail: ActionFailure?
        var sleepMillis = 0
        var owners: [String: String] = [:]
        var events: [AgentEvent] = []
        var onExecute: (@Sendable (ActionCall) -> Void)?
    }

    private let config = Mutex(Config())
    private let log = Mutex<[Execution]>([])

    // Configuration
    func failAlways(_ failure: ActionFailure?) { config.withLock { $0.alwaysFail = failure } }
    func failNext(_ failures: ActionFailure...) { config.withLock { $0.nextFailures += failures } }
    func sleep(millis: Int) { config.withLock { $0.sleepMillis = millis } }
    func setOwner(job: String, owner: String) { config.withLock { $0.owners[job] = owner } }
    func emit(_ events: [AgentEvent]) { config.withLock { $0.events = events } }
    func onExecute(_ hook: (@Sendable (ActionCall) -> Void)?) { config.withLock { $0.onExecute = hook } }

    // Observations
    var executions: [Execution] { log.withLock { $0 } }
    var total: Int { log.withLock { $0.count } }
    func count(_ action: String) -> Int { log.withLock { $0.filter { $0.action == action }.count } }

    func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        let (failure, sleepMillis, events, hook) = config.withLock { c -> (ActionFailure?, Int, [AgentEvent], (@Sendable (ActionCall) -> Void)?) in
            let f = c.nextFailures.isEmpty ? c.alwaysFail : c.nextFailures.removeFirst()
            return (f, c.sleepMillis, c.events, c.onExecute)
        }
        log.withLock {
            $0.append(Execution(action: call.request.action, payload: call.payload, requestID: call.request.requestID, user: call.user))
        }
        hook?(call)
        if sleepMillis > 0 { Thread.sleep(forTimeInterval: Double(sleepMillis) / 1_000) }
        if let failure { throw failure }
        call.events = events
        return ActionResult("\(call.request.action) done on \(call.target)", affected: 1)
    }

    func jobOwner(_ id: String) throws(ActionFailure) -> String? { config.withLock { $0.owners[id] } }

    func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? { nil }
}

// MARK: - Cascade

/// Records cache invalidations and published events; can be told to fail.
final class FakeCascade: ActionCascade {
    struct Unreachable: Error {}
    private struct State {
        var invalidations = 0
        var events: [AgentEvent] = []
        var failing = false
    }
    private let state = Mutex(State())

    var invalidations: Int { state.withLock { $0.invalidations } }
    var events: [AgentEvent] { state.withLock { $0.events } }
    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }

    func invalidateCache() throws {
        try state.withLock { s in
            if s.failing { throw Unreachable() }
            s.invalidations += 1
        }
    }

    func publish(_ events: [AgentEvent]) throws {
        try state.withLock { s in
            if s.failing { throw Unreachable() }
            s.events += events
        }
    }

    var executedNotices: [ActionNotice] {
        events.compactMap { if case .actionExecuted(let n) = $0 { return n } else { return nil } }
    }
}

// MARK: - Harness

/// The dispatcher over in-memory ports, a fake executor and cascade, and one manual clock.
struct Harness {
    static let users: [String: Grant] = [
        "alice": Grant(role: .admin),
        "olga": Grant(role: .operator),
        "sam": Grant(role: .supervisor),
        "ursula": Grant(role: .user),
        "rita": Grant(role: .readonly)
    ]
    static let userOf: [Role: String] = [.admin: "alice", .operator: "olga", .supervisor: "sam", .user: "ursula", .readonly: "rita"]
    static let scrubberKey = Array("pipeline-tests-hmac-key".utf8)

    let clock = ManualClock()
    let audit = InMemoryAuditLog()
    let executor = FakeExecutor()
    let cascade = FakeCascade()
    let scrubber = PIIScrubber(key: Harness.scrubberKey)
    let rateLimits: InMemoryRateLimitStore
    let idempotency: InMemoryIdempotencyStore
    let breakers: InMemoryBreakerStore
    let dispatcher: ActionDispatcher

    /// `gated`: admission asked of `StoresGate` in one call, as live (D87); else store by store.
    init(
        grants: [String: Grant] = Harness.users, fallback: Grant? = nil, gated: Bool = false,
        configure: (inout ActionDispatcher.Options) -> Void = { _ in }
    ) {
        rateLimits = InMemoryRateLimitStore(clock: clock)
        idempotency = InMemoryIdempotencyStore(clock: clock)
        breakers = InMemoryBreakerStore(clock: clock)
        var options = ActionDispatcher.Options()
        options.useInjectedClock = true
        configure(&options)
        dispatcher = ActionDispatcher(
            .init(
                audit: audit, permissions: StaticPermissions(grants, fallback: fallback), rateLimits: rateLimits,
                idempotency: idempotency, breakers: breakers, executor: executor, cascade: cascade, scrubber: scrubber,
                clock: clock, admission: gated ? StoresGate(rateLimits: rateLimits, idempotency: idempotency, breakers: breakers) : nil),
            options: options)
    }

    @discardableResult
    func dispatch(_ request: ActionRequest) -> ActionReport { dispatcher.dispatch(request) }

    /// A valid request for `action` (critical actions carry a reason and the typed target).
    func valid(
        _ action: String, user: String = "alice", actingAs: String? = nil, ip: String? = nil, key: String? = nil,
        overriding extra: [String: PayloadValue] = [:]
    ) -> ActionRequest {
        ValidPayload.request(ActionCatalog.spec(action)!, user: user, actingAs: actingAs, ip: ip, key: key, overriding: extra)
    }

    func rows(_ requestID: UUID) -> [AuditRecord] { audit.records.filter { $0.draft.requestID == requestID } }

    func breakerState(_ service: BackendService) -> BreakerInfo? {
        (try? breakers.states(nowMillis: nil))?.first { $0.service == service.rawValue }
    }
}

/// The admission gate's contract over the in-memory stores: what `RedisAdmissionGate`'s script
/// does in one round trip, part after part (a refusal stops it, a claim comes only after an
/// admission, a breaker is only read and admits only when closed).
struct StoresGate: AdmissionGate {
    let rateLimits: InMemoryRateLimitStore
    let idempotency: InMemoryIdempotencyStore
    let breakers: InMemoryBreakerStore

    func admit(_ ask: AdmissionAsk) throws -> Admission {
        let rate = try rateLimits.admit(ask.rules, member: ask.member, nowMillis: ask.nowMillis)
        guard rate == .admitted else { return Admission(rate: rate, claim: nil, permit: nil, ask: ask) }
        let claim = try ask.claim.map { c in
            try idempotency.claim(c.scope, fingerprint: c.fingerprint, requestID: c.requestID, lockMillis: c.lockMillis)
        }
        var permit: BreakerPermit?
        if let service = ask.service, (claim ?? .claimed) == .claimed,
            try breakers.states(nowMillis: ask.nowMillis).first(where: { $0.service == service })?.state == .closed
        {
            permit = .allowed(probe: false)
        }
        return Admission(rate: rate, claim: claim, permit: permit, ask: ask)
    }
}

// MARK: - Threads

/// Runs blocking work (sleeps, semaphores, many threads) on a plain thread, never on the Swift
/// cooperative pool, and hands back its result.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}

/// Starts `count` threads that wait at one barrier, then run `body(i)`; returns the results in order.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let results = Mutex<[Int: T]>([:])
    let group = DispatchGroup()
    let ready = DispatchSemaphore(value: 0)
    let go = DispatchSemaphore(value: 0)
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            ready.signal()
            go.wait()
            let r = body(i)
            results.withLock { $0[i] = r }
            group.leave()
        }
        thread.start()
    }
    for _ in 0..<count { ready.wait() }
    for _ in 0..<count { go.signal() }
    group.wait()
    return results.withLock { all in (0..<count).map { all[$0]! } }
}

/// Runs `body` on a new thread at once; `wait()` blocks until it is done and returns its result.
final class Background<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var value: T?

    init(_ body: @escaping @Sendable () -> T) {
        let thread = Thread { [self] in
            value = body()
            done.signal()
        }
        thread.start()
    }

    func wait() -> T {
        done.wait()
        return value!
    }
}

/// A thread-safe list a @Sendable hook can append to.
final class Recorder<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func append(_ item: T) { items.withLock { $0.append(item) } }
    var values: [T] { items.withLock { $0 } }
}

extension DispatchSemaphore {
    /// Waits at most `seconds`, so a broken pipeline fails a test instead of hanging it.
    @discardableResult
    func wait(seconds: Double) -> Bool { wait(timeout: .now() + seconds) == .success }
}
