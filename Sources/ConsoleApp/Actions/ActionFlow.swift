import AgentOSCore
import Foundation

/// The action side of the console: who acts, what the backend cannot do, and the requests on
/// their way (single and bulk), with pure folds for sending one and for its report.
public struct ActionFlow: Sendable {
    /// Who the console's actions run as (the runtime sets it from the backend).
    public var actor: Actor
    /// Actions the backend cannot perform, with the reason (embedded: the live-only ones).
    public var unavailable: [String: String] = [:]
    /// Dispatched actions awaiting their report, by request id.
    public var inFlight: [UUID: ActionRequest] = [:]
    /// Bulk actions on marked rows still running: one notice when each has finished.
    public var bulkRuns: [BulkRun] = []
    /// The last action that failed (`!` sends it again with the same idempotency key).
    public var lastFailed: ActionRequest?
    /// Counter for the dialogs' impact measurements.
    public private(set) var token = 0
    /// Request ids (lowercase) this console sent lately: their `action.executed` events need no second notice.
    public private(set) var ownRequestIDs: [String] = []

    public init(actor: Actor) { self.actor = actor }

    /// A fresh token for a dialog's impact measurement.
    mutating func nextToken() -> Int {
        token += 1
        return token
    }

    /// Remembers a request until its report comes back.
    mutating func track(_ request: ActionRequest) {
        inFlight[request.requestID] = request
        ownRequestIDs.append(request.requestID.uuidString.lowercased())
        if ownRequestIDs.count > 50 { ownRequestIDs.removeFirst(ownRequestIDs.count - 50) }
    }

    /// Whether an `action.executed` event reports a request of this console.
    func sentHere(_ requestID: String?) -> Bool { requestID.map(ownRequestIDs.contains) ?? false }

    /// How a report ends what it answers.
    enum Finish {
        /// A single request (nil: not one of ours, or already answered).
        case single(ActionRequest?)
        /// One request of a bulk run; others are still running.
        case bulkRunning
        /// The last request of a bulk run.
        case bulkDone(BulkRun)
    }

    /// Folds a report in: the request leaves the in-flight set, a failure becomes the one `!` retries.
    mutating func finish(_ report: ActionReport) -> Finish {
        let request = inFlight.removeValue(forKey: report.requestID)
        guard let i = bulkRuns.firstIndex(where: { $0.waiting.contains(report.requestID) }) else {
            if !report.succeeded { lastFailed = request }
            return .single(request)
        }
        var run = bulkRuns[i]
        run.waiting.remove(report.requestID)
        if report.succeeded {
            run.succeeded += 1
        } else {
            run.failures.append(App.failureText(report))
            if let request { lastFailed = request }
        }
        guard run.waiting.isEmpty else {
            bulkRuns[i] = run
            return .bulkRunning
        }
        bulkRuns.remove(at: i)
        return .bulkDone(run)
    }
}
