import AgentOSCore
import Foundation

/// Task messages in kombu's Redis format (celery-redis-protocol.md §0–a): a JSON envelope with a
/// base64 body, LPUSHed onto the queue's list (`Namespace.brokerListKey`).
public enum KombuMessage {
    public static func task(job: Job, taskName: String, deliveryTag: String, origin: String = "agentos-sim") -> [UInt8] {
        // Protocol v2 body: [args, kwargs, embed].
        let kwargs: [String: String] = ["job_id": job.id, "stage": job.stage, "name": job.name]
        let body = "[[], \(jsonObject(kwargs)), {\"callbacks\": null, \"errbacks\": null, \"chain\": null, \"chord\": null}]"
        let envelope = """
            {"body": "\(Data(body.utf8).base64EncodedString())", "content-encoding": "utf-8", "content-type": "application/json", \
            "headers": {"lang": "py", "task": "\(taskName)", "id": "\(job.id)", "shadow": null, "eta": null, "expires": null, "group": null, \
            "group_index": null, "retries": \(max(0, job.attempts)), "timelimit": [null, null], "root_id": "\(job.id)", "parent_id": null, \
            "argsrepr": "()", "kwargsrepr": \(jsonString(kwargs.description)), "origin": \(jsonString(origin)), "ignore_result": false}, \
            "properties": {"correlation_id": "\(job.id)", "reply_to": "", "delivery_mode": 2, "delivery_info": {"exchange": "", \
            "routing_key": "\(job.queue)"}, "priority": \(job.priority), "body_encoding": "base64", "delivery_tag": "\(deliveryTag)"}}
            """
        return Array(envelope.utf8)
    }

    private static func jsonObject(_ d: [String: String]) -> String {
        "{" + d.keys.sorted().map { "\(jsonString($0)): \(jsonString(d[$0]!))" }.joined(separator: ", ") + "}"
    }

    static func jsonString(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
