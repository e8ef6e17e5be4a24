import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What the console needs from a backend (embedded simulator or live Redis + PostgreSQL).
public protocol ConsoleBackend: Sendable {
    func loadSnapshot() throws -> Snapshot
    /// A snapshot at least as new as the event bus is now (`Effect.resyncSnapshot`).
    func loadCurrentSnapshot() throws -> Snapshot
    func subscribe() -> AsyncStream<BusMessage>
    func jobHistory(_ id: String) throws -> [JobEvent]
    /// A job's complete record (arguments, result, the raw row), scrubbed as the audit scrubs payloads; nil: no such job.
    func jobRecord(_ id: String) throws -> JobRecord?
    /// The versions of a configuration entry, newest first.
    func configHistory(_ key: String) throws -> [ConfigChange]
    /// Starts background work (the embedded fleet, the live warmer).
    func start()
    func stop()
    /// The state of the Redis and PostgreSQL links after the last operation (nil: not applicable).
    func links() -> (redis: ConnectionState.Link, postgres: ConnectionState.Link)?
    /// Where the last snapshot read went when it may go to a Redis replica (nil: the master, always).
    func redisReads() -> ConnectionState.Reads?
    /// Who the console's actions run as (the Unix account, the SSH source, this console's session).
    var actor: Actor { get }
    /// Runs one action through the ActionDispatcher. Blocks; the runtime calls it off the terminal thread.
    func dispatch(_ request: ActionRequest) -> ActionReport
    /// The measured impact a high-risk dialog shows (nil: not measurable). Blocks, off the terminal thread.
    func impact(_ spec: ActionSpec, _ payload: Payload) -> Int?
    /// What an action would touch (`ActionDispatcher.preview`: audited, nothing changed). Blocks, off the terminal thread.
    func preview(_ request: ActionRequest) -> PreviewReport
    /// Why this backend cannot run `spec` at all (nil: it can), so the console greys it out before trying.
    func unavailableReason(_ spec: ActionSpec) -> String?
    /// The view on screen, for this console's session row (live: the next heartbeat writes it).
    func noteView(_ view: String)
    /// Jobs whose id starts with `idPrefix`, newest first, at most `limit` (`:job`, beyond the recent window).
    func findJobs(idPrefix: String, limit: Int) throws -> [Job]
    /// This console's session was ended from outside (`system.session_terminate`): stop renewing it
    /// and write this side's audit row (`ActionDispatcher.recordSessionEnded`). Blocks, off the terminal thread.
    func sessionEnded(_ kick: SessionKick)
}

extension ConsoleBackend {
    public func noteView(_ view: String) {}
    public func redisReads() -> ConnectionState.Reads? { nil }
}

/// The runtime: one loop on the main thread that owns the terminal. Keys, ticks, bus messages
/// and effect results all arrive as `Msg`s; `App.update` folds them; frames are coalesced to
/// at most one per 14 ms and drawn only when something changed, so an event storm never
/// starves the keyboard.
public final class ConsoleRuntime {
    private let backend: ConsoleBackend
    private var state: AppState
    private let inbox = Inbox()
    /// At most one frame per 14 ms (about 70 a second): an event waits at most that long for its
    /// frame, which leaves the frame's own work (under a millisecond) inside the 16 ms
    /// event-to-screen budget.
    public static let frameInterval: Double = 0.014
    private var frameInterval: Double { Self.frameInterval }
    /// The most messages waiting in the inbox before the bus task stops taking more (D64,
    /// issue 18): the rest wait in the backend's `BoundedBusStream`, which drops and says
    /// `.overflowed` when full. Without it the inbox, unbounded, took the whole flood (seen:
    /// 967 MB resident after a 1 GiB flood, no overflow ever shown).
    public static let inboxLimit = 1_000
    /// Called with each new notice (the composition root logs them; the screen shows them).
    public var onNotice: ((Notice) -> Void)?
    /// Keeps a screen's hidden columns (the composition root writes the configuration file); a
    /// failure is said on the screen, and the columns stay hidden for this console.
    public var onHiddenColumns: ((ViewID, [String]) throws -> Void)?
    private var lastNotice: Notice?
    /// The terminal while `run` runs (effects that write to it, e.g. the clipboard).
    private var screen: CursesScreen?

    public init(state: AppState, backend: ConsoleBackend) {
        var state = state
        state.actor = backend.actor
        for spec in ActionCatalog.all {
            if let why = backend.unavailableReason(spec) { state.actionUnavailable[spec.name] = why }
        }
        self.state = state
        self.backend = backend
    }

    /// Where actions and impact measurements run: they block on the network (or pg_dump) for as
    /// long as they take, so they get threads of their own, never the terminal's nor the
    /// cooperative pool's.
    private static let actionQueue = DispatchQueue(label: "agentos.console.actions", qos: .userInitiated, attributes: .concurrent)

    /// A thread-safe queue of messages with a pipe that wakes the loop's poll.
    final class Inbox: Sendable {
        private let queue = Mutex<[Msg]>([])
        let wakeRead: Int32
        let wakeWrite: Int32

        init() {
            var fds: [Int32] = [0, 0]
            _ = pipe(&fds)
            _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
            _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
            wakeRead = fds[0]
            wakeWrite = fds[1]
        }

        func post(_ msg: Msg) {
            let first = queue.withLock { q -> Bool in
                q.append(msg)
                return q.count == 1
            }
            if first {
                var b: UInt8 = 1
                _ = write(wakeWrite, &b, 1)
            }
        }

        /// Returns once fewer than `limit` messages wait for the loop (or the task is cancelled).
        func waitBelow(_ limit: Int) async {
            while queue.withLock({ $0.count }) >= limit && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
        }

        func drain() -> [Msg] {
            var buf = [UInt8](repeating: 0, count: 64)
            while read(wakeRead, &buf, buf.count) > 0 {}
            return queue.withLock { q in
                defer { q.removeAll(keepingCapacity: true) }
                return q
            }
        }
    }

    /// Runs until the operator quits. Returns the process exit status.
    public func run(theme: Theme = .builtinDefault, monochrome: Bool = false, mouse: Bool = false, osc52: Bool = false) throws -> Int32 {
        // A parent (a test runner's thread, some wrappers) may have started us with SIGWINCH
        // blocked: then resizes would never arrive. This loop's thread must receive it.
        var winch = sigset_t()
        sigemptyset(&winch)
        sigaddset(&winch, SIGWINCH)
        pthread_sigmask(SIG_UNBLOCK, &winch, nil)
        let screen = try CursesScreen(theme: theme, monochrome: monochrome, mouse: mouse)
        self.screen = screen
        defer { self.screen = nil }
        state.clipboard = osc52
        state.width = screen.width
        state.height = screen.height
        state.unicode = screen.unicode
        backend.start()
        let inbox = self.inbox
        let backend = self.backend
        let inboxLimit = Self.inboxLimit
        let busTask = Task.detached {
            for await message in backend.subscribe() {
                inbox.post(.bus(message))
                // Backpressure: the loop is behind; what keeps coming waits upstream, bounded.
                await inbox.waitBelow(inboxLimit)
            }
        }
        let ticker = Task.detached {
            while !Task.isCancelled {
                inbox.post(.tick(Date()))
                try? await Task.sleep(for: .seconds(1))
            }
        }
        defer {
            busTask.cancel()
            ticker.cancel()
            backend.stop()
            screen.shutdown()
        }
        perform([.reloadSnapshot])
        var dirty = true
        var lastFrame = 0.0
        var notedView = ""
        while !state.quitting {
            let now = Self.seconds()
            let wait = dirty ? max(0, lastFrame + frameInterval - now) : 1.0
            var fds = [
                pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                pollfd(fd: inbox.wakeRead, events: Int16(POLLIN), revents: 0)
            ]
            _ = poll(&fds, 2, Int32(wait * 1000))
            // Keys first, all that are waiting.
            while let key = screen.readKey() {
                if let key {
                    perform(App.update(&state, .key(key)))
                } else {
                    screen.refreshSize()
                    perform(App.update(&state, .resize(width: screen.width, height: screen.height)))
                }
                dirty = true
            }
            let messages = inbox.drain()
            for msg in messages { perform(App.update(&state, msg)) }
            if !messages.isEmpty { dirty = true }
            if state.view.rawValue != notedView {
                notedView = state.view.rawValue
                backend.noteView(notedView)
            }
            reportNotices()
            if dirty && Self.seconds() - lastFrame >= frameInterval {
                App.settle(&state)
                screen.draw(App.render(state))
                lastFrame = Self.seconds()
                dirty = false
            }
        }
        // Ended from outside (system.session_terminate): EX_TEMPFAIL, starting again is allowed.
        return state.endedBecause == nil ? 0 : 75
    }

    /// Why the console stopped without the operator asking (nil: they quit).
    public var endedBecause: String? { state.endedBecause }

    /// The command palette's history as the console ends (kept for the next one).
    public var palette: PaletteState { state.palette }

    /// Hands the notices added since the last call to `onNotice`.
    private func reportNotices() {
        guard let onNotice, state.notices.last != lastNotice else { return }
        let start = lastNotice.flatMap { last in state.notices.lastIndex(of: last).map { $0 + 1 } } ?? 0
        for notice in state.notices[start...] { onNotice(notice) }
        lastNotice = state.notices.last
    }

    private func perform(_ effects: [Effect]) {
        let inbox = self.inbox
        let backend = self.backend
        for effect in effects {
            switch effect {
            case .quit:
                state.quitting = true
            case .reloadSnapshot, .resyncSnapshot:
                Task.detached {
                    do {
                        let snapshot = effect == .resyncSnapshot ? try backend.loadCurrentSnapshot() : try backend.loadSnapshot()
                        inbox.post(.snapshotLoaded(snapshot))
                    } catch {
                        inbox.post(.snapshotFailed(String(describing: error)))
                    }
                    if let links = backend.links() {
                        inbox.post(.connection(redis: links.redis, postgres: links.postgres, redisReads: backend.redisReads()))
                    }
                }
            case .loadJobHistory(let id):
                Task.detached {
                    if let events = try? backend.jobHistory(id) { inbox.post(.jobHistory(id, events)) }
                    if let record = try? backend.jobRecord(id) { inbox.post(.jobRecord(id, record)) }
                }
            case .loadConfigHistory(let key):
                Task.detached {
                    if let changes = try? backend.configHistory(key) { inbox.post(.configHistory(key, changes)) }
                }
            case .findJob(let prefix):
                Task.detached {
                    do {
                        inbox.post(.jobsFound(prefix, .success(try backend.findJobs(idPrefix: prefix, limit: 2))))
                    } catch {
                        inbox.post(.jobsFound(prefix, .failure(.failed(String(describing: error)))))
                    }
                }
            case .copyToClipboard(let text):
                screen?.copyToClipboard(text)
            case .saveHiddenColumns(let screen, let columns):
                do { try onHiddenColumns?(screen, columns) } catch { state.notify("columns not kept: \(error)", .error) }
            case .sessionEnded(let kick):
                Self.actionQueue.async { backend.sessionEnded(kick) }
            case .dispatch(let request):
                Self.actionQueue.async { inbox.post(.actionFinished(backend.dispatch(request))) }
            case .preview(let token, let request):
                Self.actionQueue.async { inbox.post(.previewed(token: token, backend.preview(request))) }
            case .measureImpact(let token, let action, let payload):
                Self.actionQueue.async {
                    guard let spec = ActionCatalog.spec(action) else {
                        inbox.post(.impactMeasured(token: token, .failure(.unknownAction(action))))
                        return
                    }
                    do throws(ActionFailure) {
                        let validated = try spec.validate(payload)
                        inbox.post(.impactMeasured(token: token, .success(backend.impact(spec, validated))))
                    } catch {
                        inbox.post(.impactMeasured(token: token, .failure(error)))
                    }
                }
            }
        }
    }

    static func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
