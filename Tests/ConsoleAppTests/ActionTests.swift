import AgentOSCore
import AgentOSWorld
import ConsoleApp
import ConsoleUI
import Foundation
import Synchronization
import Testing

/// The action flow folded through `App.update`, with the effects performed the way the runtime
/// performs them: against a real ActionDispatcher over the embedded world (in-memory stores).
final class ActionHarness: @unchecked Sendable {
    let world: EmbeddedWorld
    let executor: ActionExecutor
    let dispatcher: ActionDispatcher
    let audit = InMemoryAuditLog()
    var state: AppState
    /// Every effect `update` returned, in order.
    var effects: [Effect] = []
    /// Every request that reached the dispatcher.
    var dispatched: [ActionRequest] = []
    /// Measure impacts automatically (off: the test answers `.impactMeasured` itself).
    var answerImpacts = true

    /// `scheduledShare`: the fleet's jobs held until an ETA (0: the seeded course the tests rely on).
    init(
        view: ViewID, role: String = "admin", executor wrap: ((ActionExecutor) -> ActionExecutor)? = nil, width: Int = 120, height: Int = 40,
        scheduledShare: Double = 0
    ) {
        world = EmbeddedWorld(config: SimulatorConfig(seed: 21, scheduledShare: scheduledShare), historySeconds: 900, now: Fixture.now)
        // Jobs pile up in the first stage's queue: queued jobs that stay queued.
        _ = world.apply(.pauseQueue("video_downloader"))
        world.advance(to: Fixture.now.addingTimeInterval(20))
        // The console's runtime: the pipeline's stores and a data directory of the test's own.
        let runtime = EmbeddedRuntime(
            dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("agentos-actions-\(UUID().uuidString)"))
        world.attach(runtime)
        let embedded = EmbeddedActionExecutor(world: world, audit: audit)
        executor = wrap?(embedded) ?? embedded
        dispatcher = ActionDispatcher(
            .init(
                audit: audit, permissions: StaticPermissions(["alice": Grant(role: .admin)]),
                rateLimits: runtime.rateLimits, idempotency: runtime.idempotency,
                breakers: runtime.breakers, executor: executor,
                cascade: CacheAndBusCascade(cache: world.cache, bus: world.bus),
                scrubber: PIIScrubber(key: Array(repeating: 7, count: 32))))
        state = AppState(
            connection: ConnectionState(mode: "embedded", environment: "embedded"),
            operatorInfo: OperatorInfo(user: "alice", role: role), now: Fixture.now, width: width, height: height)
        state.connection.events = .up
        for spec in ActionCatalog.all {
            if let why = embedded.unsupported(spec) { state.actionUnavailable[spec.name] = why }
        }
        reload()
        press(.char(Character(String(view.tabIndex + 1))))
    }

    deinit { if let dir = world.runtime?.dataDirectory { try? FileManager.default.removeItem(at: dir) } }

    func reload() {
        let snapshot = (try? world.dataManager.rebuild())!
        _ = App.update(&state, .snapshotLoaded(snapshot))
    }

    func press(_ keys: Key...) { for k in keys { perform(App.update(&state, .key(k))) } }
    func type(_ text: String) { for c in text { press(.char(c)) } }

    func perform(_ new: [Effect]) {
        effects += new
        for effect in new {
            switch effect {
            case .dispatch(let request):
                dispatched.append(request)
                perform(App.update(&state, .actionFinished(dispatcher.dispatch(request))))
            case .measureImpact(let token, let action, let payload) where answerImpacts:
                let spec = ActionCatalog.spec(action)!
                let result: Result<Int?, ActionFailure>
                do throws(ActionFailure) {
                    result = .success(try executor.impact(spec, try spec.validate(payload)))
                } catch {
                    result = .failure(error)
                }
                perform(App.update(&state, .impactMeasured(token: token, result)))
            case .preview(let token, let request):
                perform(App.update(&state, .previewed(token: token, dispatcher.preview(request))))
            case .reloadSnapshot:
                state.sync.reloadPending = false
                reload()
            default:
                break
            }
        }
    }

    /// Moves the cursor to the first row whose identity satisfies `match`.
    func select(_ match: (String) -> Bool) -> String? {
        let list = Screens.listing(state)
        guard let i = (0..<list.count).first(where: { match(list.id($0)) }) else { return nil }
        press(.char("g"))
        for _ in 0..<i { press(.down) }
        return state.current.selectedID
    }

    func job(_ id: String) -> Job? { world.read { $0.jobs[id] } }
    var screen: String { App.render(state).text() }
    var lastNotice: String { state.notices.last?.text ?? "" }
}

/// Fails the first `failures` executions with a backend fault, then runs them.
final class FlakyExecutor: ActionExecutor, @unchecked Sendable {
    let base: ActionExecutor
    let left: Mutex<Int>
    init(_ base: ActionExecutor, failures: Int) {
        self.base = base
        left = Mutex(failures)
    }
    func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult {
        let fail = left.withLock { n -> Bool in
            defer { n -= 1 }
            return n > 0
        }
        if fail { throw .failed("simulated backend fault") }
        return try base.execute(call)
    }
    func jobOwner(_ id: String) throws(ActionFailure) -> String? { try base.jobOwner(id) }
    func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? { try base.impact(spec, payload) }
}

@Suite struct ActionTests {
    static func queuedJob(_ h: ActionHarness) -> String? {
        h.select { id in h.job(id)?.status == .queued }
    }

    @Test func catalogKeyRunsTheActionOnTheSelectionWithAPrefilledPayload() throws {
        let h = ActionHarness(view: .jobs)
        let id = try #require(Self.queuedJob(h))
        h.press(.char("c"))
        guard case .confirm(let dialog) = h.state.overlay else {
            Issue.record("no dialog: \(h.state.overlay)")
            return
        }
        #expect(dialog.pending.spec.name == "job.cancel" && dialog.pending.payload == ["id": .string(id)])
        #expect(h.screen.contains("Cancel job \(id.prefix(8))…? [y/N]"))
        h.press(.char("y"))
        let request = try #require(h.dispatched.last)
        #expect(request.action == "job.cancel" && request.payload == ["id": .string(id)] && request.actor.user == "alice")
        #expect(request.idempotencyKey?.count == 32)
        #expect(h.job(id)?.status == .cancelled, "the simulator cancelled it")
        #expect(h.lastNotice.contains("job.cancel: job \(id.prefix(8))… cancelled"), "ids are shortened in notices")
        #expect(h.state.notices.last?.level == .success)
        #expect(h.state.overlay == .none)
        // The row shows it after the reload the success asked for.
        #expect(Screens.items(h.state).first { $0.id == id }?.row.cells[3] == "cancelled")
        // The audit chain has the intent and the outcome.
        #expect(h.audit.records.map(\.draft.phase) == [.intent, .outcome])

        // A standard, non-destructive action runs at once: pause the selected worker.
        let w = ActionHarness(view: .workers)
        let worker = try #require(w.select { id in w.world.read { $0.workers[id]?.info.status == .online } })
        w.press(.char("p"))
        #expect(w.dispatched.map(\.action) == ["worker.pause"] && w.dispatched.first?.payload == ["id": .string(worker)])
        #expect(w.world.read { $0.workers[worker]?.info.status } == .paused)

        // The queues pane offers queue.* (resume the paused queue).
        let q = ActionHarness(view: .jobs)
        q.press(.char("]"))
        _ = try #require(q.select { $0 == "video_downloader" })
        q.press(.char("u"))
        #expect(q.dispatched.last?.action == "queue.resume" && q.dispatched.last?.payload == ["queue": .string("video_downloader")])
        #expect(q.world.read { $0.queues["video_downloader"]?.paused } == false)
    }

    /// Marks (Space) the first `n` queued jobs of the list; returns their ids.
    static func markQueuedJobs(_ h: ActionHarness, _ n: Int) -> [String] {
        var ids: [String] = []
        for _ in 0..<n {
            let list = Screens.listing(h.state)
            guard let i = (0..<list.count).first(where: { h.job(list.id($0))?.status == .queued && !ids.contains(list.id($0)) }) else { break }
            _ = h.select { $0 == list.id(i) }
            ids.append(list.id(i))
            h.press(.char(" "))
        }
        return ids
    }

    @Test func anActionOnMarkedRowsRunsOncePerRowAfterOneConfirmation() throws {
        let h = ActionHarness(view: .jobs)
        let ids = Self.markQueuedJobs(h, 3)
        #expect(ids.count == 3 && h.state.current.markedIDs == Set(ids))
        h.press(.char("c"))
        guard case .confirm(let dialog) = h.state.overlay else {
            Issue.record("no dialog: \(h.state.overlay)")
            return
        }
        #expect(dialog.kind == .yesNo && dialog.pending.bulk.count == 3)
        #expect(h.screen.contains("Cancel job: 3 marked jobs? [y/N]"), "\(h.screen)")
        #expect(h.screen.contains(String(ids.sorted()[0].prefix(8))))
        h.press(.char("y"))
        #expect(h.dispatched.map(\.action) == ["job.cancel", "job.cancel", "job.cancel"])
        #expect(Set(h.dispatched.compactMap { $0.payload["id"]?.description }) == Set(ids))
        #expect(Set(h.dispatched.compactMap(\.idempotencyKey)).count == 3, "one idempotency key per row")
        for id in ids { #expect(h.job(id)?.status == .cancelled) }
        #expect(h.lastNotice == "job.cancel: 3 of 3 done", "one notice for the lot: \(h.state.notices.map(\.text))")
        #expect(h.state.current.markedIDs.isEmpty && h.state.actions.bulkRuns.isEmpty)
        #expect(h.audit.records.filter { $0.draft.action == "job.cancel" }.count == 6, "an intent and an outcome row per job")

        // A critical action on marked queues wants their count typed, then a reason; each request carries its own queue as the confirmation.
        let q = ActionHarness(view: .jobs)
        q.press(.char("]"))
        for name in ["video_downloader", "audio_transcriber"] {
            _ = try #require(q.select { $0 == name })
            q.press(.char(" "))
        }
        q.press(.char("C"))
        #expect(q.screen.contains("type 2:"), "\(q.screen)")
        q.type("video_downloader")
        q.press(.enter)
        #expect(q.screen.contains("refused: 'video_downloader' is not '2'"))
        q.type("2")
        q.press(.enter)
        q.type("INC-9 bad batch")
        q.press(.enter)
        #expect(q.dispatched.map(\.confirmation) == ["audio_transcriber", "video_downloader"])
        #expect(q.world.read { $0.pendingCount("video_downloader") + $0.pendingCount("audio_transcriber") } == 0)
        #expect(q.lastNotice == "queue.clear: 2 of 2 done", "\(q.state.notices.map(\.text))")

        // One of them fails: the summary says so, and ! retries it.
        let f = ActionHarness(view: .jobs, executor: { FlakyExecutor($0, failures: 1) })
        let marked = Self.markQueuedJobs(f, 2)
        #expect(marked.count == 2)
        f.press(.char("c"), .char("y"))
        #expect(f.lastNotice.hasPrefix("job.cancel: 1 of 2 done, 1 failed: simulated backend fault"), "\(f.lastNotice)")
        f.press(.char("!"))
        #expect(marked.allSatisfy { f.job($0)?.status == .cancelled })
    }

    @Test func theDrillDownActsOnItsItem() throws {
        let h = ActionHarness(view: .jobs)
        let id = try #require(Self.queuedJob(h))
        h.press(.enter)
        #expect(h.state.overlay == .detail(DetailTarget(.jobs, id)))
        h.press(.char("c"))
        guard case .confirm(let dialog) = h.state.overlay else {
            Issue.record("no dialog: \(h.state.overlay)")
            return
        }
        #expect(dialog.pending.payload == ["id": .string(id)])
        h.press(.char("y"))
        #expect(h.job(id)?.status == .cancelled)
        h.press(.enter, .char("."))
        guard case .actionMenu = h.state.overlay else {
            Issue.record("no menu from the detail")
            return
        }
        #expect(h.screen.contains("Retry job") && h.screen.contains("Delete job"), "\(h.screen)")
    }

    @Test func yesNoDefaultsToNo() throws {
        let h = ActionHarness(view: .jobs)
        let id = try #require(Self.queuedJob(h))
        h.press(.char("c"))
        h.press(.enter)
        #expect(h.state.overlay == .none)
        #expect(!h.effects.contains { if case .dispatch = $0 { return true } else { return false } }, "Enter cancels")
        #expect(h.lastNotice == "job.cancel not run: declined")
        h.press(.char("c"), .char("n"))
        h.press(.char("c"), .escape)
        #expect(h.dispatched.isEmpty && h.job(id)?.status == .queued)
    }

    @Test func impactDialogShowsTheMeasuredCount() throws {
        let h = ActionHarness(view: .jobs)
        h.answerImpacts = false
        h.press(.char("]"))
        _ = try #require(h.select { $0 == "audio_transcriber" })
        h.press(.char("P"))
        guard case .measureImpact(let token, let action, let payload)? = h.effects.last else {
            Issue.record("no measurement: \(h.effects)")
            return
        }
        #expect(action == "queue.pause" && payload == ["queue": .string("audio_transcriber")])
        #expect(h.screen.contains("measuring the impact"))
        h.press(.char("y"))
        #expect(h.dispatched.isEmpty, "no answer before the count is known")
        h.perform(App.update(&h.state, .impactMeasured(token: token, .success(1_284))))
        #expect(h.screen.contains("Pause queue audio_transcriber: 1,284 pending jobs will wait until it is resumed. [y/N]"), "\(h.screen)")
        // Cancel is the default.
        h.press(.enter)
        #expect(h.dispatched.isEmpty && h.state.overlay == .none)

        // Measured by the executor for real: the paused first-stage queue holds its queued jobs.
        let m = ActionHarness(view: .jobs)
        m.press(.char("]"))
        _ = try #require(m.select { $0 == "video_downloader" })
        let pending = m.world.read { sim in sim.jobs.values.filter { $0.queue == "video_downloader" && $0.status == .queued }.count }
        #expect(pending > 0)
        m.press(.char("P"))
        #expect(m.screen.contains("Pause queue video_downloader: \(Fmt.count(pending)) pending job"), "\(m.screen)")
        m.press(.char("y"))
        #expect(m.dispatched.map(\.action) == ["queue.pause"])
        #expect(m.lastNotice.contains("queue.pause: queue video_downloader paused"))
    }

    @Test func typedConfirmationRefusesAWrongNameAndNeedsAReason() throws {
        let h = ActionHarness(view: .system)
        h.press(.char("M"))
        guard case .confirm(let dialog) = h.state.overlay else {
            Issue.record("no dialog")
            return
        }
        #expect(dialog.kind == .typed)
        #expect(h.screen.contains("type system:"))
        h.type("systen")
        h.press(.enter)
        #expect(h.screen.contains("refused: 'systen' is not 'system'"))
        guard case .confirm(let refused) = h.state.overlay else {
            Issue.record("the dialog closed")
            return
        }
        #expect(refused.step == .name && refused.typedName.isEmpty)
        h.type("system")
        h.press(.enter)
        #expect(h.screen.contains("reason:"))
        h.press(.enter)
        #expect(h.screen.contains("a reason (ticket) is required"))
        #expect(h.dispatched.isEmpty)
        h.type("INC-42 planned upgrade")
        h.press(.enter)
        let request = try #require(h.dispatched.last)
        #expect(request.action == "system.maintenance_on" && request.confirmation == "system" && request.reason == "INC-42 planned upgrade")
        #expect(h.world.read { $0.maintenance.enabled })
        #expect(h.audit.records.first?.draft.reason == "INC-42 planned upgrade")
        #expect(App.render(h.state).row(1).contains("MAINTENANCE"))

        // A critical action on a named target wants that name, then a reason; then it runs on the fleet.
        let q = ActionHarness(view: .jobs)
        q.press(.char("]"))
        _ = try #require(q.select { $0 == "video_downloader" })
        let pending = q.world.read { $0.pendingCount("video_downloader") }
        #expect(pending > 0)
        q.press(.char("C"))
        #expect(q.screen.contains("Clear queue video_downloader: \(Fmt.count(pending)) pending job"), "\(q.screen)")
        q.type("system")
        q.press(.enter)
        #expect(q.screen.contains("refused: 'system' is not 'video_downloader'"))
        q.type("video_downloader")
        q.press(.enter)
        q.type("INC-7 poison batch")
        q.press(.enter)
        let clear = try #require(q.dispatched.last)
        #expect(clear.action == "queue.clear" && clear.confirmation == "video_downloader")
        #expect(q.world.read { $0.pendingCount("video_downloader") } == 0)
        #expect(q.lastNotice.contains("cleared queue video_downloader: \(pending) pending job(s) deleted"), "\(q.lastNotice)")
        let rows = q.audit.records.filter { $0.draft.action == "queue.clear" }
        #expect(rows.map(\.draft.phase) == [.intent, .outcome] && rows.last?.draft.outcome == "success")
        #expect(rows.last?.draft.result?.contains("\(pending) pending job(s) deleted") == true, "\(rows.last?.draft.result ?? "")")
        #expect(q.state.snapshot?.queues.first { $0.name == "video_downloader" }?.pending == 0, "the screen follows")
    }

    @Test func greyedActionsAreNotDispatchedAndSayWhy() throws {
        let h = ActionHarness(view: .jobs, role: "readonly")
        _ = try #require(Self.queuedJob(h))
        h.press(.char("c"))
        #expect(h.effects.isEmpty && h.state.overlay == .none)
        #expect(h.lastNotice.contains("job.cancel not available: read-only role"))
        h.press(.char("."))
        guard case .actionMenu = h.state.overlay else {
            Issue.record("no menu")
            return
        }
        #expect(h.screen.contains("Cancel job") && h.screen.contains("✗ read-only role"))
        h.press(.enter)
        #expect(h.dispatched.isEmpty && h.lastNotice.contains("read-only role"))

        // RBAC: an operator may not clear queues.
        let op = ActionHarness(view: .jobs, role: "operator")
        op.state.actionUnavailable = [:]
        op.press(.char("]"), .char("C"))
        #expect(op.dispatched.isEmpty && op.lastNotice.contains("denied: role operator lacks QUEUE_CLEAR"))

        // Embedded: the database group (a real PostgreSQL server's) is greyed before trying; the rest runs.
        let e = ActionHarness(view: .system)
        e.press(.char("."), .up, .enter)
        #expect(
            e.dispatched.isEmpty && e.lastNotice.contains("database.migrate needs a real PostgreSQL server (--redis and --postgres)"),
            "\(e.lastNotice)")
        #expect(ActionCatalog.all.filter { e.state.actionUnavailable[$0.name] != nil }.allSatisfy { $0.name.hasPrefix("database.") })
        let report = ActionHarness(view: .analytics)
        report.press(.char("r"))
        #expect(report.dispatched.last?.action == "analytics.report")

        // An open breaker greys the actions of its service.
        let b = ActionHarness(view: .jobs)
        _ = try #require(Self.queuedJob(b))
        var snapshot = try #require(b.state.snapshot)
        snapshot.generation += 1
        snapshot.system.breakers = [BreakerInfo(service: "postgres", state: .open)]
        _ = App.update(&b.state, .snapshotLoaded(snapshot))
        b.press(.char("c"))
        #expect(b.dispatched.isEmpty && b.lastNotice.contains("postgres circuit breaker is open"))
    }

    @Test func aFailedActionIsRetriedWithTheSameIdempotencyKey() throws {
        let h = ActionHarness(view: .jobs, executor: { FlakyExecutor($0, failures: 1) })
        let id = try #require(Self.queuedJob(h))
        h.press(.char("c"), .char("y"))
        let first = try #require(h.dispatched.first)
        #expect(h.state.notices.last?.level == .error)
        #expect(h.lastNotice.contains("job.cancel failed: simulated backend fault — ! retries"))
        #expect(h.job(id)?.status == .queued)
        h.press(.char("!"))
        #expect(h.dispatched.count == 2)
        let retry = h.dispatched[1]
        #expect(retry.idempotencyKey == first.idempotencyKey && retry.payload == first.payload && retry.action == first.action)
        #expect(retry.requestID != first.requestID)
        #expect(h.job(id)?.status == .cancelled)
        #expect(h.lastNotice.contains("job.cancel: job \(id.prefix(8))… cancelled"))
        h.press(.char("!"))
        #expect(h.dispatched.count == 2 && h.lastNotice == "no failed action to retry")
    }

    @Test func missingFieldsAreAskedInAForm() throws {
        let h = ActionHarness(view: .jobs)
        h.state.actionUnavailable = [:]
        let id = try #require(Self.queuedJob(h))
        h.press(.char("p"))
        guard case .actionForm(let form) = h.state.overlay else {
            Issue.record("no form")
            return
        }
        #expect(form.fields == ["priority"])
        #expect(h.screen.contains("priority (int 0…9) — 0 = highest"))
        h.type("12")
        h.press(.enter)
        #expect(h.screen.contains("12 is out of range 0…9") && h.dispatched.isEmpty)
        h.press(.backspace, .backspace, .char("a"), .escape)
        #expect(h.state.overlay == .none && h.dispatched.isEmpty && h.lastNotice == "job.set_priority not run: declined")
        h.press(.char("p"), .char("1"), .enter)
        #expect(h.dispatched.last?.payload == ["id": .string(id), "priority": .string("1")])
        #expect(h.lastNotice.contains("job.set_priority: job \(id.prefix(8))…: priority 1"), "\(h.lastNotice)")
        #expect(h.job(id)?.priority == 1)
    }

    @Test func dashboardQuickActions() throws {
        let h = ActionHarness(view: .dashboard)
        let entries = App.actionEntries(h.state)
        #expect(entries.map(\.key) == ["c", "M", "N", "P", "W", "a"])
        #expect(
            entries.map(\.spec.name) == [
                "system.cache_refresh", "system.maintenance_on", "system.maintenance_off", "queue.pause",
                "worker.restart_all", "system.alert_ack"
            ])
        // The busiest active queue (video_downloader is paused).
        let busiest = try #require(h.state.snapshot?.queues.filter { !$0.paused }.max { ($0.pending, $1.name) < ($1.pending, $0.name) })
        #expect(entries[3].payload == ["queue": .string(busiest.name)])
        let activeAlert = h.state.snapshot?.alerts.contains { $0.status == .active } ?? false
        #expect(activeAlert ? entries[5].disabled == nil : entries[5].disabled?.contains("no active alert") == true)
        h.press(.char("c"))
        #expect(h.dispatched.map(\.action) == ["system.cache_refresh"] && h.lastNotice.contains("SSOT cache rebuilt"))
        h.press(.char("W"))
        guard case .confirm(let dialog) = h.state.overlay else {
            Issue.record("no dialog")
            return
        }
        #expect(dialog.kind == .typed && dialog.pending.target == "system")
        h.press(.escape)
        h.press(.char("."))
        #expect(h.screen.contains("Pause the busiest queue (\(busiest.name)"))
        #expect(h.screen.contains("Dashboard quick actions"))
        h.press(.escape)
        if activeAlert, case .int(let id)? = entries[5].payload["id"] {
            h.press(.char("a"))
            #expect(h.dispatched.last?.payload == ["id": .int(id)])
            #expect(h.world.read { sim in sim.alerts.first { $0.id == id }?.status } == .acked)
        }
    }

    @Test func helpListsTheViewsActionsFromTheCatalog() {
        let h = ActionHarness(view: .jobs)
        h.press(.char("?"))
        let screen = h.screen
        #expect(screen.contains("Actions — jobs"))
        for title in ["Cancel job", "Kill running job", "Retry job", "Delete job"] { #expect(screen.contains(title), "\(title)") }
        #expect(screen.contains("menu: all 6 actions"))
        #expect(screen.contains("retry failed action"))
        // No catalog key is shadowed by a global key today; a rebinding would be listed.
        #expect(App.shadowedActions(h.state).isEmpty)
        var s = h.state
        s.keyMap = KeyMap(KeyMap.standard.bindings.map { ($0.key, $0.command) } + [(.char("c"), .reload)])
        s.overlay = .none
        #expect(App.shadowedActions(s).map(\.spec.name) == ["job.cancel"])
        s.overlay = .help
        #expect(App.render(s).text().contains("(c)          shadowed: Cancel job"))
    }
}
