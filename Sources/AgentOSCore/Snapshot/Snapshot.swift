import Foundation

/// The SSOT snapshot (`admin:dashboard:v4` in Redis DB1): everything the eight views need,
/// built by the AdminDataManager and read by every console.
public struct Snapshot: Codable, Sendable, Equatable {
    public static let schemaID = "agentos.admin.ssot/4"
    public static let cacheKey = "admin:dashboard:v4"

    public var schema: String
    /// Monotonically increasing per build.
    public var generation: Int
    public var generatedAt: Date
    /// "embedded" or "live".
    public var source: String
    /// The event bus sequence number when the snapshot was built: events up to it are included.
    public var eventSeq: Int64
    public var system: SystemState
    public var queues: [QueueInfo]
    public var jobs: JobsSummary
    public var workers: [WorkerInfo]
    public var managers: [ManagerInfo]
    public var logs: LogsSummary
    public var config: [ConfigEntry]
    public var analytics: Analytics
    public var alerts: [Alert]
    public var audit: [AuditEntry]

    public init(
        generation: Int, generatedAt: Date, source: String, system: SystemState = .init(), queues: [QueueInfo] = [],
        jobs: JobsSummary = .init(), workers: [WorkerInfo] = [], managers: [ManagerInfo] = [], logs: LogsSummary = .init(),
        config: [ConfigEntry] = [], analytics: Analytics = .init(), alerts: [Alert] = [], audit: [AuditEntry] = []
    ) {
        self.schema = Self.schemaID
        self.generation = generation
        self.generatedAt = generatedAt
        self.source = source
        self.eventSeq = 0
        self.system = system
        self.queues = queues
        self.jobs = jobs
        self.workers = workers
        self.managers = managers
        self.logs = logs
        self.config = config
        self.analytics = analytics
        self.alerts = alerts
        self.audit = audit
    }

    enum CodingKeys: String, CodingKey {
        case schema, generation, source, system, queues, jobs, workers, managers, logs, config, analytics, alerts, audit
        case generatedAt = "generated_at"
        case eventSeq = "event_seq"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.req(.schema)
        guard schema == Self.schemaID else {
            throw DecodingError.dataCorruptedError(
                forKey: .schema, in: c,
                debugDescription: "unsupported schema '\(schema.prefix(60))' (this console reads \(Self.schemaID))")
        }
        generation = try c.req(.generation)
        generatedAt = try c.req(.generatedAt)
        source = try c.opt(.source, "live")
        eventSeq = try c.opt(.eventSeq, 0)
        system = try c.opt(.system, SystemState())
        queues = try c.opt(.queues, [])
        workers = try c.opt(.workers, [])
        managers = try c.opt(.managers, [])
        config = try c.opt(.config, [])
        analytics = try c.opt(.analytics, Analytics())
        alerts = try c.opt(.alerts, [])
        audit = try c.opt(.audit, [])
        // The bulk rows last, logs then jobs: `decode` reads them on another thread meanwhile.
        logs = try c.opt(.logs, LogsSummary())
        jobs = try c.opt(.jobs, JobsSummary())
    }

    /// Decodes snapshot JSON with `FastJSONDecoder` (the values Foundation's JSONDecoder gives, several
    /// times faster); the error names the JSON path and the problem.
    public static func decode(_ data: Data) throws(DecodeFailure) -> Snapshot {
        do {
            // A large snapshot's log and job rows are decoded on a second core while this one reads the rest.
            return try FastJSONDecoder().withDocument(data) { document in
                try document.decodeInParallel(
                    Snapshot.self,
                    members: [
                        ("logs", { document, node in try document.decode(LogsSummary?.self, at: node) ?? LogsSummary() }),
                        ("jobs", { document, node in try document.decode(JobsSummary?.self, at: node) ?? JobsSummary() })
                    ], minimumNodes: 1_000)
            }
        } catch {
            throw DecodeFailure.from(error, what: "snapshot")
        }
    }

    /// Compact JSON through `FastJSONEncoder` (the same bytes as Foundation's JSONEncoder, several times
    /// faster); pretty JSON (sorted keys, for people and scripts) through Foundation.
    public func encoded(pretty: Bool = false) throws -> Data {
        pretty ? try AgentJSON.encoder(pretty: true).encode(self) : try FastJSONEncoder().encode(self)
    }
}
