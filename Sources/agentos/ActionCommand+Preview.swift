import AgentOSAdapters
import AgentOSCore
import ArgumentParser
import Foundation

extension ActionCommand {
    /// `--dry-run` with a backend: the dispatcher's preview (validation, RBAC, the rows the
    /// action would touch, one `preview` audit row), printed after the validation's answer.
    /// Exit 0 when shown; otherwise the preview's own status (3 denied, 6 not found, 7 audit
    /// unavailable, 8 backend unavailable), the validation's answer still printed.
    func preview(_ spec: ActionSpec, _ payload: [String: PayloadValue], valid: Payload, needs: [String], _ connected: ConnectionOptions.Settings)
        throws
    {
        let stack = try LiveStack(connection: connected, dataDir: dataDir.path)
        let request = ActionRequest(action: name, payload: payload, actor: currentActor(actingAs: actingAs), reason: reason)
        let report = stack.actions.dispatcher.preview(request, limit: limit)
        let target = spec.target(in: valid.values)
        if json {
            var f: [String: Any] = [
                "action": name, "valid": true, "payload": CanonicalJSON.object(valid.values), "risk": spec.risk.rawValue,
                "target": target, "needs": needs.joined(separator: " "), "request_id": report.requestID.uuidString.lowercased(),
                "exit_status": Int(report.exitStatus)
            ]
            if let seq = report.auditSeq { f["audit_seq"] = seq }
            switch report.outcome {
            case .success(let p): f["preview"] = ["count": p.count, "rows": p.rows, "more": p.more, "summary": p.summary]
            case .failure(let failure):
                f["error"] = failure.outcome
                f["message"] = failure.description
            }
            try JSONOutput.write(object: f, options: [.sortedKeys, .withoutEscapingSlashes])
        } else {
            print("valid: \(name) \(CanonicalJSON.object(valid.values)) (risk \(spec.risk.rawValue), target \(TextSanitizer.clean(target)))")
            if !needs.isEmpty { print("a real run also needs \(needs.joined(separator: " ")) (critical action)") }
            switch report.outcome {
            case .success(let p):
                print("preview: \(TextSanitizer.clean(p.summary))")
                for row in p.rows { print("  \(TextSanitizer.clean(row))") }
                if p.more { print("  +\(p.count - p.rows.count) more") }
                print("dry run: nothing was changed (audited as a preview\(report.auditSeq.map { ", seq \($0)" } ?? ""))")
            case .failure(let failure):
                FileHandle.standardError.write(Data("agentos: \(name): no preview: \(TextSanitizer.clean(failure.description))\n".utf8))
            }
        }
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}
