import AgentOSCore
import Foundation

/// Task messages in kombu's Redis format (celery-redis-protocol.md §0–a): a JSON envelope with a
/// base64 body, LPUSHed onto the queue's list; priorities map to kombu's four buckets.
public enum KombuMessage {
    public static let separator: [UInt8] = [0x06, 0x16]
    public static let prioritySteps = [0, 3, 6, 9]

    /// The list a message of `priority` goes to: `queue`, `queue\x06\x163`, `…6`, `…9`
    /// (the largest step not above the priority; 0 is the highest and the plain name).
    public static func listKey(queue: String, priority: Int) -> [UInt8] {
        let step = prioritySteps.last { $0 <= max(0, min(9, priority)) } ?? 0
        return step == 0 ? Array(queue.utf8) : Array(queue.utf8) + separator + Array(String(step).utf8)
    }

    /// Every list of a queue, in the order workers read them.
    public static func listKeys(queue: String) -> [[UInt8]] { prioritySteps.map { listKey(queue: queue, priority: $0) } }

    public static func task(job: Job, taskName: String, deliveryTag: String) -> [UInt8] {
        // Protocol v2 body: [args, kwargs, embed].
        let kwargs: [String: String] = ["job_id": job.id, "stage": job.stage, "name": job.name]
        let body = "[[], \(jsonObject(kwargs)), {\"callbacks\": null, \"errbacks\": null, \"chain\": null, \"chord\": null}]"
        let envelope = """
        {"body": "\(Data(body.utf8).base64EncodedString())", "content-encoding": "utf-8", "content-type": "application/json", \
        "headers": {"lang": "py", "task": "\(taskName)", "id": "\(job.id)", "shadow": null, "eta": null, "expires": null, "group": null, \
        "group_index": null, "retries": \(max(0, job.attempts)), "timelimit": [null, null], "root_id": "\(job.id)", "parent_id": null, \
        "argsrepr": "()", "kwargsrepr": \(jsonString(kwargs.description)), "origin": "agentos-sim", "ignore_result": false}, \
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

extension FleetSimulator {
    /// A stable delivery tag per job id (so a message can be found again with LREM).
    public func deterministicTag(for id: String) -> String { "tag-" + id }
}
