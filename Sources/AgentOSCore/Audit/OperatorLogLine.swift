import Foundation

/// The System Logs line an audited action leaves (source `audit`), so an operator's actions
/// read in order with what the fleet did. Live, migration 8's trigger on `audit_logs` writes the
/// same line server-side (every tool's actions, not only the console's); embedded,
/// `OperatorActionLog` does. `OperatorLogTests` hold the two to one format.
public enum OperatorLogLine {
    public static let source = "audit"

    /// The line for an outcome, a denial or a preview; none for an intent (its outcome follows).
    public static func of(_ draft: AuditDraft) -> (level: LogLevel, message: String)? {
        guard draft.phase != .intent else { return nil }
        var outcome = draft.outcome ?? draft.phase.rawValue
        // A refused preview reads "preview denied": nothing was attempted.
        if draft.phase == .preview, outcome != "preview" { outcome = "preview \(outcome)" }
        let head = "\(draft.user): \(draft.action) \(draft.target ?? "system") \(outcome)"
        let detail = draft.result.flatMap(detail(ofResult:)) ?? ""
        let level: LogLevel = ["success", "replayed", "preview"].contains(outcome) ? .info : .warning
        return (level, detail.isEmpty ? head : "\(head) — \(detail)")
    }

    /// The result's message, else its error (the audit's `result` column).
    static func detail(ofResult json: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
        return (object["message"] as? String) ?? (object["error"] as? String)
    }
}
