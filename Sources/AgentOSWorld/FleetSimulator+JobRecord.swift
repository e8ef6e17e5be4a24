import AgentOSCore
import Foundation

/// A simulated job's submission and result (D76): derived from the job's own id, name and owner,
/// not drawn from the simulator's random stream, so adding them moved no seeded run and the live
/// writer and the embedded world give one job the same record.
public enum SimJobPayload {
    /// What the scheduler submitted: the source to fetch, the renditions to make, whom to tell.
    public static func submission(_ job: Job) -> (args: [JSONTree], kwargs: [String: JSONTree]) {
        let short = String(job.id.prefix(8))
        let heights = [1080, 720, 480, 360].prefix(2 + seed(job) % 3).map { JSONTree.int($0) }
        let languages = ["en", "de", "fr", "es", "ja"]
        return (
            [.string("s3://agentos-media/incoming/\(short).mp4"), .string(job.pipeline)],
            [
                "renditions": .array(heights), "language": .string(languages[seed(job) % languages.count]),
                "title": .string(job.name), "notify_email": .string("\(job.owner)@example.com"),
                "priority": .int(job.priority)
            ]
        )
    }

    /// What a completed job returned (nil until it completed).
    public static func result(_ job: Job) -> JSONTree? {
        guard job.status == .completed else { return nil }
        let short = String(job.id.prefix(8))
        let renditions = submission(job).kwargs["renditions"]?.array?.count ?? 0
        return .object([
            "output": .string("s3://agentos-media/published/\(short)/master.m3u8"), "renditions": .int(renditions),
            "duration_s": .int(60 + seed(job) % 3_540), "transcript_words": .int(150 * (1 + seed(job) % 40))
        ])
    }

    /// The stored `payload`: args, kwargs and, once completed, result.
    public static func payload(_ job: Job) -> JSONTree {
        let (args, kwargs) = submission(job)
        var payload: [String: JSONTree] = ["args": .array(args), "kwargs": .object(kwargs)]
        if let result = result(job) { payload["result"] = result }
        return .object(payload)
    }

    /// The job's record as the embedded world stores it: the job's fields, its payload.
    public static func record(_ job: Job) -> JobRecord {
        let fields = (try? JSONTree.parse(Array(AgentJSON.encoder().encode(job))))?.object ?? [:]
        return JobRecord(raw: .object(fields.merging(["payload": payload(job)]) { _, new in new }))
    }

    /// A stable number from the job's id (its first hex digits).
    private static func seed(_ job: Job) -> Int { Int(job.id.prefix(6), radix: 16) ?? job.id.utf8.reduce(0) { $0 &+ Int($1) } & 0xffff }
}
