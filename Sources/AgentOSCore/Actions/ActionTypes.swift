import Foundation

/// Who runs an action: the Unix account (never `$USER`), where from, and as whom.
public struct Actor: Sendable, Equatable, Codable {
    /// The Unix account running the process (`getpwuid(getuid())`).
    public var user: String
    /// `--as USER`: admins only, recorded.
    public var actingAs: String?
    /// From `SSH_CONNECTION`: recorded and rate-limited, never trusted for identity.
    public var ip: String?
    public var host: String
    public var sessionID: String
    public var userAgent: String

    public init(
        user: String, actingAs: String? = nil, ip: String? = nil, host: String = "localhost", sessionID: String = "",
        userAgent: String = "agentos-console"
    ) {
        self.user = user
        self.actingAs = actingAs
        self.ip = ip
        self.host = host
        self.sessionID = sessionID
        self.userAgent = userAgent
    }

    /// The account whose permissions and rate limits apply.
    public var effectiveUser: String { actingAs ?? user }
}

/// One request to run an action.
public struct ActionRequest: Sendable, Equatable {
    public var action: String
    public var payload: [String: PayloadValue]
    public var actor: Actor
    public var requestID: UUID
    /// Made when the operator confirms; reused on retry.
    public var idempotencyKey: String?
    /// Ticket or reason (required for critical actions).
    public var reason: String?
    /// What the operator typed to confirm a critical action.
    public var confirmation: String?

    public init(
        action: String, payload: [String: PayloadValue] = [:], actor: Actor, requestID: UUID = .random(),
        idempotencyKey: String? = nil, reason: String? = nil, confirmation: String? = nil
    ) {
        self.action = action
        self.payload = payload
        self.actor = actor
        self.requestID = requestID
        self.idempotencyKey = idempotencyKey
        self.reason = reason
        self.confirmation = confirmation
    }
}

/// What an executed action reports.
public struct ActionResult: Sendable, Equatable, Codable {
    public var message: String
    /// Rows, jobs, keys or files affected.
    public var affected: Int
    /// Extra figures (a file path, a reply time, a verifier's finding).
    public var details: [String: PayloadValue]
    /// True when an idempotency key replayed a stored result.
    public var replayed: Bool

    public init(_ message: String, affected: Int = 1, details: [String: PayloadValue] = [:], replayed: Bool = false) {
        self.message = message
        self.affected = affected
        self.details = details
        self.replayed = replayed
    }
}

extension ActionResult {
    /// Compact JSON that `JSONDecoder` reads back as this result, written without an `Encoder` (it is
    /// stored twice per action: the idempotency entry and its durable copy). Keys sorted; strings as
    /// `CanonicalJSON` writes them, whose `\u` escapes are all four-digit, so they decode exactly.
    public var json: String {
        "{\"affected\":\(affected),\"details\":\(CanonicalJSON.object(details)),\"message\":\(CanonicalJSON.string(message)),"
            + "\"replayed\":\(replayed ? "true" : "false")}"
    }
}

/// Why an action did not run (or failed). Each case has its own exit status.
public enum ActionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownAction(String)
    case invalid(field: String, String)
    case denied(String)
    case rateLimited(retryAfterMillis: Int)
    case idempotencyMismatch
    case inProgress
    case breakerOpen(service: String, retryAfterMillis: Int)
    case auditUnavailable(String)
    case notFound(String)
    /// The target is in a state the action does not apply to (a finished job cannot be cancelled).
    case conflict(String)
    case confirmationRequired(String)
    /// More rows would be affected than the operator confirmed (`expect`): nothing was changed.
    case impactExceeded(confirmed: Int, actual: Int)
    /// The backend failed while executing.
    case failed(String)
    /// A backend could not be reached before executing.
    case unavailable(String)
    /// The effect's COMMIT went out and its answer was lost (a failover), and the audit trail could
    /// not be read to tell whether it committed: the request id finds it there later. Not retried.
    case outcomeUnknown(String)

    public var description: String {
        switch self {
        case .unknownAction(let name): return "unknown action '\(TextSanitizer.clean(String(name.prefix(60))))'"
        case .invalid(let field, let why): return "invalid payload: \(field): \(why)"
        case .denied(let why): return "denied: \(why)"
        case .rateLimited(let ms): return "rate limited: retry in \(Self.seconds(ms))"
        case .idempotencyMismatch: return "idempotency key reused with a different payload"
        case .inProgress: return "an action with this idempotency key is still in progress"
        case .breakerOpen(let service, let ms): return "\(service) circuit breaker is open: retry in \(Self.seconds(ms))"
        case .auditUnavailable(let why): return "audit log unavailable, nothing was executed: \(why)"
        case .notFound(let what): return "not found: \(what)"
        case .conflict(let why): return "conflict: \(why)"
        case .confirmationRequired(let why): return "confirmation required: \(why)"
        case .impactExceeded(let confirmed, let actual):
            return "conflict: \(actual) would be affected, \(confirmed) confirmed: nothing was changed"
        case .failed(let why): return "failed: \(why)"
        case .unavailable(let why): return "unavailable: \(why)"
        case .outcomeUnknown(let why): return "outcome unknown: \(why)"
        }
    }

    /// The audit outcome word.
    public var outcome: String {
        switch self {
        case .unknownAction, .invalid: return "invalid"
        case .denied, .confirmationRequired: return "denied"
        case .rateLimited: return "rate_limited"
        case .idempotencyMismatch, .inProgress: return "idempotency_conflict"
        case .breakerOpen: return "breaker_open"
        case .auditUnavailable: return "audit_unavailable"
        case .notFound: return "not_found"
        case .conflict, .impactExceeded: return "conflict"
        case .failed: return "failure"
        case .unavailable: return "unavailable"
        case .outcomeUnknown: return "unknown"
        }
    }

    /// Exit status of `agentos action` (README: exit codes).
    public var exitStatus: Int32 {
        switch self {
        case .failed: return 1
        case .denied, .confirmationRequired: return 3
        case .rateLimited: return 4
        case .idempotencyMismatch, .inProgress, .conflict, .impactExceeded: return 5
        case .notFound: return 6
        case .auditUnavailable: return 7
        case .breakerOpen, .unavailable: return 8
        case .outcomeUnknown: return 9
        case .unknownAction, .invalid: return 65
        }
    }

    /// A backend fault (counts against the service's circuit breaker).
    public var isBackendFault: Bool {
        switch self {
        case .failed, .unavailable, .outcomeUnknown: return true
        default: return false
        }
    }

    static func seconds(_ ms: Int) -> String {
        ms < 1_000 ? "\(max(ms, 1)) ms" : String(format: "%.1f s", Double(ms) / 1_000)
    }
}
